"""DLR: the deep learning and radiomics scores fused by (Firth-penalised) logistic regression.

The fusion is fitted on out-of-fold training predictions of both models (each fold's
models never saw the patients they score), never on in-sample predictions, which for a
CNN are close to perfect and would teach the fusion to trust it blindly.

It is then applied to other models: the DCNN and radiomics model refitted on every
training patient. Their logits need not share the fold models' scale: a DCNN trained on
twice the patients takes twice the optimisation steps, and on small data its logits can
sit far from the fold models' (the fused score then lands far from the outcome rate).
So the fusion does not read raw logits but each model's logit standardised on the
training patients: ``z = (logit(p) - m) / s``, where ``m`` and ``s`` are the mean and SD of
*that same model's* logits over the training patients (out-of-fold for the fold models,
the refitted model's own for the bundle). This moment matching uses no outcome; it makes
the fused score on the training patients as coherent with the observed rate as the
out-of-fold fit is (Wolpert 1992 stacks on cross-validated predictions; the refitted
level-0 models are standardised so that the level-1 model sees the scale it was fitted on).

References
----------
Wolpert DH. Stacked generalization. Neural Networks 1992;5:241-59.
Heinze G, Schemper M. A solution to the problem of separation in logistic regression. Stat Med
2002;21:2409-19.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from scipy.special import expit, logit

__all__ = ["FusionModel", "Standardiser"]

_EPS = 1e-6
_TERMS = ("intercept", "z_logit_dcnn", "z_logit_radiomics")


def _logit(p) -> np.ndarray:
    return logit(np.clip(np.asarray(p, dtype=float), _EPS, 1 - _EPS))


@dataclass(frozen=True)
class Standardiser:
    """Mean and SD of one model's logits over the training patients."""

    mean: float
    sd: float

    @classmethod
    def of(cls, prob) -> Standardiser:
        lp = _logit(prob)
        sd = float(lp.std(ddof=1)) if lp.size > 1 else 0.0
        # a constant model (all logits equal) carries no ranking; SD 1 keeps z = 0 finite
        return cls(float(lp.mean()), sd if sd > 1e-12 else 1.0)

    def z(self, prob) -> np.ndarray:
        return (_logit(prob) - self.mean) / self.sd

    def carry(self, threshold: float, to: Standardiser) -> float:
        """The probability cut-off on ``to``'s scale at the same standardised logit as
        ``threshold`` on this one's (a cut-off outside (0, 1) stays where it is).

        >>> Standardiser(0.0, 1.0).carry(0.5, Standardiser(1.0, 2.0)) == float(expit(1.0))
        True
        """
        if not 0 < threshold < 1:
            return float(threshold)
        return float(expit(to.mean + to.sd * float(self.z(np.array([threshold]))[0])))


@dataclass(frozen=True)
class FusionModel:
    """logit P(non-response) = b0 + b1 z(DCNN) + b2 z(radiomics), each z standardised by
    the :class:`Standardiser` of the model that produced the score."""

    coefficients: tuple[float, float, float]
    dcnn: Standardiser
    radiomics: Standardiser

    @classmethod
    def fit(cls, dcnn_oof: np.ndarray, radiomics_oof: np.ndarray, y: np.ndarray) -> FusionModel:
        """Fit on out-of-fold predictions; the result standardises with their moments.

        FLIC: Firth-penalised logistic regression (firthmodels) for the slopes, then the
        intercept re-estimated by maximum likelihood with the slopes fixed. Maximum likelihood
        alone has no finite estimate when a score separates the training outcomes (a strong
        imaging signal in a small cohort does); Firth's penalty gives one and removes the
        slopes' small-sample bias, and the refitted intercept makes the mean fused probability
        equal the observed rate again, as plain logistic regression's does.

        References
        ----------
        Heinze G, Schemper M. A solution to the problem of separation in logistic regression.
        Stat Med 2002;21:2409-19.
        Puhr R, Heinze G, Nold M, Lusa L, Geroldinger A. Firth's logistic regression with rare
        events: accurate effect estimates and predictions? Stat Med 2017;36:2302-17 (FLIC).
        """
        from firthmodels import FirthLogisticRegression
        from scipy.optimize import brentq

        dcnn, rad = Standardiser.of(dcnn_oof), Standardiser.of(radiomics_oof)
        design = np.column_stack([dcnn.z(dcnn_oof), rad.z(radiomics_oof)])
        y = np.asarray(y, dtype=int)
        fit = FirthLogisticRegression(max_iter=100, gtol=1e-6, xtol=1e-6).fit(design, y)
        if not fit.converged_:
            raise ValueError("the DLR fusion (Firth logistic regression) did not converge on the out-of-fold scores")
        slopes = tuple(float(c) for c in fit.coef_)
        lp = design @ np.asarray(slopes)
        # the intercept's ML score equation with the slopes as offset: mean(expit(b0 + lp)) = rate,
        # monotone in b0, so it has one root whenever both outcomes occur
        rate = y.mean()
        intercept = brentq(lambda b0: float(expit(b0 + lp).mean() - rate), -50.0 - lp.max(), 50.0 - lp.min(),
                           xtol=1e-12)
        return cls((float(intercept), *slopes), dcnn, rad)

    def for_models(self, dcnn_train: np.ndarray, radiomics_train: np.ndarray) -> FusionModel:
        """The same fusion for other base models, standardised by their own predictions on
        the training patients (no outcome is used)."""
        return replace(self, dcnn=Standardiser.of(dcnn_train), radiomics=Standardiser.of(radiomics_train))

    def linear_predictor(self, dcnn: np.ndarray, radiomics: np.ndarray) -> np.ndarray:
        b0, b1, b2 = self.coefficients
        return b0 + b1 * self.dcnn.z(dcnn) + b2 * self.radiomics.z(radiomics)

    def predict_proba(self, dcnn: np.ndarray, radiomics: np.ndarray) -> np.ndarray:
        return expit(self.linear_predictor(dcnn, radiomics))

    def to_dict(self) -> dict:
        return {"terms": list(_TERMS), "coefficients": list(self.coefficients),
                "method": "FLIC: Firth-penalised logistic regression, intercept refitted by maximum likelihood",
                "standardisation": {"dcnn": {"logit_mean": self.dcnn.mean, "logit_sd": self.dcnn.sd},
                                    "radiomics": {"logit_mean": self.radiomics.mean,
                                                  "logit_sd": self.radiomics.sd}}}

    def save(self, path: Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")

    @classmethod
    def from_dict(cls, data: dict) -> FusionModel:
        try:
            coef = tuple(float(c) for c in data["coefficients"])
            std = data["standardisation"]
            parts = [Standardiser(float(std[m]["logit_mean"]), float(std[m]["logit_sd"]))
                     for m in ("dcnn", "radiomics")]
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"fusion.json lacks or mangles {exc}; expected terms {list(_TERMS)}, three "
                             "coefficients and the standardisation of dcnn and radiomics") from None
        if len(coef) != 3 or not np.isfinite(coef).all() or not all(p.sd > 0 and np.isfinite([p.mean, p.sd]).all()
                                                                    for p in parts):
            raise ValueError("fusion.json: expected three finite coefficients and finite standardisation "
                             "with a positive SD")
        return cls(coef, *parts)

    @classmethod
    def load(cls, path: Path) -> FusionModel:
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))

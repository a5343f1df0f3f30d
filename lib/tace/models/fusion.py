"""DLR: the deep learning and radiomics scores fused by (Firth-penalised) logistic regression.

Stacking (Wolpert 1992; Breiman 1996; the super learner of van der Laan et al. 2007): the
fusion is fitted on the cross-fitted (out-of-fold) training predictions of both models,
never on in-sample predictions, which for a CNN are close to perfect and would teach the
fusion to trust it blindly. Each input enters as its logit standardised by the mean and SD
of the cross-fitted logits it was fitted on (:class:`Standardiser`, fixed at fitting: the
coefficients read per SD of the input); the fitted fusion is then applied, unchanged, to
the frozen models' predictions of any patient.

Earlier versions of tace swapped in the mean and SD of the refitted models' own logits on their training
patients. Those are inflated by overfitting (the DCNN's in-sample logit SD 2.18 against 1.63
cross-fitted and 1.83 on new patients in the default report), which compressed the fused score
on new patients (calibration slope 1.88 in test, 2.10 against the twin's truth: issue 24).

References
----------
Wolpert DH. Stacked generalization. Neural Networks 1992;5:241-59.
Breiman L. Stacked regressions. Machine Learning 1996;24:49-64.
van der Laan MJ, Polley EC, Hubbard AE. Super learner. Stat Appl Genet Mol Biol 2007;6:25.
Heinze G, Schemper M. A solution to the problem of separation in logistic regression. Stat Med
2002;21:2409-19.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
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
    """Mean and SD of one model's cross-fitted logits over the training patients."""

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


@dataclass(frozen=True)
class FusionModel:
    """logit P(non-response) = b0 + b1 z(DCNN) + b2 z(radiomics), each z standardised by
    the :class:`Standardiser` of the cross-fitted predictions the fusion was fitted on."""

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

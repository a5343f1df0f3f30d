"""Multiple imputation of missing predictors by chained equations, fitted on development data.

A validation cohort may lack a predictor for some patients (AFP is often not measured). The
imputation model is fitted at development, on the training patients only, and frozen into the
bundle as JSON: for each predictor, its regression on all the other predictors (linear for a
continuous predictor, on a transformed scale where it is skewed; logistic for a binary one).
A validation patient's missing values are then drawn from these regressions by chained
equations (a Gibbs sampler over the patient's missing predictors), once per imputation, with
the regression parameters themselves drawn from their posterior (proper imputation: van
Buuren's Bayesian linear regression, mice's ``norm``, and logistic regression, ``logreg``).

The outcome takes no part: neither a development nor a validation patient's outcome is in any
conditional model, so a validation patient's imputed values are what the model would see in
practice, where the outcome is unknown (Hoogland et al. 2020; Sisk et al. 2023), and no
validation outcome can leak into the scores being validated.

Differences from mice, on purpose: the conditional models are fitted once on the development
data (complete by contract) and not refitted on the validation cohort; no ridge penalty (a
singular design is an error naming the predictor); a logistic model that does not converge
(separation) falls back to the predictor's overall proportion with a Beta(k + 1/2,
n - k + 1/2) draw instead of mice's augmented data; imputed values are kept inside the range
observed in development (a count is rounded).

References
----------
van Buuren S. Flexible Imputation of Missing Data, 2nd ed. CRC Press, 2018 (algorithms 3.1
and 3.2; chapter 4 on chained equations).
Hoogland J, van Barreveld M, Debray TPA, et al. Handling missing predictor values when
validating and applying a prediction model to new patients. Stat Med 2020;39:3591-607.
Sisk R, Sperrin M, Peek N, van Smeden M, Martin GP. Imputation and missing indicators for
handling missing data in the development and deployment of clinical prediction models: a
simulation study. Stat Methods Med Res 2023;32:1461-77.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy.special import expit
from statsmodels.tools.sm_exceptions import ConvergenceWarning, PerfectSeparationError, PerfectSeparationWarning

__all__ = ["ConditionalModel", "PredictorImputer"]

Kind = Literal["continuous", "count", "binary"]
Transform = Literal["identity", "log"]
IMPUTATION_FORMAT = "tace-imputation/1"


@dataclass(frozen=True)
class ConditionalModel:
    """One predictor's regression on the others, as fitted on the development data.

    ``kind`` continuous or count: linear regression of ``transform(target)`` with
    coefficients ``coef`` (intercept first), unscaled covariance ``v`` = (X'X)^-1, residual
    sum of squares ``sse`` on ``df`` degrees of freedom. Binary: logistic regression with
    ``coef`` and covariance ``v``; ``fallback`` when it could not be fitted (separation, or
    one class only), in which case ``coef`` holds the proportion's counts ``[k, n]``.
    """

    target: str
    kind: Kind
    transform: Transform
    predictors: tuple[str, ...]
    coef: tuple[float, ...]
    v: tuple[tuple[float, ...], ...]
    sse: float
    df: int
    low: float
    high: float
    fallback: bool = False

    def draw_parameters(self, rng: np.random.Generator) -> tuple[np.ndarray, float]:
        """Parameters of one imputation: (beta*, sigma*) from their posterior."""
        c = np.asarray(self.coef)
        if self.kind == "binary":
            if self.fallback:
                k, n = c
                return np.array([rng.beta(k + 0.5, n - k + 0.5)]), 0.0
            return c + np.linalg.cholesky(np.asarray(self.v)) @ rng.standard_normal(c.size), 0.0
        sigma = float(np.sqrt(self.sse / rng.chisquare(self.df)))
        return c + np.linalg.cholesky(np.asarray(self.v)) @ rng.standard_normal(c.size) * sigma, sigma

    def draw(self, x: np.ndarray, beta: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
        """Values of the target for rows with predictors ``x`` (no intercept column)."""
        if self.kind == "binary":
            prob = np.full(len(x), beta[0]) if self.fallback else expit(beta[0] + x @ beta[1:])
            return (rng.random(len(x)) <= prob).astype(float)
        z = beta[0] + x @ beta[1:] + sigma * rng.standard_normal(len(x))
        z = np.clip(z, self.low, self.high)  # the range seen in development, on the model's scale
        value = np.exp(z) if self.transform == "log" else z
        return np.maximum(np.round(value), 1.0) if self.kind == "count" else value


def _forward(values: np.ndarray, transform: Transform) -> np.ndarray:
    return np.log(values) if transform == "log" else values


def _fit_linear(target: str, kind: Kind, transform: Transform, y: np.ndarray, x: pd.DataFrame) -> ConditionalModel:
    yt = _forward(y, transform)
    design = np.column_stack([np.ones(len(x)), x.to_numpy(float)])
    q, r = np.linalg.qr(design)
    if np.min(np.abs(np.diag(r))) < 1e-10 * np.max(np.abs(np.diag(r))):
        raise ValueError(f"the imputation model of {target} cannot be fitted: the other predictors are collinear "
                         "in the development data")
    coef = np.linalg.solve(r, q.T @ yt)
    resid = yt - design @ coef
    rinv = np.linalg.inv(r)
    df = max(len(yt) - design.shape[1], 1)
    return ConditionalModel(target, kind, transform, tuple(x.columns), tuple(map(float, coef)),
                            tuple(map(tuple, (rinv @ rinv.T).tolist())), float(resid @ resid), df,
                            float(yt.min()), float(yt.max()))


def _fit_logistic(target: str, y: np.ndarray, x: pd.DataFrame) -> ConditionalModel:
    k, n = float(y.sum()), float(len(y))

    def model(coef: tuple[float, ...], v: tuple[tuple[float, ...], ...], fallback: bool) -> ConditionalModel:
        return ConditionalModel(target, "binary", "identity", tuple(x.columns), coef, v, 0.0, int(n), 0.0, 1.0,
                                fallback)

    if 0 < k < n:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                fit = sm.GLM(y, sm.add_constant(x.to_numpy(float), has_constant="add"),
                             family=sm.families.Binomial()).fit(tol=1e-12, maxiter=100)
            except (np.linalg.LinAlgError, PerfectSeparationError):
                fit = None
        bad = fit is None or any(issubclass(w.category, (ConvergenceWarning, PerfectSeparationWarning,
                                                         RuntimeWarning)) for w in caught)
        if not bad and np.all(np.abs(fit.params) < 20) and np.all(np.isfinite(fit.bse)):
            cov = np.asarray(fit.cov_params())
            try:
                np.linalg.cholesky(cov)
            except np.linalg.LinAlgError:
                pass
            else:
                return model(tuple(map(float, fit.params)), tuple(map(tuple, cov.tolist())), False)
    return model((k, n), (), True)


@dataclass(frozen=True)
class PredictorImputer:
    """The frozen imputation model: one :class:`ConditionalModel` per predictor.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> dev = pd.DataFrame({"a": rng.normal(size=200), "b": (rng.random(200) < 0.4).astype(float)})
    >>> imputer = PredictorImputer.fit(dev, {"a": "continuous", "b": "binary"})
    >>> new = pd.DataFrame({"a": [0.5, np.nan], "b": [np.nan, 1.0]})
    >>> sets = imputer.impute(new, m=3, seed=1)
    >>> len(sets), bool(sets[0].notna().all().all())
    (3, True)
    """

    models: tuple[ConditionalModel, ...]

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(m.target for m in self.models)

    @classmethod
    def fit(cls, development: pd.DataFrame, kinds: dict[str, Kind],
            transforms: dict[str, Transform] | None = None) -> PredictorImputer:
        """Fit each predictor's regression on all the others, on complete development data.

        Parameters
        ----------
        development
            One numeric column per predictor (binary ones coded 0/1), no missing value.
        kinds
            Each column's kind: ``continuous``, ``count`` or ``binary``.
        transforms
            ``log`` for a positive, skewed column imputed on the log scale; default identity.
        """
        transforms = transforms or {}
        columns = list(kinds)
        data = development[columns].astype(float)
        bad = data.columns[data.isna().any()].tolist()
        if bad:
            raise ValueError(f"the imputation model is fitted on complete development data; missing values in "
                             f"{', '.join(bad)}")
        # a predictor constant in development (e.g. every training patient Child-Pugh A)
        # explains nothing and would make every design singular: it predicts no other
        constant = [c for c in columns if data[c].nunique() < 2]
        models = []
        for target in columns:
            others = data.drop(columns=sorted({target, *constant}))
            y = data[target].to_numpy()
            if kinds[target] == "binary":
                if not np.isin(y, (0.0, 1.0)).all():
                    raise ValueError(f"{target}: a binary predictor must be coded 0/1")
                models.append(_fit_logistic(target, y, others))
            else:
                tr = transforms.get(target, "identity")
                if tr == "log" and (y <= 0).any():
                    raise ValueError(f"{target}: a log-scale imputation needs positive values")
                models.append(_fit_linear(target, kinds[target], tr, y, others))
        return cls(tuple(models))

    def impute(self, frame: pd.DataFrame, *, m: int, seed: int, iterations: int = 10) -> list[pd.DataFrame]:
        """``m`` completed copies of ``frame`` (its missing values drawn; the observed kept).

        Each imputation draws every conditional model's parameters once, starts each missing
        value at the middle of its predictor's development range (the chain forgets its
        start), and runs ``iterations`` rounds of chained equations over the patient's
        missing predictors (one round when no patient misses more than one). Given the drawn
        parameters the rows are independent: the other patients of the cohort do not change
        the distribution a patient's values are drawn from.
        """
        if m < 1 or iterations < 1:
            raise ValueError(f"m and iterations must be >= 1; got {m} and {iterations}")
        unknown = sorted(set(self.columns) - set(frame.columns))
        if unknown:
            raise ValueError(f"the frame lacks the predictors {', '.join(unknown)}")
        base = frame[list(self.columns)].astype(float).to_numpy()
        miss = np.isnan(base)
        col = {c: j for j, c in enumerate(self.columns)}
        out = []
        for rng in (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(m)):
            params = [mod.draw_parameters(rng) for mod in self.models]
            x = base.copy()
            for j, mod in enumerate(self.models):  # start: the development range's midpoint, then the chain
                start = 0.5 if mod.kind == "binary" else (mod.low + mod.high) / 2
                value = np.exp(start) if mod.transform == "log" else start
                x[miss[:, j], j] = value
            for _ in range(iterations if miss.sum(axis=1).max(initial=0) > 1 else 1):
                for j, mod in enumerate(self.models):
                    rows = miss[:, j]
                    if rows.any():
                        pred = x[np.ix_(rows, [col[p] for p in mod.predictors])]
                        x[rows, j] = mod.draw(pred, *params[j], rng)
            out.append(pd.DataFrame(x, index=frame.index, columns=list(self.columns)))
        return out

    def to_json(self) -> str:
        return json.dumps({"format": IMPUTATION_FORMAT, "models": [
            {"target": m.target, "kind": m.kind, "transform": m.transform, "predictors": list(m.predictors),
             "coef": list(m.coef), "v": [list(r) for r in m.v], "sse": m.sse, "df": m.df, "low": m.low,
             "high": m.high, "fallback": m.fallback} for m in self.models]}, indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> PredictorImputer:
        d = json.loads(text)
        if not isinstance(d, dict) or d.get("format") != IMPUTATION_FORMAT:
            raise ValueError(f"not an imputation model of format {IMPUTATION_FORMAT!r}")
        return cls(tuple(ConditionalModel(r["target"], r["kind"], r["transform"], tuple(r["predictors"]),
                                          tuple(r["coef"]), tuple(tuple(x) for x in r["v"]), r["sse"], r["df"],
                                          r["low"], r["high"], r["fallback"]) for r in d["models"]))

    def save(self, path: Path) -> None:
        Path(path).write_text(self.to_json() + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> PredictorImputer:
        return cls.from_json(Path(path).read_text(encoding="utf-8"))

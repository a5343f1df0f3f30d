"""The clinical model: univariable screening, then a multivariable logistic regression.

Each clinical variable enters a univariable logistic regression; those with p below the
profile's threshold enter the multivariable model, whose predictors are the model's
independent predictors (the paper: BCLC stage, tumour number, tumour size). Odds ratios
with Wald 95% intervals for both stages. Fitted with statsmodels; saved as JSON.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats as sps
from scipy.special import expit
from statsmodels.tools.sm_exceptions import (
    ConvergenceWarning,
    PerfectSeparationError,
    PerfectSeparationWarning,
)

from .imputation import Kind, Transform

__all__ = ["CLINICAL_IMPUTATION", "CLINICAL_VARIABLES", "ClinicalModel", "encode_clinical"]

#: Variable -> how it enters the model (the encodings are part of the frozen model).
CLINICAL_VARIABLES = {
    "age": "years",
    "sex": "male = 1",
    "bclc": "stage B = 1",
    "tumor_number": "count",
    "tumor_size_cm": "cm",
    "afp_ng_ml": "log10(AFP + 1), ng/mL",
    "child_pugh": "class B = 1",
}

#: How each encoded variable is imputed when missing (:class:`tace.models.imputation.PredictorImputer`):
#: its kind and the scale of its linear model (tumour number and size are right-skewed and positive).
CLINICAL_IMPUTATION: dict[str, tuple[Kind, Transform]] = {
    "age": ("continuous", "identity"),
    "sex": ("binary", "identity"),
    "bclc": ("binary", "identity"),
    "tumor_number": ("count", "log"),
    "tumor_size_cm": ("continuous", "log"),
    "afp_ng_ml": ("continuous", "identity"),  # already log10(AFP + 1), >= 0
    "child_pugh": ("binary", "identity"),
}


def encode_clinical(table: pd.DataFrame, variables=tuple(CLINICAL_VARIABLES)) -> pd.DataFrame:
    """Numeric design columns from a cohort table (see :data:`CLINICAL_VARIABLES`); a missing
    value stays missing (NaN), never a category."""
    out = pd.DataFrame(index=table.index)
    for v in variables:
        col = table[v]
        if v in ("sex", "bclc", "child_pugh"):
            level = "M" if v == "sex" else "B"
            out[v] = (col == level).astype(float).where(col.notna())
        elif v == "afp_ng_ml":
            out[v] = np.log10(col.astype(float) + 1.0)
        else:
            out[v] = col.astype(float)
    return out


def _or_table(fit, names: list[str], stage: str) -> pd.DataFrame:
    base = {"stage": stage, "variable": names, "encoding": [CLINICAL_VARIABLES[n] for n in names]}
    if fit is None:
        return pd.DataFrame({**base, "coef": np.nan, "or": np.nan, "ci_low": np.nan, "ci_high": np.nan,
                             "p": np.nan, "note": _SEPARATION})
    z = float(sps.norm.ppf(0.975))
    coef, se = fit.params[1:], fit.bse[1:]
    return pd.DataFrame({**base, "coef": coef, "or": np.exp(coef), "ci_low": np.exp(coef - z * se),
                         "ci_high": np.exp(coef + z * se), "p": fit.pvalues[1:], "note": ""})


_SEPARATION = "not estimable: the outcome is (quasi-)separated by this variable"


def _logit(y: np.ndarray, x: pd.DataFrame):
    """Maximum-likelihood logistic fit, or None when it does not exist (separation)."""
    model = sm.Logit(y.astype(float), sm.add_constant(x.to_numpy(), has_constant="add"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            fit = model.fit(disp=0, method="newton", maxiter=100)
        except (np.linalg.LinAlgError, PerfectSeparationError):
            return None
    failed = any(issubclass(w.category, (ConvergenceWarning, PerfectSeparationWarning, RuntimeWarning))
                 for w in caught)
    if failed or not fit.mle_retvals.get("converged", False) or np.any(np.abs(fit.params) > 20) \
            or not np.all(np.isfinite(fit.bse)):
        return None
    return fit


@dataclass
class ClinicalModel:
    """Multivariable logistic model of the selected clinical predictors."""

    predictors: list[str]
    intercept: float
    coefficients: list[float]
    univariable: pd.DataFrame
    multivariable: pd.DataFrame
    p_threshold: float

    @classmethod
    def fit(cls, table: pd.DataFrame, y: np.ndarray, *, p_threshold: float = 0.05,
            variables=tuple(CLINICAL_VARIABLES)) -> ClinicalModel:
        x = encode_clinical(table, variables)
        uni = pd.concat([_or_table(_logit(y, x[[v]]), [v], "univariable") for v in variables
                         if x[v].nunique() > 1], ignore_index=True)
        chosen = [v for v in uni.loc[uni["p"] < p_threshold, "variable"]]
        if not chosen:  # nothing passes: keep the strongest single predictor (the table says so)
            chosen = [uni.dropna(subset=["p"]).sort_values("p")["variable"].iloc[0]]
        fit = _logit(y, x[chosen])
        while fit is None and len(chosen) > 1:  # separation: drop the weakest univariable predictor
            weakest = uni.set_index("variable").loc[chosen, "p"].idxmax()
            chosen = [v for v in chosen if v != weakest]
            fit = _logit(y, x[chosen])
        if fit is None:
            raise ValueError(f"the clinical model cannot be fitted: {_SEPARATION} ({chosen[0]})")
        multi = _or_table(fit, chosen, "multivariable")
        return cls(chosen, float(fit.params[0]), [float(c) for c in fit.params[1:]], uni, multi, p_threshold)

    def predict_proba(self, table: pd.DataFrame) -> np.ndarray:
        """P(non-response) of each row of a cohort table; NaN where a predictor is missing."""
        return self.predict_encoded(encode_clinical(table, self.predictors))

    def predict_encoded(self, design: pd.DataFrame) -> np.ndarray:
        """P(non-response) from encoded predictors (:func:`encode_clinical`'s columns)."""
        x = design[self.predictors].to_numpy(float)
        return expit(self.intercept + x @ np.asarray(self.coefficients))

    def to_json(self) -> str:
        return json.dumps({"predictors": self.predictors, "intercept": self.intercept,
                           "coefficients": self.coefficients, "p_threshold": self.p_threshold,
                           "encodings": {p: CLINICAL_VARIABLES[p] for p in self.predictors},
                           "univariable": self.univariable.to_dict(orient="list"),
                           "multivariable": self.multivariable.to_dict(orient="list")},
                          indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ClinicalModel:
        d = json.loads(text)
        return cls(d["predictors"], d["intercept"], d["coefficients"], pd.DataFrame(d["univariable"]),
                   pd.DataFrame(d["multivariable"]), d["p_threshold"])

    def save(self, path: Path) -> None:
        Path(path).write_text(self.to_json() + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> ClinicalModel:
        return cls.from_json(Path(path).read_text(encoding="utf-8"))

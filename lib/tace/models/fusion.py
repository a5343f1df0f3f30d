"""DLR: the deep learning and radiomics scores fused by logistic regression.

The fusion is fitted on out-of-fold training predictions of both models (each fold's
models never saw the patients they score), never on in-sample predictions, which for a
CNN are close to perfect and would teach the fusion to trust it blindly.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import statsmodels.api as sm
from scipy.special import expit, logit

__all__ = ["FusionModel"]

_EPS = 1e-6


def _design(dcnn: np.ndarray, radiomics: np.ndarray) -> np.ndarray:
    return np.column_stack([np.ones(len(dcnn)), logit(np.clip(dcnn, _EPS, 1 - _EPS)),
                            logit(np.clip(radiomics, _EPS, 1 - _EPS))])


@dataclass(frozen=True)
class FusionModel:
    """logit P(non-response) = b0 + b1 logit(DCNN) + b2 logit(radiomics)."""

    coefficients: tuple[float, float, float]

    @classmethod
    def fit(cls, dcnn_oof: np.ndarray, radiomics_oof: np.ndarray, y: np.ndarray) -> FusionModel:
        fit = sm.Logit(np.asarray(y, dtype=float), _design(dcnn_oof, radiomics_oof)).fit(disp=0, method="newton")
        return cls(tuple(float(c) for c in fit.params))

    def predict_proba(self, dcnn: np.ndarray, radiomics: np.ndarray) -> np.ndarray:
        return expit(_design(dcnn, radiomics) @ np.asarray(self.coefficients))

    def save(self, path: Path) -> None:
        Path(path).write_text(json.dumps({"terms": ["intercept", "logit_dcnn", "logit_radiomics"],
                                          "coefficients": list(self.coefficients)}, indent=2) + "\n")

    @classmethod
    def load(cls, path: Path) -> FusionModel:
        return cls(tuple(json.loads(Path(path).read_text())["coefficients"]))

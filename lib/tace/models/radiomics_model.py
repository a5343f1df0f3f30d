"""The radiomics model: z-scoring, correlation filter, LASSO (1-SE rule), then XGBoost.

Every step is fitted on the training patients only:

1. z-scores of the robust features (mean and SD of the training set);
2. correlation filter: walking the features in order, a feature is dropped when its
   absolute Pearson correlation with one already kept exceeds the threshold;
3. L1-penalised logistic regression over a grid of penalties, stratified k-fold CV of the
   binomial deviance, and the 1-SE rule (the strongest penalty whose CV deviance is within
   one standard error of the minimum; Hastie, Tibshirani & Friedman 2009, 7.10); the
   features with non-zero coefficients are kept;
4. XGBoost on the kept features, its hyperparameters chosen by stratified k-fold CV AUC.

Saved as JSON (scaler, filters, LASSO) and XGBoost's own JSON format: no pickle.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:  # the settings are declared once, in the profile's schema
    from ..profiles import RadiomicsSettings

__all__ = ["LASSO_C_GRID", "RadiomicsModel", "XGBOOST_FIXED"]


#: The LASSO's penalty grid, C = 1 / lambda (a fixed part of the method, not a setting).
LASSO_C_GRID = tuple(np.logspace(-2, 1.5, 30))

#: XGBoost settings that are not searched (the report states them beside the grid).
XGBOOST_FIXED = {"subsample": 0.8, "colsample_bytree": 0.8, "tree_method": "hist", "eval_metric": "logloss"}


def _correlation_filter(z: pd.DataFrame, threshold: float) -> list[str]:
    corr = np.abs(np.corrcoef(z.to_numpy(), rowvar=False))
    corr = np.nan_to_num(corr, nan=0.0)
    kept: list[int] = []
    for j in range(z.shape[1]):
        if all(corr[j, k] <= threshold for k in kept):
            kept.append(j)
    return [z.columns[j] for j in kept]


def _lasso(x: np.ndarray, y: np.ndarray, spec: RadiomicsSettings, seed: int):
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import log_loss
    from sklearn.model_selection import StratifiedKFold

    folds = min(spec.lasso_folds, int(np.bincount(y.astype(int)).min()))
    cv = StratifiedKFold(n_splits=max(folds, 2), shuffle=True, random_state=seed)
    grid = np.asarray(LASSO_C_GRID)

    def model(c):
        return LogisticRegression(l1_ratio=1.0, C=c, solver="liblinear", intercept_scaling=100.0,
                                  max_iter=1000, random_state=seed)

    losses = np.zeros((len(grid), cv.get_n_splits()))
    for f, (tr, va) in enumerate(cv.split(x, y)):
        for i, c in enumerate(grid):
            p = model(c).fit(x[tr], y[tr]).predict_proba(x[va])[:, 1]
            losses[i, f] = log_loss(y[va], p, labels=[0, 1])
    mean = losses.mean(axis=1)
    se = losses.std(axis=1, ddof=1) / np.sqrt(losses.shape[1])
    best = int(np.argmin(mean))
    eligible = np.flatnonzero(mean <= mean[best] + se[best])  # grid ascends in C
    chosen = None
    # the strongest penalty within 1 SE that keeps a feature; failing that, weaker ones
    for i in [*eligible, *range(int(eligible.max()) + 1, len(grid))]:
        fit = model(grid[i]).fit(x, y)
        if np.any(fit.coef_ != 0):
            chosen = i
            break
    if chosen is None:
        raise ValueError("LASSO kept no radiomics feature at any penalty of the grid")
    coefs = np.vstack([model(c).fit(x, y).coef_[0] for c in grid])  # (grid, features): the path
    path = pd.DataFrame({"C": grid, "log_lambda": -np.log(grid), "cv_deviance": 2 * mean,
                         "cv_deviance_se": 2 * se, "n_nonzero": (coefs != 0).sum(axis=1)})
    return fit, float(grid[chosen]), float(grid[best]), path, coefs


@dataclass
class RadiomicsModel:
    """The fitted radiomics pipeline."""

    robust_features: list[str]
    mean: list[float]
    sd: list[float]
    uncorrelated: list[str]
    selected: list[str]
    lasso_coef: list[float]
    lasso_intercept: float
    lasso_c: float
    xgb_params: dict
    booster_json: str
    lasso_path: pd.DataFrame = field(repr=False, default=None)
    xgb_cv: pd.DataFrame = field(repr=False, default=None)
    lasso_coef_path: pd.DataFrame = field(repr=False, default=None)

    @classmethod
    def fit(cls, features: pd.DataFrame, y: np.ndarray, robust: list[str], spec: RadiomicsSettings,
            seed: int) -> RadiomicsModel:
        """Fit on training features (rows: patients) and outcomes ``y`` (1 = non-response);
        ``spec`` is the profile's ``radiomics`` section."""
        from sklearn.model_selection import GridSearchCV, StratifiedKFold
        from xgboost import XGBClassifier

        y = np.asarray(y, dtype=int)
        x = features[robust].astype(float)
        mean = x.mean()
        sd = x.std(ddof=0).replace(0, 1.0)
        z = (x - mean) / sd
        uncorrelated = _correlation_filter(z, spec.correlation_threshold)
        lasso, c, c_min, path, coefs = _lasso(z[uncorrelated].to_numpy(), y, spec, seed)
        ever = np.flatnonzero(np.any(coefs != 0, axis=0))  # features that enter the path at all
        coef_path = pd.DataFrame(coefs[:, ever], columns=[uncorrelated[i] for i in ever]).assign(
            log_lambda=path["log_lambda"]).melt(id_vars="log_lambda", var_name="feature", value_name="coef")
        nonzero = np.flatnonzero(lasso.coef_[0])
        selected = [uncorrelated[i] for i in nonzero]
        folds = min(spec.xgb_folds, int(np.bincount(y).min()))
        search = GridSearchCV(
            XGBClassifier(random_state=seed, n_jobs=1, **XGBOOST_FIXED),
            {k: list(v) for k, v in spec.xgb_grid.items()}, scoring="roc_auc", n_jobs=1,
            cv=StratifiedKFold(n_splits=max(folds, 2), shuffle=True, random_state=seed))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            search.fit(z[selected].to_numpy(), y)
        cv_table = pd.DataFrame(search.cv_results_)[["params", "mean_test_score", "std_test_score", "rank_test_score"]]
        cv_table["params"] = cv_table["params"].map(lambda p: json.dumps(p, sort_keys=True))
        booster = search.best_estimator_.get_booster()
        raw = booster.save_raw(raw_format="json").decode()
        return cls(list(robust), [float(v) for v in mean], [float(v) for v in sd], uncorrelated, selected,
                   [float(v) for v in lasso.coef_[0][nonzero]], float(lasso.intercept_[0]), c,
                   {k: (v.item() if hasattr(v, "item") else v) for k, v in search.best_params_.items()},
                   raw, path.assign(chosen=lambda d: np.isclose(d["C"], c),
                                    minimum=lambda d: np.isclose(d["C"], c_min)),
                   cv_table, coef_path)

    def _z(self, features: pd.DataFrame) -> pd.DataFrame:
        # the z-scores use every robust feature, so every one must be there (not just the selected)
        missing = [f for f in self.robust_features if f not in features.columns]
        if missing:
            raise ValueError(f"{len(missing)} radiomics feature(s) the model needs are missing for prediction, "
                             f"e.g. {missing[:5]}; expected the features of the bundle's PyRadiomics parameters")
        x = features[self.robust_features].astype(float)
        return (x - np.asarray(self.mean)) / np.asarray(self.sd)

    def predict_proba(self, features: pd.DataFrame) -> np.ndarray:
        import xgboost as xgb

        booster = xgb.Booster()
        booster.load_model(bytearray(self.booster_json.encode()))
        dm = xgb.DMatrix(self._z(features)[self.selected].to_numpy())
        return booster.predict(dm).astype(np.float64)

    def lasso_score(self, features: pd.DataFrame) -> np.ndarray:
        """The LASSO linear predictor (the 'rad-score')."""
        return self.lasso_intercept + self._z(features)[self.selected].to_numpy() @ np.asarray(self.lasso_coef)

    def save(self, folder: Path) -> list[Path]:
        folder = Path(folder)
        spec = {k: getattr(self, k) for k in ("robust_features", "mean", "sd", "uncorrelated", "selected",
                                              "lasso_coef", "lasso_intercept", "lasso_c", "xgb_params")}
        (folder / "radiomics_pipeline.json").write_text(json.dumps(spec, indent=2) + "\n", encoding="utf-8")
        (folder / "radiomics_xgboost.json").write_text(self.booster_json, encoding="utf-8")
        return [folder / "radiomics_pipeline.json", folder / "radiomics_xgboost.json"]

    @classmethod
    def load(cls, folder: Path) -> RadiomicsModel:
        folder = Path(folder)
        spec = json.loads((folder / "radiomics_pipeline.json").read_text(encoding="utf-8"))
        return cls(**spec, booster_json=(folder / "radiomics_xgboost.json").read_text(encoding="utf-8"))

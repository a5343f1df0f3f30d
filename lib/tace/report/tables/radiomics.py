"""Radiomics development tables: features at each selection step, the selected features,
the XGBoost grid."""

from __future__ import annotations

import json

import pandas as pd

from ...models.radiomics_model import XGBOOST_FIXED

__all__ = ["XGBOOST_FIXED", "selected_features", "selection_counts", "xgboost_grid"]


def selection_counts(summary: dict, spec) -> pd.DataFrame:
    """Features left after each step of the selection (training summary) with the step's rule
    from the profile's radiomics settings ``spec``, including on how many training patients the
    ICC filter's re-segmentations were made (all of them in a bundle from before the subset)."""
    icc_patients = summary.get("n_icc_patients", summary["n_train"])
    return pd.DataFrame([
        {"step": "extracted (PyRadiomics)", "features": summary["n_features_extracted"],
         "rule": f"parameter file {spec.params}"},
        {"step": "robust to re-segmentation", "features": summary["n_robust"],
         "rule": f"ICC(3,1) >= {spec.icc_threshold} (eroded and dilated masks of {icc_patients} of the "
                 f"{summary['n_train']} training patients, drawn at random)"
                 if icc_patients < summary["n_train"] else f"ICC(3,1) >= {spec.icc_threshold} (eroded and dilated "
                                                           f"masks of every training patient)"},
        {"step": "not redundant", "features": summary["n_uncorrelated"],
         "rule": f"|Pearson r| <= {spec.correlation_threshold} with every feature kept before it"},
        {"step": "selected by LASSO", "features": summary["n_selected"],
         "rule": f"{spec.lasso_folds}-fold CV deviance, 1-SE rule"},
    ])


def selected_features(selected: pd.DataFrame, icc: pd.DataFrame) -> pd.DataFrame:
    """The LASSO-selected features with their image type and class (from PyRadiomics' names,
    ``imagetype_class_feature``), coefficient on z-scores and ICC(3,1)."""
    sel = selected.merge(icc.rename(columns={"icc3_1": "icc"}), on="feature", how="left")
    parts = sel["feature"].str.split("_")
    sel = sel.assign(image_type=parts.str[0], feature_class=parts.str[1])
    return sel[["feature", "image_type", "feature_class", "lasso_coef", "icc"]]


def xgboost_grid(cv: pd.DataFrame) -> pd.DataFrame:
    """The XGBoost grid search: one row per setting (its parameters as columns), best first,
    with the chosen one marked."""
    grid = cv.assign(**pd.json_normalize(cv["params"].map(json.loads)).to_dict(orient="series"))
    grid = grid.drop(columns=["params"]).sort_values("rank_test_score").reset_index(drop=True)
    grid["chosen"] = grid["rank_test_score"] == 1
    return grid

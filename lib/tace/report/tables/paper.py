"""The paper's published values beside a run's."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..selection import CROSS_VALIDATED, estimate_kind

__all__ = ["paper_comparison"]

#: The published multivariable p-values' rows and the clinical variables they belong to.
PUBLISHED_VARIABLES = {"BCLC stage": "bclc", "tumour number": "tumor_number", "tumour size": "tumor_size_cm"}


def paper_comparison(published: pd.DataFrame, *, scores: pd.DataFrame, odds: pd.DataFrame, summary: dict,
                     auc: pd.DataFrame, cox: pd.DataFrame) -> pd.DataFrame:
    """Each published quantity (``analysis/paper/published.csv``: patients per cohort, the
    number of selected radiomics features, the clinical model's multivariable p-values, AUCs
    with their CIs, the DLR group's multivariable Cox hazard ratio) beside this run's value,
    with a note where the run has none.

    ``odds`` is the training's clinical odds-ratio table, ``summary`` its summary, ``auc`` the
    run's tab-auc and ``cox`` its tab-cox (empty where no survival analysis ran).

    Like is compared with like, and said: the paper's training-set AUCs come with no
    resampling, so they are apparent (in-sample) and stand beside this run's apparent AUCs;
    after them, rows of cohort ``train-cv`` give this run's cross-validated AUCs, which the
    paper does not report. ``estimate`` names the kind of each AUC.
    """
    multi = odds[odds["stage"] == "multivariable"].set_index("variable")
    rows = []
    for r in published.itertuples():
        ours, low, high, note = np.nan, np.nan, np.nan, ""
        if r.quantity == "patients":
            ours = float((scores["cohort"] == r.cohort).sum())
        elif r.quantity == "selected radiomics features":
            ours = float(summary["n_selected"])
        elif r.quantity == "multivariable p":
            var = PUBLISHED_VARIABLES[r.model]
            if var in multi.index and pd.notna(multi.loc[var, "p"]):
                ours = float(multi.loc[var, "p"])
            else:
                note = "not in this run's multivariable model"
        elif r.quantity == "AUC":
            hit = auc[(auc["cohort"] == r.cohort) & (auc["model"] == r.model)]
            if len(hit):
                ours, low, high = hit[["auc", "delong_ci_low", "delong_ci_high"]].iloc[0]
                note = "DeLong 95% CI" + ("; apparent (in-sample) in both: the paper reports no resampling"
                                          if r.cohort == "train" else "")
        elif r.quantity == "multivariable Cox HR":
            hit = cox[(cox["stage"] == "multivariable") & (cox["covariate"] == "DLR high risk")]
            if len(hit):
                ours, low, high = hit[["hr", "ci_low", "ci_high"]].iloc[0]
                note = "DLR high vs low risk group, with the clinical covariates"
            else:
                note = "no survival analysis in this run"
        rows.append({"quantity": r.quantity, "cohort": r.cohort, "model": "" if pd.isna(r.model) else r.model,
                     "estimate": estimate_kind(r.cohort) if r.quantity == "AUC" else "",
                     "published": r.published, "published_ci_low": r.ci_low, "published_ci_high": r.ci_high,
                     "this_run": ours, "this_run_ci_low": low, "this_run_ci_high": high, "note": note})
    out = pd.DataFrame(rows)
    # this run's cross-validated training AUCs, after the apparent ones (the paper has none)
    train = out.index[(out["quantity"] == "AUC") & (out["cohort"] == "train")]
    cv = auc[auc["cohort"] == CROSS_VALIDATED].set_index("model")
    if len(train) and len(cv):
        extra = [{"quantity": "AUC", "cohort": CROSS_VALIDATED, "model": m,
                  "estimate": estimate_kind(CROSS_VALIDATED), "published": np.nan, "published_ci_low": np.nan,
                  "published_ci_high": np.nan, "this_run": cv.loc[m, "auc"],
                  "this_run_ci_low": cv.loc[m, "delong_ci_low"], "this_run_ci_high": cv.loc[m, "delong_ci_high"],
                  "note": "DeLong 95% CI; the paper reports no cross-validated AUC"}
                 for m in out.loc[train, "model"] if m in cv.index]
        out = pd.concat([out.loc[:train[-1]], pd.DataFrame(extra), out.loc[train[-1] + 1:]], ignore_index=True)
    return out

"""External-validation tables of one cohort against the frozen bundle's development summary:
performance beside development, case mix and relatedness, sample size, model updating,
subgroups and heterogeneity across sites."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import logit

from ...stats import external_validation_sample_size, roc_auc
from ...stats.samplesize import SampleSizeResult
from ..selection import as_bool, clipped

__all__ = ["BuiltTable", "casemix_table", "lp_relatedness_table", "sample_size_table", "site_heterogeneity_table",
           "subgroup_table", "updating_optimism_table", "updating_side_by_side", "validation_performance"]


@dataclass(frozen=True)
class BuiltTable:
    """A table and what could not be computed for it: (analysis, reason) pairs, which the
    report lists rather than hides."""

    table: pd.DataFrame
    not_done: tuple[tuple[str, str], ...] = ()


def validation_performance(assessed: pd.DataFrame, y: np.ndarray, development: dict, models: list[str], *,
                           computable: bool = True) -> pd.DataFrame:
    """Each model's AUC in this cohort (DeLong 95% CI) beside its development AUC from the
    bundle (out-of-fold predictions of the training set) and their difference; the cohort's
    AUC is blank where ``computable`` is false (e.g. a single outcome class)."""
    rows = []
    for m in models:
        d = development.get("oof_performance", {}).get(m, {})
        row = {"model": m, "development_auc_oof": d.get("auc", np.nan), "development_n": development["n"],
               "validation_n": len(assessed), "validation_events": int(np.sum(y)),
               "validation_auc": np.nan, "ci_low": np.nan, "ci_high": np.nan}
        if computable:
            a = roc_auc(y, assessed[m].to_numpy())
            row.update(validation_auc=a.estimate, ci_low=a.ci_low, ci_high=a.ci_high)
        row["difference"] = row["validation_auc"] - row["development_auc_oof"]
        rows.append(row)
    return pd.DataFrame(rows)


def lp_relatedness_table(validation: pd.DataFrame, development: dict, models: list[str]) -> pd.DataFrame:
    """Relatedness of each model's linear predictor (logit of its score) in this cohort to the
    development one (:func:`tace.stats.casemix.lp_relatedness`, Debray et al. 2015)."""
    from ...stats.casemix import lp_relatedness

    rows = []
    for m in models:
        d = development.get("oof_performance", {}).get(m)
        if d is None or len(validation) < 2:
            continue
        r = lp_relatedness(m, d["lp_mean"], d["lp_sd"], logit(clipped(validation[m])))
        rows.append({"model": m, "development_lp_mean": r.development_mean, "development_lp_sd": r.development_sd,
                     "validation_lp_mean": r.validation_mean, "validation_lp_sd": r.validation_sd,
                     "mean_shift_sd_units": r.mean_shift_sd_units, "sd_ratio": r.sd_ratio, "reading": r.reading})
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class SampleSize:
    """Riley et al. (2021) criteria as a table (``table``, with the inputs), the threshold
    criterion 4 was computed at (None: not computed), and the full result (``result``,
    :class:`tace.stats.samplesize.SampleSizeResult`)."""

    table: pd.DataFrame
    threshold: float | None
    result: SampleSizeResult


def sample_size_table(y: np.ndarray, development: dict, threshold: float, n_assessed: int, *,
                      computable: bool = True, model: str = "dlr") -> SampleSize:
    """Minimum sample size for external validation (Riley et al. 2021, as pmvalsampsize) at the
    observed outcome proportion (the development one where the cohort has no usable outcome)
    and ``model``'s development AUC (bounded to 0.55-0.95), criterion 4 at ``threshold`` (its
    decision threshold; left out unless inside (0, 1))."""
    prevalence = float(np.mean(y)) if computable else development["nonresponse_rate"]
    anticipated_c = min(max(development.get("oof_performance", {}).get(model, {}).get("auc", 0.75), 0.55), 0.95)
    threshold = float(threshold) if 0 < threshold < 1 else None
    size = external_validation_sample_size(prevalence, anticipated_c, threshold=threshold)
    table = size.criteria.assign(prevalence=prevalence, anticipated_c=anticipated_c, lp_model=size.lp_model,
                                 available_n=n_assessed, available_events=int(np.sum(y)))
    return SampleSize(table=table, threshold=threshold, result=size)


def _per_model(models, build, what: str) -> BuiltTable:
    rows, not_done = [], []
    for m in models:
        try:
            rows.append(build(m).assign(model=m))
        except ValueError as exc:  # e.g. too few patients for the calibration measures
            not_done.append((what.format(model=m), str(exc)))
    table = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()
    if len(table):
        table = table[["model"] + [c for c in table.columns if c != "model"]]
    return BuiltTable(table=table, not_done=tuple(not_done))


def updating_side_by_side(assessed: pd.DataFrame, y: np.ndarray, models: list[str]) -> BuiltTable:
    """Each model as is, recalibrated in the large, and by logistic recalibration, fitted and
    assessed on this cohort (apparent; :func:`tace.stats.updating.updating_table`)."""
    from ...stats.updating import updating_table

    return _per_model(models, lambda m: updating_table(y, clipped(assessed[m])), "model updating of {model}")


def updating_optimism_table(assessed: pd.DataFrame, y: np.ndarray, models: list[str], *, n_boot: int = 200,
                            seed: int = 0) -> BuiltTable:
    """Each update's apparent performance beside its optimism-corrected estimate (bootstrap,
    as ``rms::validate``; :func:`tace.stats.updating.updating_optimism`)."""
    from ...stats.updating import updating_optimism

    rows, not_done = [], []
    for m in models:
        for method in ("recalibration-in-the-large", "logistic recalibration"):
            try:
                rows.append(updating_optimism(y, clipped(assessed[m]), method, n_boot=n_boot,
                                              seed=seed).assign(model=m))
            except ValueError as exc:
                not_done.append((f"bootstrap validation of the {method} of {m}", str(exc)))
    table = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()
    if len(table):
        table = table[["model"] + [c for c in table.columns if c != "model"]]
    return BuiltTable(table=table, not_done=tuple(not_done))


def subgroup_table(assessed: pd.DataFrame, models: list[str], *,
                   subgroups: tuple[str, ...] = ("site", "scanner", "bclc")) -> BuiltTable:
    """AUC (DeLong 95% CI) of each model in each level of each subgroup column that has two or
    more levels; a level with one outcome class gets a row that says so."""
    rows = []
    for column in subgroups:
        if column not in assessed or assessed[column].nunique(dropna=True) < 2:
            continue
        for level, part in assessed.groupby(column):
            yy = as_bool(part["nonresponse"])
            for m in models:
                row = {"subgroup": column, "level": level, "model": m, "n": len(part), "events": int(yy.sum()),
                       "auc": np.nan, "ci_low": np.nan, "ci_high": np.nan, "note": ""}
                if len(part) >= 2 and 0 < yy.sum() < len(part):
                    a = roc_auc(yy, part[m].to_numpy())
                    row.update(auc=a.estimate, ci_low=a.ci_low, ci_high=a.ci_high)
                else:
                    row["note"] = "not computable: one outcome class"
                rows.append(row)
    table = pd.DataFrame(rows)
    if table.empty:
        return BuiltTable(table, (("subgroup performance", "no site, scanner or BCLC column with two or more levels"),))
    return BuiltTable(table)


def site_heterogeneity_table(assessed: pd.DataFrame, y: np.ndarray, models: list[str]) -> BuiltTable:
    """With two or more sites: each model's C (logit scale), O/E (log scale) and calibration
    slope per site, pooled by a random-effects model with a prediction interval for a new site
    (:func:`tace.stats.meta.site_heterogeneity`, Debray et al. 2017)."""
    from ...stats.meta import site_heterogeneity

    if "site" not in assessed or assessed["site"].nunique(dropna=True) < 2:
        return BuiltTable(pd.DataFrame(), (("heterogeneity across sites", "the cohort has fewer than two sites"),))
    known = assessed["site"].notna().to_numpy()
    sites = assessed.loc[known, "site"].astype(str).to_numpy()
    return _per_model(models, lambda m: site_heterogeneity(y[known], clipped(assessed.loc[known, m]), sites),
                      "heterogeneity across sites of {model}")


def casemix_table(validation: pd.DataFrame, development: dict) -> pd.DataFrame:
    """Each clinical predictor of the development summary: its mean and SD in development and
    in this cohort (encoded as the clinical model encodes it), the standardised mean
    difference, and the encoding (:func:`tace.stats.casemix.smd_from_summary`)."""
    from ...models.clinical import CLINICAL_VARIABLES, encode_clinical
    from ...stats.casemix import smd_from_summary

    enc = encode_clinical(validation, tuple(v for v in CLINICAL_VARIABLES if v in development["predictors"]))
    table = smd_from_summary({v: development["predictors"][v] for v in enc.columns}, enc)
    table["encoding"] = table["predictor"].map(CLINICAL_VARIABLES)
    return table

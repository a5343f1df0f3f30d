"""Robustness of radiomics features to segmentation: ICC(3,1) across perturbed masks."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

__all__ = ["icc_filter"]


def icc_filter(original: pd.DataFrame, perturbed: list[pd.DataFrame], threshold: float = 0.75
               ) -> tuple[list[str], pd.Series]:
    """Keep features whose ICC(3,1) between the original and perturbed masks is >= threshold.

    ICC(3,1): two-way mixed effects, consistency, single rater (Shrout & Fleiss 1979;
    Koo & Li 2016 call >= 0.75 good reliability), computed with pingouin for each feature,
    the masks as raters and the patients as targets. Patients missing in any perturbation
    (a mask eroded away) are left out; constant features, whose ICC is undefined, are dropped.

    Parameters
    ----------
    original
        Features with the original masks, one row per patient (index: patient_id).
    perturbed
        The same features with each perturbed mask (e.g. eroded, dilated).
    threshold
        The ICC a feature needs.

    Returns
    -------
    kept : list of str
        The robust features, in the original column order.
    icc : pandas.Series
        ICC(3,1) of every feature (NaN where undefined).
    """
    import pingouin as pg

    frames = [original, *perturbed]
    common = original.index
    for f in perturbed:
        common = common.intersection(f.dropna(how="all").index)
    icc = {}
    for feature in original.columns:
        values = np.column_stack([f.loc[common, feature].to_numpy(dtype=float) for f in frames])
        if not np.isfinite(values).all() or np.ptp(values) == 0 or len(common) < 3:
            icc[feature] = np.nan
            continue
        long = pd.DataFrame({
            "target": np.repeat(np.arange(len(common)), len(frames)),
            "rater": np.tile(np.arange(len(frames)), len(common)),
            "rating": values.ravel(),
        })
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # zero within-target variance
            table = pg.intraclass_corr(long, targets="target", raters="rater", ratings="rating")
        # pingouin >= 0.7 names ICC(3,1) "ICC(C,1)" (McGraw & Wong); earlier versions "ICC3"
        row = table["Type"].isin(["ICC(C,1)", "ICC3"])
        icc[feature] = float(table.loc[row, "ICC"].iloc[0])
    icc = pd.Series(icc, name="icc3_1")
    kept = [f for f in original.columns if np.isfinite(icc[f]) and icc[f] >= threshold]
    return kept, icc

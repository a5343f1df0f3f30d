"""Split an ``internal`` cohort into train and test, stratified by outcome, by seed."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from .schema import CohortName

__all__ = ["split_internal"]


def split_internal(table: pd.DataFrame, *, test_size: float | int = 48 / 160,
                   seed: int) -> pd.DataFrame:
    """Assign the ``internal`` rows of a cohort table to ``train`` or ``test``.

    The split is stratified by ``nonresponse``, as in the paper (112/48 of 160, a test
    fraction of 0.3). Other rows are returned unchanged; the input is not modified.

    Parameters
    ----------
    table
        A cohort table (:attr:`tace.cohort.Cohort.table`) or any frame with ``cohort`` and
        ``nonresponse`` columns.
    test_size
        Fraction (float) or number (int) of internal patients put in the test set.
    seed
        Seed of the split.

    Returns
    -------
    pandas.DataFrame
        A copy of ``table`` with ``cohort`` set to ``train`` or ``test`` on internal rows.

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"cohort": ["internal"] * 10, "nonresponse": [True, False] * 5})
    >>> split_internal(t, test_size=0.3, seed=1)["cohort"].value_counts().to_dict()
    {'train': 7, 'test': 3}
    """
    out = table.copy()
    internal = np.flatnonzero(out["cohort"].to_numpy() == CohortName.INTERNAL.value)
    if internal.size == 0:
        return out
    strata = out["nonresponse"].to_numpy()[internal]
    if pd.isna(strata).any():
        raise ValueError("internal patients without mRECIST cannot be split by outcome; "
                         "expected mrecist on every internal row")
    _, test_idx = train_test_split(internal, test_size=test_size, random_state=seed,
                                   stratify=strata.astype(bool))
    cohort = out["cohort"].to_numpy(dtype=object).copy()
    cohort[internal] = CohortName.TRAIN.value
    cohort[test_idx] = CohortName.TEST.value
    out["cohort"] = cohort
    return out

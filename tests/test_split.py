"""An internal cohort is split into train and test by seed, stratified by outcome."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tace.cohort import split_internal


@pytest.fixture
def internal() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    return pd.DataFrame({
        "cohort": ["internal"] * 160 + ["external"] * 38,
        "nonresponse": np.concatenate([rng.random(160) < 0.45, rng.random(38) < 0.5]),
    })


def test_split_is_112_48_and_stratified(internal):
    out = split_internal(internal, seed=112)
    counts = out["cohort"].value_counts().to_dict()
    assert counts == {"train": 112, "test": 48, "external": 38}
    pos = internal.loc[internal["cohort"] == "internal", "nonresponse"].sum()
    assert abs(out.loc[out["cohort"] == "test", "nonresponse"].sum() - pos * 48 / 160) <= 1


def test_split_is_reproducible_by_seed_and_leaves_the_input_alone(internal):
    before = internal.copy()
    a = split_internal(internal, seed=1)
    b = split_internal(internal, seed=1)
    c = split_internal(internal, seed=2)
    pd.testing.assert_frame_equal(a, b)
    assert not a["cohort"].equals(c["cohort"])
    pd.testing.assert_frame_equal(internal, before)
    assert (a.loc[internal["cohort"] == "external", "cohort"] == "external").all()


def test_split_refuses_internal_patients_without_an_outcome(internal):
    internal["nonresponse"] = internal["nonresponse"].astype("boolean")
    internal.loc[3, "nonresponse"] = pd.NA
    with pytest.raises(ValueError, match="internal patients without mRECIST"):
        split_internal(internal, seed=1)

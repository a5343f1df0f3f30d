"""The proportional-hazards check against survival::cox.zph (survival 3.5).

Reference: tests/reference/cox_zph_reference.R, on veteran (137 patients, tied times, Efron
ties) and lung (complete cases of age, sex, ph.ecog), every time transform."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tace.stats.proportional_hazards import PH_TRANSFORMS, proportional_hazards_test

REF = json.loads((Path(__file__).parent / "reference" / "data" / "cox_zph_reference.json").read_text())
MODELS = {"veteran": ["karno", "age", "trt", "prior"], "lung": ["age", "sex", "ph.ecog"]}


@pytest.mark.parametrize("data", list(MODELS))
@pytest.mark.parametrize("transform", PH_TRANSFORMS)
def test_the_score_tests_and_scaled_schoenfeld_residuals_equal_cox_zph(data, transform):
    """R: ``cox.zph(coxph(Surv(time, status) ~ karno + age + trt + prior, veteran), "km")``:
    karno chisq 12.1876670227044, GLOBAL 23.0990233033505 on 4 df."""
    ref = REF[data]
    z = proportional_hazards_test(pd.DataFrame(ref["data"]), "time", "status", MODELS[data], transform=transform)
    want = ref["zph"][transform]
    assert z.table["covariate"].tolist() == want["terms"]
    np.testing.assert_allclose(z.table["chisq"], want["chisq"], rtol=1e-6)
    np.testing.assert_allclose(z.table["p"], want["p"], rtol=1e-6)
    assert z.table["df"].tolist() == want["df"]
    np.testing.assert_allclose(z.residuals[MODELS[data]].to_numpy(), want["y"], rtol=1e-6)
    np.testing.assert_allclose(z.residuals["g"], want["x"], rtol=1e-9)
    np.testing.assert_allclose(z.residuals["time"], want["time"])
    if data == "veteran" and transform == "km":
        assert z.table["chisq"].iloc[0] == pytest.approx(12.1876670227044, rel=1e-6)


def test_a_hazard_ratio_that_changes_with_time_is_detected_and_a_constant_one_is_not():
    """Simulated: x doubles the hazard before 1 year and halves it after (non-proportional),
    z has a constant HR of 2. 600 patients; the test must flag x (p < 0.001) and not z."""
    rng = np.random.default_rng(4)
    n = 600
    x, z = rng.integers(0, 2, n), rng.standard_normal(n)
    h_early, h_late = 0.5 * 2.0 ** x * 2.0 ** z, 0.5 * 0.5 ** x * 2.0 ** z
    t_early = rng.exponential(1 / h_early)
    t = np.where(t_early < 1, t_early, 1 + rng.exponential(1 / h_late))
    c = rng.uniform(0.5, 4, n)
    df = pd.DataFrame({"t": np.minimum(t, c), "e": (t <= c).astype(int), "x": x, "z": z})
    table = proportional_hazards_test(df, "t", "e", ["x", "z"]).table.set_index("covariate")
    assert table.loc["x", "p"] < 0.001
    assert table.loc["z", "p"] > 0.01


def test_bad_input_is_refused_by_name():
    df = pd.DataFrame({"t": [1.0, 2, 3, 4], "e": [1, 0, 1, 1], "x": [0.1, np.nan, 0.3, 0.2]})
    with pytest.raises(ValueError, match="missing values in x"):
        proportional_hazards_test(df, "t", "e", ["x"])
    with pytest.raises(ValueError, match="transform must be one of"):
        proportional_hazards_test(df.fillna(0), "t", "e", ["x"], transform="sqrt")
    with pytest.raises(ValueError, match="columns not in the data: y"):
        proportional_hazards_test(df, "t", "e", ["y"])

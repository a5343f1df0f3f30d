"""Random-effects meta-analysis against metafor on its BCG vaccine data.

Reference: tests/reference/meta_reference.R (metafor's rma with tight convergence
tolerances: by default its REML stops at a tau^2 change of 1e-5 and its PM at 1e-4, which
alone moved PM's tau^2 by 8e-5 relative)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tace.stats.meta import random_effects

REF = json.loads((Path(__file__).parent / "reference" / "data" / "meta_reference.json").read_text())


@pytest.mark.parametrize("method", ["REML", "DL", "PM"])
def test_random_effects_equal_metafor_rma_on_the_bcg_trials(method):
    """R: ``rma(yi, vi, data = escalc("RR", ..., data = dat.bcg), method)``; the prediction
    interval b +- qt(0.975, k - 2) sqrt(tau2 + se^2). REML: estimate -0.71453234215814,
    tau^2 0.313243258136486."""
    ref = REF["fits"][method]
    r = random_effects(REF["yi"], REF["vi"], method=method)
    got = [r.estimate, r.se, r.ci_low, r.ci_high, r.tau2, r.i2, r.q, r.q_p, r.pi_low, r.pi_high]
    want = [ref[k] for k in ("estimate", "se", "ci_low", "ci_high", "tau2", "i2", "q", "q_p", "pi_low", "pi_high")]
    np.testing.assert_allclose(got, want, rtol=1e-6)
    assert r.k == 13


def test_a_single_site_or_a_zero_variance_is_refused():
    with pytest.raises(ValueError, match="at least 2 sites"):
        random_effects([0.3], [0.01])
    with pytest.raises(ValueError, match="finite and positive"):
        random_effects([0.3, 0.4], [0.01, 0.0])
    with pytest.raises(ValueError, match="method must be one of"):
        random_effects([0.3, 0.4], [0.01, 0.02], method="HS")


def test_homogeneous_sites_give_tau2_zero_and_two_sites_no_prediction_interval():
    r = random_effects([0.5, 0.5, 0.5], [0.01, 0.02, 0.03])
    assert r.tau2 == 0 and r.i2 == 0
    two = random_effects([0.2, 0.6], [0.01, 0.02])
    assert np.isnan(two.pi_low) and np.isnan(two.pi_high)

"""Decision-curve analysis: net benefit of acting on a model across threshold probabilities.

At threshold probability p_t, a patient is treated as a non-responder (e.g. offered
another therapy than TACE) when the predicted probability is >= p_t, and

    net benefit = TP / n - FP / n * p_t / (1 - p_t),

against "treat all" (prevalence - (1 - prevalence) p_t / (1 - p_t)) and "treat none" (0).
Interventions avoided per 100 patients = (NB_model - NB_all) / (p_t / (1 - p_t)) * 100.
Column names follow the R package dcurves where they overlap.

References
----------
Vickers AJ, Elkin EB. Decision curve analysis: a novel method for evaluating prediction
models. Med Decis Making 2006;26:565-74.

Vickers AJ, van Calster B, Steyerberg EW. A simple, step-by-step guide to interpreting
decision curve analysis. Diagn Progn Res 2019;3:18.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._checks import check_binary, check_prob

__all__ = ["net_benefit"]


def _nb(y: np.ndarray, p: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Net benefit at each threshold; y and p may be (n,) or (B, n) for bootstrap replicates."""
    n = y.shape[-1]
    called = p[..., None, :] >= thresholds[:, None]          # (..., T, n)
    tp = np.sum(called & y[..., None, :], axis=-1)
    fp = np.sum(called & ~y[..., None, :], axis=-1)
    odds = thresholds / (1 - thresholds)
    return tp / n - fp / n * odds


def net_benefit(y_true, prob, thresholds, *, n_boot: int = 0, seed: int | None = None,
                conf_level: float = 0.95) -> pd.DataFrame:
    """Net benefit of the model, of treating all and of treating none.

    Parameters
    ----------
    y_true
        Observed outcome (1 = event).
    prob
        Predicted probabilities in [0, 1].
    thresholds
        Threshold probabilities, each in (0, 1).
    n_boot
        Bootstrap replicates (patients resampled with replacement) for percentile
        intervals; 0 for none.
    seed
        Seed of the bootstrap.
    conf_level
        Level of the intervals.

    Returns
    -------
    pandas.DataFrame
        One row per threshold: ``threshold``, ``net_benefit``, ``net_benefit_all``,
        ``net_benefit_none`` (0), ``interventions_avoided`` (per 100 patients); with
        ``n_boot > 0`` also ``net_benefit_ci_low``, ``net_benefit_ci_high``,
        ``interventions_avoided_ci_low`` and ``interventions_avoided_ci_high``.

    Examples
    --------
    >>> from tace.stats import net_benefit
    >>> nb = net_benefit([0, 1, 1, 0, 1], [0.2, 0.7, 0.6, 0.5, 0.3], [0.25, 0.5])
    >>> nb[["threshold", "net_benefit", "net_benefit_all"]].round(3).to_numpy().tolist()
    [[0.25, 0.533, 0.467], [0.5, 0.2, 0.2]]
    """
    y = check_binary(y_true, need_both=False)
    p = check_prob(prob, y.size)
    t = np.atleast_1d(np.asarray(thresholds, dtype=float))
    if t.ndim != 1 or t.size == 0 or not np.all((t > 0) & (t < 1)):
        raise ValueError("thresholds must be one or more probabilities strictly between 0 and 1")
    odds = t / (1 - t)
    prev = y.mean()
    model = _nb(y, p, t)
    treat_all = prev - (1 - prev) * odds
    out = pd.DataFrame({
        "threshold": t, "net_benefit": model, "net_benefit_all": treat_all,
        "net_benefit_none": np.zeros_like(t),
        "interventions_avoided": (model - treat_all) / odds * 100,
    })
    if n_boot > 0:
        rng = np.random.default_rng(seed)
        idx = rng.integers(0, y.size, size=(n_boot, y.size))
        yb = y[idx]
        step = max(1, 20_000_000 // (t.size * y.size))  # bound the (B, T, n) comparison
        boot = np.vstack([_nb(yb[i:i + step], p[idx[i:i + step]], t) for i in range(0, n_boot, step)])
        boot_all = yb.mean(axis=1, keepdims=True) - (1 - yb.mean(axis=1, keepdims=True)) * odds
        avoided = (boot - boot_all) / odds * 100
        q = [(1 - conf_level) / 2, 1 - (1 - conf_level) / 2]
        out["net_benefit_ci_low"], out["net_benefit_ci_high"] = np.quantile(boot, q, axis=0)
        out["interventions_avoided_ci_low"], out["interventions_avoided_ci_high"] = np.quantile(avoided, q, axis=0)
    return out

"""Input validation shared by the statistics: each function checks once and says what is wrong."""

from __future__ import annotations

import numpy as np

__all__ = ["check_binary", "check_conf_level", "check_prob", "check_scores", "check_survival"]


def _array(values, name: str) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional; got shape {arr.shape}")
    return arr


def check_binary(y_true, name: str = "y_true", *, need_both: bool = True) -> np.ndarray:
    """Labels as a bool array; 0/1 or bool only, no missing values, both classes present."""
    arr = _array(y_true, name)
    if arr.dtype == bool:
        out = arr
    else:
        try:
            num = arr.astype(float)
        except (TypeError, ValueError):
            raise ValueError(f"{name} must hold 0/1 or True/False labels; got values such as "
                             f"{arr[:3].tolist()}") from None
        if np.isnan(num).any():
            raise ValueError(f"{name} holds {int(np.isnan(num).sum())} missing (NaN) labels; "
                             "expected 0/1 for every observation")
        bad = ~np.isin(num, (0.0, 1.0))
        if bad.any():
            raise ValueError(f"{name} must be binary (0/1); found {np.unique(num[bad])[:5].tolist()}")
        out = num.astype(bool)
    if out.size < 2:
        raise ValueError(f"{name} has {out.size} observation(s); expected at least 2")
    if need_both and (out.all() or not out.any()):
        only = "positive (1)" if out.all() else "negative (0)"
        raise ValueError(f"{name} holds only {only} observations; both classes are needed")
    return out


def check_scores(scores, n: int, name: str = "y_score") -> np.ndarray:
    """Scores as a float array of length ``n`` without NaN or infinity."""
    arr = _array(scores, name)
    try:
        arr = arr.astype(float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be numeric") from None
    if arr.size != n:
        raise ValueError(f"{name} has {arr.size} values but y_true has {n}; expected equal lengths")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} holds {int((~np.isfinite(arr)).sum())} NaN or infinite values; "
                         "expected a finite score for every observation")
    return arr


def check_prob(prob, n: int, name: str = "prob", *, open_interval: bool = False) -> np.ndarray:
    """Probabilities in [0, 1] (or (0, 1) when a logit is taken)."""
    arr = check_scores(prob, n, name)
    if open_interval:
        bad = (arr <= 0) | (arr >= 1)
        if bad.any():
            raise ValueError(f"{name} holds {int(bad.sum())} values at or outside 0 and 1 "
                             f"(e.g. {arr[bad][0]:g}); expected probabilities strictly between 0 and 1")
    else:
        bad = (arr < 0) | (arr > 1)
        if bad.any():
            raise ValueError(f"{name} holds {int(bad.sum())} values outside [0, 1] "
                             f"(e.g. {arr[bad][0]:g}); expected probabilities")
    return arr


def check_conf_level(conf_level: float) -> float:
    if not 0 < conf_level < 1:
        raise ValueError(f"conf_level must lie strictly between 0 and 1; got {conf_level}")
    return float(conf_level)


def check_survival(time, event) -> tuple[np.ndarray, np.ndarray]:
    """Survival times (finite, >= 0) and event indicators (0/1), of equal length."""
    t = _array(time, "time")
    try:
        t = t.astype(float)
    except (TypeError, ValueError):
        raise ValueError("time must be numeric") from None
    if not np.isfinite(t).all():
        raise ValueError(f"time holds {int((~np.isfinite(t)).sum())} NaN or infinite values")
    if (t < 0).any():
        raise ValueError(f"time holds {int((t < 0).sum())} negative values; expected times >= 0")
    e = check_binary(event, "event", need_both=False)
    if e.size != t.size:
        raise ValueError(f"event has {e.size} values but time has {t.size}; expected equal lengths")
    if not e.any():
        raise ValueError("event holds no events (all censored); survival statistics need at least one")
    return t, e

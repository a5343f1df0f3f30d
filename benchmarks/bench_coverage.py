"""Coverage of the calibration intervals by simulation from a model with known truth.

A population where predictions are miscalibrated in a known way: LP ~ N(-0.5, 1.2),
p = expit(LP) the model's prediction, P(y = 1 | p) = expit(0.3 + 0.8 LP) the truth. The true
values (O/E, Brier, scaled Brier, ICI, E50, E90) are computed on 2 million draws; each
replicate draws ``--n`` patients, computes tace's intervals (O/E log-normal; percentile
bootstrap of the rest, ``--boot`` resamples) and counts how often they cover the truth.
Emax has no population value here (the LP's support is unbounded) and is not assessed.

    .venv/bin/python benchmarks/bench_coverage.py --reps 1000 --n 300 --boot 500

Record the output in benchmarks/RESULTS.md with the machine.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from scipy.special import expit

from tace.stats.calibration import calibration_bootstrap, observed_expected

A, B, MU, SD = 0.3, 0.8, -0.5, 1.2


def population(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    lp = rng.normal(MU, SD, n)
    truth = expit(A + B * lp)
    return rng.random(n) < truth, expit(lp), truth


def true_values(seed: int = 1, n: int = 2_000_000) -> dict[str, float]:
    y, p, truth = population(np.random.default_rng(seed), n)
    err = np.abs(truth - p)
    brier = float(np.mean(p ** 2 - 2 * p * truth + truth))  # E (p - y)^2 given the truth
    rate = float(truth.mean())
    return {"oe": rate / float(p.mean()), "brier": brier, "scaled_brier": 1 - brier / (rate * (1 - rate)),
            "ici": float(err.mean()), "e50": float(np.quantile(err, 0.5)), "e90": float(np.quantile(err, 0.9))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=1000)
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--boot", type=int, default=500)
    ap.add_argument("--seed", type=int, default=20261128)
    args = ap.parse_args()
    truth = true_values()
    rng = np.random.default_rng(args.seed)
    hits = dict.fromkeys(truth, 0)
    est_sum = dict.fromkeys(truth, 0.0)
    t0 = time.perf_counter()
    for r in range(args.reps):
        y, p, _ = population(rng, args.n)
        oe = observed_expected(y, p)
        hits["oe"] += oe.ci_low <= truth["oe"] <= oe.ci_high
        est_sum["oe"] += oe.estimate
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ci = calibration_bootstrap(y, p, n_boot=args.boot, seed=r)
        for m in ("brier", "scaled_brier", "ici", "e50", "e90"):
            e = getattr(ci, m)
            hits[m] += e.ci_low <= truth[m] <= e.ci_high
            est_sum[m] += e.estimate
    secs = time.perf_counter() - t0
    print(f"{args.reps} replicates of n = {args.n}, {args.boot} bootstrap resamples each, {secs:.0f} s")
    print(f"{'measure':14s} {'truth':>8s} {'mean est.':>10s} {'coverage':>9s}")
    for m in truth:
        print(f"{m:14s} {truth[m]:8.4f} {est_sum[m] / args.reps:10.4f} {hits[m] / args.reps:9.3f}")


if __name__ == "__main__":
    main()

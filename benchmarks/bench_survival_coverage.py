"""Coverage of the survival and meta-analysis intervals by simulation from known truth.

Survival: x ~ N(0, 1), T Weibull with shape 1.3 and rate 0.05 exp(0.8 x) (months), censoring
uniform on (5, 60); the marker is x. Truths from 1 million uncensored patients: the
cumulative/dynamic AUC at 12 and 24 months, P(x_i > x_j | T_i <= t < T_j), and Uno's C
truncated at 24 months, P(x_i > x_j | T_i < T_j, T_i < 24) (concordance among pairs whose
shorter time falls before tau). Each replicate draws ``--n`` patients and computes
tace's bootstrap intervals (``--boot`` resamples): for the AUC the default logit-scale Wald
interval and, from the same resamples, the percentile interval; for Uno's C the percentile.

Meta-analysis: k sites with true C-statistics on the logit scale drawn around mu = logit(0.75)
with tau (``--tau``, 0.2), each estimated with its sampling variance (v = 0.04 to 0.12); tace's
REML interval for mu (normal, as metafor's default) and the prediction interval for a new
site's true logit C (t on k - 2 df, Higgins et al. 2009), beside the Hartung-Knapp-Sidik-Jonkman
interval (``test="knha"``) and the Bayesian prediction interval (``prediction="bayes"``,
half-normal(0.5) prior on tau) on the same data.

    .venv/bin/python benchmarks/bench_survival_coverage.py --reps 1000 --n 300 --boot 200

Record the output in benchmarks/RESULTS.md with the machine.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np

from tace.stats import time_dependent_auc, uno_concordance
from tace.stats.meta import random_effects

HORIZONS = (12.0, 24.0)
TAU = 24.0


def cohort(rng: np.random.Generator, n: int, censor: bool = True):
    x = rng.standard_normal(n)
    t = (rng.exponential(size=n) / (0.05 * np.exp(0.8 * x))) ** (1 / 1.3)
    if not censor:
        return t, np.ones(n, dtype=int), x
    c = rng.uniform(5, 60, n)
    return np.minimum(t, c), (t <= c).astype(int), x


def _pairs_concordance(t_case, x_case, t_ctrl, x_ctrl) -> float:
    """P(x_case > x_control) (+1/2 for ties) over all case-control pairs, by sorting."""
    order = np.sort(x_ctrl)
    below = np.searchsorted(order, x_case, side="left")
    equal = np.searchsorted(order, x_case, side="right") - below
    return float((below + 0.5 * equal).sum() / (x_case.size * x_ctrl.size))


def true_values(seed: int = 1, n: int = 1_000_000) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    t, _, x = cohort(rng, n, censor=False)
    out = {}
    for h in HORIZONS:
        case, ctrl = t <= h, t > h
        out[f"AUC({h:g})"] = _pairs_concordance(t[case], x[case], t[ctrl], x[ctrl])
    # Uno's C at tau: pairs (i, j) with T_i < T_j and T_i < tau; a sample of 4,000 "i"s, each
    # against every j with a longer time, keeps the sums exact enough (MC SE ~ 0.001)
    idx = rng.choice(np.flatnonzero(t < TAU), 4000, replace=False)
    order = np.argsort(t)
    ts, xs = t[order], x[order]
    conc = total = 0.0
    for i in idx:
        later = xs[np.searchsorted(ts, t[i], side="right"):]
        conc += (later < x[i]).sum() + 0.5 * (later == x[i]).sum()
        total += later.size
    out[f"Uno C({TAU:g})"] = conc / total
    return out


def survival_coverage(args) -> None:
    truth = true_values()
    rng = np.random.default_rng(args.seed)
    hits, est, done = dict.fromkeys(truth, 0), {k: [] for k in truth}, 0
    perc_hits = dict.fromkeys(truth, 0)
    t0 = time.perf_counter()
    for r in range(args.reps):
        t, e, x = cohort(rng, args.n)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            td = time_dependent_auc(t, e, x, list(HORIZONS), n_boot=args.boot, seed=r).set_index("time")
            tdp = time_dependent_auc(t, e, x, list(HORIZONS), n_boot=args.boot, seed=r,
                                     interval="percentile").set_index("time")
            uno = uno_concordance(t, e, x, TAU, n_boot=args.boot, seed=r)
        done += 1
        for h in HORIZONS:
            k = f"AUC({h:g})"
            hits[k] += td.loc[h, "ci_low"] <= truth[k] <= td.loc[h, "ci_high"]
            perc_hits[k] += tdp.loc[h, "ci_low"] <= truth[k] <= tdp.loc[h, "ci_high"]
            est[k].append(td.loc[h, "auc"])
        k = f"Uno C({TAU:g})"
        hits[k] += uno.ci_low <= truth[k] <= uno.ci_high
        perc_hits[k] += uno.ci_low <= truth[k] <= uno.ci_high
        est[k].append(uno.estimate)
    print(f"Survival: {done} replicates of n = {args.n}, {args.boot} bootstrap resamples each "
          f"({time.perf_counter() - t0:.0f} s)")
    print(f"{'measure':14s} {'truth':>8s} {'mean est.':>10s} {'coverage':>9s} {'percentile':>11s}")
    for k in truth:
        print(f"{k:14s} {truth[k]:8.4f} {np.mean(est[k]):10.4f} {100 * hits[k] / done:8.1f}% "
              f"{100 * perc_hits[k] / done:10.1f}%")


def meta_coverage(args) -> None:
    mu, tau = float(np.log(0.75 / 0.25)), args.tau
    for test, prediction in (("z", "higgins"), ("knha", "higgins"), ("knha", "bayes")):
        rng = np.random.default_rng(args.seed + 1)  # the same data for every interval
        for k in (5, 10, 20):
            ci_hits = pi_hits = 0
            for _ in range(args.reps):
                theta = rng.normal(mu, tau, k)
                v = rng.uniform(0.04, 0.12, k)
                y = rng.normal(theta, np.sqrt(v))
                r = random_effects(y, v, method="REML", test=test, prediction=prediction)
                ci_hits += r.ci_low <= mu <= r.ci_high
                new_site = rng.normal(mu, tau)
                pi_hits += r.pi_low <= new_site <= r.pi_high
            print(f"Meta-analysis (REML, {test:4s}, PI {prediction:7s}), tau = {tau:g}, k = {k:2d} sites, "
                  f"{args.reps} replicates: CI of mu {100 * ci_hits / args.reps:.1f}%, "
                  f"prediction interval {100 * pi_hits / args.reps:.1f}%")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=1000)
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--boot", type=int, default=200)
    ap.add_argument("--seed", type=int, default=20261128)
    ap.add_argument("--tau", type=float, default=0.2, help="between-site SD of logit C (meta-analysis)")
    ap.add_argument("--only", choices=("survival", "meta"), default=None)
    args = ap.parse_args()
    if args.only != "meta":
        survival_coverage(args)
    if args.only != "survival":
        meta_coverage(args)


if __name__ == "__main__":
    main()

"""Coverage of the intervals pooled over multiple imputations (Rubin's rules), by simulation.

The clinical model's situation in miniature: three predictors, x1 and x2 correlated normal
(rho 0.5), x3 binary on x1; the model is logit P(y) = -0.5 + 0.8 x1 + 0.6 x2 + 0.5 x3 and
is also the truth (the estimand is the model's performance had every predictor been
observed). A development sample (n 400, complete) fits the imputation model
(:class:`tace.models.imputation.PredictorImputer`); each replicate draws a validation
cohort of ``--n`` patients, removes x2 from ``--missing`` of them at random (MCAR), or,
with ``--mar``, with probability rising with x1 (MAR), imputes ``--m`` times, and pools
the C-statistic (logit scale), O/E (log scale), calibration intercept, slope and Brier
score by Rubin's rules. Two truths: the model's performance had every predictor been
observed (2 million patients), and its performance as deployed, where a patient's missing x2
is imputed without the outcome (the estimand of this design; 10 x 400,000 patients, each
set imputed once with its own parameter draw, averaged). Imputing without the outcome
attenuates discrimination and the calibration slope, so the second is the one the pooled
intervals must cover.

    .venv/bin/python benchmarks/bench_mi_coverage.py --reps 1000 --n 300 --m 20

Record the output in benchmarks/RESULTS.md with the machine.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
from scipy.special import expit
from sklearn.metrics import roc_auc_score

from tace.models.imputation import PredictorImputer
from tace.stats.calibration import calibration_intercept_slope
from tace.stats.pooling import POOLED_MEASURES, pooled_performance

BETA = (-0.5, 0.8, 0.6, 0.5)


def cohort(rng: np.random.Generator, n: int) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    x1 = rng.standard_normal(n)
    x2 = 0.5 * x1 + np.sqrt(0.75) * rng.standard_normal(n)
    x3 = (rng.random(n) < expit(0.3 * x1)).astype(float)
    p = expit(BETA[0] + BETA[1] * x1 + BETA[2] * x2 + BETA[3] * x3)
    return pd.DataFrame({"x1": x1, "x2": x2, "x3": x3}), p, rng.random(n) < p


def predict(x: pd.DataFrame) -> np.ndarray:
    return expit(BETA[0] + BETA[1] * x["x1"] + BETA[2] * x["x2"] + BETA[3] * x["x3"]).to_numpy()


def true_values(seed: int = 1, n: int = 2_000_000) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    _, p, y = cohort(rng, n)
    # the model is the truth: O/E 1, intercept 0, slope 1; C and Brier from the population
    return {"C-statistic": float(roc_auc_score(y, p)), "O/E": 1.0, "calibration intercept": 0.0,
            "calibration slope": 1.0, "Brier score": float(np.mean(p * (1 - p)))}


def missing_mask(rng: np.random.Generator, x: pd.DataFrame, share: float, mar: bool) -> np.ndarray:
    if mar:
        return rng.random(len(x)) < expit(np.log(share / (1 - share)) + 1.0 * x["x1"].to_numpy())
    return rng.random(len(x)) < share


def deployed_values(imputer: PredictorImputer, share: float, mar: bool, seed: int = 2, n: int = 400_000,
                    draws: int = 10) -> dict[str, float]:
    """The model's population performance when missing x2 is imputed (one imputation per
    patient, a new parameter draw per set), averaged over ``draws`` sets."""
    rng = np.random.default_rng(seed)
    vals: dict[str, list[float]] = {k: [] for k in POOLED_MEASURES}
    for d in range(draws):
        x, p_true, y = cohort(rng, n)
        x.loc[missing_mask(rng, x, share, mar), "x2"] = np.nan
        (done,) = imputer.impute(x, m=1, seed=10_000 + d)
        p = np.clip(predict(done), 1e-9, 1 - 1e-9)
        citl, slope = calibration_intercept_slope(y, p)
        vals["C-statistic"].append(float(roc_auc_score(y, p)))
        vals["O/E"].append(float(p_true.mean() / p.mean()))
        vals["calibration intercept"].append(citl.estimate)
        vals["calibration slope"].append(slope.estimate)
        vals["Brier score"].append(float(np.mean(p ** 2 - 2 * p * p_true + p_true)))
    return {k: float(np.mean(v)) for k, v in vals.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=1000)
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--m", type=int, default=20)
    ap.add_argument("--missing", type=float, default=0.3)
    ap.add_argument("--mar", action="store_true", help="x2 missing more often where x1 is high (MAR)")
    ap.add_argument("--seed", type=int, default=20261128)
    args = ap.parse_args()
    truth = true_values()
    rng = np.random.default_rng(args.seed)
    dev, _, _ = cohort(rng, 400)
    imputer = PredictorImputer.fit(dev, {"x1": "continuous", "x2": "continuous", "x3": "binary"})
    deployed = deployed_values(imputer, args.missing, args.mar)
    hits = dict.fromkeys(truth, 0)
    hits_deployed = dict.fromkeys(truth, 0)
    est: dict[str, list[float]] = {k: [] for k in truth}
    done = 0
    t0 = time.perf_counter()
    for r in range(args.reps):
        x, _, y = cohort(rng, args.n)
        x.loc[missing_mask(rng, x, args.missing, args.mar), "x2"] = np.nan
        sets = [np.clip(predict(s), 1e-9, 1 - 1e-9) for s in imputer.impute(x, m=args.m, seed=r)]
        table = pooled_performance(y, sets).set_index("measure")
        if table["estimate"].isna().any():
            continue
        done += 1
        for k in truth:
            hits[k] += table.loc[k, "ci_low"] <= truth[k] <= table.loc[k, "ci_high"]
            hits_deployed[k] += table.loc[k, "ci_low"] <= deployed[k] <= table.loc[k, "ci_high"]
            est[k].append(table.loc[k, "estimate"])
    secs = time.perf_counter() - t0
    kind = "MAR (logit P(missing) rises by 1 per SD of x1)" if args.mar else "MCAR"
    print(f"Rubin's rules over {args.m} imputations, n = {args.n}, x2 missing in {100 * args.missing:.0f}% "
          f"({kind}); {done} of {args.reps} replicates pooled ({secs:.0f} s)")
    print(f"{'measure':22s} {'complete':>9s} {'coverage':>9s} {'deployed':>9s} {'coverage':>9s} {'mean est.':>10s}")
    for k in POOLED_MEASURES:
        print(f"{k:22s} {truth[k]:9.4f} {100 * hits[k] / max(done, 1):8.1f}% {deployed[k]:9.4f} "
              f"{100 * hits_deployed[k] / max(done, 1):8.1f}% {np.mean(est[k]):10.4f}")


if __name__ == "__main__":
    main()

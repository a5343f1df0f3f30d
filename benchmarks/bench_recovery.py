"""How much of the planted signal the models recover, per signal preset, on a fresh twin.

For each preset (null, weak, paper) it draws a twin with a seed other than the report's, develops
the four models on its training patients (``tace train``'s code), scores every patient and
prints, per cohort and model, the AUC, the oracle AUC (the true probability), the share of the
oracle's discrimination reached and the Spearman correlation of the score with the true imaging
logit. Record the output in benchmarks/RESULTS.md with the machine.

    .venv/bin/python benchmarks/bench_recovery.py --profile default --seed 7

The report's held-out cohorts are small (48 test and 38 external patients in ``default``): one
report's AUC lies within about 0.07 of what the profile reaches on average. ``--n-test`` and
``--n-external`` draw larger held-out cohorts (the training cohort stays the profile's), so that
the figures estimate the profile's expected performance, not one small sample's:

    .venv/bin/python benchmarks/bench_recovery.py --signals paper --n-test 300 --n-external 150
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import pandas as pd
from rich.console import Console

from tace.cohort import load_cohort
from tace.cohort.synthetic import generate_twin
from tace.models import predict_cohort, train_models
from tace.profiles import load_profile
from tace.stats import truth_recovery_table

MODELS = ["clinical", "radiomics", "dcnn", "dlr"]
COHORTS = ["train", "test", "external"]


def recovery(profile_name: str, signal: str, seed: int, n_jobs: int, work: Path,
             sizes: dict[str, int]) -> pd.DataFrame:
    base = load_profile(profile_name)
    synthetic = base.synthetic.model_copy(update={"signal": signal, **sizes})
    profile = base.model_copy(update={"seed": seed, "synthetic": synthetic})
    twin = generate_twin(work / f"twin-{signal}", profile.synthetic, seed, n_jobs=n_jobs)
    cohort = load_cohort(twin.manifest, n_jobs=n_jobs)
    trained = train_models(cohort, profile, work / f"models-{signal}", cache_dir=work / "cache", n_jobs=n_jobs,
                           progress=False, console=Console(quiet=True))
    scores = predict_cohort(trained.bundle, cohort, cache_dir=work / "cache", n_jobs=n_jobs)
    truth = pd.read_csv(twin.truth).drop(columns=["cohort"])
    data = (scores.merge(cohort.table[["patient_id", "nonresponse"]], on="patient_id")
            .merge(truth, on="patient_id"))
    data["nonresponse"] = data["nonresponse"].astype("Float64")
    table = truth_recovery_table(data, MODELS, COHORTS)
    return table.assign(signal=signal)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", default="default")
    ap.add_argument("--seed", type=int, default=7, help="twin and training seed (not the report's)")
    ap.add_argument("--signals", default="null,weak,paper")
    ap.add_argument("--jobs", type=int, default=-1)
    ap.add_argument("--n-test", type=int, default=None, help="test patients [default: the profile's]")
    ap.add_argument("--n-external", type=int, default=None, help="external patients [default: the profile's]")
    ap.add_argument("--csv", type=Path, default=None, help="also write the table here")
    args = ap.parse_args()
    sizes = {k: v for k, v in (("n_test", args.n_test), ("n_external", args.n_external)) if v is not None}
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-recovery-") as tmp:
        for signal in args.signals.split(","):
            t0 = time.perf_counter()
            rows.append(recovery(args.profile, signal, args.seed, args.jobs, Path(tmp), sizes))
            print(f"signal {signal}: {time.perf_counter() - t0:.0f} s", flush=True)
    table = pd.concat(rows, ignore_index=True)
    shown = table[["signal", "cohort", "model", "n", "auc", "auc_ci_low", "auc_ci_high", "oracle_auc",
                   "share_of_oracle", "spearman_imaging", "mean_abs_error_vs_truth"]]
    print(f"profile {args.profile}, seed {args.seed}")
    print(shown.to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    if args.csv:
        table.to_csv(args.csv, index=False)


if __name__ == "__main__":
    main()

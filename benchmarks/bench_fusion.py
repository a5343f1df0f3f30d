"""Which fusion protocol, and how many folds: the DLR and the thresholds against the twin's truth.

For each seed (never the report's) it draws a twin of the profile's training size with large
held-out cohorts (1,000 test and 500 external patients by default), develops the models on the
training patients, and scores every held-out patient with:

- the models refitted on every training patient (``full``), and
- for each V, the V fold pipelines of a V-fold cross-fit (every selection and tuning step
  inside the folds: :func:`tace.models.crossfit.cross_fit`), beside the cross-fitted
  (out-of-fold) predictions of the training patients.

From these it evaluates three protocols for each V:

- ``moments``: the protocol of tace <= issue 23: fusion fitted on out-of-fold logits, applied to
  the refitted models after swapping in the mean and SD of their in-sample logits; Youden
  cut-offs carried by the same moments;
- ``refit`` (super learner; van der Laan et al. 2007): the fusion fitted on out-of-fold
  predictions and applied to the refitted models' raw predictions; cut-offs from the
  out-of-fold predictions, applied as they are;
- ``crossfit``: the frozen imaging models are the V fold pipelines, a new patient scored by
  all of them and averaged on the logit scale; the fusion and the cut-offs as in ``refit``.
  The clinical model is the refitted one in every protocol (a logistic model on three
  predictors; its cut-off from its out-of-fold predictions except under ``moments``).

For every protocol, V, model and cohort it prints the AUC, the calibration slope against the
outcomes and against the true probability (fractional logit), the mean absolute error against
the truth, and, at the training-fixed cut-off, the share called positive (beside the share of
the training patients' cross-validated predictions), sensitivity and specificity; then the
means over seeds and issue 24's quality bars. Record the output in benchmarks/RESULTS.md.

Each seed's predictions are kept under ``--work`` (``seed-S/full.csv.gz``, ``seed-S/cv-V.csv.gz``
and the twin's ``truth.csv.gz``; by default benchmarks/fusion-runs, committed: synthetic patients,
no identifiers), so a run that stops resumes where it was, and ``--evaluate-only`` prints the
figures of what is there. The twins' images and the radiomics cache stay there too, ignored
by git; a twin is deleted once every V asked for is done (``--keep-twins`` keeps it).

    .venv/bin/python benchmarks/bench_fusion.py --seeds 101 102 103 104 105 --folds 2 3 5
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
from rich.console import Console
from scipy.special import expit

from tace.cohort import load_cohort, tumour_labels
from tace.cohort.synthetic import generate_twin
from tace.determinism import set_determinism
from tace.features.crops import make_crops
from tace.features.radiomics import RadiomicsCase, extract_radiomics, load_radiomics_params
from tace.models.clinical import ClinicalModel
from tace.models.crossfit import cross_fit, ensemble_probability
from tace.models.dcnn import DCNN
from tace.models.fusion import FusionModel, Standardiser
from tace.models.radiomics_model import RadiomicsModel
from tace.models.train import crop_spec, training_features, training_table
from tace.profiles import load_profile
from tace.stats import truth_calibration, youden_threshold
from tace.stats.calibration import calibration_intercept_slope

MODELS = ("clinical", "radiomics", "dcnn", "dlr")
BASE = ("clinical", "radiomics", "dcnn")
COHORTS = ("test", "external")
PROTOCOLS = ("moments", "refit", "crossfit")
_EPS = 1e-6


def _write(frame: pd.DataFrame, path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    frame.to_csv(tmp, index=False, compression={"method": "gzip", "mtime": 0})
    os.replace(tmp, path)


class Seed:
    """One twin and what is developed on it; each step is computed once and kept on disk."""

    def __init__(self, profile, seed: int, work: Path, sizes: dict, jobs: int, console: Console):
        self.seed, self.jobs, self.console = seed, jobs, console
        self.profile = profile.model_copy(update={"seed": seed,
                                                  "synthetic": profile.synthetic.model_copy(update=sizes)})
        self.root = work / f"seed-{seed}"
        self.root.mkdir(parents=True, exist_ok=True)
        self.cache = work / "cache"
        self._ready = False

    def _prepare(self) -> None:
        if self._ready:
            return
        twin_dir = self.root / "twin"
        if not (twin_dir / "manifest.csv").exists():
            shutil.rmtree(twin_dir, ignore_errors=True)
            t0 = time.perf_counter()
            generate_twin(twin_dir, self.profile.synthetic, self.seed, n_jobs=self.jobs)
            self.console.print(f"seed {self.seed}: twin in {time.perf_counter() - t0:.0f} s")
        cohort = load_cohort(twin_dir / "manifest.csv", n_jobs=self.jobs)
        self.train = training_table(cohort, self.seed)
        self.y = self.train["nonresponse"].astype(bool).to_numpy()
        table = cohort.table
        self.held = table[table["cohort"].isin(COHORTS)].reset_index(drop=True)
        t0 = time.perf_counter()
        self.features, self.robust, _, _ = training_features(self.train, self.profile, cache_dir=self.cache,
                                                             n_jobs=self.jobs, progress=True)
        params = load_radiomics_params(self.profile.radiomics.params_path)
        cases = [RadiomicsCase(r.patient_id, Path(r.image), Path(r.mask), lab)
                 for r, lab in zip(self.held.itertuples(index=False), tumour_labels(self.held), strict=True)]
        self.held_features = extract_radiomics(cases, params, cache_dir=self.cache, n_jobs=self.jobs,
                                               progress=True).droplevel("perturbation").loc[self.held["patient_id"]]
        spec = crop_spec(self.profile)
        self.crops, self.owner = make_crops(list(self.train["image"]), list(self.train["mask"]), spec,
                                            tumour_labels(self.train), n_jobs=self.jobs)
        self.held_crops, self.held_owner = make_crops(list(self.held["image"]), list(self.held["mask"]), spec,
                                                      tumour_labels(self.held), n_jobs=self.jobs)
        self.console.print(f"seed {self.seed}: features and crops in {time.perf_counter() - t0:.0f} s")
        self._ready = True

    def _scores(self, clinical, radiomics, dcnn, rows: str) -> dict[str, np.ndarray]:
        if rows == "train":
            return {"clinical": clinical.predict_proba(self.train),
                    "radiomics": radiomics.predict_proba(self.features),
                    "dcnn": dcnn.predict_patients(self.crops, self.owner, len(self.train))}
        return {"clinical": clinical.predict_proba(self.held),
                "radiomics": radiomics.predict_proba(self.held_features),
                "dcnn": dcnn.predict_patients(self.held_crops, self.held_owner, len(self.held))}

    def full(self) -> pd.DataFrame:
        """Refitted models: in-sample predictions of the training patients, and the held-out ones."""
        path = self.root / "full.csv.gz"
        if path.exists():
            return pd.read_csv(path)
        self._prepare()
        t0 = time.perf_counter()
        p = self.profile
        set_determinism(self.seed)
        clinical = ClinicalModel.fit(self.train, self.y, p_threshold=p.clinical.p_threshold)
        radiomics = RadiomicsModel.fit(self.features, self.y, self.robust, p.radiomics, self.seed)
        dcnn = DCNN()
        dcnn.fit(self.crops, self.owner, self.y, p.dcnn, self.seed)
        parts = []
        for rows, frame in (("train", self.train), ("held", self.held)):
            part = pd.DataFrame({"patient_id": frame["patient_id"], "cohort": frame["cohort"],
                                 "nonresponse": frame["nonresponse"].astype(int)})
            parts.append(part.assign(**self._scores(clinical, radiomics, dcnn, rows)))
        out = pd.concat(parts, ignore_index=True)
        _write(out, path)
        self.console.print(f"seed {self.seed}: refitted models in {time.perf_counter() - t0:.0f} s")
        return out

    def cv(self, folds: int) -> pd.DataFrame:
        """Cross-fitted predictions of the training patients (``fold`` 1..V) and, for every
        held-out patient, each fold pipeline's prediction (``<model>_f<k>``)."""
        path = self.root / f"cv-{folds}.csv.gz"
        if path.exists():
            return pd.read_csv(path)
        self._prepare()
        t0 = time.perf_counter()
        fit = cross_fit(self.train, self.features, self.robust, self.crops, self.owner, self.y, self.profile,
                        folds=folds, seed=self.seed, console=self.console)
        train = fit.oof.assign(cohort="train")
        held = pd.DataFrame({"patient_id": self.held["patient_id"], "cohort": self.held["cohort"],
                             "nonresponse": self.held["nonresponse"].astype(int)})
        for m in fit.models:
            scores = self._scores(m.clinical, m.radiomics, m.dcnn, "held")
            for name, values in scores.items():
                held[f"{name}_f{m.index + 1}"] = values
        out = pd.concat([train, held], ignore_index=True)
        _write(out, path)
        self.console.print(f"seed {self.seed}: {folds}-fold cross-fit in {time.perf_counter() - t0:.0f} s")
        return out


def _carry(threshold: float, source: Standardiser, to: Standardiser) -> float:
    """The cut-off on ``to``'s scale at the same standardised logit as ``threshold`` on
    ``source``'s (the moment matching of tace before issue 24)."""
    if not 0 < threshold < 1:
        return float(threshold)
    return float(expit(to.mean + to.sd * float(source.z(np.array([threshold]))[0])))


def protocol_scores(full: pd.DataFrame, cv: pd.DataFrame, folds: int, protocol: str
                    ) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, float]]:
    """The held-out patients' four scores under ``protocol``, the training patients'
    cross-validated scores (out-of-fold, the fusion applied to them), and the cut-offs."""
    oof = cv[cv["cohort"] == "train"].reset_index(drop=True)
    y = oof["nonresponse"].to_numpy(int)
    fusion = FusionModel.fit(oof["dcnn"].to_numpy(), oof["radiomics"].to_numpy(), y)
    oof = oof.assign(dlr=fusion.predict_proba(oof["dcnn"].to_numpy(), oof["radiomics"].to_numpy()))
    youden = {m: youden_threshold(y, oof[m].to_numpy()) for m in MODELS}
    youden = {m: (t if np.isfinite(t) else float(y.mean())) for m, t in youden.items()}
    held_full = full[full["cohort"].isin(COHORTS)].set_index("patient_id")
    held_cv = cv[cv["cohort"].isin(COHORTS)].set_index("patient_id").loc[held_full.index]
    held = held_full[["cohort", "nonresponse", *BASE]].copy()
    if protocol == "crossfit":
        for m in ("radiomics", "dcnn"):
            held[m] = ensemble_probability([held_cv[f"{m}_f{k}"].to_numpy() for k in range(1, folds + 1)])
    if protocol == "moments":  # tace before issue 24: in-sample moments swapped in
        insample = full[full["cohort"] == "train"]
        frozen = replace(fusion, dcnn=Standardiser.of(insample["dcnn"]),
                         radiomics=Standardiser.of(insample["radiomics"]))
        held["dlr"] = frozen.predict_proba(held["dcnn"].to_numpy(), held["radiomics"].to_numpy())
        insample = insample.assign(dlr=frozen.predict_proba(insample["dcnn"].to_numpy(),
                                                            insample["radiomics"].to_numpy()))
        cut = {m: _carry(youden[m], Standardiser.of(oof[m]), Standardiser.of(insample[m])) for m in MODELS}
    else:
        held["dlr"] = fusion.predict_proba(held["dcnn"].to_numpy(), held["radiomics"].to_numpy())
        cut = youden
    return held.reset_index(), oof, cut


def evaluate(held: pd.DataFrame, oof: pd.DataFrame, cut: dict[str, float], truth: pd.DataFrame) -> pd.DataFrame:
    rows = []
    held = held.merge(truth[["patient_id", "p_nonresponse"]], on="patient_id")
    for m in MODELS:
        cv_share = float((oof[m] >= cut[m]).mean())
        cv_auc = _auc(oof["nonresponse"].to_numpy(int), oof[m].to_numpy())
        for c in COHORTS:
            part = held[held["cohort"] == c]
            y, p = part["nonresponse"].to_numpy(int), part[m].to_numpy(float)
            _, slope = calibration_intercept_slope(y, np.clip(p, _EPS, 1 - _EPS))
            pos = p >= cut[m]
            rows.append({"model": m, "cohort": c, "n": len(part), "auc": _auc(y, p), "cv_auc": cv_auc,
                         "slope_outcomes": slope.estimate,
                         "slope_truth": truth_calibration(p, part["p_nonresponse"]).slope,
                         "mae_truth": float(np.mean(np.abs(p - part["p_nonresponse"].to_numpy()))),
                         "cut": cut[m], "cv_share_positive": cv_share, "share_positive": float(pos.mean()),
                         "sensitivity": float(pos[y == 1].mean()), "specificity": float((~pos[y == 0]).mean())})
    return pd.DataFrame(rows)


def _auc(y: np.ndarray, p: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, p))


def quality_bars(means: pd.DataFrame) -> pd.DataFrame:
    """Issue 24's bars, per protocol and V, on the means over seeds."""
    out = []
    for (protocol, folds), part in means.groupby(["protocol", "folds"], sort=False):
        t = part.set_index(["cohort", "model"])
        ok = {"dlr slope vs truth in test 0.8-1.25": 0.8 <= t.loc[("test", "dlr"), "slope_truth"] <= 1.25}
        slope_ok = mae_ok = auc_ok = True
        for c in COHORTS:
            dist = {m: abs(t.loc[(c, m), "slope_truth"] - 1) for m in ("radiomics", "dcnn", "dlr")}
            slope_ok &= dist["dlr"] <= min(dist["radiomics"], dist["dcnn"])
            mae_ok &= t.loc[(c, "dlr"), "mae_truth"] <= min(t.loc[(c, "radiomics"), "mae_truth"],
                                                             t.loc[(c, "dcnn"), "mae_truth"]) + 0.01
            auc_ok &= t.loc[(c, "dlr"), "auc"] >= max(t.loc[(c, "radiomics"), "auc"], t.loc[(c, "dcnn"), "auc"]) - 0.01
        ok["dlr slope no further from 1 than the better input"] = slope_ok
        ok["dlr error <= smaller input's + 0.01"] = mae_ok
        ok["dlr auc >= larger input's - 0.01"] = auc_ok
        test = part[part["cohort"] == "test"].set_index("model")
        ok["test share positive within 0.10 of cv share"] = bool(
            (abs(test["share_positive"] - test["cv_share_positive"]) <= 0.10).all())
        strong = test.loc[[m for m in ("radiomics", "dcnn", "dlr") if test.loc[m, "auc"] >= 0.8]]
        ok["sens and spec >= 0.6 where test auc >= 0.8"] = bool(
            ((strong["sensitivity"] >= 0.6) & (strong["specificity"] >= 0.6)).all())
        out += [{"protocol": protocol, "V": folds, "bar": k, "met": "yes" if v else "NO"} for k, v in ok.items()]
    return pd.DataFrame(out).pivot(index="bar", columns=["protocol", "V"], values="met")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", default="default")
    ap.add_argument("--seeds", type=int, nargs="+", default=[101, 102, 103, 104, 105])
    ap.add_argument("--folds", type=int, nargs="+", default=[2, 3, 5])
    ap.add_argument("--n-test", type=int, default=1000)
    ap.add_argument("--n-external", type=int, default=500)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--work", type=Path, default=Path(__file__).resolve().parent / "fusion-runs",
                    help="where predictions (and, until done, twins) are kept between runs")
    ap.add_argument("--evaluate-only", action="store_true", help="print the figures of what --work holds")
    ap.add_argument("--keep-twins", action="store_true", help="keep each seed's images once its predictions exist")
    ap.add_argument("--csv", type=Path, default=None, help="also write the per-seed table here")
    args = ap.parse_args()
    console = Console(stderr=True)
    profile = load_profile(args.profile)
    if profile.seed in args.seeds:
        ap.error(f"seed {profile.seed} is the report's; choose others")
    sizes = {"n_test": args.n_test, "n_external": args.n_external, "n_followup": 1}
    rows = []
    for seed in args.seeds:
        s = Seed(profile, seed, args.work, sizes, args.jobs, console)
        done = [v for v in args.folds if (s.root / f"cv-{v}.csv.gz").exists()]
        if args.evaluate_only and not (s.root / "full.csv.gz").exists():
            continue
        full = s.full()
        for v in args.folds:
            if args.evaluate_only and v not in done:
                continue
            cv = s.cv(v)
            if not (s.root / "truth.csv.gz").exists():
                _write(pd.read_csv(s.root / "twin" / "truth.csv"), s.root / "truth.csv.gz")
            truth = pd.read_csv(s.root / "truth.csv.gz")
            for protocol in PROTOCOLS:
                held, oof, cut = protocol_scores(full, cv, v, protocol)
                rows.append(evaluate(held, oof, cut, truth).assign(seed=seed, folds=v, protocol=protocol))
        if not args.evaluate_only and not args.keep_twins:
            shutil.rmtree(s.root / "twin", ignore_errors=True)
    if not rows:
        print("nothing to evaluate yet")
        return
    table = pd.concat(rows, ignore_index=True)
    if args.csv:
        table.to_csv(args.csv, index=False)
    keys = ["protocol", "folds", "cohort", "model"]
    figures = ["auc", "cv_auc", "slope_outcomes", "slope_truth", "mae_truth", "cv_share_positive", "share_positive",
               "sensitivity", "specificity"]
    means = table.groupby(keys, sort=False)[figures].mean().reset_index()
    seeds = table.groupby(["protocol", "folds"])["seed"].nunique()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores; profile {args.profile}; "
          f"{args.n_test} test and {args.n_external} external patients per twin")
    print("seeds per protocol and V: " + ", ".join(f"{p} V={v}: {n}" for (p, v), n in seeds.items()))
    print("\nMeans over seeds (slope_truth: calibration slope against the true probability; "
          "cut-offs fixed on the training patients)")
    with pd.option_context("display.width", 200, "display.max_rows", 500):
        print(means.to_string(index=False, float_format=lambda x: f"{x:.3f}"))
        print("\nIssue 24's quality bars on the means over seeds")
        print(quality_bars(means).to_string())


if __name__ == "__main__":
    main()

"""The ``tace`` command line.

\b
tace synth         write the digital-twin cohort (synthetic patients, images, truth)
tace check-cohort  check a cohort manifest against the data contract
tace train         develop the four models and freeze them into a bundle
tace predict       score a cohort with a frozen bundle
tace report        regenerate the paper report (twin by default, or your cohort)
tace validate      validate a frozen bundle on a new cohort

synth, train, predict, report and validate take --scheduler ADDRESS (or
DASK_SCHEDULER_ADDRESS) to send the per-patient work to a running Dask cluster.
"""

from __future__ import annotations

import errno
import functools
import math
import os
import sys
import warnings
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from . import __version__
from .cohort import CohortError, load_cohort, print_warnings, summarize
from .profiles import ProfileError, available_profiles, load_profile

_err = Console(stderr=True)
_out = Console()


class _Jobs(click.ParamType):
    """--jobs: -1 (all cores) or a positive number of workers."""

    name = "jobs"

    def convert(self, value, param, ctx):
        try:
            n = int(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a whole number; expected -1 (all cores) or a positive number", param, ctx)
        if n == 0 or n < -1:
            self.fail(f"{n}; expected -1 (all cores) or a positive number of workers", param, ctx)
        return n


JOBS = _Jobs()


def _device(ctx, param, value: str | None) -> str | None:
    """--device: a torch device this machine has, checked before any work."""
    if value is None:
        return None
    import torch

    try:
        dev = torch.device(value)
    except (RuntimeError, ValueError):
        raise click.BadParameter(f"{value!r} is not a torch device; expected cpu, cuda or cuda:N") from None
    if dev.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0 or (dev.index is not None and dev.index >= count):
            raise click.BadParameter(f"{value!r}: this machine has {count} CUDA device(s); expected cpu"
                                     + (f" or cuda:0..cuda:{count - 1}" if count else ""))
    elif dev.type != "cpu":
        raise click.BadParameter(f"{value!r}: tace trains and scores on cpu or cuda; expected one of those")
    return value


def _check_out(out: Path, *protected: Path, bundle: Path | None = None) -> None:
    """Refuse an --out that tace must not write, before any work (see tace.io.check_out_folder)."""
    from .io import OutFolderError, check_out_folder

    try:
        check_out_folder(out, protected=tuple(protected), sealed=(bundle,) if bundle else ())
    except OutFolderError as exc:
        raise click.BadParameter(str(exc), param_hint="--out") from None


def _on_sigterm(signum, frame) -> None:
    # the same clean-up as Ctrl-C: context managers remove temporary folders on the way out
    raise KeyboardInterrupt


def _stop_workers() -> None:
    """Stop joblib's worker processes (they would otherwise outlive an interrupted run)."""
    try:
        from joblib.externals.loky import get_reusable_executor

        get_reusable_executor().shutdown(wait=False, kill_workers=True)
    except (ImportError, OSError, RuntimeError):  # best effort on the way out
        pass


def _scheduler_option(command):
    """--scheduler: run the command's per-patient work (twin drawing, image checks, radiomics
    features, crops) on a Dask cluster (tace.parallel.work_on); without it, local cores."""
    from .parallel import SCHEDULER_ENV

    @functools.wraps(command)
    def on_scheduler(*args, scheduler: str | None, **kwargs):
        from .parallel import ClusterError, scheduler_address, work_on

        try:
            with work_on(scheduler_address(scheduler)):
                return command(*args, **kwargs)
        except ClusterError as exc:
            raise click.ClickException(str(exc)) from None

    return click.option(
        "--scheduler", default=None, metavar="ADDRESS", envvar=SCHEDULER_ENV, show_envvar=True,
        help="A running Dask scheduler (e.g. tcp://10.0.0.5:8786) to send the per-patient work to: twin drawing, "
             "image checks, radiomics features, crops. Workers must see the same files. [default: local cores, "
             "--jobs]")(on_scheduler)


def _profile(name: str):
    try:
        return load_profile(name)
    except ProfileError as exc:
        raise click.UsageError(str(exc)) from None


def _exit_with(error: CohortError) -> None:
    """Print every problem of a cohort, as written, and exit 1."""
    _err.print(str(error), markup=False, highlight=False, soft_wrap=True)
    sys.exit(1)


def _print_summary(cohort) -> None:
    summary = summarize(cohort.table)
    table = Table(title=f"{cohort.manifest.name}: {len(cohort)} patients", title_justify="left")
    for col in ("cohort", "patients", "SD/PD", "deaths", "OS months", "tumour mL"):
        table.add_column(col, justify="left" if col == "cohort" else "right")
    for r in summary.by_cohort.itertuples(index=False):
        rate = (f"{r.nonresponders}/{r.with_mrecist} ({100 * r.nonresponse_rate:.0f}%)"
                if r.with_mrecist else "-")
        surv = f"{r.deaths}/{r.with_survival}" if r.with_survival else "-"
        med = f"{r.median_os_months:.1f}" if r.with_survival else "-"
        vol = "-" if math.isnan(r.median_tumour_ml) else f"{r.median_tumour_ml:.1f}"
        table.add_row(r.cohort, str(r.patients), rate, surv, med, vol)
    _out.print(table)
    _out.print("SD/PD: non-responders of those with mRECIST. deaths: of those with survival "
               "data. OS months and tumour mL: medians.", style="dim")
    miss = summary.missing[summary.missing["missing"] > 0]
    if len(miss):
        mt = Table(title="Missing values", title_justify="left")
        for col in ("column", "required", "where required", "where optional"):
            mt.add_column(col, justify="left" if col in ("column", "required") else "right")
        for r in miss.itertuples(index=False):
            mt.add_row(r.column, r.required, str(r.missing_where_required),
                       str(r.missing_where_optional))
        _out.print(mt)
    else:
        _out.print("Missing values: none.")


_HELP = """tace: reproducible validation and reporting, TRIPOD+AI style, of MRI models that
predict how hepatocellular carcinoma responds to TACE (clinical, radiomics, ResNet50 DCNN
and their fusion, DLR).

\b
Start here:
  tace synth --out twin --profile smoke --preview   a synthetic cohort to try things on
  tace check-cohort twin/manifest.csv               check a cohort against the contract
  tace train --cohort twin/manifest.csv --profile smoke --out models
  tace predict --models models --cohort twin/manifest.csv --out scores.csv
  tace report --profile default                     regenerate the paper report

Every command has --help. All data made by `tace synth` are synthetic.
"""


#: Errors of a file system with no room left: the disk, the user's quota, a file size limit.
_NO_SPACE = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


class _Commands(click.Group):
    """tace's commands, with the faults of the machine (a full disk) said in one line."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except OSError as exc:
            if exc.errno not in _NO_SPACE:
                raise
            where = f" while writing {exc.filename}" if exc.filename else ""
            raise click.ClickException(f"no space left on the device{where} ({exc.strerror}); nothing half-written "
                                       "was kept: free some space, or choose an --out on another disk") from None


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """tace's own warnings (a damaged cache entry, a stale folder removed) as one line each."""
    from .features.radiomics import CacheWarning
    from .io import StaleFolderWarning

    if issubclass(category, (CacheWarning, StaleFolderWarning)):
        _err.print(f"Warning: {message}", style="yellow", markup=False, highlight=False, soft_wrap=True)
    else:
        _show_default(message, category, filename, lineno, file, line)


_show_default = warnings.showwarning


@click.group(cls=_Commands, help=_HELP, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tace")
def main() -> None:
    import atexit
    import signal

    signal.signal(signal.SIGTERM, _on_sigterm)
    atexit.register(_stop_workers)
    warnings.showwarning = _show_warning
    # before torch loads: its OpenMP threads sleep rather than spin when they wait, so that a
    # competing process does not stall them (tace.parallel.set_cpu_threads)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


@main.command("synth")
@click.option("--out", "out", required=True, type=click.Path(path_type=Path),
              help="Folder to create (it must be new or empty unless --overwrite).")
@click.option("--profile", default="default", show_default=True,
              help=f"Cohort size and voxel grid: {', '.join(available_profiles())}, or a YAML path.")
@click.option("--seed", type=int, default=None, help="Seed of every random step [default: the profile's].")
@click.option("--signal", type=click.Choice(["null", "weak", "paper"]), default=None,
              help="How strongly outcome and survival follow the imaging traits: null (not at all), weak, "
                   "or paper (a perfect model would reach the paper's AUCs) [default: the profile's].")
@click.option("--preview", is_flag=True, help="Also write preview.png: a few patients' tumour slices.")
@click.option("--jobs", "n_jobs", type=JOBS, default=-1, show_default=True,
              help="Parallel worker processes (-1: all cores).")
@click.option("--overwrite", is_flag=True,
              help="Replace a folder tace synth wrote before (only once the new one is complete).")
@_scheduler_option
def synth(out: Path, profile: str, seed: int | None, signal: str | None, preview: bool, n_jobs: int,
          overwrite: bool) -> None:
    """Write the digital-twin cohort: synthetic patients shaped like the paper's.

    \b
    OUT/manifest.csv   the cohort manifest (train, test, external, followup)
    OUT/images/        one HBP-like NIfTI volume per patient
    OUT/masks/         the index tumour's mask per patient
    OUT/truth.csv      true non-response probability (and its clinical and imaging
                       logits), survival linear predictor and imaging traits
    OUT/twin.json      signal preset, seed, what a perfect model would reach
    OUT/README.md      the generating model, coefficient by coefficient
    OUT/preview.png    with --preview

    The same seed and profile give byte-identical files. All data are synthetic.
    """
    from .cohort.synthetic import generate_twin
    from .io import OutFolderError

    prof = _profile(profile)
    spec = prof.synthetic if signal is None else prof.synthetic.model_copy(update={"signal": signal})
    try:
        twin = generate_twin(out, spec, prof.seed if seed is None else seed,
                             n_jobs=n_jobs, overwrite=overwrite, progress=True, preview=preview)
    except OutFolderError as exc:
        raise click.BadParameter(str(exc), param_hint="--out") from None
    counts = ", ".join(f"{k} {v}" for k, v in twin.counts.items())
    _out.print(f"Wrote the digital twin (synthetic data, profile {prof.name}, signal {spec.signal}): {counts}")
    _out.print(f"Manifest: {twin.manifest}")
    if twin.preview:
        _out.print(f"Preview:  {twin.preview}")


@main.command("check-cohort")
@click.argument("manifest", type=click.Path(path_type=Path))
@click.option("--mask-label", type=click.IntRange(min=1), default=None,
              help="Mask label that marks the tumour (default: any non-zero voxel of a "
                   "single-label mask; a mask_label column overrides it per patient).")
@click.option("--jobs", "n_jobs", type=JOBS, default=1, show_default=True,
              help="Parallel workers for reading images (-1: all cores).")
def check_cohort(manifest: Path, mask_label: int | None, n_jobs: int) -> None:
    """Check a cohort manifest and its images against the data contract.

    Every row and every file is checked: required columns and values, categories,
    survival fields, duplicate patients, readable images, mask geometry, empty masks and
    mask labels. Prints a summary and exits 0, or lists every problem (row, patient_id,
    column, what is wrong, what was expected) and exits 1. Nothing is written.
    """
    try:
        cohort = load_cohort(manifest, mask_label=mask_label, n_jobs=n_jobs, progress=True)
    except CohortError as exc:
        _exit_with(exc)
    print_warnings(cohort, _err)
    _print_summary(cohort)
    _out.print(f"[bold green]OK[/]: {manifest} satisfies the data contract.")


def _model_options(command):
    """The options that ``train`` and ``predict`` share."""
    for option in reversed((
        click.option("--mask-label", type=click.IntRange(min=1), default=None,
                     help="Mask label that marks the tumour (see check-cohort)."),
        click.option("--cache-dir", type=click.Path(path_type=Path), default=None,
                     help="Radiomics cache [default: $TACE_CACHE or ~/.cache/tace/radiomics]."),
        click.option("--jobs", "n_jobs", type=JOBS, default=-1, show_default=True,
                     help="Parallel workers for feature extraction (-1: all cores)."),
        click.option("--device", default=None, callback=_device,
                     help="torch device: cpu, cuda or cuda:N [default: cuda when present, else cpu]."),
    )):
        command = option(command)
    return command


@main.command("train")
@click.option("--cohort", "manifest", required=True, type=click.Path(path_type=Path),
              help="Cohort manifest; its 'train' patients (or 'internal', split by seed) are used.")
@click.option("--profile", default="default", show_default=True,
              help=f"Run profile: {', '.join(available_profiles())}, or a YAML path.")
@click.option("--out", required=True, type=click.Path(path_type=Path),
              help="Output folder: OUT/bundle (the frozen models) and OUT/training (the record).")
@_model_options
@_scheduler_option
def train(manifest: Path, profile: str, out: Path, mask_label: int | None, cache_dir: Path | None,
          n_jobs: int, device: str | None) -> None:
    """Develop the clinical, radiomics, DCNN and DLR models and freeze them.

    \b
    Only training patients reach a fitting step. Writes:
    OUT/bundle/    manifest.json (versions, profile, seed, cohort hash, features,
                   thresholds, development summary, sha256 of every file) and the
                   weights: JSON, XGBoost JSON, safetensors. No pickle. Shareable.
    OUT/training/  OR tables, ICC, LASSO path, XGBoost CV, DCNN loss curve and the
                   out-of-fold predictions (patient-level: keep it in-house).

    \b
    On several GPUs (one process each; the first writes OUT):
    torchrun --standalone --nproc_per_node N -m tace train --cohort ... --out ...
    """
    from .models import train_models

    prof = _profile(profile)
    _check_out(out, manifest.parent)
    try:
        first = os.environ.get("RANK", "0") == "0"  # under torchrun, the first process speaks for all
        cohort = load_cohort(manifest, mask_label=mask_label, n_jobs=max(n_jobs, 1), progress=first)
        if first:
            print_warnings(cohort, _err)
        result = train_models(cohort, prof, out, cache_dir=cache_dir, n_jobs=n_jobs, console=_err,
                              device=device)
    except CohortError as exc:
        _exit_with(exc)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    if first:
        _out.print(f"Trained in {result.seconds:.0f} s on {result.n_train} patients; "
                   f"{result.n_selected_features} radiomics features selected. Bundle: {result.bundle}")


@main.command("predict")
@click.option("--models", required=True, type=click.Path(path_type=Path),
              help="A bundle folder (or the tace train output that holds bundle/).")
@click.option("--cohort", "manifest", required=True, type=click.Path(path_type=Path),
              help="Cohort manifest to score.")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="CSV file to write.")
@_model_options
@_scheduler_option
def predict(models: Path, manifest: Path, out: Path, mask_label: int | None, cache_dir: Path | None,
            n_jobs: int, device: str | None) -> None:
    """Score a cohort with frozen models: the four probabilities of non-response per patient.

    The bundle's sha256 hashes are checked first; the cohort is checked against the data
    contract. Writes OUT (CSV): patient_id, cohort, clinical, radiomics, dcnn, dlr, and
    imputed_predictors: how many of the clinical model's predictors were missing and
    multiply imputed from the development data (the clinical score is then the mean over
    the imputations).
    """
    from .io import atomic_write_text, csv_text
    from .models import BundleError, predict_cohort

    target = Path(os.path.realpath(out))
    if target.is_dir() or target == Path(os.path.realpath(manifest)) or target.is_relative_to(
            Path(os.path.realpath(models))):
        raise click.BadParameter(f"{out} is a folder, the cohort's manifest or inside the bundle; expected a new "
                                 "CSV file apart from the inputs, which tace only reads", param_hint="--out")
    try:
        cohort = load_cohort(manifest, mask_label=mask_label, n_jobs=max(n_jobs, 1), progress=True)
        print_warnings(cohort, _err)
        scores = predict_cohort(models, cohort, cache_dir=cache_dir, n_jobs=n_jobs, progress=True,
                                device=device)
    except CohortError as exc:
        _exit_with(exc)
    except (BundleError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    atomic_write_text(out, csv_text(scores, float_format="%.6g"))
    _out.print(f"Scored {len(scores)} patients: {out}")


def _formats(_ctx, _param, value: str) -> tuple[str, ...]:
    from .report.render import RenderError, parse_formats

    try:
        return parse_formats(value)
    except RenderError as exc:
        raise click.BadParameter(str(exc)) from None


_format_option = click.option(
    "--format", "formats", default="html,pdf,docx", show_default=True, callback=_formats,
    help="The article's formats, comma-separated: html (one self-contained file), pdf (Typst), docx (Word).")


def _print_reports(renderer: str, reports) -> None:
    for fmt, path in reports:
        _out.print(f"Report, {fmt} ({renderer}): {path}")


@main.command("report")
@click.option("--profile", default="default", show_default=True,
              help=f"Run profile: {', '.join(available_profiles())}, or a YAML path.")
@click.option("--cohort", type=click.Path(path_type=Path), default=None,
              help="Your cohort manifest (default: generate the digital twin).")
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Run folder [default: reports/<profile>]; replaced only when the run succeeds.")
@click.option("--jobs", "n_jobs", type=JOBS, default=-1, show_default=True,
              help="Parallel workers (-1: all cores).")
@click.option("--renderer", type=click.Choice(["auto", "quarto", "fallback"]), default="auto", show_default=True,
              help="auto: Quarto when `quarto` is on PATH, else the fallback (pandoc and Typst from their wheels).")
@_format_option
@_scheduler_option
def report(profile: str, cohort: Path | None, out: Path | None, n_jobs: int, renderer: str,
           formats: tuple[str, ...]) -> None:
    """Regenerate the paper report, on the digital twin or on your cohort.

    Stages: make the digital twin (when no --cohort is given), check the cohort, develop the
    four models on the training patients (OUT/models), score every patient with the frozen
    bundle (OUT/scores.csv), run the eight validation notebooks with papermill
    (OUT/analysis/, figures and tables with provenance in OUT/figures/), and render the
    TRIPOD+AI article (OUT/report.html, report.pdf and report.docx, or OUT/_manuscript/ with
    Quarto). The run folder is replaced only when every stage succeeds. Ends by printing the
    reports' paths.
    """
    from .report import RenderError, run_report
    from .report.notebooks import NotebookError

    prof = _profile(profile)
    out = out or Path("reports") / prof.name
    _check_out(out, *([cohort.parent] if cohort else []))
    try:
        result = run_report(prof, out, cohort=cohort, n_jobs=n_jobs, console=_err, renderer=renderer,
                            formats=formats)
    except CohortError as exc:
        _exit_with(exc)
    except (ValueError, NotebookError, RenderError) as exc:
        raise click.ClickException(str(exc)) from None
    _print_summary(result.cohort)
    auc = Table(title="Discrimination: AUC (95% CI, DeLong)" + (" - SYNTHETIC DATA" if result.synthetic else ""),
                title_justify="left")
    # the training patients' cross-validated AUCs, never the apparent (in-sample) ones
    shown = result.discrimination[result.discrimination["cohort"] != "train"]
    cohorts = list(dict.fromkeys(shown["cohort"]))
    auc.add_column("model")
    for c in cohorts:
        auc.add_column("train (CV)" if c == "train-cv" else c, justify="right")
    if "train-cv" in cohorts:
        auc.caption = ("train (CV): cross-validated on the training patients (the whole pipeline refitted "
                       "without each fold)")
    for model, part in shown.groupby("model", sort=False):
        cells = {r.cohort: f"{r.auc:.2f} ({r.ci_low:.2f}-{r.ci_high:.2f})" for r in part.itertuples()}
        auc.add_row(model, *[cells.get(c, "-") for c in cohorts])
    _out.print(auc)
    _out.print(f"Done: {', '.join(result.stages_done)}. Run folder: {result.out}")
    _out.print(f"Cohort: {result.manifest}" + (" (SYNTHETIC DATA)" if result.synthetic else ""))
    _print_reports(result.renderer, result.reports)


@main.command("validate")
@click.option("--models", required=True, type=click.Path(path_type=Path),
              help="The frozen bundle (or a `tace train` output folder holding bundle/).")
@click.option("--cohort", "manifest", required=True, type=click.Path(path_type=Path),
              help="The new cohort's manifest (every patient is a validation patient).")
@click.option("--out", required=True, type=click.Path(path_type=Path),
              help="Run folder; replaced only when the run succeeds.")
@click.option("--note", default=None, help="A sentence the report states about the data (e.g. 'outcomes are made up').")
@click.option("--renderer", type=click.Choice(["auto", "quarto", "fallback"]), default="auto", show_default=True,
              help="auto: Quarto when `quarto` is on PATH, else the fallback (pandoc and Typst from their wheels).")
@_format_option
@_model_options
@_scheduler_option
def validate(models: Path, manifest: Path, out: Path, note: str | None, renderer: str, formats: tuple[str, ...],
             mask_label: int | None, cache_dir: Path | None, n_jobs: int, device: str | None) -> None:
    """Validate the frozen models on a new cohort, without retraining.

    Checks the bundle's sha256 hashes and the cohort (every problem at once; nothing is
    written on failure), scores the cohort, and runs the validation notebooks: discrimination,
    calibration, decision curves, survival where follow-up is present, the development
    performance from the bundle for comparison, case mix (SMDs, LP relatedness: reproducibility
    or transportability), the sample size of Riley et al. (2021), model updating side by side,
    and subgroups (site, scanner, BCLC). Renders the TRIPOD+AI validation report and prints its
    path. The bundle and the cohort are only read.
    """
    from .models import BundleError
    from .report import RenderError, run_validation
    from .report.notebooks import NotebookError

    _check_out(out, manifest.parent, bundle=models)
    try:
        result = run_validation(models, manifest, out, mask_label=mask_label, n_jobs=n_jobs, console=_err,
                                cache_dir=cache_dir, renderer=renderer, note=note, device=device, formats=formats)
    except CohortError as exc:
        _exit_with(exc)
    except (BundleError, ValueError, NotebookError, RenderError) as exc:
        raise click.ClickException(str(exc)) from None
    _print_summary(result.cohort)
    _out.print(f"Done: {', '.join(result.stages_done)}. Run folder: {result.out}")
    _print_reports(result.renderer, result.reports)


if __name__ == "__main__":  # pragma: no cover
    main()

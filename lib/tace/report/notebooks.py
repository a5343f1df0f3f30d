"""Run the validation notebooks of ``analysis/`` with papermill.

Each notebook takes only the run folder and the profile's name as parameters. It runs inside
the run folder with ``run_dir = "."``, so the executed copy in ``RUN/analysis/`` (the same
relative path as in the repository, which the article's embeds and the sidecars name) stays
valid when the folder is moved or renamed. A failing notebook stops the run with one error that names
the notebook, the cell and the exception.
"""

from __future__ import annotations

from pathlib import Path

from ..resources import source_root

__all__ = ["ANALYSIS_DIR", "NOTEBOOKS", "NotebookError", "run_notebook"]

ANALYSIS_DIR = source_root() / "analysis"

#: The validation notebooks, in the order they run (08 reads the AUC table of 05).
NOTEBOOKS: tuple[str, ...] = ("01_cohort.ipynb", "02_clinical.ipynb", "03_radiomics.ipynb", "04_deep_learning.ipynb",
                              "05_discrimination.ipynb", "06_calibration_utility.ipynb", "07_survival.ipynb",
                              "08_paper_comparison.ipynb", "10_twin_truth.ipynb")


class NotebookError(RuntimeError):
    """A validation notebook that failed, with where and why."""


def run_notebook(name: str, run_dir: Path, profile: str, *, kernel: str = "python3",
                 source_dir: Path = ANALYSIS_DIR) -> Path:
    """Execute ``source_dir/<name>`` into ``run_dir/analysis/<name>``; return the executed copy."""
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    source = Path(source_dir) / name
    if not source.is_file():
        raise NotebookError(f"notebook not found: {source}")
    out = Path(run_dir) / "analysis" / name
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        # the kernel's log level: ipykernel warns on every start that its local TCP channel is
        # unencrypted, which is noise on the user's terminal; its errors still show
        # run where the executed copy lies (run/analysis), with the run folder as "..": so a
        # reviewer who opens the copy in JupyterLab (`make lab`), whose kernel starts in the
        # notebook's folder, reruns any cell against the same files
        pm.execute_notebook(str(source), str(out), parameters={"run_dir": "..", "profile": profile},
                            kernel_name=kernel, progress_bar=False, cwd=str(out.parent),
                            extra_arguments=["--IPKernelApp.log_level=ERROR"])
    except PapermillExecutionError as exc:
        raise NotebookError(f"notebook {name} failed in cell {exc.cell_index} (execution count "
                            f"{exc.exec_count}): {exc.ename}: {exc.evalue}") from None
    return out

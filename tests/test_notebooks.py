"""The analysis notebooks: committed clean, parameterised by run folder and profile only,
and run by papermill with failures named."""

from __future__ import annotations

import nbformat
import pytest

from tace.report.notebooks import ANALYSIS_DIR, NOTEBOOKS, NotebookError, run_notebook
from tace.report.validation import VALIDATION_NOTEBOOKS

ALL = sorted(set(NOTEBOOKS) | set(VALIDATION_NOTEBOOKS))


@pytest.mark.parametrize("name", ALL)
def test_notebook_is_committed_without_outputs_and_takes_only_run_dir_and_profile(name):
    nb = nbformat.read(ANALYSIS_DIR / name, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code)
    params = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1
    assigned = {line.split("=")[0].strip() for line in params[0].source.splitlines() if "=" in line}
    assert assigned == {"run_dir", "profile"}


def test_a_failing_notebook_names_itself_the_cell_and_the_error(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell('run_dir = "."\nprofile = "smoke"', metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("x = 1"),
        nbformat.v4.new_code_cell("1 / 0"),
    ], metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    nbformat.write(nb, tmp_path / "broken.ipynb")
    run = tmp_path / "run"
    run.mkdir()
    message = r"notebook broken\.ipynb failed in cell \d+ .*ZeroDivisionError: division by zero"
    with pytest.raises(NotebookError, match=message):
        run_notebook("broken.ipynb", run, "smoke", source_dir=tmp_path)


def test_an_executed_notebook_reruns_from_its_own_folder_as_jupyterlab_runs_it(report_run, tmp_path):
    """`make lab` opens run/analysis/*.ipynb in JupyterLab, whose kernel starts in the
    notebook's folder: the executed copy carries run_dir = ".." and reruns there unchanged,
    reading the run's files and writing the same figure data."""
    import shutil

    from nbclient import NotebookClient

    out, _, _ = report_run
    run = tmp_path / "run"
    shutil.copytree(out, run, ignore=shutil.ignore_patterns("report.*"))
    before = (run / "figures" / "fig-roc-test.csv").read_bytes()
    (run / "figures" / "fig-roc-test.csv").unlink()
    executed = nbformat.read(run / "analysis" / "05_discrimination.ipynb", as_version=4)
    injected = next(c for c in executed.cells if "injected-parameters" in c.metadata.get("tags", []))
    assert 'run_dir = ".."' in injected.source
    NotebookClient(executed, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(run / "analysis")}}).execute()
    assert (run / "figures" / "fig-roc-test.csv").read_bytes() == before

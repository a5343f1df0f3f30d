"""The stages that `tace report` and `tace validate` share: the outcomes table the notebooks
read, running the notebooks, the run's environment record, and writing and rendering the
article with ``run.json``."""

from __future__ import annotations

import json
import platform
from pathlib import Path

import pandas as pd
from rich.console import Console

from .. import __version__
from ..io import atomic_write_text
from ..plots.legibility import MIN_FONT_PT
from .article import write_article
from .notebooks import run_notebook
from .provenance import git_commit
from .render import FORMATS, Rendered, render_report

__all__ = ["OUTCOME_COLUMNS", "illegible_figures", "publish", "read_auc_table", "run_environment", "run_notebooks"]

#: The columns of ``outcomes.csv``: what the notebooks need besides the scores.
OUTCOME_COLUMNS = ["patient_id", "cohort", "nonresponse", "os_months", "os_event", "age", "sex", "bclc",
                   "tumor_number", "tumor_size_cm", "afp_ng_ml", "child_pugh"]


def run_notebooks(names, run_dir: Path, profile: str, console: Console, first_stage: int) -> list[str]:
    """Run the notebooks in order, a numbered stage each; return the stages done."""
    done = []
    for i, name in enumerate(names, start=first_stage):
        console.rule(f"[bold]{i}. Notebook {name} (papermill)")
        run_notebook(name, run_dir, profile)
        done.append(f"notebook {name}")
    for line in illegible_figures(run_dir):
        console.print(f"[yellow]Warning: figure {line}[/yellow]")
    return done


def illegible_figures(run_dir: Path) -> list[str]:
    """Each figure of the run whose sidecar's legibility check failed
    (:func:`tace.plots.legibility.check_legibility`: text under 7 pt at the printed width,
    overlapping or cut off), with what was found; empty when every figure reads."""
    found = []
    for sidecar in sorted((Path(run_dir) / "figures").glob("fig-*.json")):
        check = json.loads(sidecar.read_text()).get("legibility")
        if check is None or check.get("ok", True):
            continue
        small = f"text under {MIN_FONT_PT:g} pt (smallest {check['min_font_pt']:.1f} pt)"
        problems = [small if check.get("small") else "",
                    f"{len(check.get('overlaps', []))} overlapping text pair(s)" if check.get("overlaps") else "",
                    "text cut off: " + ", ".join(check["outside"][:3]) if check.get("outside") else ""]
        found.append(f"{sidecar.stem} is not legible at the article's width: " + "; ".join(p for p in problems if p))
    return found


def run_environment() -> dict:
    """What ran: tace's version and commit, Python, the platform and the package versions."""
    from ..models.bundle import package_versions

    return {"tace_version": __version__, "git_commit": git_commit(), "python": platform.python_version(),
            "platform": platform.platform(), "packages": package_versions()}


def publish(run_dir: Path, record: dict, renderer: str, formats: tuple[str, ...] = FORMATS, **article) -> Rendered:
    """Write the article (``write_article``'s keyword arguments), render it in ``formats``,
    and write ``run.json`` with the reports' paths and the renderer added to ``record``."""
    write_article(run_dir, record, **article)
    rendered = render_report(run_dir, renderer, formats)
    record["stages_done"].append(f"article rendered ({rendered.renderer}: {', '.join(f for f, _ in rendered.outputs)})")
    record["report"] = str(rendered.path.relative_to(run_dir))
    record["reports"] = {fmt: str(path.relative_to(run_dir)) for fmt, path in rendered.outputs}
    record["renderer"] = rendered.renderer
    atomic_write_text(run_dir / "run.json", json.dumps(record, indent=2) + "\n")
    return rendered


def read_auc_table(run_dir: Path) -> pd.DataFrame:
    """The AUCs (DeLong 95% CI) that notebook 05 computed: ``cohort``, ``model``, ``auc``,
    ``ci_low``, ``ci_high``; empty when no cohort had both outcomes."""
    path = Path(run_dir) / "figures" / "tab-auc.csv"
    if not path.is_file():
        return pd.DataFrame(columns=["cohort", "model", "auc", "ci_low", "ci_high"])
    return pd.read_csv(path).rename(columns={"delong_ci_low": "ci_low", "delong_ci_high": "ci_high"})

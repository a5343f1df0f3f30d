"""The paper report: papermill orchestration, provenance and rendering."""

from .context import SYNTHETIC_LABEL, RunContext, number, open_run, table_view
from .pipeline import RunResult, run_report
from .provenance import Provenance, git_commit
from .render import RenderError, render_report
from .validation import ValidationResult, run_validation

__all__ = ["SYNTHETIC_LABEL", "Provenance", "RenderError", "RunContext", "RunResult", "git_commit", "number",
           "open_run", "render_report", "run_report", "run_validation", "table_view", "ValidationResult"]

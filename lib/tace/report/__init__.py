"""The paper report: papermill orchestration, provenance and rendering."""

from .pipeline import NOT_BUILT, RunResult, run_report
from .provenance import Provenance, git_commit

__all__ = ["NOT_BUILT", "Provenance", "RunResult", "git_commit", "run_report"]

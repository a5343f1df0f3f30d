"""The paper report: papermill orchestration, provenance and rendering."""

from .pipeline import NOT_BUILT, RunResult, run_report

__all__ = ["NOT_BUILT", "RunResult", "run_report"]

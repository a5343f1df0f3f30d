"""Problems found in a cohort, gathered so that all of them are reported at once."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd

__all__ = ["CohortError", "Problem"]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a manifest.

    Attributes
    ----------
    row
        Spreadsheet row number of the offending line (the header is row 1, the first
        patient row 2); ``None`` for a problem of the whole file.
    patient_id
        The row's patient_id as written, when there is one.
    column
        The column concerned, when there is one.
    message
        What is wrong, then what was expected.
    """

    row: int | None
    patient_id: str | None
    column: str | None
    message: str

    def __str__(self) -> str:
        where = []
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.patient_id:
            where.append(f"patient_id {self.patient_id}")
        if self.column:
            where.append(f"column {self.column}")
        return f"{', '.join(where) or 'manifest'}: {self.message}"


class CohortError(ValueError):
    """A manifest that breaks the data contract; holds every problem found.

    ``str(error)`` is the report a user reads: the manifest's path, the number of
    problems, then one line per problem.
    """

    def __init__(self, manifest: Path | str, problems: list[Problem]):
        self.manifest = Path(manifest)
        self.problems = list(problems)
        super().__init__(self._render())

    #: At most this many problems are printed per column; the rest are counted. A manifest of
    #: 10,000 broken rows gives a readable report, not gigabytes (``problems`` holds them all).
    SHOWN_PER_COLUMN = 50

    def _render(self) -> str:
        n = len(self.problems)
        head = (f"{self.manifest}: {n} problem{'s' if n != 1 else ''} "
                "(rows numbered as in a spreadsheet: the header is row 1)")
        lines = [head]
        shown: Counter[str] = Counter()
        hidden: Counter[str] = Counter()
        for p in self.problems:
            key = p.column or ""
            if shown[key] < self.SHOWN_PER_COLUMN:
                shown[key] += 1
                lines.append(f"  - {p}")
            else:
                hidden[key] += 1
        for column, k in hidden.items():
            where = f"column {column}" if column else "the file"
            lines.append(f"  ... and {k} more problem{'s' if k != 1 else ''} in {where} "
                         f"(the first {self.SHOWN_PER_COLUMN} are listed)")
        return "\n".join(lines)

    def to_frame(self) -> pd.DataFrame:
        """The problems as a table with columns row, patient_id, column, message."""
        return pd.DataFrame([asdict(p) for p in self.problems],
                            columns=["row", "patient_id", "column", "message"])

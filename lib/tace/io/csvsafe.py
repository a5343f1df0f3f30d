"""CSV text that a spreadsheet opens as data, never as formulas.

A cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is run as a
formula by Excel, LibreOffice and Google Sheets (CSV injection, OWASP). Text cells that start
so get a leading apostrophe, which spreadsheets show as plain text; numbers are left alone.
"""

from __future__ import annotations

import pandas as pd

__all__ = ["FORMULA_PREFIXES", "csv_text", "neutralise_formulas", "read_run_csv"]

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def _cell(value):
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def neutralise_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells (and column names) cannot start a formula.

    >>> neutralise_formulas(pd.DataFrame({"site": ["=cmd|' /C calc'!A0", "A"], "x": [-1.5, 2.0]})).to_dict("list")
    {'site': ["'=cmd|' /C calc'!A0", 'A'], 'x': [-1.5, 2.0]}
    """
    out = frame.copy()
    for column in out.columns:
        if out[column].dtype == object or isinstance(out[column].dtype, pd.StringDtype):
            out[column] = out[column].map(_cell)
    out.columns = [_cell(c) for c in out.columns]
    return out


def csv_text(frame: pd.DataFrame, **to_csv) -> str:
    """``frame.to_csv(index=False, **to_csv)`` with formulas neutralised."""
    return neutralise_formulas(frame).to_csv(index=False, **to_csv)


def read_run_csv(path, **read_csv) -> pd.DataFrame:
    """A CSV that tace wrote (``scores.csv``, ``outcomes.csv``, ...) read back as written: only
    an empty cell is missing (tace writes missing values so), text such as a patient_id ``NA``
    or a site ``None`` stays text, and ``patient_id`` is always text.

    >>> import io
    >>> read_run_csv(io.StringIO("patient_id,site,x\\nNA,None,\\n007,,1.5\\n")).to_dict("list")
    {'patient_id': ['NA', '007'], 'site': ['None', nan], 'x': [nan, 1.5]}
    """
    return pd.read_csv(path, keep_default_na=False, na_values=[""], dtype={"patient_id": str}, **read_csv)

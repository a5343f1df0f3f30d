"""What every validation notebook opens first: the run folder, its profile, its data source
and the provenance writer, plus the helper that marks a computed number in prose."""

from __future__ import annotations

import html
import math
import numbers
from dataclasses import dataclass
from pathlib import Path

from ..profiles import Profile, ProfileError, read_stored_profile
from .provenance import Provenance

__all__ = ["SYNTHETIC_LABEL", "RunContext", "number", "open_run", "table_view"]

#: How every figure and the title say that the digital twin is the data source.
SYNTHETIC_LABEL = "SYNTHETIC DATA (digital twin)"


@dataclass(frozen=True)
class RunContext:
    """One notebook's view of a report run.

    Attributes
    ----------
    run
        The run folder (the notebooks run inside it, so usually ``Path(".")``).
    profile
        The run's profile.
    synthetic
        True when the digital twin is the data source (``run/cohort/manifest.csv`` exists).
    source
        The data source as figures and captions state it.
    prov
        Writes figures and tables with their sidecars.
    """

    run: Path
    profile: Profile
    synthetic: bool
    source: str
    prov: Provenance


def open_run(run_dir: str | Path, profile: str, notebook: str, inputs: dict[str, str]) -> RunContext:
    """Open a run for ``notebook`` (path relative to the repository, e.g.
    ``analysis/01_cohort.ipynb``); ``inputs`` names the files its figures and tables are made
    from, relative to the run folder (or absolute); each is hashed into every sidecar.

    ``profile`` is the run's resolved profile file, relative to the run folder
    (``profile.yaml``, written once by ``tace report`` or ``tace validate``): never a name
    looked up again, which could find another file than the one the run used."""
    run = Path(run_dir)
    path = run / profile
    if not path.is_file():
        raise FileNotFoundError(f"{notebook}: run folder {run.resolve()} lacks its profile {profile}; "
                                "run `tace report` or `tace validate` to make it")
    try:
        prof = read_stored_profile(path)
    except ProfileError as exc:
        raise ValueError(f"{notebook}: {exc}") from None
    inputs = {"profile": profile, **inputs}
    missing = [rel for rel in inputs.values() if not (run / rel).exists()]
    if missing:
        raise FileNotFoundError(f"{notebook}: run folder {run.resolve()} lacks {', '.join(missing)}; "
                                "run `tace report` to make it")
    synthetic = (run / "cohort" / "manifest.csv").is_file()
    source = SYNTHETIC_LABEL if synthetic else "user cohort"
    prov = Provenance(run, notebook, prof.model_dump(mode="json"), prof.seed,
                      {name: run / rel for name, rel in inputs.items()})
    return RunContext(run, prof, synthetic, source, prov)


def number(value: float, key: str | None = None, fmt: str = ".2f") -> str:
    """A computed number for prose, as HTML that carries its key and full value, so that a
    test can check every printed number against the run's metrics.

    >>> number(0.71234, "auc_dlr_test")
    '<span class="metric" data-key="auc_dlr_test" data-value="0.71234">0.71</span>'
    >>> import numpy as np
    >>> number(np.int64(112), fmt="d")
    '<span class="metric" data-value="112">112</span>'
    >>> number(float("nan"))
    '<span class="metric" data-value="nan">n/a</span>'
    """
    if isinstance(value, numbers.Integral):
        value = int(value)  # numpy integers print their type in repr()
    elif value is not None:
        value = float(value)
    shown = "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else format(value, fmt)
    key_attr = f' data-key="{html.escape(key)}"' if key else ""
    return f'<span class="metric"{key_attr} data-value="{value!r}">{shown}</span>'


def _cell_text(value, digits: int) -> str:
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        if math.isnan(value):
            return ""
        if 0 < abs(value) < 10 ** -digits:
            return f"{value:.1e}"  # e.g. a small p-value, not a bare 0
        return f"{value:.{digits}f}".rstrip("0").rstrip(".")
    return "" if value is None else str(value)


def table_view(table, digits: int = 3):
    """A table as the report shows it: numbers to ``digits`` decimals (trailing zeros and
    pandas' row index dropped, tiny values in scientific notation), missing values blank.
    The CSV saved beside it keeps full precision.

    >>> import pandas as pd
    >>> html = table_view(pd.DataFrame({"auc": [0.73333, 1.0], "p": [0.00004, float("nan")]}))._repr_html_()
    >>> "0.733" in html and ">1<" in html and "4.0e-05" in html
    True
    >>> "&lt;script&gt;" in table_view(pd.DataFrame({"site": ["<script>x</script>"]}))._repr_html_()
    True
    """
    # escape="html": text from the manifest (sites, scanners) is shown, never run as HTML
    return (table.style.hide(axis="index").format(lambda v: _cell_text(v, digits), escape="html")
            .format_index(escape="html", axis="columns"))

"""Load a cohort manifest and check it against the data contract, reporting every problem."""

from __future__ import annotations

import csv
import difflib
import hashlib
import os
import re
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from joblib import delayed
from pydantic import ValidationError

from ..io.limits import excerpt
from ..io.text import visible
from ..parallel import parallel_map
from .imageio import GeometryTolerance
from .images import PairCheck, check_image_pair
from .problems import CohortError, Problem
from .schema import COLUMNS, EXPECTED, MISSING_TOKENS, PREDICTOR_COLUMNS, REQUIRED_COLUMNS, CohortName, ManifestRow

__all__ = ["Cohort", "load_cohort", "tumour_labels"]


#: Largest manifest read (a million patients' rows fit in a fraction of it).
MAX_MANIFEST_BYTES = 256 << 20


@dataclass(frozen=True)
class Cohort:
    """A manifest that satisfies the data contract.

    Attributes
    ----------
    manifest
        Absolute path of the manifest CSV.
    sha256
        Hash of the manifest's bytes (for provenance).
    table
        One row per patient in manifest order: the contract's columns, typed; ``image`` and
        ``mask`` as absolute paths; ``mask_label``, the tumour's label in the mask as resolved
        once for every consumer (the row's own value, else ``mask_label`` below, else the
        mask's single label); ``nonresponse`` (True for SD/PD, missing without
        mRECIST); ``roi_voxels`` and ``roi_volume_ml`` of the tumour mask (missing when
        images were not checked); and any extra columns as text.
    mask_label
        The label chosen for every mask without its own ``mask_label``, or None.
    warnings
        What is allowed but deserves a look (patient ids shaped like names or record numbers).
    """

    manifest: Path
    sha256: str
    table: pd.DataFrame
    mask_label: int | None = None
    warnings: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.table)

    def subset(self, name: CohortName | str) -> pd.DataFrame:
        """The rows of one cohort (``train``, ``test``, ``external``, ``followup``, ``internal``)."""
        return self.table[self.table["cohort"] == str(CohortName(name))]


@dataclass(frozen=True)
class _Record:
    row: int
    values: dict[str, str]

    @property
    def patient_id(self) -> str | None:
        pid = (self.values.get("patient_id") or "").strip()
        return pid or None


def _read_records(path: Path) -> tuple[list[str], list[_Record], list[Problem]]:
    """Read the CSV as text cells, keeping each record's spreadsheet row number."""
    problems: list[Problem] = []
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh)
            header = next(reader, None)
            if header is None:
                raise CohortError(path, [Problem(None, None, None, "the file is empty; expected a "
                                                 "header row, then one row per patient")])
            header = [h.strip() for h in header]
            if len(header) == 1 and (sep := next((d for d in ";\t|" if d in header[0]), None)):
                shown = {";": "';'", "\t": "tabs", "|": "'|'"}[sep]
                raise CohortError(path, [Problem(1, None, None, f"the header is one column separated by {shown}; "
                                                 "expected a comma-separated CSV file (save it as CSV with commas)")])
            records = []
            for cells in reader:
                if not any(c.strip() for c in cells):
                    continue
                row = reader.line_num
                if len(cells) != len(header):
                    problems.append(Problem(row, None, None, f"{len(cells)} fields, but the header "
                                            f"has {len(header)}; expected one value per column"))
                    continue
                records.append(_Record(row, dict(zip(header, cells, strict=True))))
    except UnicodeDecodeError as exc:
        raise CohortError(path, [Problem(None, None, None, f"not UTF-8 text ({exc.reason} at byte "
                                         f"{exc.start}); expected a UTF-8 CSV file")]) from None
    except csv.Error as exc:
        raise CohortError(path, [Problem(None, None, None, f"not a readable CSV file ({exc})")]) from None
    seen: dict[str, int] = {}
    for h in header:
        seen[h] = seen.get(h, 0) + 1
    for h, n in seen.items():
        if n > 1:
            problems.append(Problem(1, None, h, f"column header appears {n} times; expected each once"))
    if not records and not problems:
        problems.append(Problem(None, None, None, "no patient rows; expected one row per patient"))
    return header, records, problems


def _header_problems(header: list[str]) -> tuple[list[Problem], set[str]]:
    problems, missing = [], set()
    for name in REQUIRED_COLUMNS:
        if name in header:
            continue
        missing.add(name)
        near = difflib.get_close_matches(name, header, n=1, cutoff=0.75)
        hint = f" (found {near[0]!r}: a misspelling?)" if near else ""
        problems.append(Problem(1, None, name, f"required column is missing{hint}; expected a "
                                f"header named {name!r}: {EXPECTED[name]}"))
    return problems, missing


def _describe(err: Mapping[str, Any]) -> str:
    column = str(err["loc"][0])
    got = err.get("input")
    expected = EXPECTED.get(column, "")
    # a cell is quoted short and with its hidden characters shown: it may hold anything
    if err["type"] == "missing_value":
        shown = f" ({excerpt(visible(got.strip(), None))})" if isinstance(got, str) and got.strip() else ""
        return f"{err['msg']}{shown}; expected {expected}"
    shown = excerpt(visible(got, None)) if isinstance(got, str) else excerpt(got)
    if err["type"] == "enum":
        return f"unknown category {shown}; expected {expected}"
    return f"invalid value {shown} ({err['msg'].lower()}); expected {expected}"


def _validate_rows(records: list[_Record], skip_columns: set[str]
                   ) -> tuple[dict[int, ManifestRow], list[Problem]]:
    valid: dict[int, ManifestRow] = {}
    problems: list[Problem] = []
    for i, rec in enumerate(records):
        try:
            valid[i] = ManifestRow.model_validate(rec.values)
        except ValidationError as exc:
            for err in exc.errors():
                column = str(err["loc"][0]) if err["loc"] else None
                if column in skip_columns:
                    continue  # already reported once as a missing column
                problems.append(Problem(rec.row, rec.patient_id, column, _describe(err)))
    return valid, problems


def _table_problems(base: Path, records: list[_Record]) -> list[Problem]:
    problems: list[Problem] = []
    for column, what in (("patient_id", "patient_id"), ("image", "image file")):
        where: dict[str, list[_Record]] = defaultdict(list)
        for rec in records:
            value = (rec.values.get(column) or "").strip()
            if value:
                # 'images/a.nii', './images/a.nii' and a link to it name the same file
                where[os.path.realpath(base / value) if column == "image" else value].append(rec)
        for value, recs in where.items():
            for rec in recs[1:]:
                # the first row that holds it (one reference, not every other row: a
                # manifest of 10,000 copies must not print 10,000 x 10,000 row numbers)
                more = len(recs) - 2
                also = f"row {recs[0].row}" + (f" and {more} other row{'s' if more != 1 else ''}" if more else "")
                problems.append(Problem(rec.row, rec.patient_id, column,
                                        f"duplicate {what} {value!r} (also on {also}); expected "
                                        f"each patient once, with an image of their own"))
    cohorts = {(rec.values.get("cohort") or "").strip() for rec in records}
    if CohortName.INTERNAL in cohorts and cohorts & {CohortName.TRAIN, CohortName.TEST}:
        problems.append(Problem(None, None, "cohort", "the manifest mixes 'internal' with 'train'/"
                                "'test'; expected either an internal cohort to be split by seed, "
                                "or explicit train and test cohorts"))
    return problems


#: patient_ids that look identifying: 'Smith.John', 'john_smith', 'MRN-19600101-4711', '12345678'
_NAME_LIKE = re.compile(r"^[A-Za-z][a-z]+[._-][A-Za-z][a-z]+$")
_RECORD_LIKE = re.compile(r"(?i)(^|[^a-z])(mrn|nhs)([^a-z]|$)|(19|20)\d{2}(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])|\d{7,}")


def _identifier_warnings(records: list[_Record], shown: int = 10) -> list[str]:
    suspicious = [(rec.row, rec.patient_id) for rec in records if rec.patient_id
                  and (_NAME_LIKE.match(rec.patient_id) or _RECORD_LIKE.search(rec.patient_id))]
    if not suspicious:
        return []
    listed = ", ".join(f"{pid!r} (row {row})" for row, pid in suspicious[:shown])
    more = f" and {len(suspicious) - shown} more" if len(suspicious) > shown else ""
    return [f"{len(suspicious)} patient_id value(s) look like names, dates of birth or record numbers: {listed}"
            f"{more}. tace never prints patient ids in reports, but the manifest, scores.csv and the training "
            "record carry them: use pseudonymous codes before sharing any of these."]


#: Characters of a free-text cell (site, scanner, an extra column) that reach the outputs.
TEXT_COLUMN_CAP = 200


def _text_warnings(records: list[_Record], header: list[str], shown: int = 10) -> list[str]:
    """Free-text cells that the outputs show otherwise than written: hidden (control or
    bidirectional) characters shown as [U+XXXX], or cut at :data:`TEXT_COLUMN_CAP` characters."""
    known = {c.name for c in COLUMNS} - {"site", "scanner"}
    found = []
    for rec in records:
        for name in header:
            value = rec.values.get(name)
            if name in known or not isinstance(value, str):
                continue
            if visible(value, TEXT_COLUMN_CAP, one_line=True) != " ".join(value.split()):
                found.append(f"row {rec.row}, column {name}")
    if not found:
        return []
    more = f" and {len(found) - shown} more" if len(found) > shown else ""
    return [f"{len(found)} text cell(s) hold control or bidirectional characters, or more than {TEXT_COLUMN_CAP} "
            f"characters: {', '.join(found[:shown])}{more}. The outputs show such characters as [U+XXXX] and cut "
            "long text, marked '(truncated)'."]


def _missing_predictor_warnings(table: pd.DataFrame) -> list[str]:
    """What the cohort check allows but a person must know: predictors missing in some
    patients (imputed, see tace.models.imputation) and, among them, training patients (the
    models cannot be developed on them)."""
    missing = table[list(PREDICTOR_COLUMNS)].isna()
    if not missing.any().any():
        return []
    counts = ", ".join(f"{c} {int(n)}" for c, n in missing.sum().items() if n)
    out = [f"{int(missing.any(axis=1).sum())} of {len(table)} patients miss at least one clinical predictor "
           f"({counts}). Their clinical score is multiply imputed from the development data (chained equations; "
           "the outcome is never used) and pooled by Rubin's rules, with complete-case results beside."]
    training = table["cohort"].isin([CohortName.TRAIN.value, CohortName.INTERNAL.value]) & missing.any(axis=1)
    if training.any():
        rows = table.index[training]
        listed = ", ".join(f"{table.at[i, 'patient_id']} ({', '.join(missing.columns[missing.loc[i]])})"
                           for i in rows[:10])
        more = f" and {len(rows) - 10} more" if len(rows) > 10 else ""
        out.append(f"{len(rows)} train or internal patient(s) miss a predictor: {listed}{more}. The models are "
                   "developed on complete predictors only, so tace report and tace train will stop; tace validate "
                   "treats these rows as validation patients and imputes them.")
    return out


def _check_files(base: Path, records: list[_Record], valid: dict[int, ManifestRow],
                 mask_label: int | None, tolerance: GeometryTolerance, n_jobs: int,
                 progress: bool) -> tuple[dict[int, PairCheck], list[Problem]]:
    jobs = []
    for i, rec in enumerate(records):
        image = (rec.values.get("image") or "").strip()
        mask = (rec.values.get("mask") or "").strip()
        if image.lower() in MISSING_TOKENS or mask.lower() in MISSING_TOKENS:
            continue  # a missing value ('', 'NA', 'NaN', ...): reported by the row checks, not as a file
        row_label = _tumour_label(valid[i].mask_label if i in valid else None, mask_label, None)
        jobs.append((i, base / image, base / mask, row_label))

    run = delayed(check_image_pair)
    calls = (run(img, msk, label=lab, tolerance=tolerance) for _, img, msk, lab in jobs)
    if progress and jobs:
        from rich.progress import track
        results = list(track(parallel_map(calls, n_jobs), total=len(jobs), description="Checking images"))
    else:
        results = list(parallel_map(calls, n_jobs))

    checks, problems = {}, []
    for (i, *_), result in zip(jobs, results, strict=True):
        checks[i] = result
        for column, message in result.problems:
            problems.append(Problem(records[i].row, records[i].patient_id, column, message))
    return checks, problems


def _tumour_label(row_label: int | None, mask_label: int | None, check: PairCheck | None) -> int | None:
    """The one label that marks this patient's tumour: the row's ``mask_label``, else the
    cohort's ``--mask-label``, else the single label the mask holds (None when unchecked)."""
    if row_label:
        return int(row_label)
    if mask_label is not None:
        return int(mask_label)
    if check is not None and len(check.labels) == 1:
        return int(check.labels[0])
    return None


def _build_table(base: Path, records: list[_Record], valid: dict[int, ManifestRow],
                 checks: dict[int, PairCheck], header: list[str], mask_label: int | None) -> pd.DataFrame:
    known = [c.name for c in COLUMNS]
    extra = [h for h in header if h not in known]
    rows = []
    for i, rec in enumerate(records):
        model = valid[i]
        row = {name: getattr(model, name) for name in known}
        row = {k: (str(v) if hasattr(v, "value") else v) for k, v in row.items()}
        assert model.image is not None and model.mask is not None  # required: a valid row has both
        row["image"] = str((base / model.image).resolve())
        row["mask"] = str((base / model.mask).resolve())
        row["nonresponse"] = model.nonresponse
        check = checks.get(i)
        row["mask_label"] = _tumour_label(model.mask_label, mask_label, check)
        row["roi_voxels"] = check.roi_voxels if check else None
        row["roi_volume_ml"] = check.roi_volume_ml if check else None
        row.update({h: rec.values[h] for h in extra})
        for name in ("site", "scanner", *extra):  # free text reaches the outputs: shown as the characters it holds
            if isinstance(row.get(name), str):
                row[name] = visible(row[name], TEXT_COLUMN_CAP, one_line=True)
        rows.append(row)
    table = pd.DataFrame(rows)
    for name in ("tumor_number", "os_event", "mask_label", "roi_voxels"):
        table[name] = table[name].astype("Int64")
    for name in ("age", "tumor_size_cm", "afp_ng_ml", "os_months", "roi_volume_ml"):
        table[name] = table[name].astype("float64")
    table["nonresponse"] = table["nonresponse"].astype("boolean")
    return table


def load_cohort(manifest: Path | str, *, mask_label: int | None = None,
                tolerance: GeometryTolerance = GeometryTolerance(), check_images: bool = True,
                n_jobs: int = 1, progress: bool = False) -> Cohort:
    """Load a cohort manifest and check every row and every file against the data contract.

    Parameters
    ----------
    manifest
        CSV file, one row per patient; image and mask paths are relative to its folder.
    mask_label
        The label that marks the tumour in masks without their own ``mask_label`` value.
        Without one, each mask must hold a single non-zero label.
    tolerance
        How closely each mask's geometry must match its image's.
    check_images
        Read every image and mask (the default). ``False`` checks the table only.
    n_jobs
        Parallel workers for the image checks (joblib; -1 for all cores).
    progress
        Show a progress bar while images are checked.

    Returns
    -------
    Cohort

    Raises
    ------
    CohortError
        Listing every problem found: per row, the patient_id, the column, what is wrong
        and what was expected. Nothing is written, and the manifest is never modified.

    Examples
    --------
    >>> from tace.cohort import load_cohort
    >>> load_cohort("no/such/manifest.csv")
    Traceback (most recent call last):
    ...
    tace.cohort.problems.CohortError: no/such/manifest.csv: 1 problem (rows numbered as in a spreadsheet: ...
      - manifest: file not found; expected a CSV file with one row per patient
    """
    path = Path(manifest)
    if not path.exists():
        raise CohortError(path, [Problem(None, None, None, "file not found; expected a CSV file "
                                         "with one row per patient")])
    if path.is_dir():
        raise CohortError(path, [Problem(None, None, None, "is a directory; expected a CSV file "
                                         "with one row per patient")])
    if not path.is_file():  # a FIFO, a device (/dev/zero), a socket: reading it may never end
        raise CohortError(path, [Problem(None, None, None, "is not a regular file (a pipe or a device?); "
                                         "expected a CSV file with one row per patient")])
    if path.stat().st_size > MAX_MANIFEST_BYTES:
        raise CohortError(path, [Problem(None, None, None, f"is {path.stat().st_size / 2**20:.0f} MiB; expected "
                                         f"a manifest CSV of at most {MAX_MANIFEST_BYTES >> 20} MiB")])
    path = path.resolve()
    base = path.parent
    header, records, problems = _read_records(path)
    header_problems, missing = _header_problems(header)
    problems = header_problems + problems
    valid, row_problems = _validate_rows(records, missing)
    problems += row_problems + _table_problems(base, records)
    checks: dict[int, PairCheck] = {}
    if check_images:
        checks, file_problems = _check_files(base, records, valid, mask_label, tolerance,
                                             n_jobs, progress)
        problems += file_problems
    if problems:
        problems.sort(key=lambda p: (p.row if p.row is not None else 0))
        raise CohortError(path, problems)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    table = _build_table(base, records, valid, checks, header, mask_label)
    return Cohort(path, digest, table, mask_label,
                  tuple(_identifier_warnings(records) + _text_warnings(records, header)
                        + _missing_predictor_warnings(table)))


def tumour_labels(table: pd.DataFrame) -> list[int | None]:
    """Each patient's tumour label as :func:`load_cohort` resolved it (the ``mask_label``
    column of ``Cohort.table``; None: any non-zero voxel of an unchecked mask). Every
    consumer of a mask (radiomics, crops, Grad-CAM) reads it from here."""
    return [None if pd.isna(v) else int(v) for v in table["mask_label"]]

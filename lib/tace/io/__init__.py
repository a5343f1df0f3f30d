"""File-system helpers: atomic writes (nothing half-written looks complete) and hashing."""

from .atomic import (
                     RUN_MARKER,
                     OutFolderError,
                     StaleFolderWarning,
                     atomic_directory,
                     atomic_write_bytes,
                     atomic_write_text,
                     check_out_folder,
                     folder_lock,
                     is_tace_folder,
)
from .csvsafe import csv_text, neutralise_formulas, read_run_csv
from .hashing import sha256_file

__all__ = ["RUN_MARKER", "OutFolderError", "StaleFolderWarning", "atomic_directory", "atomic_write_bytes",
           "atomic_write_text", "check_out_folder", "csv_text", "folder_lock", "is_tace_folder", "neutralise_formulas",
           "read_run_csv", "sha256_file"]

"""File-system helpers: atomic writes (nothing half-written looks complete) and hashing."""

from .atomic import (RUN_MARKER, OutFolderError, atomic_directory, atomic_write_bytes, atomic_write_text,
                     check_out_folder, is_tace_folder)
from .hashing import sha256_file

__all__ = ["RUN_MARKER", "OutFolderError", "atomic_directory", "atomic_write_bytes", "atomic_write_text",
           "check_out_folder", "is_tace_folder", "sha256_file"]

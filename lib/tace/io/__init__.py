"""File-system helpers: atomic writes (nothing half-written looks complete) and hashing."""

from .atomic import atomic_directory, atomic_write_bytes, atomic_write_text
from .hashing import sha256_file

__all__ = ["atomic_directory", "atomic_write_bytes", "atomic_write_text", "sha256_file"]

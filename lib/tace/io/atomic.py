"""Write to a temporary path beside the destination, then rename.

A reader therefore sees either the previous state or the complete new one: a crash or an
error midway leaves no file or folder that looks finished.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["atomic_directory", "atomic_write_bytes", "atomic_write_text"]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextmanager
def atomic_directory(dest: Path | str, *, overwrite: bool = False) -> Iterator[Path]:
    """Build a folder under a temporary name and move it to ``dest`` only on success.

    Parameters
    ----------
    dest
        The folder to create. It must not exist, or be empty, unless ``overwrite``.
    overwrite
        Replace an existing non-empty ``dest`` (only once the new folder is complete).

    Yields
    ------
    pathlib.Path
        The temporary folder to write into (a hidden sibling of ``dest``).

    Raises
    ------
    FileExistsError
        When ``dest`` is a file, or a non-empty folder and ``overwrite`` is False.
    """
    dest = Path(dest)
    if dest.exists():
        if not dest.is_dir():
            raise FileExistsError(f"{dest} exists and is a file; expected a new or empty folder")
        if any(dest.iterdir()) and not overwrite:
            raise FileExistsError(f"{dest} exists and is not empty; choose another folder or "
                                  "pass --overwrite")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.partial-", dir=dest.parent))
    tmp.chmod(0o777 & ~_umask())
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if dest.exists():
        old = dest.with_name(f".{dest.name}.old-{uuid.uuid4().hex[:8]}")
        dest.rename(old)
        tmp.rename(dest)
        shutil.rmtree(old, ignore_errors=True)
    else:
        tmp.rename(dest)


def atomic_write_bytes(path: Path | str, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary sibling and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.partial-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: Path | str, text: str) -> Path:
    """Write UTF-8 ``text`` to ``path`` through a temporary sibling and a rename."""
    return atomic_write_bytes(path, text.encode("utf-8"))

"""Write to a temporary path beside the destination, then rename.

A reader therefore sees either the previous state or the complete new one: a crash or an
error midway leaves no file or folder that looks finished.

A folder being written is held by a lock file beside it (``.NAME.lock``, ``flock``: the
kernel lets it go when the process ends, ``kill -9`` included), which names the run that
holds it; a second run into the same folder is refused while the first lives. A run killed
too hard to clean up (``kill -9``, a power cut) leaves its hidden ``.NAME.partial-*`` folder:
the next run into the same place, once it holds the lock, removes such folders (only those
carrying tace's marker) and says so.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import shutil
import socket
import sys
import tempfile
import time
import uuid
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["RUN_MARKER", "OutFolderError", "StaleFolderWarning", "atomic_directory", "atomic_write_bytes",
           "atomic_write_text", "check_out_folder", "folder_lock", "is_tace_folder"]

#: The file that marks a folder tace wrote (a run, a training output, a twin): only such a
#: folder is ever replaced; any other non-empty folder is refused, never deleted.
RUN_MARKER = ".tace-run"


class OutFolderError(ValueError):
    """An output folder tace refuses to write: it would delete or mix with data tace did not write."""


def is_tace_folder(folder: Path) -> bool:
    """Whether ``folder`` was written by tace: it holds the marker (or, from before the
    marker, a run's ``run.json``)."""
    folder = Path(folder)
    return (folder / RUN_MARKER).is_file() or (folder / "run.json").is_file() and (folder / "figures").is_dir()


def check_out_folder(out: Path | str, *, overwrite: bool = True, protected: tuple[Path | str, ...] = (),
                     sealed: tuple[Path | str, ...] = ()) -> Path:
    """Check, before any work, that ``out`` may receive a new tace folder; return it absolute.

    ``out`` may be new, an empty folder, or (with ``overwrite``) a folder tace wrote before.
    It may not be the file system's root, a file, or any other non-empty folder; it may not
    be a ``protected`` path (the cohort's folder) or one of its parents (replacing it would
    take the inputs with it), and it may not be a ``sealed`` path (the bundle), one of its
    parents or a folder inside it (a bundle holds its own files only).

    Raises
    ------
    OutFolderError
        Saying which rule ``out`` breaks and what to do.
    """
    out = Path(os.path.abspath(Path(out).expanduser()))
    real = Path(os.path.realpath(out))
    if real == Path(real.anchor):
        raise OutFolderError(f"--out {out} is the root of the file system; expected a folder of its own")
    for p, inside_too in [*((p, False) for p in protected), *((p, True) for p in sealed)]:
        p = Path(os.path.realpath(Path(p).expanduser()))
        if real == p or p.is_relative_to(real) or (inside_too and real.is_relative_to(p)):
            where = "is" if real == p else ("contains" if p.is_relative_to(real) else "lies inside")
            raise OutFolderError(f"--out {out} {where} {p}, an input of this run; expected a folder apart "
                                 "from the cohort and the bundle, which tace only reads")
    if out.is_symlink() or out.exists():
        if not out.is_dir():
            raise OutFolderError(f"--out {out} exists and is not a folder; expected a new or empty folder")
        if any(out.iterdir()):
            if not is_tace_folder(out):
                raise OutFolderError(f"--out {out} is a non-empty folder that tace did not write (it has no "
                                     f"{RUN_MARKER} file); tace replaces only its own folders: choose a new "
                                     "folder, or empty this one yourself")
            if not overwrite:
                raise OutFolderError(f"{out} exists and is not empty; choose another folder or pass --overwrite")
    return out


class StaleFolderWarning(UserWarning):
    """A half-written folder of an earlier run that ended without cleaning up was removed."""


def _holder(path: Path) -> str:
    try:
        info = json.loads(path.read_text(encoding="utf-8")[:4096])
        return (f"PID {info['pid']} on {info['host']}, started {info['started']}: "
                f"{str(info['command'])[:120]}")
    except (OSError, ValueError, KeyError, TypeError):
        return "a process that has not yet said which"


@contextmanager
def folder_lock(dest: Path | str) -> Iterator[Path]:
    """Hold ``dest``'s lock file (``.NAME.lock`` beside it) while the block runs.

    Raises
    ------
    OutFolderError
        When another live process holds it, naming that process (its PID, host, start time
        and command line).
    """
    dest = Path(dest)
    path = dest.parent / f".{dest.name}.lock"
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno not in (errno.EAGAIN, errno.EACCES):
                raise
            raise OutFolderError(f"--out {dest} is being written by another tace run ({_holder(path)}); wait for "
                                 "it to finish, or choose another folder") from None
        try:
            same = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)  # its holder removed that file as it let go: take the lock anew
    try:
        info = {"pid": os.getpid(), "host": socket.gethostname(), "command": " ".join(sys.argv)[:500],
                "started": time.strftime("%Y-%m-%d %H:%M:%S %Z")}
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps(info).encode("utf-8"))
        yield path
    finally:
        try:
            os.unlink(path)  # still held: a process that opened it meanwhile sees another file and retries
        finally:
            os.close(fd)


def _remove_stale(dest: Path) -> None:
    """Remove the half-written folders an earlier run into ``dest`` left (tace's own only: they
    carry :data:`RUN_MARKER`, or are empty), saying which. Called with ``dest``'s lock held."""
    for pattern in (f".{dest.name}.partial-*", f".{dest.name}.old-*"):
        for stale in sorted(dest.parent.glob(pattern)):
            if stale.is_symlink() or not stale.is_dir():
                continue
            if (stale / RUN_MARKER).is_file():
                shutil.rmtree(stale, ignore_errors=True)
            elif not any(stale.iterdir()):
                stale.rmdir()
            else:
                continue  # not tace's: left alone
            warnings.warn(StaleFolderWarning(f"removed {stale}, the half-written folder of an earlier run into "
                                             f"{dest} that ended without cleaning up (killed?)"), stacklevel=3)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextmanager
def atomic_directory(dest: Path | str, *, overwrite: bool = False, marker: str | None = None,
                     protected: tuple[Path | str, ...] = (), sealed: tuple[Path | str, ...] = ()
                     ) -> Iterator[Path]:
    """Build a folder under a temporary name and move it to ``dest`` only on success.

    Parameters
    ----------
    dest
        The folder to create: new, empty, or (with ``overwrite``) one tace wrote before
        (see :func:`check_out_folder`, which also refuses the root and ``protected`` paths).
    overwrite
        Replace an existing tace folder (only once the new folder is complete).
    marker
        What wrote the folder (e.g. ``"tace report"``), recorded in its :data:`RUN_MARKER`
        file, which lets a later run replace it.
    protected, sealed
        Inputs of the run that ``dest`` must keep apart from (see :func:`check_out_folder`).

    Yields
    ------
    pathlib.Path
        The temporary folder to write into (a hidden sibling of ``dest``).

    Raises
    ------
    OutFolderError
        When ``dest`` may not be written (see :func:`check_out_folder`).
    """
    dest = check_out_folder(dest, overwrite=overwrite, protected=protected, sealed=sealed)
    dest.parent.mkdir(parents=True, exist_ok=True)
    with folder_lock(dest):
        _remove_stale(dest)
        tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.partial-", dir=dest.parent))
        tmp.chmod(0o777 & ~_umask())
        try:
            # the marker first: a run killed from here on leaves a folder the next run knows as tace's
            (tmp / RUN_MARKER).write_text(f"written by {marker or 'tace'}; a later tace run may replace this "
                                         "folder\n", encoding="utf-8")
            yield tmp
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        try:
            if dest.exists():
                check_out_folder(dest, overwrite=overwrite, protected=protected, sealed=sealed)  # still so?
                old = dest.with_name(f".{dest.name}.old-{uuid.uuid4().hex[:8]}")
                dest.rename(old)
                tmp.rename(dest)
                shutil.rmtree(old, ignore_errors=True)
            else:
                tmp.rename(dest)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise


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

"""Nothing half-written is left looking complete: folders and files appear whole or not at all."""

from __future__ import annotations

import pytest

from tace.cohort.synthetic import generate_twin
from tace.cohort.synthetic import writer as twin_writer
from tace.io import OutFolderError, atomic_directory, atomic_write_text


def test_atomic_directory_leaves_nothing_when_the_body_fails(tmp_path):
    dest = tmp_path / "run"
    with pytest.raises(RuntimeError, match="midway"), atomic_directory(dest) as tmp:
        (tmp / "half.txt").write_text("half")
        raise RuntimeError("midway")
    assert not dest.exists()
    assert list(tmp_path.iterdir()) == []


def test_atomic_directory_keeps_the_previous_folder_until_the_new_one_is_complete(tmp_path):
    dest = tmp_path / "run"
    with atomic_directory(dest, marker="tace test") as tmp:
        (tmp / "old.txt").write_text("old")
    message = "exists and is not empty; choose another folder or pass --overwrite"
    with pytest.raises(OutFolderError, match=message), atomic_directory(dest):
        pass
    with pytest.raises(RuntimeError), atomic_directory(dest, overwrite=True, marker="tace test") as tmp:
        (tmp / "new.txt").write_text("new")
        raise RuntimeError("crash")
    assert sorted(p.name for p in dest.iterdir()) == [".tace-run", "old.txt"]
    with atomic_directory(dest, overwrite=True, marker="tace test") as tmp:
        (tmp / "new.txt").write_text("new")
    assert sorted(p.name for p in dest.iterdir()) == [".tace-run", "new.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_atomic_directory_refuses_a_file_as_destination(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(OutFolderError, match="exists and is not a folder"), atomic_directory(tmp_path / "f"):
        pass


def test_atomic_write_text_replaces_whole_files(tmp_path):
    path = atomic_write_text(tmp_path / "a" / "b.txt", "one")
    atomic_write_text(path, "two")
    assert path.read_text() == "two"
    assert [p.name for p in path.parent.iterdir()] == ["b.txt"]


def test_a_twin_that_fails_midway_leaves_no_folder(smoke_profile, tmp_path, monkeypatch):
    """Fault injection: the 5th patient's image cannot be written."""
    calls = {"n": 0}
    real = twin_writer._write_case

    def failing(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 5:
            raise OSError("disk full")
        return real(*args, **kwargs)

    monkeypatch.setattr(twin_writer, "_write_case", failing)
    with pytest.raises(OSError, match="disk full"):
        generate_twin(tmp_path / "twin", smoke_profile.synthetic, smoke_profile.seed, n_jobs=1)
    assert list(tmp_path.iterdir()) == []

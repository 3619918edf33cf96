"""Atomic writes: old or new bytes, never torn, and the rename is made durable."""
from __future__ import annotations

import multiprocessing
import os

import pytest

from smartlib_core import atomic


def test_write_replaces_and_leaves_no_temporary_files(tmp_path):
    target = tmp_path / "sub" / "f.bin"
    atomic.write_bytes(target, b"one")
    atomic.write_bytes(target, b"two")
    assert target.read_bytes() == b"two"
    assert sorted(p.name for p in target.parent.iterdir()) == ["f.bin"]


def test_failed_write_keeps_the_old_content(tmp_path):
    target = tmp_path / "f.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic.atomic_path(target) as temp:
            temp.write_text("half of the new")
            raise RuntimeError("writer died")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.txt"]


def _die_mid_write(target: str) -> None:
    with atomic.atomic_path(__import__("pathlib").Path(target)) as temp:
        temp.write_bytes(b"partial")
        os._exit(3)  # a crash: no exception handling, no cleanup


def test_a_killed_writer_leaves_the_target_intact(tmp_path):
    target = tmp_path / "f.txt"
    target.write_text("old")
    proc = multiprocessing.get_context("fork").Process(target=_die_mid_write, args=(str(target),))
    proc.start()
    proc.join(30)
    assert proc.exitcode == 3
    assert target.read_text() == "old"
    leftovers = [p.name for p in tmp_path.iterdir() if p.name != "f.txt"]
    assert len(leftovers) == 1 and leftovers[0].startswith(atomic.TEMP_PREFIX)  # skipped by readers


def test_file_is_fsynced_before_the_rename_and_the_directory_after(tmp_path, monkeypatch):
    events = []
    real_replace, real_fsync_dir, real_fsync_file = os.replace, atomic.fsync_dir, atomic.fsync_file
    monkeypatch.setattr(atomic, "fsync_file", lambda p: (events.append("fsync file"), real_fsync_file(p)))
    monkeypatch.setattr(atomic, "fsync_dir", lambda p: (events.append(f"fsync dir {p.name}"), real_fsync_dir(p)))
    monkeypatch.setattr(atomic.os, "replace", lambda a, b: (events.append("rename"), real_replace(a, b)))
    atomic.write_bytes(tmp_path / "f", b"x")
    assert events == ["fsync file", "rename", f"fsync dir {tmp_path.name}"]


def test_staging_dir_is_removed_when_the_block_fails(tmp_path):
    with pytest.raises(ValueError):
        with atomic.staging_dir(tmp_path, "v1") as staged:
            (staged / "a").write_text("x")
            raise ValueError
    assert list(tmp_path.iterdir()) == []


def test_publish_dir_makes_the_directory_appear_whole_and_refuses_to_overwrite(tmp_path):
    with atomic.staging_dir(tmp_path, "v1") as staged:
        atomic.write_bytes(staged / "a", b"x")
        atomic.publish_dir(staged, tmp_path / "v1")
    assert [p.name for p in tmp_path.iterdir()] == ["v1"]
    assert (tmp_path / "v1" / "a").read_bytes() == b"x"
    with atomic.staging_dir(tmp_path, "v1") as again:
        with pytest.raises(FileExistsError):
            atomic.publish_dir(again, tmp_path / "v1")


def test_pointer_round_trip(tmp_path):
    pointer = tmp_path / "current"
    assert atomic.read_pointer(pointer) is None
    atomic.write_pointer(pointer, "v2", ["v1"])
    assert atomic.read_pointer(pointer) == ("v2", ["v1"])
    atomic.write_pointer(pointer, "v3", ["v2", "v1"])
    assert atomic.read_pointer(pointer) == ("v3", ["v2", "v1"])

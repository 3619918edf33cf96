"""Crash-safe writes: a reader sees the old bytes or the new bytes, never a torn file.

Every write goes to a temporary file in the target's directory, is fsynced, renamed over the
target, and then the directory is fsynced so the rename itself survives a power cut.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

TEMP_PREFIX = ".tmp-"  # readers skip names starting with this; a crash can leave them behind


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yields a temporary path to write; on success it replaces `target` atomically.

    For writers that want a file name (faiss.write_index, numpy.save, pandas.to_parquet).
    On an exception the temporary file is removed and `target` is untouched.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f"{TEMP_PREFIX}{target.name}.", dir=target.parent)
    os.close(fd)
    temp = Path(name)
    try:
        yield temp
        fsync_file(temp)
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    fsync_dir(target.parent)


def write_bytes(target: Path, data: bytes) -> None:
    with atomic_path(target) as temp:
        temp.write_bytes(data)


def write_json(target: Path, value: Any) -> None:
    write_bytes(target, (json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode())


def copy_file(source: Path, target: Path) -> None:
    with atomic_path(target) as temp:
        shutil.copyfile(source, temp)


@contextmanager
def staging_dir(parent: Path, name: str) -> Iterator[Path]:
    """A temporary directory next to where `name` will be published; removed if the block fails."""
    parent.mkdir(parents=True, exist_ok=True)
    temp = Path(tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}{name}.", dir=parent))
    try:
        yield temp
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise


def publish_dir(staged: Path, target: Path) -> None:
    """Renames a fully written staging directory to `target`: it appears whole or not at all.

    Raises:
        FileExistsError: `target` already exists (versions are immutable).
    """
    if target.exists():
        raise FileExistsError(target)
    fsync_dir(staged)
    os.rename(staged, target)
    fsync_dir(target.parent)


# -- the `current` pointer -------------------------------------------------------------------
# One small JSON file names the active version and the versions active before it, so moving the
# pointer and recording the rollback history are the same atomic rename.


def read_pointer(path: Path) -> tuple[str, list[str]] | None:
    """Returns (version, history newest first), or None when nothing was ever activated."""
    try:
        data = json.loads(Path(path).read_text())
    except FileNotFoundError:
        return None
    return str(data["version"]), [str(v) for v in data.get("history", [])]


def write_pointer(path: Path, version: str, history: Sequence[str]) -> None:
    write_json(path, {"version": version, "history": list(history)})

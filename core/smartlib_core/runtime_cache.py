"""Exported models cached under SMARTLIB_HOME/compiled/, one directory per key.

The key covers everything that changes what the runtime would run: the source model's bytes,
the export recipe, the runtime and its version, the precision, the thread count and the CPU's
feature flags (a bf16 plan made on a CPU with AVX-512 BF16 is not the plan for one without).
A directory holds the exported files and a manifest with their sha256. A directory whose
manifest is missing, unreadable, for another key, or whose files do not match it is deleted and
built again: a corrupted or stale export is never served.

Checking a file against its manifest means hashing it: about 0.1 s of CPU for the compiled
MiniLM blob, and 0.15 s for the source model's 90 MB, which names the export, on every start.
So each root keeps the digests it has computed in DIGESTS, each under the file's identity as
the file system reports it: path, size, inode, mtime_ns and ctime_ns. Any write to a file moves
its mtime and ctime, and ctime cannot be set back from user space (os.utime sets it to now), so
a file changed since it was hashed, even to the same size with its mtime restored, misses and is
hashed again. A memo that is unreadable or not of this form is ignored (everything is hashed),
and it is rewritten atomically; a lost update only costs a hash.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterable
from pathlib import Path

from smartlib_core.atomic import TEMP_PREFIX, atomic_path, fsync_dir

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
DIGESTS = "digests.json"  # beside the entries: the memo of file digests (module docstring)
_lock = threading.Lock()


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class DigestMemo:
    """sha256 of files, remembered in `root`/DIGESTS under each file's identity (module docstring)."""

    def __init__(self, root: Path) -> None:
        self.path = Path(root) / DIGESTS

    def sha256(self, path: Path) -> str:
        path = Path(path).absolute()
        stat = path.stat()
        identity = [stat.st_size, stat.st_ino, stat.st_mtime_ns, stat.st_ctime_ns]
        entry = self._read().get(str(path))
        if entry is not None and entry[:4] == identity:
            return entry[4]
        digest = file_sha256(path)
        with _memo_lock:  # read again and add: another memo of this root may have written since
            entries = self._read()
            entries[str(path)] = [*identity, digest]
            self._write(entries)
        return digest

    def _read(self) -> dict[str, list]:
        """The remembered entries, path -> [size, inode, mtime_ns, ctime_ns, sha256]; {} when none are usable."""
        try:
            stored = json.loads(self.path.read_text())
            if stored.get("format") == DIGEST_FORMAT:
                return {p: e for p, e in stored["files"].items() if _entry_ok(e)}
        except (OSError, ValueError, TypeError, AttributeError, KeyError):
            pass  # missing or unreadable: hash everything
        return {}

    def _write(self, entries: dict[str, list]) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with atomic_path(self.path) as temp:
                temp.write_text(json.dumps({"format": DIGEST_FORMAT, "files": entries}, sort_keys=True))
        except OSError as exc:  # a read-only home: every start hashes
            log.warning("file digests not remembered in %s: %s", self.path, exc)


_memo_lock = threading.Lock()
DIGEST_FORMAT = "smartlib-digests/1"


def _entry_ok(entry) -> bool:
    return (isinstance(entry, list) and len(entry) == 5 and all(type(v) is int for v in entry[:4])
            and isinstance(entry[4], str) and len(entry[4]) == 64)


def model_digest(files: Iterable[Path], memo: DigestMemo) -> str:
    """One hash over the named files' contents: the identity of a source model."""
    digest = hashlib.sha256()
    for path in sorted(Path(p) for p in files):
        digest.update(f"{path.name}\0{memo.sha256(path)}\0".encode())
    return digest.hexdigest()


def cpu_features() -> str:
    """A short hash of the CPU's feature flags (Linux /proc/cpuinfo; the platform elsewhere)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            flags = next((line.split(":", 1)[1] for line in handle if line.startswith("flags")), "")
    except OSError:
        import platform

        flags = platform.processor() or platform.machine()
    return hashlib.sha256(" ".join(sorted(flags.split())).encode()).hexdigest()[:16]


def cache_key(fields: dict[str, str]) -> str:
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:24]


class CompiledCache:
    """Directories of exported model files under `root`, each valid for exactly one key."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.digests = DigestMemo(self.root)

    def find(self, name: str, fields: dict[str, str]) -> Path | None:
        """The directory for `fields` when it holds a valid build, else None (nothing is built or removed)."""
        target = self.root / f"{name}-{cache_key(fields)}"
        with _lock:
            return target if self.valid(target, fields) else None

    def get_or_build(self, name: str, fields: dict[str, str], build: Callable[[Path], None]) -> Path:
        """The directory for `fields`, verified; `build(directory)` fills a new one when needed.

        `build` writes its files into an empty temporary directory; the manifest is written
        last and the directory renamed into place, so a crash mid-build leaves only a
        temporary directory, which is never read.
        """
        key = cache_key(fields)
        target = self.root / f"{name}-{key}"
        with _lock:
            if self.valid(target, fields):
                return target
            if target.exists():
                log.warning("compiled model cache %s is stale or corrupted; rebuilding it", target)
                shutil.rmtree(target, ignore_errors=True)
            self.root.mkdir(parents=True, exist_ok=True)
            temp = Path(tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}{name}-", dir=self.root))
            try:
                build(temp)
                files = {p.name: file_sha256(p) for p in sorted(temp.iterdir()) if p.is_file()}
                (temp / MANIFEST).write_text(json.dumps({"key": fields, "files": files}, indent=1, sort_keys=True))
                for path in temp.iterdir():
                    _fsync(path)
                try:
                    os.replace(temp, target)
                except OSError:  # another process built it first: keep theirs if it is good
                    if not self.valid(target, fields):
                        raise
                    shutil.rmtree(temp, ignore_errors=True)
                fsync_dir(self.root)
            except BaseException:
                shutil.rmtree(temp, ignore_errors=True)
                raise
            return target

    def valid(self, directory: Path, fields: dict[str, str]) -> bool:
        """Whether `directory` holds a complete build for `fields` whose files match its manifest."""
        try:
            manifest = json.loads((directory / MANIFEST).read_text())
            if manifest.get("key") != fields or not manifest.get("files"):
                return False
            present = {p.name for p in directory.iterdir() if p.is_file()} - {MANIFEST}
            if present != set(manifest["files"]):
                return False
            return all(self.digests.sha256(directory / n) == digest for n, digest in manifest["files"].items())
        except (OSError, ValueError, TypeError, AttributeError):
            return False


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

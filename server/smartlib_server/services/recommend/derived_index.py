"""The FINETUNED index's derived arrays on local disk, so a restart does not recompute them.

Serving FINETUNED needs every stored 2688-d vector encoded to 256-d and, for catalogs that
have one, the exact neighbour table: about 1.5 s of a 10k restart (make bench), spent again on
every start although nothing they depend on changed. They are stored under a key that hashes
everything they are computed from (the encoder's verified manifest, the ids in order, the raw
vectors, the popularity priors, the table depth), so a stored copy is used only for exactly
those inputs, and any change (a write, another encoder) simply misses. Files are written
atomically; an unreadable one is logged, ignored and replaced.
"""
from __future__ import annotations

import hashlib
import logging
import time
import zipfile
from pathlib import Path

import numpy as np

from smartlib_core import atomic

log = logging.getLogger(__name__)

FORMAT = b"smartlib-derived-index/1"
KEEP = 3  # newest files kept: the current catalog version and a rollback or two


class DerivedIndexStore:
    def __init__(self, root: Path):
        self.root = Path(root)

    @staticmethod
    def key(fingerprint: str, ids: list[str], raw: np.ndarray | None, priors: list[float], depth: int,
            catalog: str = "") -> str:
        """Names the arrays computed by encoder `fingerprint` from these inputs. `catalog`, a
        stored_catalog key (which covers every vector's text), stands for the raw vectors, so
        they need not be read or hashed (0.12-0.19 s for 10k books); without it `raw` is hashed."""
        digest = hashlib.blake2b(FORMAT, digest_size=20)
        if catalog:
            digest.update(f"{fingerprint}\0{depth}\0catalog\0{catalog}\0".encode())
        else:
            digest.update(f"{fingerprint}\0{depth}\0{raw.shape}\0".encode())
        digest.update("\0".join(ids).encode())
        if not catalog:
            digest.update(np.ascontiguousarray(raw, dtype=np.float32).data)
        digest.update(np.asarray(priors, dtype=np.float64).data)
        return digest.hexdigest()

    def load(self, key: str, names: tuple[str, ...] | None = None) -> dict[str, np.ndarray] | None:
        """The arrays `names` (default: all) stored under `key`, or None (then the caller computes them)."""
        path = self.root / f"{key}.npz"
        if not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as stored:
                return {name: stored[name] for name in (stored.files if names is None else names)}
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:  # torn or foreign
            log.warning("ignoring unreadable derived index %s: %s", path, exc)
            return None

    def save(self, key: str, arrays: dict[str, np.ndarray]) -> None:
        """Stores `arrays` under `key` (atomically) and drops all but the newest KEEP files.
        A failure (disk full, read-only home) costs the next restart time, not this one."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            with atomic.atomic_path(self.root / f"{key}.npz") as staged:
                with staged.open("wb") as out:
                    np.savez(out, **arrays)
            older = sorted(self.root.glob("*.npz"), key=lambda p: p.stat().st_mtime, reverse=True)[KEEP:]
            torn = [p for p in self.root.glob(f"{atomic.TEMP_PREFIX}*") if time.time() - p.stat().st_mtime > 600]
            for stale in older + torn:  # torn: left by a process killed while writing
                stale.unlink(missing_ok=True)
        except OSError as exc:
            log.warning("derived index not stored in %s: %s", self.root, exc)

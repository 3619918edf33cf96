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
import struct
import time
import zipfile
import zlib
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

    def load(self, key: str, names: tuple[str, ...] | None = None,
             mapped: tuple[str, ...] = ()) -> dict[str, np.ndarray] | None:
        """The arrays `names` (default: all) stored under `key`, or None (then the caller computes them).

        Those named in `mapped` come back as read-only maps of the file (mapped_member) instead
        of copies: for arrays the caller only reads once, such as the catalog's unit vectors that
        FAISS copies into its own memory."""
        path = self.root / f"{key}.npz"
        if not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as stored:
                wanted = stored.files if names is None else names
                return {name: mapped_member(path, stored.zip, name) if name in mapped else stored[name] for name in wanted}
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


def mapped_member(path: Path, archive: zipfile.ZipFile, name: str) -> np.ndarray:
    """The array `name` of the .npz at `path` as a read-only memory map of its bytes in the file,
    checked against the CRC-32 the archive holds for it, as np.load checks what it reads.

    np.load reads a member through zipfile into fresh memory, a copy at a time: for the 10k
    catalog's 106 MB of unit vectors that was about 0.3 s of a restart's CPU, where the CRC
    itself takes 0.025 s and FAISS makes its own copy anyway. np.savez stores members
    uncompressed, so each one is a .npy file at an offset of the archive; a member stored any
    other way is read as np.load would. ValueError when the bytes do not hold together."""
    info = archive.getinfo(f"{name}.npy")
    if info.compress_type != zipfile.ZIP_STORED:
        with archive.open(info) as member:
            return np.lib.format.read_array(member, allow_pickle=False)
    with open(path, "rb") as handle:
        handle.seek(info.header_offset)
        local = handle.read(30)  # the member's local header: its name and extra field come next
        if len(local) != 30 or local[:4] != b"PK\x03\x04":
            raise ValueError(f"{name}: no local header where the archive says")
        name_length, extra_length = struct.unpack("<HH", local[26:30])
        start = info.header_offset + 30 + name_length + extra_length
        handle.seek(start)
        version = np.lib.format.read_magic(handle)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(handle)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(handle)
        else:
            raise ValueError(f"{name}: .npy version {version} is not mapped")
        offset = handle.tell()
        handle.seek(start)
        header = handle.read(offset - start)
    if dtype.hasobject:
        raise ValueError(f"{name}: object arrays are not stored here")
    if offset - start + int(np.prod(shape)) * dtype.itemsize != info.file_size:
        raise ValueError(f"{name}: size does not match its header")
    if info.file_size == len(header):  # an empty array: nothing to map
        array = np.zeros(shape, dtype=dtype)
    else:
        array = np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=shape, order="F" if fortran else "C")
    if zlib.crc32(array.reshape(-1, order="A").view(np.uint8), zlib.crc32(header)) != info.CRC:
        raise ValueError(f"{name}: bad CRC-32")
    return array

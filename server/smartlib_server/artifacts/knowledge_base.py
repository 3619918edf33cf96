"""Knowledge-base versions: build a snapshot, list, activate, roll back and prune.

A version is the directory `<root>/<version>/` holding:
  catalog.csv, catalog.parquet   the books (see export.py for the columns)
  ids.json                       book id of each vector row, and FAISS id = row number
  vectors_2688.npy, index_2688.faiss   the embedder's vectors and their index
  vectors_256.npy, index_256.faiss     the FINETUNED encoder's, when an encoder is given
  manifest.json                  version, created_at, embedder id, encoder version, counts, sha256s
It is written into a ".tmp-" staging directory and renamed into place, so a crash mid-build
leaves no half version. `<root>/current` names the active version and the ones before it.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import secrets
import shutil
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from smartlib_core import atomic, manifest as mf
from smartlib_core.domain import Book
from smartlib_core.embedding import normalise
from smartlib_core.errors import FailedPrecondition, NotFound, Unavailable
from smartlib_server.adapters.catalog_store import CatalogStore
from smartlib_server.artifacts import export

log = logging.getLogger(__name__)

POINTER = "current"
DEFAULT_KEEP = 5
IDS_FILE = "ids.json"
HISTORY_LIMIT = 20  # activations remembered for rollback
STALE_STAGING_S = 3600  # staging dirs older than this are crash leftovers, not builds in progress


@dataclasses.dataclass(frozen=True)
class VersionedEncoder:
    """The FINETUNED encoder as build_kb needs it: a version name and (n, 2688) -> (n, 256)."""

    version: str
    encode: Callable[[np.ndarray], np.ndarray]


@dataclasses.dataclass(frozen=True)
class KbInfo:
    version: str
    created_at: str
    embedder_id: str
    encoder_version: str
    counts: Mapping[str, int]
    active: bool


@dataclasses.dataclass(frozen=True)
class LoadedKb:
    """A verified version in memory, ready to swap in."""

    version: str
    manifest: Mapping[str, Any]
    ids: list[str]
    vectors: dict[int, np.ndarray]  # dimension -> (n, dim) float32
    indexes: dict[int, faiss.Index]  # dimension -> index over the normalised vectors


def new_version_id(now: dt.datetime | None = None) -> str:
    """UTC time to the microsecond plus a random suffix: sorts by creation, never collides."""
    now = now or dt.datetime.now(dt.timezone.utc)
    return f"{now:%Y%m%dT%H%M%S%f}Z-{secrets.token_hex(2)}"


def build_index(vectors: np.ndarray) -> faiss.Index:
    """Exact inner product over unit vectors (cosine); ids are row numbers so rows can be removed."""
    index = faiss.IndexIDMap2(faiss.IndexFlatIP(vectors.shape[1]))
    if len(vectors):
        index.add_with_ids(normalise(vectors), np.arange(len(vectors), dtype=np.int64))
    return index


def _write_vectors(staged: Path, vectors: np.ndarray) -> None:
    dim = vectors.shape[1]
    with atomic.atomic_path(staged / f"vectors_{dim}.npy") as temp:
        with open(temp, "wb") as f:  # a file object: np.save would append ".npy" to a bare name
            np.save(f, np.ascontiguousarray(vectors, dtype=np.float32), allow_pickle=False)
    with atomic.atomic_path(staged / f"index_{dim}.faiss") as temp:
        faiss.write_index(build_index(vectors), str(temp))


def _snapshot(store: CatalogStore, embedder_id: str, attempts: int = 3) -> tuple[int, list[Book], list[str], np.ndarray]:
    """Books and vectors as of one catalog version.

    They come from two queries, so a write landing between them is detected through the
    change-log version and the read is repeated.
    """
    for _ in range(attempts):
        before = store.version()
        books = store.all_books()
        ids, vectors = store.load_vectors(embedder_id)
        if store.version() == before:
            return before, books, ids, vectors
    raise Unavailable(f"the catalog changed during {attempts} snapshot attempts; try again when writes pause")


def build_kb(
    store: CatalogStore,
    embedder_id: str,
    out_root: Path,
    encoder: VersionedEncoder | None = None,
    keep: int = DEFAULT_KEEP,
    version: str | None = None,
) -> Path:
    """Snapshots the catalog and its vectors as a new, inactive version; prunes to `keep`.

    Args:
        store: the catalog; books and the `embedder_id` vectors are read from it.
        embedder_id: which stored vectors to snapshot (embedding.EMBEDDER_ID for 2688-d).
        out_root: the knowledge-base folder (versions and the `current` pointer).
        encoder: adds the 256-d vectors and index; None builds the 2688-d part only.
        keep: versions to keep afterwards (the active one is always kept).
        version: the version id; default new_version_id().

    Returns:
        The published version directory.

    Raises:
        FailedPrecondition: the store holds no vectors for `embedder_id`.
    """
    out_root = Path(out_root)
    version = mf.check_version(version or new_version_id())
    catalog_version, books, ids, vectors = _snapshot(store, embedder_id)
    if not ids:
        raise FailedPrecondition(f"no {embedder_id} vectors in the catalog; embed the books before building a KB")
    counts = {"books": len(books), f"vectors_{vectors.shape[1]}": len(ids), "books_without_vectors": len(books) - len(ids)}
    with atomic.staging_dir(out_root, version) as staged:
        frame = export.catalog_frame(books)
        export.write_csv(frame, staged / "catalog.csv")
        export.write_parquet(frame, staged / "catalog.parquet")
        atomic.write_json(staged / IDS_FILE, ids)
        _write_vectors(staged, vectors)
        if encoder is not None:
            encoded = np.asarray(encoder.encode(vectors), dtype=np.float32)
            if encoded.ndim != 2 or len(encoded) != len(ids):
                raise ValueError(f"encoder {encoder.version} returned shape {encoded.shape} for {len(ids)} vectors")
            _write_vectors(staged, encoded)
            counts[f"vectors_{encoded.shape[1]}"] = len(encoded)
        mf.seal(
            staged, "kb", version,
            embedder_id=embedder_id,
            encoder_version=encoder.version if encoder else "",
            catalog_version=catalog_version,
            counts=counts,
        )
        atomic.publish_dir(staged, out_root / version)
    log.info("built knowledge base %s: %s", version, counts)
    prune(out_root, keep)
    return out_root / version


def _info(manifest: Mapping[str, Any], active: str | None) -> KbInfo:
    return KbInfo(
        version=str(manifest["version"]),
        created_at=str(manifest.get("created_at", "")),
        embedder_id=str(manifest.get("embedder_id", "")),
        encoder_version=str(manifest.get("encoder_version", "")),
        counts=dict(manifest.get("counts", {})),
        active=manifest["version"] == active,
    )


def current_version(root: Path) -> str | None:
    pointer = atomic.read_pointer(Path(root) / POINTER)
    return pointer[0] if pointer else None


def list_kbs(root: Path) -> list[KbInfo]:
    """Complete versions (manifest present), oldest first. Files are not re-hashed here."""
    root = Path(root)
    active = current_version(root)
    found = []
    for path in root.glob(f"*/{mf.MANIFEST}") if root.is_dir() else ():
        if path.parent.name.startswith(atomic.TEMP_PREFIX):
            continue
        try:
            found.append(_info(mf.read(path.parent), active))
        except mf.ArtifactIntegrityError as exc:
            log.warning("skipping %s", exc.message)
    return sorted(found, key=lambda info: (info.created_at, info.version))


def _verified(root: Path, version: str) -> Mapping[str, Any]:
    directory = Path(root) / mf.check_version(version)
    if not directory.is_dir():  # NOT_FOUND over gRPC, as for an unknown encoder version
        raise NotFound(f"no knowledge base {version!r} in {root}; see `smartlib kb list`")
    manifest = mf.verify(directory)
    mf.check_identity(manifest, "kb", version, str(directory))
    return manifest


def activate(root: Path, version: str) -> KbInfo:
    """Verifies every file of `version`, then points `current` at it in one atomic rename.

    Raises:
        NotFound: no such version.
        ArtifactIntegrityError: its files do not match the manifest; `current` is unchanged.
    """
    root = Path(root)
    manifest = _verified(root, version)
    pointer = atomic.read_pointer(root / POINTER)
    if pointer is not None and pointer[0] != version:
        history = [pointer[0], *pointer[1]]
    else:
        history = pointer[1] if pointer else []
    atomic.write_pointer(root / POINTER, version, history[:HISTORY_LIMIT])
    log.info("activated knowledge base %s", version)
    return _info(manifest, version)


def rollback(root: Path) -> KbInfo:
    """Re-activates the version that was active before the current one.

    Versions since pruned, or failing verification, are skipped.

    Raises:
        FailedPrecondition: no earlier version is left to go back to.
    """
    root = Path(root)
    pointer = atomic.read_pointer(root / POINTER)
    if pointer is None:
        raise FailedPrecondition("no knowledge base was ever activated; nothing to roll back")
    active, history = pointer
    for i, candidate in enumerate(history):
        try:
            manifest = _verified(root, candidate)
        except (FailedPrecondition, NotFound) as exc:  # gone, or damaged (ArtifactIntegrityError)
            log.warning("rollback skips %s: %s", candidate, exc.message)
            continue
        atomic.write_pointer(root / POINTER, candidate, history[i + 1 :])
        log.info("rolled back knowledge base %s -> %s", active, candidate)
        return _info(manifest, candidate)
    raise FailedPrecondition(f"no earlier usable knowledge base than {active}; nothing to roll back to")


def prune(root: Path, keep: int = DEFAULT_KEEP) -> list[str]:
    """Deletes all but the newest `keep` versions; the active version is never deleted.

    Also clears staging directories left by crashed builds or pulls an hour ago or more (a
    younger one may be a build still running in another process). Returns removed versions.
    """
    if keep < 1:
        raise ValueError("keep must be at least 1")
    root = Path(root)
    active = current_version(root)
    versions = [info.version for info in list_kbs(root)]
    doomed = [v for v in versions[:-keep] if v != active]
    for version in doomed:
        shutil.rmtree(root / version)
    for leftover in root.glob(f"{atomic.TEMP_PREFIX}*"):
        if leftover.is_dir() and time.time() - leftover.stat().st_mtime > STALE_STAGING_S:
            shutil.rmtree(leftover, ignore_errors=True)
    if doomed:
        atomic.fsync_dir(root)
        log.info("pruned knowledge bases %s", ", ".join(doomed))
    return doomed


def load_kb(root: Path, version: str | None = None) -> LoadedKb:
    """Verifies and loads a version (default: the active one) off to the side of serving.

    Checks sha256s, that every vector file has one row per id, and that each index holds as
    many vectors as its file, so a hot swap can refuse a bad version before swapping.

    Raises:
        NotFound: no such version.
        FailedPrecondition: none active, or the files are inconsistent.
        ArtifactIntegrityError: a file does not match the manifest.
    """
    root = Path(root)
    version = version or current_version(root)
    if version is None:
        raise FailedPrecondition(f"no active knowledge base in {root}; build and activate one")
    manifest = _verified(root, version)
    directory = root / version
    ids = json.loads((directory / IDS_FILE).read_text())
    vectors: dict[int, np.ndarray] = {}
    indexes: dict[int, faiss.Index] = {}
    for path in sorted(directory.glob("vectors_*.npy")):
        matrix = np.load(path, allow_pickle=False)
        dim = int(path.stem.split("_")[1])
        index = faiss.read_index(str(directory / f"index_{dim}.faiss"))
        counted = manifest.get("counts", {}).get(f"vectors_{dim}")
        if matrix.shape != (len(ids), dim) or index.d != dim or index.ntotal != len(ids) or counted != len(ids):
            raise FailedPrecondition(
                f"knowledge base {version}: {path.name} has shape {matrix.shape}, index {index.d}-d with "
                f"{index.ntotal} vectors and the manifest counts {counted}, but there are {len(ids)} ids"
            )
        vectors[dim], indexes[dim] = matrix, index
    return LoadedKb(version, manifest, ids, vectors, indexes)

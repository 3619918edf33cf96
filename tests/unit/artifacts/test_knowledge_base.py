"""Knowledge-base versions over a real SQLite catalog: build, activate, roll back, prune, load."""
from __future__ import annotations

import json
import os
import time

import faiss
import numpy as np
import pandas as pd
import pytest

from smartlib_core import atomic, manifest as mf
from smartlib_core.domain import Book
from smartlib_core.embedding import DIM, EMBEDDER_ID
from smartlib_core.errors import FailedPrecondition, NotFound, Unavailable
from smartlib_server.artifacts import export, knowledge_base as kb


def test_build_snapshots_catalog_vectors_and_indexes(catalog, encoder, books, embedded_ids, tmp_path):
    root = tmp_path / "kb"
    directory = kb.build_kb(catalog, EMBEDDER_ID, root, encoder=encoder)
    assert directory.parent == root
    assert sorted(p.name for p in directory.iterdir()) == [
        "catalog.csv", "catalog.parquet", "ids.json", "index_256.faiss", "index_2688.faiss",
        "manifest.json", "vectors_256.npy", "vectors_2688.npy",
    ]
    manifest = mf.verify(directory)
    assert manifest["kind"] == "kb" and manifest["version"] == directory.name
    assert manifest["embedder_id"] == EMBEDDER_ID and manifest["encoder_version"] == "enc-test-1"
    assert manifest["catalog_version"] == catalog.version()
    assert manifest["counts"] == {"books": 6, "vectors_2688": 5, "vectors_256": 5, "books_without_vectors": 1}
    assert set(manifest["files"]) == {p.name for p in directory.iterdir()} - {"manifest.json"}

    ids, stored = catalog.load_vectors(EMBEDDER_ID)
    assert json.loads((directory / "ids.json").read_text()) == ids == embedded_ids
    np.testing.assert_array_equal(np.load(directory / "vectors_2688.npy"), stored)
    np.testing.assert_allclose(np.load(directory / "vectors_256.npy"), encoder.encode(stored), rtol=1e-6)

    # Each index answers with the row of the vector it is queried with.
    for dim, vectors in ((DIM, stored), (256, encoder.encode(stored))):
        index = faiss.read_index(str(directory / f"index_{dim}.faiss"))
        query = vectors[3:4] / np.linalg.norm(vectors[3])
        scores, labels = index.search(query.astype(np.float32), 2)
        assert labels[0][0] == 3 and scores[0][0] == pytest.approx(1.0, abs=1e-5)

    assert export.read_csv(directory / "catalog.csv") == list(books) == catalog.all_books()
    frame = pd.read_parquet(directory / "catalog.parquet")
    assert frame["id"].tolist() == [b.id for b in books]
    assert list(frame.loc[2, "authors"]) == ["Terry Pratchett", "Neil Gaiman"]


def test_build_without_an_encoder_has_only_the_2688_part(catalog, tmp_path):
    directory = kb.build_kb(catalog, EMBEDDER_ID, tmp_path / "kb")
    manifest = mf.read(directory)
    assert manifest["encoder_version"] == ""
    assert not list(directory.glob("*_256.*"))
    assert "vectors_256" not in manifest["counts"]


def test_build_refuses_a_catalog_without_vectors_and_leaves_nothing(catalog, tmp_path):
    root = tmp_path / "kb"
    with pytest.raises(FailedPrecondition, match="no other/1 vectors"):
        kb.build_kb(catalog, "other/1", root)
    assert not root.exists() or list(root.iterdir()) == []


def test_a_build_that_fails_midway_leaves_no_version_and_no_staging(catalog, tmp_path):
    root = tmp_path / "kb"

    def broken(vectors):
        raise MemoryError("encoder died")

    with pytest.raises(MemoryError):
        kb.build_kb(catalog, EMBEDDER_ID, root, encoder=kb.VersionedEncoder("bad", broken))
    assert list(root.iterdir()) == []
    assert kb.list_kbs(root) == []


def test_a_write_during_the_snapshot_makes_build_read_again(catalog, books, tmp_path, monkeypatch):
    read_vectors = catalog.load_vectors
    late = Book(id="7", title="Arrived Mid-Build", authors=("Someone",))

    def load_vectors_racing_a_write(embedder_id):
        result = read_vectors(embedder_id)
        if catalog.count_books() == len(books):
            catalog.upsert_books([late])  # lands after the books were read
        return result

    monkeypatch.setattr(catalog, "load_vectors", load_vectors_racing_a_write)
    directory = kb.build_kb(catalog, EMBEDDER_ID, tmp_path / "kb")
    manifest = mf.read(directory)
    assert manifest["counts"]["books"] == len(books) + 1
    assert manifest["catalog_version"] == catalog.version()
    assert "7" in {b.id for b in export.read_csv(directory / "catalog.csv")}


def test_a_catalog_that_never_stops_changing_is_refused(catalog, tmp_path, monkeypatch):
    versions = iter(range(100))
    monkeypatch.setattr(catalog, "version", lambda: next(versions))
    with pytest.raises(Unavailable, match="changed during 3 snapshot attempts"):
        kb.build_kb(catalog, EMBEDDER_ID, tmp_path / "kb")


def _build(catalog, root, n):
    return [kb.build_kb(catalog, EMBEDDER_ID, root, keep=10).name for _ in range(n)]


def test_activate_and_rollback_walk_the_activation_history(catalog, tmp_path):
    root = tmp_path / "kb"
    v1, v2, v3 = _build(catalog, root, 3)
    assert [i.version for i in kb.list_kbs(root)] == [v1, v2, v3]
    assert kb.current_version(root) is None
    for version in (v1, v3, v2):
        kb.activate(root, version)
    assert kb.current_version(root) == v2
    assert [i.version for i in kb.list_kbs(root) if i.active] == [v2]
    assert kb.rollback(root).version == v3
    assert kb.rollback(root).version == v1
    with pytest.raises(FailedPrecondition, match="nothing to roll back"):
        kb.rollback(root)
    assert kb.current_version(root) == v1


def test_rollback_with_nothing_activated_is_refused(tmp_path):
    with pytest.raises(FailedPrecondition, match="was ever activated"):
        kb.rollback(tmp_path / "kb")


def test_activating_a_corrupt_version_is_refused_and_keeps_the_pointer(catalog, tmp_path):
    root = tmp_path / "kb"
    good, bad = _build(catalog, root, 2)
    kb.activate(root, good)
    with open(root / bad / "vectors_2688.npy", "r+b") as f:
        f.seek(200)
        f.write(b"\xff\xff\xff\xff")
    with pytest.raises(mf.ArtifactIntegrityError, match="vectors_2688.npy does not match"):
        kb.activate(root, bad)
    assert kb.current_version(root) == good
    with pytest.raises(NotFound, match="no knowledge base 'missing'"):
        kb.activate(root, "missing")


def test_rollback_skips_versions_that_are_corrupt_or_gone(catalog, tmp_path):
    root = tmp_path / "kb"
    v1, v2, v3, v4 = _build(catalog, root, 4)
    for version in (v1, v2, v3, v4):
        kb.activate(root, version)
    (root / v3 / "ids.json").write_text("[]")
    kb.prune(root, keep=1)  # v1..v3 go; v4 is both the newest and the active one
    assert [i.version for i in kb.list_kbs(root)] == [v4]
    with pytest.raises(FailedPrecondition):
        kb.rollback(root)
    assert kb.current_version(root) == v4

    v5, v6 = _build(catalog, root, 2)
    kb.activate(root, v5)
    kb.activate(root, v6)
    (root / v5 / "ids.json").write_text("[]")
    assert kb.rollback(root).version == v4  # v5 is corrupt, so the step goes past it


def test_prune_keeps_the_newest_k_and_always_the_active_one(catalog, tmp_path):
    root = tmp_path / "kb"
    v1, v2, v3, v4 = _build(catalog, root, 4)
    kb.activate(root, v1)
    assert kb.prune(root, keep=2) == [v2]
    assert [i.version for i in kb.list_kbs(root)] == [v1, v3, v4]


def test_build_prunes_to_keep(catalog, tmp_path):
    root = tmp_path / "kb"
    for _ in range(4):
        kb.build_kb(catalog, EMBEDDER_ID, root, keep=2)
    assert len(kb.list_kbs(root)) == 2


def test_prune_clears_only_stale_staging_directories(tmp_path):
    root = tmp_path / "kb"
    stale, fresh = root / f"{atomic.TEMP_PREFIX}v1.abc", root / f"{atomic.TEMP_PREFIX}v2.def"
    stale.mkdir(parents=True)
    fresh.mkdir()
    old = time.time() - kb.STALE_STAGING_S - 60
    os.utime(stale, (old, old))
    kb.prune(root, keep=1)
    assert not stale.exists() and fresh.exists()


def test_load_kb_verifies_and_loads_the_active_version(catalog, encoder, embedded_ids, tmp_path):
    root = tmp_path / "kb"
    with pytest.raises(FailedPrecondition, match="no active knowledge base"):
        kb.load_kb(root)
    version = kb.build_kb(catalog, EMBEDDER_ID, root, encoder=encoder).name
    kb.activate(root, version)
    loaded = kb.load_kb(root)
    assert loaded.version == version and loaded.ids == embedded_ids
    assert {d: v.shape for d, v in loaded.vectors.items()} == {256: (5, 256), DIM: (5, DIM)}
    assert {d: i.ntotal for d, i in loaded.indexes.items()} == {256: 5, DIM: 5}


def test_load_kb_refuses_files_that_disagree_with_each_other(catalog, embedded_ids, tmp_path):
    # sha256s match (the manifest is re-sealed), but ids and vectors no longer line up.
    root = tmp_path / "kb"
    directory = kb.build_kb(catalog, EMBEDDER_ID, root)
    manifest = mf.read(directory)
    (directory / "ids.json").write_text(json.dumps(embedded_ids[:4]))
    mf.seal(directory, "kb", directory.name, counts=manifest["counts"])
    with pytest.raises(FailedPrecondition, match="4 ids"):
        kb.load_kb(root, directory.name)


def test_version_ids_sort_by_creation_time():
    import datetime as dt

    t = dt.datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=dt.timezone.utc)
    earlier, later = kb.new_version_id(t), kb.new_version_id(t + dt.timedelta(microseconds=1))
    assert earlier.startswith("20260102T030405000006Z-") and earlier < later
    mf.check_version(earlier)

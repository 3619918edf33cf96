"""The artifact registry contract, run against a folder and against GCS (gcp-storage-emulator).

The emulator is started by the `gcs_emulator` fixture on a free loopback port, with its data
in a temporary folder, and stopped when the module's tests are done.
"""
from __future__ import annotations

import dataclasses
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from smartlib_core import atomic, manifest as mf
from smartlib_core.domain import Book
from smartlib_core.embedding import DIM, EMBEDDER_ID
from smartlib_server.adapters.catalog_store import sqlite_store
from smartlib_server.artifacts import knowledge_base as kb
from smartlib_server.artifacts.registry import ArtifactNotFound, GcsRegistry, LocalRegistry


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclasses.dataclass(frozen=True)
class Emulator:
    endpoint: str
    objects: Path  # where the emulator keeps object bytes: <objects>/<bucket>/<name>


@pytest.fixture(scope="module")
def gcs_emulator(tmp_path_factory) -> Iterator[Emulator]:
    pytest.importorskip("gcp_storage_emulator")
    pytest.importorskip("google.cloud.storage")
    data = tmp_path_factory.mktemp("gcs-emulator")
    port = _free_port()
    log = open(data / "emulator.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "gcp_storage_emulator", "-d", str(data / "store"), "start",
         "--host", "127.0.0.1", "--port", str(port), "-q"],
        stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"gcp-storage-emulator did not start: {(data / 'emulator.log').read_text()[-2000:]}")
                time.sleep(0.1)
        yield Emulator(f"http://127.0.0.1:{port}", data / "store" / ".cloudstorage")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        log.close()


class Backend:
    """A registry plus direct access to its stored objects, to damage them behind its back."""

    def __init__(self, registry, put, delete, keys, bucket=""):
        self.registry, self.put, self.delete, self.keys, self.bucket = registry, put, delete, keys, bucket


def _local_backend(root: Path) -> Backend:
    registry = LocalRegistry(root)
    return Backend(
        registry,
        put=lambda key, data: (root / key).write_bytes(data),
        delete=lambda key: (root / key).unlink(),
        keys=lambda: sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()),
    )


def _gcs_backend(endpoint: str) -> Backend:
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    client = storage.Client(project="test", credentials=AnonymousCredentials(), client_options={"api_endpoint": endpoint})
    bucket = client.create_bucket(f"smartlib-{uuid.uuid4().hex[:12]}")  # one bucket per test
    return Backend(
        GcsRegistry(bucket.name, endpoint),
        put=lambda key, data: bucket.blob(key).upload_from_string(data),
        delete=lambda key: bucket.blob(key).delete(),
        keys=lambda: sorted(b.name for b in client.list_blobs(bucket)),
        bucket=bucket.name,
    )


@pytest.fixture(params=["local", "gcs"])
def backend(request, tmp_path) -> Backend:
    if request.param == "local":
        return _local_backend(tmp_path / "registry")
    return _gcs_backend(request.getfixturevalue("gcs_emulator").endpoint)


@pytest.fixture
def kb_version(tmp_path) -> Path:
    """A real knowledge-base version built from a five-book catalog with random vectors."""
    store = sqlite_store(tmp_path / "c.db")
    try:
        books = [Book(id=str(i), title=f"Book {i}", authors=(f"Author {i}",), genres=("Fantasy",)) for i in range(5)]
        store.upsert_books(books)
        rng = np.random.default_rng(3)
        store.put_vectors(EMBEDDER_ID, [(b.id, "h", rng.standard_normal(DIM).astype(np.float32)) for b in books])
        return kb.build_kb(store, EMBEDDER_ID, tmp_path / "built")
    finally:
        store.close()


def _no_leftovers(dest: Path) -> bool:
    return not dest.exists() or not any(p.name.startswith(atomic.TEMP_PREFIX) for p in dest.iterdir())


def test_push_pull_round_trip(backend, kb_version, tmp_path):
    version = kb_version.name
    info = backend.registry.push("kb", kb_version)
    assert (info.kind, info.version, info.files) == ("kb", version, 5)  # catalog x2, ids, vectors, index
    assert info.bytes == sum(p.stat().st_size for p in kb_version.iterdir() if p.name != mf.MANIFEST)
    assert [i.version for i in backend.registry.list_versions("kb")] == [version]
    assert backend.registry.list_versions("encoder") == []

    dest = tmp_path / "pulled"
    pulled = backend.registry.pull("kb", version, dest)
    assert pulled == dest / version
    for original in kb_version.iterdir():
        assert (pulled / original.name).read_bytes() == original.read_bytes()
    kb.activate(dest, version)  # re-verifies every file on this side
    assert kb.load_kb(dest).ids == ["0", "1", "2", "3", "4"]
    assert _no_leftovers(dest)


def test_the_manifest_is_uploaded_last(backend, kb_version, monkeypatch):
    order = []
    upload, upload_bytes = backend.registry._upload, backend.registry._upload_bytes
    monkeypatch.setattr(backend.registry, "_upload", lambda src, key: (order.append(key), upload(src, key)))
    monkeypatch.setattr(backend.registry, "_upload_bytes", lambda data, key: (order.append(key), upload_bytes(data, key)))
    backend.registry.push("kb", kb_version)
    assert len(order) == 6 and order[-1] == f"kb/{kb_version.name}/{mf.MANIFEST}"


@pytest.mark.parametrize("damage", ["overwritten", "deleted"])
def test_a_corrupted_object_is_refused(backend, kb_version, tmp_path, damage):
    version = kb_version.name
    backend.registry.push("kb", kb_version)
    key = f"kb/{version}/vectors_{DIM}.npy"
    if damage == "overwritten":
        backend.put(key, b"\x93NUMPY not the vectors you stored")
    else:
        backend.delete(key)
    dest = tmp_path / "pulled"
    with pytest.raises(mf.ArtifactIntegrityError, match=f"vectors_{DIM}.npy"):
        backend.registry.pull("kb", version, dest)
    assert not (dest / version).exists()
    assert _no_leftovers(dest)


def test_an_interrupted_push_leaves_nothing_a_pull_would_take(backend, kb_version, tmp_path, monkeypatch):
    version = kb_version.name
    real_upload = backend.registry._upload
    uploads = []

    def upload_then_die(source, key):
        if len(uploads) == 3:
            raise ConnectionResetError("network dropped mid-push")
        uploads.append(key)
        real_upload(source, key)

    monkeypatch.setattr(backend.registry, "_upload", upload_then_die)
    with pytest.raises(ConnectionResetError):
        backend.registry.push("kb", kb_version)
    stored = backend.keys()
    assert stored == sorted(uploads) and len(stored) == 3  # the interruption happened partway
    assert f"kb/{version}/{mf.MANIFEST}" not in stored

    assert backend.registry.list_versions("kb") == []
    dest = tmp_path / "pulled"
    with pytest.raises(ArtifactNotFound, match="never finished"):
        backend.registry.pull("kb", version, dest)
    assert not (dest / version).exists() and _no_leftovers(dest)

    monkeypatch.setattr(backend.registry, "_upload", real_upload)  # the retry completes the version
    backend.registry.push("kb", kb_version)
    assert [i.version for i in backend.registry.list_versions("kb")] == [version]
    assert mf.verify(backend.registry.pull("kb", version, dest))


def test_bytes_rotting_inside_the_bucket_are_refused(gcs_emulator, kb_version, tmp_path):
    # Damage below the API: GCS still reports the original checksum, the bytes differ.
    backend = _gcs_backend(gcs_emulator.endpoint)
    backend.registry.push("kb", kb_version)
    stored = gcs_emulator.objects / backend.bucket / "kb" / kb_version.name / "ids.json"
    stored.write_bytes(stored.read_bytes().replace(b'"0"', b'"9"'))
    dest = tmp_path / "pulled"
    with pytest.raises(mf.ArtifactIntegrityError, match="ids.json is corrupt in storage"):
        backend.registry.pull("kb", kb_version.name, dest)
    assert not (dest / kb_version.name).exists() and _no_leftovers(dest)

"""Faults the server must ride out without a restart: PostgreSQL dropping its connections, and a
disk that fills up while a knowledge-base version is written.

Redis stopped or frozen: tests/integration/test_redis_faults.py. TorchServe killed:
tests/integration/test_torchserve.py. Both are listed in docs/hardening.md.
"""
from __future__ import annotations

import dataclasses
import shutil
import subprocess
import uuid

import pytest

from smartlib.v1 import (
    books_pb2,
    catalog_service_pb2 as cs,
    catalog_service_pb2_grpc,
    recommend_service_pb2 as rs,
    recommend_service_pb2_grpc,
)
from smartlib_core.embedding import EMBEDDER_ID
from smartlib_server.adapters.catalog_store import open_store

ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"


def _terminate(application_name: str) -> int:
    """Kills every PostgreSQL backend of this test's server, the way a database restart would."""
    import psycopg

    with psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=3) as admin:
        rows = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s AND pid <> pg_backend_pid()",
            (application_name,),
        ).fetchall()
    return sum(1 for (ok,) in rows if ok)


def test_postgres_connections_killed_under_the_server_recover_on_the_next_call(make_server, settings, postgres_url):
    # Our own application_name lets us kill this server's connections and no one else's.
    name = f"smartlib-fault-{uuid.uuid4().hex[:8]}"
    url = f"{postgres_url}&application_name={name}"
    server = make_server(dataclasses.replace(settings, database_url=url))
    with server.channel() as channel:
        catalog = catalog_service_pb2_grpc.CatalogServiceStub(channel)
        recommend = recommend_service_pb2_grpc.RecommendServiceStub(channel)
        books = [books_pb2.Book(title=f"Fault Line {i}", authors=["Pg Terminate"], description=f"Book {i} about outages.",
                                genres=["Thriller"]) for i in range(3)]
        ids = list(catalog.UpsertBooks(cs.UpsertBooksRequest(books=books), timeout=120).ids)
        for round_ in range(3):
            assert _terminate(name) >= 1, "the server held no connection to kill"
            # The very next call of each kind succeeds: no error reaches the caller.
            assert catalog.GetBook(cs.GetBookRequest(id=ids[0]), timeout=30).id == ids[0]
            reply = catalog.UpsertBooks(cs.UpsertBooksRequest(books=[books_pb2.Book(
                title=f"After Outage {round_}", authors=["Pg Terminate"], genres=["Thriller"])]), timeout=120)
            ids += reply.ids
            assert len(catalog.ListBooks(cs.ListBooksRequest(page_size=100), timeout=30).books) == len(ids)
            similar = recommend.SimilarBooks(rs.SimilarBooksRequest(book_id=ids[0], k=2), timeout=30)
            assert similar.items
    store = open_store(url, settings.sqlite_path)
    try:
        assert store.integrity_check() == []
    finally:
        store.close()


# -- disk full while writing artifacts ----------------------------------------------------------
@pytest.fixture
def small_disk(tmp_path):
    """A 16 MiB tmpfs: root can mount one in this container; elsewhere the test is skipped."""
    mount = tmp_path / "small"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mount)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip()}); needs root or CAP_SYS_ADMIN")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_disk_full_while_writing_a_knowledge_base(small_disk, starter_sqlite):
    kb = pytest.importorskip("smartlib_server.artifacts.knowledge_base")
    root = small_disk / "kb"
    store = open_store("", starter_sqlite)
    try:
        filler = small_disk / "filler"
        filler.write_bytes(b"\0" * (8 << 20))  # leaves room for exactly one ~7 MiB version
        first = kb.build_kb(store, EMBEDDER_ID, root)
        kb.activate(root, first.name)
        with pytest.raises(OSError):  # ENOSPC, or numpy's short-write OSError, which carries no errno
            kb.build_kb(store, EMBEDDER_ID, root)
        # No half-written version is visible, the staging files are gone, the active one still loads.
        assert [i.version for i in kb.list_kbs(root)] == [first.name]
        assert sorted(p.name for p in root.iterdir()) == sorted([first.name, kb.POINTER])
        assert kb.load_kb(root).version == first.name
        filler.unlink()  # the operator frees space; the next build works in the same process
        second = kb.build_kb(store, EMBEDDER_ID, root)
        kb.activate(root, second.name)
        assert kb.load_kb(root).version == second.name and len(kb.load_kb(root).ids) == 300
    finally:
        store.close()
        shutil.rmtree(root, ignore_errors=True)

"""Two real server processes sharing PostgreSQL: writes and deletes on A reach B within 1 s,
and a replica that was frozen catches up when it runs again."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import grpc
import pytest

from smartlib.v1 import (
    books_pb2,
    catalog_service_pb2 as cs,
    catalog_service_pb2_grpc,
    recommend_service_pb2 as rs,
    recommend_service_pb2_grpc,
)
from smartlib_bench.process_bench import stop_server
from smartlib_core.embedding import EMBEDDER_ID
from smartlib_server.adapters.catalog_store import postgres_store, sqlite_store

from .test_server_process import _free_port, _wait_serving

pytestmark = pytest.mark.postgres
VISIBLE_WITHIN_S = 1.0


@pytest.fixture
def shared_catalog(postgres_url, starter_sqlite):
    """The embedded starter catalog copied into a fresh PostgreSQL schema."""
    source, target = sqlite_store(starter_sqlite), postgres_store(postgres_url)
    books = source.all_books()
    ids, matrix = source.load_vectors(EMBEDDER_ID)
    hashes = source.vector_hashes(EMBEDDER_ID)
    vectors = {book_id: (hashes[book_id], matrix[row]) for row, book_id in enumerate(ids)}
    target.upsert_books(books, vectors, EMBEDDER_ID)
    source.close()
    target.close()
    return postgres_url


@pytest.fixture
def replicas(shared_catalog, tmp_path, seed_compiled):
    procs = []
    addresses = []
    for name in ("a", "b"):
        port = _free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("SMARTLIB_")}
        env.update(
            SMARTLIB_HOME=str(seed_compiled(tmp_path / name)), SMARTLIB_GRPC_PORT=str(port), SMARTLIB_DATABASE_URL=shared_catalog,
            SMARTLIB_MODEL_STORE=str(tmp_path / "model_store"), HF_HUB_OFFLINE="1",
        )
        log = open(tmp_path / f"{name}.log", "w")
        proc = subprocess.Popen([sys.executable, "-m", "smartlib_server", "serve"], env=env, stdout=log, stderr=subprocess.STDOUT)
        procs.append((proc, log))
        addresses.append(f"127.0.0.1:{port}")
    try:
        for address in addresses:
            _wait_serving(address, "smartlib.v1.RecommendService", timeout=120)
        yield addresses, [p for p, _ in procs]
    finally:
        for proc, log in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGCONT)  # a test may have paused it
                stop_server(proc)
            log.close()


def _until(predicate, timeout: float) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if predicate():
            return time.monotonic() - start
        time.sleep(0.02)
    raise AssertionError(f"not true within {timeout}s")


def _new_book(title: str) -> books_pb2.Book:
    return books_pb2.Book(
        title=title, authors=["Replica Tester"], genres=["Fantasy", "Magic"],
        description="A cartographer maps a floating archipelago where every island keeps one forgotten spell.",
    )


def test_upsert_and_delete_on_a_reach_b_within_a_second(replicas):
    (a, b), _ = replicas
    with grpc.insecure_channel(a) as ca, grpc.insecure_channel(b) as cb:
        catalog_a = catalog_service_pb2_grpc.CatalogServiceStub(ca)
        recommend_b = recommend_service_pb2_grpc.RecommendServiceStub(cb)
        catalog_b = catalog_service_pb2_grpc.CatalogServiceStub(cb)
        book_id = catalog_a.UpsertBooks(cs.UpsertBooksRequest(books=[_new_book("The Archipelago Cartographer")])).ids[0]
        acked = time.monotonic()

        def served_by_b() -> bool:
            try:
                return len(recommend_b.SimilarBooks(rs.SimilarBooksRequest(book_id=book_id, k=3)).items) == 3
            except grpc.RpcError as err:
                assert err.code() == grpc.StatusCode.NOT_FOUND
                return False

        _until(served_by_b, 10)
        upsert_lag = time.monotonic() - acked
        assert upsert_lag < VISIBLE_WITHIN_S, f"B served the upsert after {upsert_lag:.2f}s"
        assert catalog_b.SearchBooks(cs.SearchBooksRequest(query="archipelago cartographer", limit=1)).books[0].id == book_id

        catalog_a.DeleteBook(cs.DeleteBookRequest(id=book_id))
        acked = time.monotonic()
        _until(lambda: not served_by_b(), 10)
        delete_lag = time.monotonic() - acked
        assert delete_lag < VISIBLE_WITHIN_S, f"B still served the deleted book after {delete_lag:.2f}s"
        print(f"replica lag: upsert {upsert_lag * 1000:.0f} ms, delete {delete_lag * 1000:.0f} ms")


def _drop_listener(proc: subprocess.Popen, database_url: str) -> int:
    """Terminates the PostgreSQL session in which `proc` LISTENs, so the notifications sent
    until it reconnects never reach it. Returns how many sessions were ended."""
    import psutil
    import psycopg

    ports = [c.laddr.port for c in psutil.Process(proc.pid).net_connections(kind="tcp") if c.raddr and c.raddr.port == 5432]
    with psycopg.connect(database_url, autocommit=True) as admin:
        rows = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'LISTEN%%' AND client_port = ANY(%s)",
            (ports,),
        ).fetchall()
    return sum(1 for (ended,) in rows if ended)


def test_a_replica_that_misses_notifications_catches_up_by_polling(replicas, shared_catalog):
    (a, b), (_, proc_b) = replicas
    with grpc.insecure_channel(a) as ca, grpc.insecure_channel(b) as cb:
        catalog_a = catalog_service_pb2_grpc.CatalogServiceStub(ca)
        catalog_b = catalog_service_pb2_grpc.CatalogServiceStub(cb)
        # SIGSTOP alone loses nothing: PostgreSQL queues a frozen listener's notifications. Ending
        # B's LISTEN session while it is frozen does: the writes below notify nobody on B's side.
        proc_b.send_signal(signal.SIGSTOP)
        try:
            assert _drop_listener(proc_b, shared_catalog) == 1
            ids = catalog_a.UpsertBooks(cs.UpsertBooksRequest(books=[_new_book(f"Frozen Replica Atlas {n}") for n in range(3)])).ids
        finally:
            proc_b.send_signal(signal.SIGCONT)

        def b_has_all() -> bool:
            for book_id in ids:
                try:
                    catalog_b.GetBook(cs.GetBookRequest(id=book_id))
                except grpc.RpcError:
                    return False
            recommend = recommend_service_pb2_grpc.RecommendServiceStub(cb)
            try:  # the store is shared, so GetBook sees the books before B's index does
                return all(len(recommend.SimilarBooks(rs.SimilarBooksRequest(book_id=i, k=2)).items) == 2 for i in ids)
            except grpc.RpcError as err:
                assert err.code() == grpc.StatusCode.NOT_FOUND
                return False

        _until(b_has_all, 10)


def test_an_activation_on_a_switches_b(replicas, tmp_path, starter_sqlite, ranked_store):
    """Both replicas share a model store; activating a version through A's AdminService makes B serve it."""
    import shutil

    from smartlib.v1 import admin_service_pb2 as ad, admin_service_pb2_grpc

    store = sqlite_store(starter_sqlite)
    ids, _ = store.load_vectors(EMBEDDER_ID)
    store.close()
    version = ranked_store[1]  # the session's starter encoder, new to both replicas' shared store
    shutil.copytree(ranked_store[0] / "encoder" / version, tmp_path / "model_store" / "encoder" / version)
    (a, b), _ = replicas
    with grpc.insecure_channel(a) as ca, grpc.insecure_channel(b) as cb:
        admin_service_pb2_grpc.AdminServiceStub(ca).ActivateVersion(
            ad.ActivateVersionRequest(kind=ad.VERSION_KIND_ENCODER, version=version), timeout=120)
        acked = time.monotonic()
        recommend_b = recommend_service_pb2_grpc.RecommendServiceStub(cb)
        book_id = ids[0]

        def b_serves_it() -> bool:
            reply = recommend_b.SimilarBooks(rs.SimilarBooksRequest(book_id=book_id, k=3, approach=books_pb2.APPROACH_UNSPECIFIED))
            return reply.approach == books_pb2.APPROACH_FINETUNED and version in reply.model_version

        _until(b_serves_it, 30)
        print(f"activation reached replica B after {(time.monotonic() - acked) * 1000:.0f} ms")


def test_an_interaction_recorded_on_a_reaches_b_recommendations_within_a_follower_round(replicas):
    """B keeps the user's history in memory (adapters/history_cache.py); A's write reaches it by
    B's change follower, so a book the user read on A leaves B's answers within about a round."""
    from smartlib.v1 import interaction_service_pb2 as ints, interaction_service_pb2_grpc

    (a, b), _ = replicas
    with grpc.insecure_channel(a) as ca, grpc.insecure_channel(b) as cb:
        record_a = interaction_service_pb2_grpc.InteractionServiceStub(ca).RecordInteractions
        recommend_b = recommend_service_pb2_grpc.RecommendServiceStub(cb).RecommendForUser
        catalog_b = catalog_service_pb2_grpc.CatalogServiceStub(cb)
        liked = catalog_b.ListBooks(cs.ListBooksRequest(page_size=1)).books[0].id

        def event(book_id, kind):
            return ints.RecordInteractionsRequest(interactions=[ints.Interaction(user_id="rita", book_id=book_id, kind=kind)])
        assert record_a(event(liked, ints.INTERACTION_KIND_LIKE)).accepted == 1
        first = recommend_b(rs.RecommendForUserRequest(user_id="rita", k=5)).items[0].book.id  # B now keeps her history
        assert record_a(event(first, ints.INTERACTION_KIND_READ)).accepted == 1
        acked = time.monotonic()
        _until(lambda: first not in [i.book.id for i in recommend_b(rs.RecommendForUserRequest(user_id="rita", k=5)).items], 20)
        lag = time.monotonic() - acked
        assert lag < 2 * VISIBLE_WITHIN_S, f"B still recommended the read book after {lag:.2f}s"

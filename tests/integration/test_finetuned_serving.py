"""A tiny encoder trained on the starter catalog, served, hot-swapped and rolled back over gRPC."""
from __future__ import annotations

import dataclasses
import threading

import grpc
import pytest

from smartlib.v1 import admin_service_pb2 as ad, admin_service_pb2_grpc, books_pb2, recommend_service_pb2 as rs, recommend_service_pb2_grpc

ENCODER = ad.VERSION_KIND_ENCODER


@pytest.fixture(scope="module")
def trained_store(two_encoders):
    """Two encoder versions without a reader ranker (tests/conftest.py): these tests cover the
    neighbour-table path (test_reader_ranking_serving.py covers the ranked one)."""
    return two_encoders


@pytest.fixture
def served(make_server, starter_settings, trained_store):
    root, versions = trained_store
    settings = dataclasses.replace(starter_settings, model_store=root, encoder_version=versions[0])
    server = make_server(settings)
    with server.channel() as channel:
        yield server, channel, versions


def _hobbit_id(server) -> str:
    return next(b.id for b in server.services.index.books.values() if b.title.startswith("The Hobbit"))


def test_finetuned_is_the_default_once_a_model_is_active(served):
    server, channel, versions = served
    recommend = recommend_service_pb2_grpc.RecommendServiceStub(channel)
    hobbit = _hobbit_id(server)
    reply = recommend.SimilarBooks(rs.SimilarBooksRequest(book_id=hobbit, k=10))
    assert reply.approach == books_pb2.APPROACH_FINETUNED
    assert versions[0] in reply.model_version
    assert sum("Fantasy" in item.book.genres for item in reply.items) >= 7
    baseline = recommend.SimilarBooks(rs.SimilarBooksRequest(book_id=hobbit, k=10, approach=books_pb2.APPROACH_BASELINE))
    assert baseline.approach == books_pb2.APPROACH_BASELINE
    text = recommend.SearchByText(rs.SearchByTextRequest(query="space opera about galactic empires", k=5))
    assert text.approach == books_pb2.APPROACH_FINETUNED and len(text.items) == 5


def test_twenty_swaps_under_load_one_corrupt_zero_failures(served, trained_store):
    server, channel, versions = served
    root, _ = trained_store
    corrupt = root / "encoder" / "corrupt-copy"
    import shutil

    shutil.copytree(root / "encoder" / versions[1], corrupt)
    weights = corrupt / "encoder.safetensors"
    data = bytearray(weights.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 64] = bytes(255 - b for b in data[middle : middle + 64])  # same size, wrong bytes
    weights.write_bytes(bytes(data))

    recommend = recommend_service_pb2_grpc.RecommendServiceStub(channel)
    admin = admin_service_pb2_grpc.AdminServiceStub(channel)
    hobbit = _hobbit_id(server)
    stop = threading.Event()
    failures: list[str] = []
    seen_versions: set[str] = set()

    def load() -> None:
        k = 5
        while not stop.is_set():
            k = 5 + (k - 4) % 90  # distinct requests, so the answer cache does not hide swaps
            try:
                reply = recommend.SimilarBooks(rs.SimilarBooksRequest(book_id=hobbit, k=k), timeout=10)
                seen_versions.add(reply.model_version.split("encoder:")[1].split("@")[0])
            except grpc.RpcError as err:
                failures.append(err.code().name)

    workers = [threading.Thread(target=load) for _ in range(4)]
    for worker in workers:
        worker.start()
    refused = 0
    try:
        for n in range(20):
            target = "corrupt-copy" if n == 10 else versions[n % 2]
            try:
                reply = admin.ActivateVersion(ad.ActivateVersionRequest(kind=ENCODER, version=target), timeout=60)
                assert reply.active.version == target
            except grpc.RpcError as err:
                assert target == "corrupt-copy", err
                assert err.code() == grpc.StatusCode.FAILED_PRECONDITION
                assert "sha256" in err.details() or "refused" in err.details()
                refused += 1
    finally:
        stop.set()
        for worker in workers:
            worker.join()
    assert refused == 1
    assert failures == []
    assert seen_versions <= set(versions), seen_versions  # every response names one real version
    assert server.services.index.finetuned.version == versions[1]  # the last good activation


def test_rollback_and_listing(served):
    server, channel, versions = served
    admin = admin_service_pb2_grpc.AdminServiceStub(channel)
    admin.ActivateVersion(ad.ActivateVersionRequest(kind=ENCODER, version=versions[1]))
    back = admin.Rollback(ad.RollbackRequest(kind=ENCODER))
    assert back.active.version == versions[0] and back.previous_version == versions[1]
    listed = admin.ListVersions(ad.ListVersionsRequest(kind=ENCODER)).versions
    assert {v.version for v in listed} >= set(versions)
    assert [v.version for v in listed if v.active] == [versions[0]]
    assert any(key.startswith("finetuned/") for key in listed[0].metrics)
    with pytest.raises(grpc.RpcError) as info:
        admin.ActivateVersion(ad.ActivateVersionRequest(kind=ENCODER, version="../../etc"))
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.RpcError) as info:
        admin.ActivateVersion(ad.ActivateVersionRequest(kind=ENCODER, version="no-such-version"))
    assert info.value.code() == grpc.StatusCode.NOT_FOUND
    stats = admin.GetStats(ad.GetStatsRequest())
    assert stats.active_versions["encoder"] == versions[0] and stats.index_sizes["finetuned"] == stats.books


def test_neighbour_table_answers_exactly_like_a_full_search(served):
    """SimilarBooks from the precomputed table (no search, event-loop safe) must equal the
    answer a FAISS search gives, through filters and re-ranking; what the table cannot answer
    without blocking it refuses with WouldBlock."""
    import numpy as np

    from smartlib_core.domain import Approach, BookFilter
    from smartlib_server.services.recommend import RecommendService, WouldBlock
    from smartlib_server.services.recommend.serving_index import ServingIndex
    from smartlib_server.services.recommend.vector_index import VectorIndex

    server, _, _ = served
    live = server.services.recommend
    # A write first, so the table's incremental upkeep (new vector, new prior) is compared too.
    some = sorted(server.services.index.books.values(), key=lambda b: b.id)[7]
    server.services.catalog.upsert_books([dataclasses.replace(some, num_ratings=some.num_ratings * 50 + 1000,
                                                              description=some.description + " Retold.")])
    state = server.services.index.state
    finetuned = state.finetuned
    assert finetuned.popularity_weight > 0  # so the table's re-ranking is compared too
    ids = sorted(state.books)
    plain = VectorIndex(256)  # no table: every request searches
    plain.upsert(ids, np.stack([finetuned.index.vector(i) for i in ids]))
    searching_index = ServingIndex(server.services.store, server.services.index.titles)
    searching_index.state = dataclasses.replace(state, finetuned=dataclasses.replace(finetuned, index=plain))
    searching_index.ready.set()
    searching = RecommendService(searching_index, live.inference)

    fantasy = BookFilter(include_genres=frozenset({"fantasy"}))
    filters = [BookFilter(), BookFilter(exclude_ids=frozenset(ids[:40])), BookFilter(min_avg_rating=4.0), fantasy]
    compared = 0
    for book_id in ids[::15]:
        for k in (1, 5, 10, 20):
            for filt in filters:
                try:
                    fast = live.similar_books(book_id, k, Approach.FINETUNED, filt, wait=False)
                except WouldBlock:
                    continue  # a selective filter widened the candidates past the table
                slow = searching.similar_books(book_id, k, Approach.FINETUNED, filt)
                assert [i.book.id for i in fast.items] == [i.book.id for i in slow.items], (book_id, k, filt)
                np.testing.assert_allclose([i.score for i in fast.items], [i.score for i in slow.items], atol=1e-5)
                compared += 1
    assert compared >= 60  # most combinations are answered from the table

    hobbit = _hobbit_id(server)
    with pytest.raises(WouldBlock):  # (50 + 1) x 4 candidates: deeper than the 100-deep table
        live.similar_books(hobbit, 50, Approach.FINETUNED, BookFilter(), wait=False)
    assert len(live.similar_books(hobbit, 50, Approach.FINETUNED, BookFilter()).items) == 50  # searched instead
    with pytest.raises(WouldBlock):  # baseline has no table
        live.similar_books(hobbit, 5, Approach.BASELINE, BookFilter(), wait=False)
    before = live.similar_books(hobbit, 5, Approach.FINETUNED, BookFilter(), wait=False)
    with finetuned.index._lock.write():  # a write in progress: never wait for it on the event loop
        with pytest.raises(WouldBlock):  # k=7: a pool size no request has read for this book yet
            live.similar_books(hobbit, 7, Approach.FINETUNED, BookFilter(), wait=False)
        # A row read before the write began still answers: the write has not happened yet.
        assert live.similar_books(hobbit, 5, Approach.FINETUNED, BookFilter(), wait=False) == before


def test_table_answers_follow_catalog_writes(served):
    """Table answers are kept per book (services/recommend/similar_rows.py); a write must never leave
    them naming a book as it was, or a book that is gone."""
    from smartlib_core.domain import Approach, BookFilter

    server, _, _ = served
    live, catalog = server.services.recommend, server.services.catalog
    hobbit = _hobbit_id(server)
    first = live.similar_books(hobbit, 5, Approach.FINETUNED, BookFilter(), wait=False)
    neighbour = first.items[0].book
    catalog.upsert_books([dataclasses.replace(neighbour, title=neighbour.title + " (Revised)")])
    renamed = live.similar_books(hobbit, 5, Approach.FINETUNED, BookFilter(), wait=False)
    assert renamed.items[0].book.title == neighbour.title + " (Revised)"
    assert renamed.model_version != first.model_version  # names the catalog version it read
    catalog.delete_book(neighbour.id)
    after = live.similar_books(hobbit, 5, Approach.FINETUNED, BookFilter(), wait=False)
    assert neighbour.id not in [i.book.id for i in after.items]
    assert [i.book.id for i in after.items[:4]] == [i.book.id for i in first.items[1:]]


def test_restarts_reuse_derived_arrays_and_rebuild_index_recomputes_them(served):
    """The 256-d encodings and the neighbour table are stored in SMARTLIB_HOME/derived; a
    restart (Services.load) takes them as they are, RebuildIndex computes them afresh."""
    import numpy as np

    server, channel, _ = served
    [stored] = (server.services.settings.home / "derived").glob("*.npz")
    recommend = recommend_service_pb2_grpc.RecommendServiceStub(channel)
    hobbit = _hobbit_id(server)

    def similar() -> list[str]:
        request = rs.SimilarBooksRequest(book_id=hobbit, k=8, approach=books_pb2.APPROACH_FINETUNED,
                                         filter=books_pb2.BookFilter(exclude_ids=[f"x{np.random.rand()}"]))
        return [item.book.id for item in recommend.SimilarBooks(request).items]

    right = similar()
    with np.load(stored) as arrays:  # well-formed but wrong: every row's neighbours shifted by one book
        tampered = {name: arrays[name] for name in arrays.files}
    tampered["positions"] = (tampered["positions"] + 1) % len(tampered["positions"])
    with stored.open("wb") as out:
        np.savez(out, **tampered)
    server.services.load()
    assert similar() != right  # a restart trusts its key, so it served the tampered rows
    admin = admin_service_pb2_grpc.AdminServiceStub(channel)
    assert admin.RebuildIndex(ad.RebuildIndexRequest()).books == len(server.services.index.books)
    assert similar() == right
    server.services.load()
    assert similar() == right  # and the rebuild stored what it computed

"""No stale answers over gRPC: after an upsert or a delete, cached SimilarBooks, SearchByText and
GetBook answers reflect the write, with the in-process cache and with Redis."""
from __future__ import annotations

import dataclasses
import uuid

import pytest
import redis

from smartlib.v1 import catalog_service_pb2 as cs, catalog_service_pb2_grpc, recommend_service_pb2 as rs, recommend_service_pb2_grpc

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def cached_server(request, make_server, starter_settings):
    """A loaded server whose answer cache is the parametrised backend; Redis keys are deleted after."""
    env = f"test-{uuid.uuid4().hex[:12]}"
    settings = dataclasses.replace(starter_settings, environment=env,
                                   redis_url=REDIS_URL if request.param == "redis" else "")
    server = make_server(settings)
    caching = server.services.caching
    assert caching is not None, "build_services must wire AnswerCaching (services.caching)"
    assert caching.cache.backend == request.param
    yield server
    if request.param == "redis":
        client = redis.Redis.from_url(REDIS_URL)
        keys = list(client.scan_iter(match=f"smartlib:{env}:*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()


def test_cached_answers_never_outlive_a_write(cached_server):
    caching = cached_server.services.caching
    with cached_server.channel() as channel:
        catalog = catalog_service_pb2_grpc.CatalogServiceStub(channel)
        recommend = recommend_service_pb2_grpc.RecommendServiceStub(channel)
        hobbit = catalog.SearchBooks(cs.SearchBooksRequest(query="the hobbit", limit=1)).books[0]

        def similar():
            return recommend.SimilarBooks(rs.SimilarBooksRequest(book_id=hobbit.id, k=10))

        def search():
            return recommend.SearchByText(rs.SearchByTextRequest(query="a hobbit goes on a quest with dwarves", k=10))

        first = similar()
        hits = caching.stats().hits
        assert similar() == first and caching.stats().hits == hits + 1  # served from the cache
        neighbour = first.items[0].book
        assert catalog.GetBook(cs.GetBookRequest(id=neighbour.id)) == neighbour
        searched = search()
        assert search() == searched

        # An upsert: every answer that shows the book shows the new version.
        renamed = type(neighbour)()
        renamed.CopyFrom(neighbour)
        renamed.title = neighbour.title + " (Revised Edition)"
        catalog.UpsertBooks(cs.UpsertBooksRequest(books=[renamed]))
        assert catalog.GetBook(cs.GetBookRequest(id=neighbour.id)).title == renamed.title
        after = similar()
        assert after.model_version != first.model_version
        titles = {item.book.id: item.book.title for item in after.items}
        assert titles.get(neighbour.id, renamed.title) == renamed.title
        assert neighbour.title not in {item.book.title for item in search().items}

        # A delete: no answer mentions the book any more.
        gone = after.items[1].book.id
        top_hit = next(item.book.id for item in search().items if item.book.id != hobbit.id)
        for book_id in {gone, top_hit}:
            catalog.DeleteBook(cs.DeleteBookRequest(id=book_id))
        assert gone not in {item.book.id for item in similar().items}
        assert top_hit not in {item.book.id for item in search().items}


def test_no_cached_answer_survives_a_model_switch(make_server, starter_settings, tmp_path):
    """The servicer's own cache key (not one a test builds) changes when another encoder is
    activated: the next SimilarBooks is computed by the new model, not served from the cache."""
    import torch

    from smartlib.v1 import admin_service_pb2 as ad, admin_service_pb2_grpc, books_pb2
    from smartlib_core.encoder_model import BookEncoder
    from smartlib_training import artifacts

    torch.manual_seed(3)
    store = tmp_path / "model_store"
    first, second = (artifacts.write_version(store, BookEncoder(), {"metrics": {}}).name for _ in range(2))
    server = make_server(dataclasses.replace(starter_settings, model_store=store, encoder_version=first))
    caching = server.services.caching
    with server.channel() as channel:
        recommend = recommend_service_pb2_grpc.RecommendServiceStub(channel)
        book = sorted(server.services.index.books)[0]
        request = rs.SimilarBooksRequest(book_id=book, k=10, approach=books_pb2.APPROACH_FINETUNED)
        before = recommend.SimilarBooks(request)
        hits = caching.stats().hits
        assert recommend.SimilarBooks(request) == before and caching.stats().hits == hits + 1
        admin = admin_service_pb2_grpc.AdminServiceStub(channel)
        admin.ActivateVersion(ad.ActivateVersionRequest(kind=ad.VERSION_KIND_ENCODER, version=second, force=True), timeout=120)
        after = recommend.SimilarBooks(request)
        assert first in before.model_version and second in after.model_version
        assert caching.stats().hits == hits + 1  # computed, not a hit on the old model's answer

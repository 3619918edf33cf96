"""Thin gRPC servicers: unpack the request, run the plain service off the event loop, pack the reply."""
from __future__ import annotations

from concurrent.futures import Executor

import grpc

from smartlib.v1 import books_pb2, catalog_service_pb2, catalog_service_pb2_grpc, recommend_service_pb2, recommend_service_pb2_grpc
from smartlib_core.embedding import EMBEDDER_ID
from smartlib_server.api import wire
from smartlib_server.api.blocking import Blocking
from smartlib_server.api.conversion import approach_from_pb, book_from_pb, book_to_pb, filter_from_pb
from smartlib_server.services.caching import AnswerCaching
from smartlib_server.services.catalog import CatalogService
from smartlib_server.services.recommend import RecommendService, WouldBlock
from smartlib_server.services.recommend.serving_index import ServingIndex


class CatalogServicer(catalog_service_pb2_grpc.CatalogServiceServicer, Blocking):
    def __init__(self, catalog: CatalogService, executor: Executor, caching: AnswerCaching, index: ServingIndex):
        Blocking.__init__(self, executor)
        self.catalog = catalog
        self.caching = caching
        self.index = index  # only for its version: every write bumps it before the RPC returns

    async def UpsertBooks(self, request, context):
        books = [book_from_pb(pb) for pb in request.books]
        report = await self.run(self.catalog.upsert_books, books)
        outcome = report.outcome
        return catalog_service_pb2.UpsertBooksResponse(
            ids=outcome.ids, created=len(outcome.created), updated=len(outcome.updated), unchanged=len(outcome.unchanged)
        )

    async def GetBook(self, request, context):
        return await self.run(self._get_book, request.id)

    def _get_book(self, book_id: str) -> books_pb2.Book:
        version, source = self.index.version, self.index.state.source  # before reading the book
        key = self.caching.key("get_book", {"id": book_id}, index_version=version, model_version="", catalog_id=source)

        def compute() -> bytes:
            return book_to_pb(self.catalog.get_book(book_id)).SerializeToString()
        return books_pb2.Book.FromString(self.caching.get_or_compute(key, compute))

    async def ListBooks(self, request, context):
        books, token = await self.run(self.catalog.list_books, request.page_size, request.page_token)
        return catalog_service_pb2.ListBooksResponse(books=[book_to_pb(b) for b in books], next_page_token=token)

    async def SearchBooks(self, request, context):
        books = await self.run(self.catalog.search_books, request.query, request.limit)
        return catalog_service_pb2.SearchBooksResponse(books=[book_to_pb(b) for b in books])

    async def DeleteBook(self, request, context):
        return catalog_service_pb2.DeleteBookResponse(id=await self.run(self.catalog.delete_book, request.id))


class RecommendServicer(recommend_service_pb2_grpc.RecommendServiceServicer, Blocking):
    def __init__(self, recommend: RecommendService, executor: Executor, caching: AnswerCaching, personal=None):
        Blocking.__init__(self, executor)
        self.recommend = recommend
        self.caching = caching
        self.personal = personal  # api.interaction_servicer.PersonalizationHandlers

    async def RecommendForUser(self, request, context):
        if self.personal is None:
            raise NotImplementedError
        return await self.personal.RecommendForUser(request, context)

    async def SimilarBooks(self, request, context):
        approach, filt = approach_from_pb(request.approach), filter_from_pb(request.filter)

        def answer(wait: bool):
            return self.recommend.similar_books(request.book_id, request.k, approach, filt, wait=wait)
        # Most answers are picks off kept rows, whose items come back in later answers (api/wire.py).
        return await self._respond("similar_books", request, approach, answer, kept=True)

    async def SearchByText(self, request, context):
        approach, filt = approach_from_pb(request.approach), filter_from_pb(request.filter)

        def answer(wait: bool):
            return self.recommend.search_by_text(request.query, request.k, approach, filt, wait=wait)
        # A text search always embeds and scans, so only the answer cache is tried on the loop:
        # asking the service first would only validate the request and raise WouldBlock.
        return await self._respond("search_by_text", request, approach, answer, now=False)

    async def _respond(self, kind: str, request, approach, answer, now: bool = True, kept: bool = False) -> bytes:
        """The encoded RecommendResponse (server.py passes bytes through to the wire).

        Answered on the event loop when nothing would block (an in-process cache hit, or the
        neighbour table), else on the worker pool: a thread hand-off costs more than such an
        answer (make bench: it halved the QPS of cache hits). Anything that may wait (a search,
        the database, Redis, a locked index) raises WouldBlock inside and goes to the pool.
        With `now` False the loop only looks in the cache (the answer always waits). `kept`: the
        answer's items are objects later answers return again (wire.recommend_response).
        """
        key = self._key(kind, request, approach)
        encoded = self.caching.get_or_compute_now(key, (lambda: _now_or_none(answer, kept)) if now else _never)
        if encoded is None:
            encoded = await self.run(self.caching.get_or_compute, key, lambda: wire.recommend_response(answer(True), kept=kept))
        return encoded

    def _key(self, kind: str, request, approach):
        """The answer-cache key: the request's own bytes (deterministic serialisation) and the
        versions the answer will be computed from."""
        index = self.recommend.index
        version, state = index.version, index.state  # read before computing: see services/caching.py
        finetuned = state.finetuned
        model = f"{approach.value if approach else 'default'}:{finetuned.version if finetuned else EMBEDDER_ID}"
        encoded = request.SerializeToString(deterministic=True)
        return self.caching.key(kind, encoded, index_version=version, model_version=model, catalog_id=state.source)


def add_recommend_servicer(servicer: RecommendServicer, server) -> None:
    """The generated `add_RecommendServiceServicer_to_server`, except that a reply may also be
    the encoded bytes of a RecommendResponse (api/wire.py), sent as they are."""

    def serialize(reply) -> bytes:
        return reply if isinstance(reply, bytes) else reply.SerializeToString()

    service = recommend_service_pb2.DESCRIPTOR.services_by_name["RecommendService"]
    handlers = {  # every method the contract declares, so a new RPC cannot be left unregistered
        method.name: grpc.unary_unary_rpc_method_handler(
            getattr(servicer, method.name),
            request_deserializer=getattr(recommend_service_pb2, method.input_type.name).FromString,
            response_serializer=serialize,
        )
        for method in service.methods
    }
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(service.full_name, handlers),))
    server.add_registered_method_handlers(service.full_name, handlers)


def _never() -> None:
    return None


def _now_or_none(answer, kept: bool) -> bytes | None:
    try:
        return wire.recommend_response(answer(False), kept=kept)
    except WouldBlock:
        return None


__all__ = ["CatalogServicer", "RecommendServicer", "add_recommend_servicer", "books_pb2"]

"""Thin gRPC servicers: unpack the request, run the plain service off the event loop, pack the reply."""
from __future__ import annotations

import asyncio
from concurrent.futures import Executor

import grpc

from smartlib.v1 import books_pb2, catalog_service_pb2, catalog_service_pb2_grpc, recommend_service_pb2, recommend_service_pb2_grpc
from smartlib_core.embedding import EMBEDDER_ID
from smartlib_core.tracing import span
from smartlib_server import deadlines
from smartlib_server.api import wire
from smartlib_server.api.blocking import Blocking
from smartlib_server.api.conversion import approach_from_pb, book_from_pb, book_to_pb, filter_from_pb
from smartlib_server.services.caching import AnswerCaching
from smartlib_server.services.catalog import CatalogService
from smartlib_server.services.recommend import RecommendService, TextAsk, WouldBlock
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
        """On the event loop from end to end when nothing would wait: the loop queues the query
        for its embedding batch, awaits the batch as a future (no thread parked on it) and ranks
        it. A worker takes over wherever the loop would wait: a shared answer cache, an identical
        request computing, a writer, shelves to build, inference that does not queue. Through a
        worker a call paid two more thread hand-offs and parked a thread per query (README,
        "Performance": where a SearchByText request's wall time goes)."""
        approach, filt = approach_from_pb(request.approach), filter_from_pb(request.filter)
        key = self._key("search_by_text", request, approach)
        encoded = self.caching.get_or_compute_now(key, _never)  # only the cache: a miss always embeds
        if encoded is not None:
            return encoded
        ask, words = None, _UNKNOWN
        if not self.caching.cache.shared:  # with Redis, a worker looks the answer up and stores it
            try:
                with span("embed"):
                    ask = self.recommend.start_search(request.query, request.k, approach, filt, wait=False)
                    words = self.recommend.search_words(ask, wait=False)  # while the query waits for its batch
                    await _rows(ask)
            except WouldBlock:
                pass
        if ask is not None and words is not _UNKNOWN:
            encoded = self.caching.get_or_compute_now(
                key, lambda: _now_or_none(lambda wait: self.recommend.finish_search(ask, words, wait=wait), kept=False))
            if encoded is not None:
                return encoded

        def answer() -> bytes:
            if ask is None:
                return wire.recommend_response(self.recommend.search_by_text(request.query, request.k, approach, filt))
            found = self.recommend.search_words(ask) if words is _UNKNOWN else words
            return wire.recommend_response(self.recommend.finish_search(ask, found))
        return await self.run(self.caching.get_or_compute, key, answer)

    async def _respond(self, kind: str, request, approach, answer, kept: bool = False) -> bytes:
        """The encoded RecommendResponse (server.py passes bytes through to the wire).

        Answered on the event loop when nothing would block (an in-process cache hit, or the
        neighbour table), else on the worker pool: a thread hand-off costs more than such an
        answer (make bench: it halved the QPS of cache hits). Anything that may wait (a search,
        the database, Redis, a locked index) raises WouldBlock inside and goes to the pool.
        `kept`: the answer's items are objects later answers return again (wire.recommend_response).
        """
        key = self._key(kind, request, approach)
        encoded = self.caching.get_or_compute_now(key, lambda: _now_or_none(answer, kept))
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


_UNKNOWN = object()  # the lexical step has not run yet


async def _rows(ask: TextAsk) -> None:
    """Waits on the loop until `ask`'s query rows are there, within the call's deadline (a
    cancelled or expired call withdraws its query if it is still queued)."""
    future = ask.pending.future
    if future is None:
        return
    try:
        await asyncio.wait_for(asyncio.wrap_future(future), deadlines.remaining())
    except TimeoutError:
        raise deadlines.DeadlineExceeded("deadline exceeded waiting for the query batch") from None


def _never() -> None:
    return None


def _now_or_none(answer, kept: bool) -> bytes | None:
    try:
        return wire.recommend_response(answer(False), kept=kept)
    except WouldBlock:
        return None


__all__ = ["CatalogServicer", "RecommendServicer", "add_recommend_servicer", "books_pb2"]

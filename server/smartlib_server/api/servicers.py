"""Thin gRPC servicers: unpack the request, run the plain service off the event loop, pack the reply."""
from __future__ import annotations

import asyncio
from concurrent.futures import Executor

from smartlib.v1 import books_pb2, catalog_service_pb2, catalog_service_pb2_grpc, recommend_service_pb2, recommend_service_pb2_grpc
from smartlib_server import deadlines
from smartlib_server.api.conversion import approach_from_pb, book_from_pb, book_to_pb, filter_from_pb, result_to_pb
from smartlib_server.embedding import EMBEDDER_ID
from smartlib_server.services.caching import AnswerCaching
from smartlib_server.services.catalog import CatalogService
from smartlib_server.services.recommend import RecommendService, WouldBlock
from smartlib_server.services.serving_index import ServingIndex


class _Blocking:
    """Runs blocking service calls (FAISS, SQL, torch) on the shared worker pool."""

    def __init__(self, executor: Executor):
        self._executor = executor

    async def run(self, fn, *args):
        # in_context carries the caller's deadline into the worker thread and refuses work whose
        # deadline passed while it waited for a worker.
        return await asyncio.get_running_loop().run_in_executor(self._executor, deadlines.in_context(fn, *args))


class CatalogServicer(catalog_service_pb2_grpc.CatalogServiceServicer, _Blocking):
    def __init__(self, catalog: CatalogService, executor: Executor, caching: AnswerCaching, index: ServingIndex):
        _Blocking.__init__(self, executor)
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
        compute = lambda: book_to_pb(self.catalog.get_book(book_id)).SerializeToString()
        return books_pb2.Book.FromString(self.caching.get_or_compute(key, compute))

    async def ListBooks(self, request, context):
        books, token = await self.run(self.catalog.list_books, request.page_size, request.page_token)
        return catalog_service_pb2.ListBooksResponse(books=[book_to_pb(b) for b in books], next_page_token=token)

    async def SearchBooks(self, request, context):
        books = await self.run(self.catalog.search_books, request.query, request.limit)
        return catalog_service_pb2.SearchBooksResponse(books=[book_to_pb(b) for b in books])

    async def DeleteBook(self, request, context):
        return catalog_service_pb2.DeleteBookResponse(id=await self.run(self.catalog.delete_book, request.id))


class RecommendServicer(recommend_service_pb2_grpc.RecommendServiceServicer, _Blocking):
    def __init__(self, recommend: RecommendService, executor: Executor, caching: AnswerCaching, personal=None):
        _Blocking.__init__(self, executor)
        self.recommend = recommend
        self.caching = caching
        self.personal = personal  # api.interaction_servicer.PersonalizationHandlers

    async def RecommendForUser(self, request, context):
        if self.personal is None:
            raise NotImplementedError
        return await self.personal.RecommendForUser(request, context)

    async def SimilarBooks(self, request, context):
        approach, filt = approach_from_pb(request.approach), filter_from_pb(request.filter)
        fields = {"book_id": request.book_id, "k": request.k, "filter": filt}
        answer = lambda wait: self.recommend.similar_books(request.book_id, request.k, approach, filt, wait=wait)
        return await self._respond("similar_books", fields, approach, answer)

    async def SearchByText(self, request, context):
        approach, filt = approach_from_pb(request.approach), filter_from_pb(request.filter)
        fields = {"query": request.query, "k": request.k, "filter": filt}
        answer = lambda wait: self.recommend.search_by_text(request.query, request.k, approach, filt, wait=wait)
        return await self._respond("search_by_text", fields, approach, answer)

    async def _respond(self, kind: str, fields: dict, approach, answer) -> recommend_service_pb2.RecommendResponse:
        """Answers on the event loop when nothing would block (an in-process cache hit, or the
        neighbour table), else on the worker pool.

        A thread hand-off costs more than such an answer: measured, it halved the QPS of
        cache hits (make bench). Anything that may wait (a search, the database, Redis, a
        locked index) raises WouldBlock inside and goes to the pool.
        """
        key = self._key(kind, fields, approach)
        encoded = self.caching.get_or_compute_now(key, lambda: _now_or_none(answer))
        if encoded is None:
            compute = lambda: _encode(answer(True))
            return await self.run(lambda: _decode(self.caching.get_or_compute(key, compute)))
        return _decode(encoded)

    def _key(self, kind: str, fields: dict, approach):
        """The answer-cache key, naming the versions the answer will be computed from."""
        index = self.recommend.index
        version, state = index.version, index.state  # read before computing: see services/caching.py
        finetuned = state.finetuned
        model = f"{approach.value if approach else 'default'}:{finetuned.version if finetuned else EMBEDDER_ID}"
        return self.caching.key(kind, fields, index_version=version, model_version=model, catalog_id=state.source)


def _now_or_none(answer) -> bytes | None:
    try:
        return _encode(answer(False))
    except WouldBlock:
        return None


def _encode(result) -> bytes:
    return result_to_pb(result, recommend_service_pb2.RecommendResponse).SerializeToString()


def _decode(encoded: bytes) -> recommend_service_pb2.RecommendResponse:
    return recommend_service_pb2.RecommendResponse.FromString(encoded)


__all__ = ["CatalogServicer", "RecommendServicer", "books_pb2"]

"""Thin gRPC servicers: unpack the request, run the plain service off the event loop, pack the reply."""
from __future__ import annotations

import asyncio
import functools
from concurrent.futures import Executor

from smartlib.v1 import books_pb2, catalog_service_pb2, catalog_service_pb2_grpc, recommend_service_pb2, recommend_service_pb2_grpc
from smartlib_server.api.conversion import approach_from_pb, book_from_pb, book_to_pb, filter_from_pb, result_to_pb
from smartlib_server.services.catalog import CatalogService
from smartlib_server.services.recommend import RecommendService


class _Blocking:
    """Runs blocking service calls (FAISS, SQL, torch) on the shared worker pool."""

    def __init__(self, executor: Executor):
        self._executor = executor

    async def run(self, fn, *args):
        return await asyncio.get_running_loop().run_in_executor(self._executor, functools.partial(fn, *args))


class CatalogServicer(catalog_service_pb2_grpc.CatalogServiceServicer, _Blocking):
    def __init__(self, catalog: CatalogService, executor: Executor):
        _Blocking.__init__(self, executor)
        self.catalog = catalog

    async def UpsertBooks(self, request, context):
        books = [book_from_pb(pb) for pb in request.books]
        report = await self.run(self.catalog.upsert_books, books)
        outcome = report.outcome
        return catalog_service_pb2.UpsertBooksResponse(
            ids=outcome.ids, created=len(outcome.created), updated=len(outcome.updated), unchanged=len(outcome.unchanged)
        )

    async def GetBook(self, request, context):
        return book_to_pb(await self.run(self.catalog.get_book, request.id))

    async def ListBooks(self, request, context):
        books, token = await self.run(self.catalog.list_books, request.page_size, request.page_token)
        return catalog_service_pb2.ListBooksResponse(books=[book_to_pb(b) for b in books], next_page_token=token)

    async def SearchBooks(self, request, context):
        books = await self.run(self.catalog.search_books, request.query, request.limit)
        return catalog_service_pb2.SearchBooksResponse(books=[book_to_pb(b) for b in books])

    async def DeleteBook(self, request, context):
        return catalog_service_pb2.DeleteBookResponse(id=await self.run(self.catalog.delete_book, request.id))


class RecommendServicer(recommend_service_pb2_grpc.RecommendServiceServicer, _Blocking):
    def __init__(self, recommend: RecommendService, executor: Executor):
        _Blocking.__init__(self, executor)
        self.recommend = recommend

    async def SimilarBooks(self, request, context):
        result = await self.run(
            self.recommend.similar_books, request.book_id, request.k,
            approach_from_pb(request.approach), filter_from_pb(request.filter),
        )
        return result_to_pb(result, recommend_service_pb2.RecommendResponse)

    async def SearchByText(self, request, context):
        result = await self.run(
            self.recommend.search_by_text, request.query, request.k,
            approach_from_pb(request.approach), filter_from_pb(request.filter),
        )
        return result_to_pb(result, recommend_service_pb2.RecommendResponse)


__all__ = ["CatalogServicer", "RecommendServicer", "books_pb2"]

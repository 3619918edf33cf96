"""SearchByText on the event loop: a hit is answered from the answer cache; a miss queues its
query, awaits the batch as a future and is ranked on the loop, with no worker thread; a worker
takes over only where the loop would wait."""
from __future__ import annotations

import asyncio
import threading
import time
import types
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np
import pytest

from smartlib.v1 import recommend_service_pb2
from smartlib_core.domain import Approach, Book, Recommendation, RecommendResult
from smartlib_server import deadlines
from smartlib_server.adapters.cache import InProcessCache
from smartlib_server.adapters.inference import PendingRows
from smartlib_server.api.servicers import RecommendServicer
from smartlib_server.services.caching import AnswerCaching
from smartlib_server.services.recommend import WouldBlock

BOOK = Book("b1", "Salt", ("Ann Author",), genres=("Fantasy",))
REQUEST = recommend_service_pb2.SearchByTextRequest(query="an island with secrets", k=1)


class Recommend:
    """The search service's surface the servicer uses; records where each step ran. The query's
    rows arrive from another thread `delay_s` after it is queued, as from the batcher."""

    def __init__(self, *, queues: bool = True, busy_on_loop: bool = False, delay_s: float = 0.05):
        state = types.SimpleNamespace(finetuned=None, source="catalog")
        self.index = types.SimpleNamespace(version=1, state=state)
        self.queues, self.busy_on_loop, self.delay_s = queues, busy_on_loop, delay_s
        self.loop_thread = threading.get_ident()
        self.steps: list[tuple[str, bool, bool]] = []  # (step, wait, on the loop's thread)
        self.future: Future | None = None

    def _step(self, name: str, wait: bool) -> None:
        self.steps.append((name, wait, threading.get_ident() == self.loop_thread))

    def start_search(self, query, k, approach, filt, *, wait=True):
        self._step("start", wait)
        if not wait and not self.queues:
            raise WouldBlock
        self.future = future = Future()
        threading.Timer(self.delay_s, lambda: future.done() or future.set_result(np.ones((1, 4), np.float32))).start()
        return types.SimpleNamespace(query=query, pending=PendingRows(wait=future.result, future=future))

    def search_words(self, ask, *, wait=True):
        self._step("words", wait)
        return [("b1", 1.0)]

    def finish_search(self, ask, words, *, wait=True):
        self._step("finish", wait)
        if not wait and self.busy_on_loop:
            raise WouldBlock  # e.g. a writer holds the text view
        assert ask.pending.future.done() and words == [("b1", 1.0)]
        return RecommendResult((Recommendation(BOOK, 0.5, "close to your description"),), Approach.FINETUNED, "m")

    def search_by_text(self, query, k, approach, filt):
        self._step("search_by_text", True)
        ask = self.start_search(query, k, approach, filt)
        ask.pending.result()
        return self.finish_search(ask, [("b1", 1.0)])


def _serve(recommend: Recommend, cache=None, calls: int = 1):
    with ThreadPoolExecutor(2) as pool:
        submitted = []
        submit = pool.submit
        pool.submit = lambda *a, **k: submitted.append(a) or submit(*a, **k)  # count the hand-offs to workers
        servicer = RecommendServicer(recommend, pool, AnswerCaching(InProcessCache() if cache is None else cache, environment="test"))

        async def run():
            return [await servicer.SearchByText(REQUEST, None) for _ in range(calls)]
        replies = asyncio.run(run())
    return replies, len(submitted)


def _ids(reply: bytes) -> list[str]:
    return [item.book.id for item in recommend_service_pb2.RecommendResponse.FromString(reply).items]


def test_a_miss_is_queued_awaited_and_ranked_on_the_loop_and_a_hit_is_cached():
    recommend = Recommend()
    (first, second), handed = _serve(recommend, calls=2)
    assert handed == 0  # no worker thread took part
    assert recommend.steps == [("start", False, True), ("words", False, True), ("finish", False, True)]
    assert first == second and _ids(first) == ["b1"]  # the second call was an answer-cache hit


def test_a_ranking_that_would_wait_on_the_loop_goes_to_a_worker():
    recommend = Recommend(busy_on_loop=True)
    (reply,), handed = _serve(recommend)
    assert handed == 1
    # the query was embedded once, and its lexical step is not run again by the worker
    assert recommend.steps == [("start", False, True), ("words", False, True), ("finish", False, True),
                               ("finish", True, False)]
    assert _ids(reply) == ["b1"]


def test_inference_that_does_not_queue_is_called_by_a_worker():
    recommend = Recommend(queues=False)
    (reply,), handed = _serve(recommend)
    assert handed == 1
    assert [(name, wait, on_loop) for name, wait, on_loop in recommend.steps] == [
        ("start", False, True), ("search_by_text", True, False), ("start", True, False), ("finish", True, False)]
    assert _ids(reply) == ["b1"]


def test_a_shared_answer_cache_leaves_the_whole_miss_to_a_worker():
    cache = InProcessCache()
    cache.shared = True  # as Redis: looking an answer up and storing it waits on the network
    recommend = Recommend()
    (reply,), handed = _serve(recommend, cache)
    assert handed == 1 and all(not on_loop for _, _, on_loop in recommend.steps)
    assert _ids(reply) == ["b1"]


def test_a_call_whose_deadline_passes_while_its_query_waits_withdraws_it():
    recommend = Recommend(delay_s=5.0)
    with ThreadPoolExecutor(1) as pool:
        servicer = RecommendServicer(recommend, pool, AnswerCaching(InProcessCache(), environment="test"))

        async def run():
            with deadlines.bound(0.1):
                return await servicer.SearchByText(REQUEST, None)
        began = time.monotonic()
        with pytest.raises(deadlines.DeadlineExceeded):
            asyncio.run(run())
    assert time.monotonic() - began < 2.0
    assert recommend.future.cancelled()  # a query still queued is skipped by the batcher

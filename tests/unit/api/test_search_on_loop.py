"""SearchByText on the event loop: only the answer cache is looked at there. A miss goes to a
worker at once, without asking the search service first (which could only validate the request
and raise WouldBlock); a hit is answered on the loop."""
from __future__ import annotations

import asyncio
import threading
import types
from concurrent.futures import ThreadPoolExecutor

from smartlib.v1 import recommend_service_pb2
from smartlib_core.domain import Approach, Book, Recommendation, RecommendResult
from smartlib_server.adapters.cache import InProcessCache
from smartlib_server.api.servicers import RecommendServicer
from smartlib_server.services.caching import AnswerCaching

BOOK = Book("b1", "Salt", ("Ann Author",), genres=("Fantasy",))


class Recommend:
    """The search service's surface the servicer uses; records where each call ran."""

    def __init__(self):
        state = types.SimpleNamespace(finetuned=None, source="catalog")
        self.index = types.SimpleNamespace(version=1, state=state)
        self.calls: list[tuple[bool, bool]] = []  # (wait, on the loop's thread)
        self.loop_thread = threading.get_ident()

    def search_by_text(self, query, k, approach, filt, *, wait=True):
        self.calls.append((wait, threading.get_ident() == self.loop_thread))
        return RecommendResult((Recommendation(BOOK, 0.5, "close to your description"),), Approach.FINETUNED, "m")


def test_a_miss_goes_to_a_worker_and_a_hit_stays_on_the_loop():
    recommend = Recommend()
    with ThreadPoolExecutor(2) as pool:
        servicer = RecommendServicer(recommend, pool, AnswerCaching(InProcessCache(), environment="test"))
        request = recommend_service_pb2.SearchByTextRequest(query="an island with secrets", k=1)

        async def twice():
            return [await servicer.SearchByText(request, None) for _ in range(2)]
        first, second = asyncio.run(twice())
    assert recommend.calls == [(True, False)]  # one search, on a worker; the second call was a hit
    reply = recommend_service_pb2.RecommendResponse.FromString(first)
    assert first == second and [item.book.id for item in reply.items] == ["b1"]

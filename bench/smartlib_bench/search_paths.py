"""SearchByText's two paths, switchable on one served process for a same-server A/B
(search_profile --paths loop,pool):

    loop  the served path: the loop queues the query, awaits its batch as a future and ranks
    pool  the path before it: the loop hands every miss to a worker, which queues the query,
          blocks on its batch and ranks
"""
from __future__ import annotations

import functools

PATHS = ("loop", "pool")


def install(current: list[str]) -> None:
    """Patches RecommendServicer.SearchByText to follow `current[0]` (one of PATHS)."""
    from smartlib_server.api import servicers, wire
    from smartlib_server.api.conversion import approach_from_pb, filter_from_pb

    served = servicers.RecommendServicer.SearchByText

    @functools.wraps(served)
    async def search(self, request, context):
        if current[0] == "loop":
            return await served(self, request, context)
        approach, filt = approach_from_pb(request.approach), filter_from_pb(request.filter)
        key = self._key("search_by_text", request, approach)
        encoded = self.caching.get_or_compute_now(key, servicers._never)
        if encoded is not None:
            return encoded

        def answer() -> bytes:
            return wire.recommend_response(self.recommend.search_by_text(request.query, request.k, approach, filt))
        return await self.run(self.caching.get_or_compute, key, answer)
    servicers.RecommendServicer.SearchByText = search

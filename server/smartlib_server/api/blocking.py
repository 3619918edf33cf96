"""The one way servicers run blocking service calls (FAISS, SQL, torch) on the worker pool."""
from __future__ import annotations

import asyncio
from concurrent.futures import Executor

from smartlib_server import deadlines


class Blocking:
    """Mixin for servicers: `await self.run(fn, *args)` runs fn on the shared executor.

    deadlines.in_context carries the caller's deadline into the worker thread (so SQL, FAISS
    and TorchServe calls there are capped by it) and refuses work whose deadline passed while
    it waited for a worker.
    """

    def __init__(self, executor: Executor):
        self._executor = executor

    async def run(self, fn, *args):
        return await asyncio.get_running_loop().run_in_executor(self._executor, deadlines.in_context(fn, *args))

"""A grpc.aio server running on its own event-loop thread, for tests, benchmarks and notebooks."""
from __future__ import annotations

import asyncio
import threading

import grpc

from smartlib_server.app import Services
from smartlib_server.config import Settings
from smartlib_server.server import SmartLibServer, build_server


class BackgroundServer:
    def __init__(self, settings: Settings, services: Services, interceptors: list | None = None):
        self.services = services
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="smartlib-grpc-loop", daemon=True)
        self._thread.start()
        self.app: SmartLibServer = self.call(self._start(settings, interceptors))
        self.address = f"127.0.0.1:{self.app.port}"

    async def _start(self, settings: Settings, interceptors) -> SmartLibServer:
        app = build_server(settings, self.services, interceptors)
        await app.start()
        return app

    def call(self, coro, timeout: float = 120):
        """Runs a coroutine on the server's loop and waits for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=timeout)

    def load(self) -> None:
        """Loads the indexes (blocking) and reports SERVING."""
        self.services.load()
        self.call(self.app.mark_ready())

    def channel(self) -> grpc.Channel:
        return grpc.insecure_channel(self.address)

    def stop(self) -> None:
        """Stops the server and closes its services; a second call does nothing (a test may
        stop a replica early, and its fixture stops everything again at the end)."""
        if not self._thread.is_alive():
            return
        self.call(self.app.stop(0))
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)
        self.services.close()

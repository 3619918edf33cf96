"""`smartlib serve` pauses the cyclic garbage collector while it loads (server._settle_collector):
it must be back on, with the loaded objects frozen, whether the load succeeded or failed."""
from __future__ import annotations

import asyncio
import gc
from types import SimpleNamespace

import pytest

from smartlib_server import server


@pytest.fixture
def paused_collector():
    gc.disable()  # as cmd_serve and serve() leave it for the load
    yield
    gc.unfreeze()
    gc.enable()


def _app(load):
    ready = []

    async def mark_ready():
        ready.append(True)

    services = SimpleNamespace(executor=None, load=load, warm_up=lambda: True, follow_changes=lambda: None)
    return SimpleNamespace(services=services, mark_ready=mark_ready), ready


@pytest.mark.parametrize("fails", [False, True])
def test_the_collector_is_back_on_after_the_load(paused_collector, fails):
    def load():
        if fails:
            raise RuntimeError("the store is gone")

    app, ready = _app(load)
    asyncio.run(server._prepare(app, seed_starter=False, freeze=True))
    assert ready == ([] if fails else [True])
    assert gc.isenabled()
    assert gc.get_freeze_count() > 0  # what the load built is out of the collector's walks

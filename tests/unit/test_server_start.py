"""The start of `smartlib serve`: it pauses the cyclic garbage collector while it loads
(server._settle_collector), which must be back on, with the loaded objects frozen, whether the
load succeeded or failed; and it loads the encoder while it reads the catalog."""
from __future__ import annotations

import asyncio
import gc
import threading
from types import SimpleNamespace

import pytest

from smartlib_server import server
from smartlib_server.app import Services


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

    services = SimpleNamespace(executor=None, load=load, warm_up=lambda: True, follow_changes=lambda: None,
                               index=SimpleNamespace(derived=None))  # no derived folder: no stored book bytes
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


def test_the_encoder_loads_while_the_catalog_is_read():
    """Services.load starts the encoder (its hashes, OpenVINO's import) on its own thread and the
    index asks for it only once the catalog is read: a load that ran them one after the other
    would leave the encoder waiting here for a read that has not begun."""
    reading = threading.Event()
    served = []

    def startup_encoder():
        assert reading.wait(5), "the encoder was loaded before the catalog read began"
        return "encoder v1"

    class Index:
        def load(self, finetuned, reuse_derived):
            reading.set()  # the catalog read begins
            served.append(finetuned() if callable(finetuned) else finetuned)

    services = SimpleNamespace(index=Index(), versions=SimpleNamespace(startup_encoder=startup_encoder),
                               record_state=lambda: None, personalization=SimpleNamespace(start=lambda interval: None),
                               settings=SimpleNamespace(cf_retrain_interval_s=60.0), warmer=None)
    Services.load(services, reuse_derived=False)
    assert served == ["encoder v1"]

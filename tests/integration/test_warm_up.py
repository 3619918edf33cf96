"""Services.warm_up, which gates RecommendService's SERVING: TorchServe must answer a real
inference, or the in-process fallback is loaded and warmed instead. (The real TorchServe case
is in test_torchserve.py; test_server_process.py times the first calls after SERVING.)"""
from __future__ import annotations

import socket

from smartlib_server.app import build_services
from smartlib_server.config import Settings


def _dead_address() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{s.getsockname()[1]}"  # closed again: nothing listens there


def test_torchserve_without_fallback_is_not_warm_until_it_answers(tmp_path):
    settings = Settings(home=tmp_path, inference="torchserve", torchserve_url=_dead_address(),
                        torchserve_fallback=False, inference_timeout_ms=300)
    services = build_services(settings)
    try:
        assert services.warm_up() is False
    finally:
        services.close()


def test_an_unanswering_torchserve_with_fallback_warms_the_fallback(tmp_path, seed_compiled):
    settings = Settings(home=seed_compiled(tmp_path), inference="torchserve", torchserve_url=_dead_address(),
                        torchserve_fallback=True, inference_timeout_ms=300)
    services = build_services(settings)
    try:
        encoder = services.inference.fallback.text_encoder
        assert not encoder.loaded  # MiniLM loads lazily, whatever the runtime...
        assert services.warm_up() is True
        assert encoder.loaded  # ...and warm_up is what loaded it
    finally:
        services.close()

"""With SMARTLIB_INFERENCE=torchserve, queries waiting together reach TorchServe as one request."""
from __future__ import annotations

import threading
import types

import numpy as np

from smartlib_core import torchserve_payload as wire
from smartlib_core.embedding import DIM
from smartlib_server.adapters.batched_inference import BatchedInference
from smartlib_server.adapters.torchserve_inference import TorchServeInference


class FakeTorchServe:
    """Answers Predictions with row i = i + 1 everywhere; the first call blocks until `release`."""

    def __init__(self) -> None:
        self.requests: list[list[str]] = []
        self.release = threading.Event()
        self.entered = threading.Event()

    def Predictions(self, request, timeout=None):  # noqa: N802 - the gRPC method name
        kind, texts = wire.parse_text_request(request.input[wire.INPUT_KEY])
        self.requests.append(list(texts))
        self.entered.set()
        self.release.wait(10)
        rows = np.stack([np.full(DIM, float(len(t)), np.float32) for t in texts])
        return types.SimpleNamespace(prediction=wire.vectors_response(rows))


def test_concurrent_queries_share_one_torchserve_request():
    remote = TorchServeInference("127.0.0.1:1", fallback=None)
    fake = remote._stub = FakeTorchServe()
    batched = BatchedInference(remote, max_batch=32, max_wait_s=0.0, cache_bytes=0)
    try:
        results: dict[str, np.ndarray] = {}
        first = threading.Thread(target=lambda: results.__setitem__("a", batched.embed_queries(["a"])))
        first.start()
        assert fake.entered.wait(10)
        texts = ["bb", "ccc", "dddd"]
        threads = [threading.Thread(target=lambda t=t: results.__setitem__(t, batched.embed_queries([t]))) for t in texts]
        for thread in threads:
            thread.start()
        for _ in range(2000):  # up to 10 s for the three to queue behind the first
            if batched.queries._queued == 3:
                break
            threading.Event().wait(0.005)
        fake.release.set()
        for thread in (first, *threads):
            thread.join(10)
    finally:
        batched.close()
    assert fake.requests[0] == ["a"] and sorted(fake.requests[1]) == texts and len(fake.requests) == 2
    for text in texts:
        assert results[text].shape == (1, DIM) and results[text][0, 0] == len(text)

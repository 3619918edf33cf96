"""Records every RPC (unary and streaming) into the go-grpc-prometheus metrics: a pipeline step
(api/pipeline.py). Only async (grpc.aio) servicer behaviours are supported, which is all this
server has."""
from __future__ import annotations

import contextlib
import time
from typing import Any

import grpc

from smartlib_server.api.pipeline import Call, Step, on_end, split_method
from smartlib_server.metrics import ServerMetrics


class _Call:
    """Bookkeeping for one RPC."""

    def __init__(self, metrics: ServerMetrics, labels: dict[str, str]):
        self.metrics = metrics
        self.labels = labels
        self.start = time.perf_counter()
        metrics.rpc_started.labels(**labels).inc()

    def received(self) -> None:
        self.metrics.rpc_msg_received.labels(**self.labels).inc()

    def sent(self) -> None:
        self.metrics.rpc_msg_sent.labels(**self.labels).inc()

    def finish(self, code: grpc.StatusCode) -> None:
        self.metrics.rpc_handled.labels(**self.labels, grpc_code=code.name).inc()
        self.metrics.rpc_seconds.labels(**self.labels, grpc_code=code.name).observe(time.perf_counter() - self.start)


_TYPES = {"unary_unary": "unary", "unary_stream": "server_stream", "stream_unary": "client_stream",
          "stream_stream": "bidi_stream"}


class MetricsInterceptor(Step):
    """Counts and times every RPC by type, service, method and final status code.

    Put it first in the pipeline: it then times the whole call and sees the status that
    a denial, admission or error mapping chose. Unknown methods never reach it (grpc answers
    UNIMPLEMENTED), so a scanner cannot create unbounded method labels.

    Args:
        metrics: where to record.
    """

    def __init__(self, metrics: ServerMetrics):
        self._metrics = metrics

    @contextlib.asynccontextmanager
    async def around(self, call: Call):
        service, method = split_method(call.method)
        record = _Call(self._metrics, {"grpc_type": _TYPES[call.shape], "grpc_service": service, "grpc_method": method})
        call.state[self] = record
        if not call.request_streaming:
            record.received()  # the one request arrived with the call, whatever happens next
        async with on_end(call, record.finish):
            yield

    async def on_request(self, call: Call, request: Any) -> None:
        if call.request_streaming:
            call.state[self].received()

    def on_response(self, call: Call, response: Any) -> None:
        call.state[self].sent()

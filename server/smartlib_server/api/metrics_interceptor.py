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


class _Series:
    """One method's labelled series, resolved once. Each `labels()` call takes a lock and builds
    its key again, and a call used to make five of them; now a call makes none after the first."""

    __slots__ = ("started", "received", "sent", "_metrics", "_labels", "_ended")

    def __init__(self, metrics: ServerMetrics, labels: dict[str, str]):
        self.started = metrics.rpc_started.labels(**labels)
        self.received = metrics.rpc_msg_received.labels(**labels)
        self.sent = metrics.rpc_msg_sent.labels(**labels)
        self._metrics = metrics
        self._labels = labels
        self._ended: dict[grpc.StatusCode, tuple[Any, Any]] = {}

    def ended(self, code: grpc.StatusCode) -> tuple[Any, Any]:
        """The handled counter and the latency histogram for calls that ended with `code`."""
        found = self._ended.get(code)
        if found is None:
            labels = {**self._labels, "grpc_code": code.name}
            found = self._ended[code] = (self._metrics.rpc_handled.labels(**labels),
                                         self._metrics.rpc_seconds.labels(**labels))
        return found


class _Call:
    """Bookkeeping for one RPC."""

    __slots__ = ("series", "start")

    def __init__(self, series: _Series):
        self.series = series
        self.start = time.perf_counter()
        series.started.inc()

    def received(self) -> None:
        self.series.received.inc()

    def sent(self) -> None:
        self.series.sent.inc()

    def finish(self, code: grpc.StatusCode) -> None:
        handled, seconds = self.series.ended(code)
        handled.inc()
        seconds.observe(time.perf_counter() - self.start)


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
        # by (method, shape): bounded by the methods the server has (unknown ones never get here)
        self._series: dict[tuple[str, str], _Series] = {}

    def series(self, method: str, shape: str) -> _Series:
        found = self._series.get((method, shape))
        if found is None:
            service, name = split_method(method)
            labels = {"grpc_type": _TYPES[shape], "grpc_service": service, "grpc_method": name}
            found = self._series[(method, shape)] = _Series(self._metrics, labels)
        return found

    @contextlib.asynccontextmanager
    async def around(self, call: Call):
        record = _Call(self.series(call.method, call.shape))
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

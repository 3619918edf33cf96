"""Records every RPC (unary and streaming) into the go-grpc-prometheus metrics: a pipeline step
(api/pipeline.py). Only async (grpc.aio) servicer behaviours are supported, which is all this
server has."""
from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import grpc
from grpc import aio

from smartlib_server.api.pipeline import Call, Step
from smartlib_server.metrics import ServerMetrics

_CODES_BY_VALUE = {code.value[0]: code for code in grpc.StatusCode}


def split_method(full_method: str) -> tuple[str, str]:
    # "/smartlib.v1.CatalogService/GetBook" -> ("smartlib.v1.CatalogService", "GetBook")
    _, _, rest = full_method.partition("/")
    service, _, method = rest.rpartition("/")
    return service or "unknown", method or "unknown"


def _as_status_code(value: Any) -> grpc.StatusCode | None:
    if value is None:
        return None
    if isinstance(value, grpc.StatusCode):
        return value
    return _CODES_BY_VALUE.get(value)


def final_code(context: aio.ServicerContext, error: BaseException | None) -> grpc.StatusCode:
    """The status the client will see, given how the behaviour ended."""
    if isinstance(error, asyncio.CancelledError):
        return grpc.StatusCode.CANCELLED
    set_code = _as_status_code(context.code())
    if set_code is not None:
        # context.abort() and context.set_code() both leave the code on the context.
        return set_code
    if error is None:
        return grpc.StatusCode.OK
    # An exception that escaped every handler: grpc.aio answers UNKNOWN for it.
    return grpc.StatusCode.UNKNOWN


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

    def finish(self, context: aio.ServicerContext, error: BaseException | None) -> None:
        code = final_code(context, error).name
        self.metrics.rpc_handled.labels(**self.labels, grpc_code=code).inc()
        self.metrics.rpc_seconds.labels(**self.labels, grpc_code=code).observe(time.perf_counter() - self.start)


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
        error: BaseException | None = None
        try:
            yield
        except BaseException as exc:
            error = exc
            raise
        finally:
            record.finish(call.context, error)

    async def on_request(self, call: Call, request: Any) -> None:
        if call.request_streaming:
            call.state[self].received()

    def on_response(self, call: Call, response: Any) -> None:
        call.state[self].sent()

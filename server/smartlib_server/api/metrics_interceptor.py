"""Records every RPC (unary and streaming) into the go-grpc-prometheus metrics.

Register it first in the server's interceptor list so it is the outermost one: it then times
the whole call, including the error-mapping interceptor, and sees the status that interceptor
chose. Only async (grpc.aio) servicer behaviours are supported, which is all this server has.
"""
from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
from grpc import aio

from smartlib_server.metrics import ServerMetrics

_CODES_BY_VALUE = {code.value[0]: code for code in grpc.StatusCode}


def _split_method(full_method: str) -> tuple[str, str]:
    # "/smartlib.v1.CatalogService/GetBook" -> ("smartlib.v1.CatalogService", "GetBook")
    _, _, rest = full_method.partition("/")
    service, _, method = rest.rpartition("/")
    return service or "unknown", method or "unknown"


def _rpc_type(handler: grpc.RpcMethodHandler) -> str:
    if handler.request_streaming and handler.response_streaming:
        return "bidi_stream"
    if handler.request_streaming:
        return "client_stream"
    if handler.response_streaming:
        return "server_stream"
    return "unary"


def _as_status_code(value: Any) -> grpc.StatusCode | None:
    if value is None:
        return None
    if isinstance(value, grpc.StatusCode):
        return value
    return _CODES_BY_VALUE.get(value)


def _final_code(context: aio.ServicerContext, error: BaseException | None) -> grpc.StatusCode:
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
        code = _final_code(context, error).name
        self.metrics.rpc_handled.labels(**self.labels, grpc_code=code).inc()
        self.metrics.rpc_seconds.labels(**self.labels, grpc_code=code).observe(time.perf_counter() - self.start)


class MetricsInterceptor(aio.ServerInterceptor):
    """Counts and times every RPC by type, service, method and final status code.

    Args:
        metrics: where to record.
    """

    def __init__(self, metrics: ServerMetrics):
        self._metrics = metrics

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler | None]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        handler = await continuation(handler_call_details)
        if handler is None:
            # Unknown method: grpc answers UNIMPLEMENTED; like go-grpc-prometheus, not recorded,
            # so a scanner cannot create unbounded method labels.
            return None
        service, method = _split_method(handler_call_details.method)
        labels = {"grpc_type": _rpc_type(handler), "grpc_service": service, "grpc_method": method}
        return self._wrap(handler, labels)

    def _wrap(self, handler: grpc.RpcMethodHandler, labels: dict[str, str]) -> grpc.RpcMethodHandler:
        metrics = self._metrics
        io = {
            "request_deserializer": handler.request_deserializer,
            "response_serializer": handler.response_serializer,
        }

        def counted(requests: AsyncIterator[Any], call: _Call) -> AsyncIterator[Any]:
            async def gen() -> AsyncIterator[Any]:
                async for request in requests:
                    call.received()
                    yield request

            return gen()

        async def responses(result: Any, call: _Call) -> AsyncIterator[Any]:
            # A streaming behaviour is either an async generator or a coroutine that writes
            # through context.write() (those writes are not counted as messages).
            if inspect.isasyncgen(result) or hasattr(result, "__aiter__"):
                async for response in result:
                    call.sent()
                    yield response
            elif inspect.isawaitable(result):
                await result
            elif result is not None:
                for response in result:
                    call.sent()
                    yield response

        if handler.unary_unary:
            inner = handler.unary_unary

            async def unary_unary(request: Any, context: aio.ServicerContext) -> Any:
                call = _Call(metrics, labels)
                call.received()
                error: BaseException | None = None
                try:
                    response = await inner(request, context)
                    call.sent()
                    return response
                except BaseException as exc:
                    error = exc
                    raise
                finally:
                    call.finish(context, error)

            return grpc.unary_unary_rpc_method_handler(unary_unary, **io)

        if handler.unary_stream:
            inner_us = handler.unary_stream

            async def unary_stream(request: Any, context: aio.ServicerContext) -> AsyncIterator[Any]:
                call = _Call(metrics, labels)
                call.received()
                error: BaseException | None = None
                try:
                    async for response in responses(inner_us(request, context), call):
                        yield response
                except BaseException as exc:
                    error = exc
                    raise
                finally:
                    call.finish(context, error)

            return grpc.unary_stream_rpc_method_handler(unary_stream, **io)

        if handler.stream_unary:
            inner_su = handler.stream_unary

            async def stream_unary(requests: AsyncIterator[Any], context: aio.ServicerContext) -> Any:
                call = _Call(metrics, labels)
                error: BaseException | None = None
                try:
                    response = await inner_su(counted(requests, call), context)
                    call.sent()
                    return response
                except BaseException as exc:
                    error = exc
                    raise
                finally:
                    call.finish(context, error)

            return grpc.stream_unary_rpc_method_handler(stream_unary, **io)

        inner_ss = handler.stream_stream

        async def stream_stream(requests: AsyncIterator[Any], context: aio.ServicerContext) -> AsyncIterator[Any]:
            call = _Call(metrics, labels)
            error: BaseException | None = None
            try:
                async for response in responses(inner_ss(counted(requests, call), context), call):
                    yield response
            except BaseException as exc:
                error = exc
                raise
            finally:
                call.finish(context, error)

        return grpc.stream_stream_rpc_method_handler(stream_stream, **io)

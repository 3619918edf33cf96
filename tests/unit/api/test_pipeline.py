"""Each step of the call pipeline, driven through all four RPC shapes on a real aio server."""
from __future__ import annotations

import asyncio

import grpc
import pytest

from smartlib_core.errors import NotFound
from smartlib_server.api.admission import AdmissionInterceptor
from smartlib_server.api.auth_interceptor import AuthInterceptor
from smartlib_server.api.errors_interceptor import ErrorInterceptor
from smartlib_server.api.metrics_interceptor import MetricsInterceptor
from smartlib_server.api.pipeline import CallPipeline
from smartlib_server.metrics import ServerMetrics
from tests.unit.api.shapes import SERVICE, SHAPES, call_shape, shapes_handler

TOKEN = "t" * 20
TYPES = {"unary_unary": "unary", "unary_stream": "server_stream", "stream_unary": "client_stream",
         "stream_stream": "bidi_stream"}


async def _with_server(steps, run, started=None):
    server = grpc.aio.server(interceptors=[CallPipeline(steps)])
    server.add_generic_rpc_handlers((shapes_handler(NotFound("no such thing"), started),))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    try:
        return await run(channel)
    finally:
        await channel.close()
        await server.stop(0)


def _code(shape: str, steps, metadata=None) -> grpc.StatusCode:
    async def run(channel):
        try:
            await call_shape(channel, shape, metadata=metadata)
        except grpc.aio.AioRpcError as error:
            return error.code()
        return grpc.StatusCode.OK

    return asyncio.run(_with_server(steps, run))


@pytest.mark.parametrize("shape", SHAPES)
def test_metrics_record_every_shape_with_the_status_the_inner_steps_chose(shape):
    metrics = ServerMetrics()
    assert _code(shape, [MetricsInterceptor(metrics), ErrorInterceptor()]) == grpc.StatusCode.NOT_FOUND
    labels = {"grpc_type": TYPES[shape], "grpc_service": SERVICE, "grpc_method": shape}
    assert metrics.rpc_started.labels(**labels)._value.get() == 1
    assert metrics.rpc_handled.labels(**labels, grpc_code="NOT_FOUND")._value.get() == 1
    # Requests are counted as they pass: one for unary requests, each message for streams.
    expected = 2 if shape.startswith("stream") else 1
    assert metrics.rpc_msg_received.labels(**labels)._value.get() == expected


def test_metrics_look_up_a_methods_series_once_and_still_count_every_code():
    # labels() takes a lock and rebuilds its key on each use; the step keeps each method's series
    # (and each final code's) after the first call, so later calls look none up.
    metrics = ServerMetrics()
    lookups: list[str] = []
    for name in ("rpc_started", "rpc_handled", "rpc_seconds", "rpc_msg_received", "rpc_msg_sent"):
        metric = getattr(metrics, name)

        def counting(*args, _labels=metric.labels, _name=name, **kwargs):
            lookups.append(_name)
            return _labels(*args, **kwargs)

        metric.labels = counting
    steps = [MetricsInterceptor(metrics), AuthInterceptor(TOKEN, ""), ErrorInterceptor()]
    token = (("authorization", f"Bearer {TOKEN}"),)
    assert _code("unary_unary", steps) == grpc.StatusCode.UNAUTHENTICATED
    assert _code("unary_unary", steps, metadata=token) == grpc.StatusCode.NOT_FOUND
    first = len(lookups)
    assert _code("unary_unary", steps) == grpc.StatusCode.UNAUTHENTICATED
    assert _code("unary_unary", steps, metadata=token) == grpc.StatusCode.NOT_FOUND
    assert len(lookups) == first
    labels = {"grpc_type": "unary", "grpc_service": SERVICE, "grpc_method": "unary_unary"}
    assert metrics.rpc_started.labels(**labels)._value.get() == 4
    assert metrics.rpc_msg_received.labels(**labels)._value.get() == 4
    for code in ("UNAUTHENTICATED", "NOT_FOUND"):
        assert metrics.rpc_handled.labels(**labels, grpc_code=code)._value.get() == 2
        assert metrics.rpc_seconds.labels(**labels, grpc_code=code)._sum.get() > 0


@pytest.mark.parametrize("shape", SHAPES)
def test_auth_refuses_every_shape_before_any_work(shape):
    metrics = ServerMetrics()
    steps = [MetricsInterceptor(metrics), AuthInterceptor(TOKEN, ""), ErrorInterceptor()]
    assert _code(shape, steps) == grpc.StatusCode.UNAUTHENTICATED
    assert _code(shape, steps, metadata=(("authorization", "Bearer " + "x" * 20),)) == grpc.StatusCode.PERMISSION_DENIED
    # With the token the call reaches the handler, whose own error comes back.
    assert _code(shape, steps, metadata=(("authorization", f"Bearer {TOKEN}"),)) == grpc.StatusCode.NOT_FOUND
    labels = {"grpc_type": TYPES[shape], "grpc_service": SERVICE, "grpc_method": shape}
    assert metrics.rpc_handled.labels(**labels, grpc_code="UNAUTHENTICATED")._value.get() == 1


@pytest.mark.parametrize("shape", SHAPES)
def test_admission_sheds_every_shape_at_capacity_and_gives_the_slot_back(shape):
    admission = AdmissionInterceptor(max_concurrent=1, max_streams=1, retry_after=0.1)

    async def run(channel):
        holder = asyncio.ensure_future(call_shape(channel, shape))
        await asyncio.wait_for(started.wait(), 10)  # the first call holds the only slot of its kind
        try:
            await call_shape(channel, shape)
        except grpc.aio.AioRpcError as error:
            shed = error.code()
        holder.cancel()
        with pytest.raises(asyncio.CancelledError):
            await holder
        for _ in range(100):  # the server unwinds the cancelled call
            if admission.active == 0 and admission.streams == 0:
                break
            await asyncio.sleep(0.02)
        return shed

    started = asyncio.Event()
    shed = asyncio.run(_with_server([admission, ErrorInterceptor()], run, started=started))
    assert shed == grpc.StatusCode.RESOURCE_EXHAUSTED and admission.shed == 1
    assert admission.active == 0 and admission.streams == 0

"""The error interceptor maps failures to statuses in every RPC shape, and leaves cancellation alone."""
from __future__ import annotations

import asyncio
import logging

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2

from smartlib_server.api.errors_interceptor import INTERNAL_MESSAGE, ErrorInterceptor
from smartlib_server.errors import InvalidArgument

SERVICE = "test.Shapes"
SHAPES = ("unary_unary", "unary_stream", "stream_unary", "stream_stream")
IDENTITY = {"request_deserializer": None, "response_serializer": None}


def _handlers(failure: Exception | None, started: asyncio.Event | None = None):
    """One method per shape; each raises `failure` (or, with `started`, waits to be cancelled)."""

    async def fail():
        if started is not None:
            started.set()
            await asyncio.sleep(30)
        raise failure

    async def unary(request, context):
        await fail()

    async def server_stream(request, context):
        yield b"first"
        await fail()

    async def client_stream(requests, context):
        async for _ in requests:
            pass
        await fail()

    async def bidi(requests, context):
        async for request in requests:
            yield request
        await fail()

    return grpc.method_handlers_generic_handler(SERVICE, {
        "unary_unary": grpc.unary_unary_rpc_method_handler(unary, **IDENTITY),
        "unary_stream": grpc.unary_stream_rpc_method_handler(server_stream, **IDENTITY),
        "stream_unary": grpc.stream_unary_rpc_method_handler(client_stream, **IDENTITY),
        "stream_stream": grpc.stream_stream_rpc_method_handler(bidi, **IDENTITY),
    })


async def _call(channel: grpc.aio.Channel, shape: str, timeout: float = 10):
    method = getattr(channel, shape)(f"/{SERVICE}/{shape}")
    requests = iter([b"a", b"b"])
    if shape == "unary_unary":
        return await method(b"a", timeout=timeout)
    if shape == "stream_unary":
        return await method(requests, timeout=timeout)
    call = method(b"a", timeout=timeout) if shape == "unary_stream" else method(requests, timeout=timeout)
    return [message async for message in call]


async def _serve(handlers):
    server = grpc.aio.server(interceptors=[ErrorInterceptor()])
    server.add_generic_rpc_handlers((handlers,))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    return server, grpc.aio.insecure_channel(f"127.0.0.1:{port}")


@pytest.mark.parametrize("shape", SHAPES)
def test_a_domain_error_becomes_its_status_with_details(shape):
    async def main():
        server, channel = await _serve(_handlers(InvalidArgument.field("k", "must be 1..100")))
        try:
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await _call(channel, shape)
            return caught.value
        finally:
            await channel.close()
            await server.stop(0)

    error = asyncio.run(main())
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and "must be 1..100" in error.details()
    raw = dict(error.trailing_metadata())["grpc-status-details-bin"]
    status = status_pb2.Status.FromString(raw)
    bad = error_details_pb2.BadRequest()
    status.details[0].Unpack(bad)
    assert [(v.field, v.description) for v in bad.field_violations] == [("k", "must be 1..100")]


@pytest.mark.parametrize("shape", SHAPES)
def test_anything_else_is_a_generic_internal_that_tells_nothing(shape, caplog):
    async def main():
        server, channel = await _serve(_handlers(RuntimeError("secret path /srv/x")))
        try:
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await _call(channel, shape)
            return caught.value
        finally:
            await channel.close()
            await server.stop(0)

    error = asyncio.run(main())
    assert error.code() == grpc.StatusCode.INTERNAL and error.details() == INTERNAL_MESSAGE
    assert "secret" not in error.details() and "secret path" in caplog.text  # logged, not sent


@pytest.mark.parametrize("shape", SHAPES)
def test_a_cancelled_call_is_not_logged_or_mapped_as_a_server_error(shape, caplog):
    async def main():
        started = asyncio.Event()
        server, channel = await _serve(_handlers(RuntimeError("never raised"), started))
        try:
            task = asyncio.ensure_future(_call(channel, shape))
            await asyncio.wait_for(started.wait(), 10)
            task.cancel()  # the client hangs up while the server is still working
            with pytest.raises(asyncio.CancelledError):
                await task
            await asyncio.sleep(0.3)  # let the server notice and unwind
        finally:
            await channel.close()
            await server.stop(0)

    caplog.set_level(logging.ERROR)
    asyncio.run(main())
    assert "unexpected error" not in caplog.text

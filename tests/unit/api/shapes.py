"""A tiny raw-bytes service with one method per RPC shape, for driving the call pipeline."""
from __future__ import annotations

import asyncio

import grpc

SERVICE = "test.Shapes"
SHAPES = ("unary_unary", "unary_stream", "stream_unary", "stream_stream")
IDENTITY = {"request_deserializer": None, "response_serializer": None}


def shapes_handler(failure: Exception | None, started: asyncio.Event | None = None):
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


async def call_shape(channel: grpc.aio.Channel, shape: str, timeout: float = 10, metadata=None):
    """Calls the method of `shape` (two request messages where requests stream).

    The streamed messages start after a short pause: a bidi call the server ends before reading
    (a denial, a shed) while the client is still writing gets "Internal error from Core" from
    gRPC's client core now and then (about 1 in 10 here, with or without this pipeline).
    """
    method = getattr(channel, shape)(f"/{SERVICE}/{shape}")

    async def later():
        for message in (b"a", b"b"):
            await asyncio.sleep(0.05)
            yield message

    requests = later()
    options = {"timeout": timeout, "metadata": metadata}
    if shape == "unary_unary":
        return await method(b"a", **options)
    if shape == "stream_unary":
        return await method(requests, **options)
    call = method(b"a", **options) if shape == "unary_stream" else method(requests, **options)
    return [message async for message in call]

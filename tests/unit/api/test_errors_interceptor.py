"""The error interceptor maps failures to statuses in every RPC shape, and leaves cancellation alone."""
from __future__ import annotations

import asyncio
import logging

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2

from smartlib_core.errors import InvalidArgument
from smartlib_server.api.errors_interceptor import INTERNAL_MESSAGE, ErrorInterceptor
from tests.unit.api.shapes import SHAPES, call_shape, shapes_handler


async def _serve(handlers):
    server = grpc.aio.server(interceptors=[ErrorInterceptor()])
    server.add_generic_rpc_handlers((handlers,))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    return server, grpc.aio.insecure_channel(f"127.0.0.1:{port}")

@pytest.mark.parametrize("shape", SHAPES)
def test_a_domain_error_becomes_its_status_with_details(shape):
    async def main():
        server, channel = await _serve(shapes_handler(InvalidArgument.field("k", "must be 1..100")))
        try:
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await call_shape(channel, shape)
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
        server, channel = await _serve(shapes_handler(RuntimeError("secret path /srv/x")))
        try:
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await call_shape(channel, shape)
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
        server, channel = await _serve(shapes_handler(RuntimeError("never raised"), started))
        try:
            task = asyncio.ensure_future(call_shape(channel, shape))
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

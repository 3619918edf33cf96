"""The error interceptor maps failures to statuses in every RPC shape, and leaves cancellation alone."""
from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time

import grpc
import numpy as np
import pytest
from google.rpc import error_details_pb2, status_pb2

from smartlib_core.errors import InvalidArgument, ResourceExhausted
from smartlib_server.adapters.batching import DynamicBatcher
from smartlib_server.api.errors_interceptor import INTERNAL_MESSAGE, ErrorInterceptor
from smartlib_server.api.pipeline import CallPipeline, Step
from tests.unit.api.shapes import SHAPES, call_shape, shapes_handler


class Ended(Step):
    """Sets `ended` once a call has left every step inside this one, however it ended."""

    def __init__(self) -> None:
        self.ended = asyncio.Event()

    @contextlib.asynccontextmanager
    async def around(self, call):
        try:
            yield
        finally:
            self.ended.set()


async def _serve(handlers, *outer: Step):
    server = grpc.aio.server(interceptors=[CallPipeline([*outer, ErrorInterceptor()])])
    server.add_generic_rpc_handlers((handlers,))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    return server, grpc.aio.insecure_channel(f"127.0.0.1:{port}")


def _full_queue_refusal() -> ResourceExhausted:
    """What a real DynamicBatcher raises when its queue is full: one item running, one queued."""
    gate, entered = threading.Event(), threading.Event()

    def model(items):
        entered.set()
        gate.wait(10)
        return np.zeros((len(items), 1), np.float32)

    batcher = DynamicBatcher(model, "query", max_wait_s=0.0, max_queue=1)
    callers = [threading.Thread(target=batcher.submit, args=([0],))]
    try:
        callers[0].start()
        assert entered.wait(10)
        callers.append(threading.Thread(target=batcher.submit, args=([1],)))
        callers[1].start()
        deadline = time.monotonic() + 10
        while batcher.queued < 1:
            assert time.monotonic() < deadline, "the second item never queued"
            time.sleep(0.005)
        with pytest.raises(ResourceExhausted) as caught:
            batcher.submit([2])
        return caught.value
    finally:
        gate.set()
        for caller in callers:
            caller.join(10)
        batcher.close()


def _bad_request(status: status_pb2.Status) -> list[tuple[str, str]]:
    bad = error_details_pb2.BadRequest()
    assert status.details[0].Unpack(bad)
    return [(v.field, v.description) for v in bad.field_violations]


def _retry_delay(status: status_pb2.Status) -> float:
    info = error_details_pb2.RetryInfo()
    assert status.details[0].Unpack(info)
    return info.retry_delay.seconds + info.retry_delay.nanos / 1e9


DOMAIN_ERRORS = {  # failure, its status code, a word of its message, and what its details hold
    "invalid argument": (lambda: InvalidArgument.field("k", "must be 1..100"), grpc.StatusCode.INVALID_ARGUMENT,
                         "must be 1..100", lambda status: _bad_request(status) == [("k", "must be 1..100")]),
    "full batch queue": (_full_queue_refusal, grpc.StatusCode.RESOURCE_EXHAUSTED, "queue is full",
                         lambda status: _retry_delay(status) == pytest.approx(0.2)),
}


@pytest.mark.parametrize("case", sorted(DOMAIN_ERRORS))
@pytest.mark.parametrize("shape", SHAPES)
def test_a_domain_error_becomes_its_status_with_details(shape, case):
    make, code, words, details_hold = DOMAIN_ERRORS[case]
    failure = make()

    async def main():
        server, channel = await _serve(shapes_handler(failure))
        try:
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await call_shape(channel, shape)
            return caught.value
        finally:
            await channel.close()
            await server.stop(0)

    error = asyncio.run(main())
    assert error.code() == code and words in error.details()
    status = status_pb2.Status.FromString(dict(error.trailing_metadata())["grpc-status-details-bin"])
    assert status.code == code.value[0] and len(status.details) == 1
    assert details_hold(status)


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
        started, ended = asyncio.Event(), Ended()
        server, channel = await _serve(shapes_handler(RuntimeError("never raised"), started), ended)
        try:
            task = asyncio.ensure_future(call_shape(channel, shape))
            await asyncio.wait_for(started.wait(), 10)
            task.cancel()  # the client hangs up while the server is still working
            with pytest.raises(asyncio.CancelledError):
                await task
            # A server-streaming call's hang-up sometimes never reached the server before the
            # transport went (about 1 run in 3 here, at this commit and at the last stop's);
            # closing the channel is the client leaving for good, which the server always sees.
            await channel.close()
            await asyncio.wait_for(ended.ended.wait(), 10)  # the server unwound through the interceptor
        finally:
            await channel.close()
            await server.stop(0)

    caplog.set_level(logging.ERROR)
    asyncio.run(main())
    assert "unexpected error" not in caplog.text

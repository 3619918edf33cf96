"""One call pipeline: the only place that knows gRPC's four RPC shapes.

Every call runs through the same steps (metrics, auth, admission with deadlines, error mapping),
each a small `Step` that never needs to know whether requests or responses stream:
- `prepare(method, handler)` adapts the handler once per method (admission's tolerant parser);
- `around(call)` wraps the whole call (a slot, a timer, a denial, an error mapping);
- `on_request` / `on_response` see each message as it passes.
Steps run outermost first, in the order given, so an earlier step sees what a later one did
(metrics records the status that error mapping or a denial chose).

A Step is also a grpc.aio.ServerInterceptor on its own (a pipeline of one), so a test or a tool
can install a single concern without the rest.
"""
from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import grpc

SHAPES = ("unary_unary", "unary_stream", "stream_unary", "stream_stream")
_CODES_BY_VALUE = {code.value[0]: code for code in grpc.StatusCode}


def shape_of(handler: grpc.RpcMethodHandler) -> str:
    return {(False, False): "unary_unary", (False, True): "unary_stream",
            (True, False): "stream_unary", (True, True): "stream_stream"}[
        (bool(handler.request_streaming), bool(handler.response_streaming))]


@dataclasses.dataclass
class Call:
    """One RPC as the steps see it; `state` holds per-step scratch, keyed by the step."""

    method: str
    shape: str
    context: grpc.aio.ServicerContext
    state: dict = dataclasses.field(default_factory=dict)

    @property
    def request_streaming(self) -> bool:
        return self.shape.startswith("stream")


def split_method(full_method: str) -> tuple[str, str]:
    # "/smartlib.v1.CatalogService/GetBook" -> ("smartlib.v1.CatalogService", "GetBook")
    _, _, rest = full_method.partition("/")
    service, _, method = rest.rpartition("/")
    return service or "unknown", method or "unknown"


def final_code(context: grpc.aio.ServicerContext, error: BaseException | None) -> grpc.StatusCode:
    """The status the client will see, given how the behaviour ended."""
    if isinstance(error, asyncio.CancelledError):
        return grpc.StatusCode.CANCELLED
    set_code = context.code()
    if not isinstance(set_code, grpc.StatusCode):
        set_code = _CODES_BY_VALUE.get(set_code)
    if set_code is not None:
        # context.abort() and context.set_code() both leave the code on the context.
        return set_code
    if error is None:
        return grpc.StatusCode.OK
    # An exception that escaped every handler: grpc.aio answers UNKNOWN for it.
    return grpc.StatusCode.UNKNOWN


class on_end:  # noqa: N801 - used as `async with on_end(call, ended):`, like a function
    """Runs the body, then hands `ended` the status the client will see, however the call ended;
    an exception still propagates. For steps that report the outcome (metrics, the trace span).

    A class rather than an @asynccontextmanager: every call enters it twice, and a generator-based
    manager costs an async generator (registered with the loop) and its frames each time."""

    __slots__ = ("_context", "_ended")

    def __init__(self, call: Call, ended: Callable[[grpc.StatusCode], None]):
        self._context = call.context
        self._ended = ended

    async def __aenter__(self) -> None:
        return None

    async def __aexit__(self, exc_type, error: BaseException | None, tb) -> bool:
        self._ended(final_code(self._context, error))
        return False  # the exception, if any, goes on


class Step(grpc.aio.ServerInterceptor):
    """A concern applied to every call; override only what the concern needs."""

    def prepare(self, method: str, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
        return handler

    @contextlib.asynccontextmanager
    async def around(self, call: Call) -> AsyncIterator[None]:
        yield

    async def on_request(self, call: Call, request: Any) -> None:
        return None

    def on_response(self, call: Call, response: Any) -> None:
        return None

    async def intercept_service(self, continuation, handler_call_details):
        return await CallPipeline([self]).intercept_service(continuation, handler_call_details)


class CallPipeline(grpc.aio.ServerInterceptor):
    def __init__(self, steps: Sequence[Step]):
        self.steps = tuple(steps)

    async def intercept_service(self, continuation, handler_call_details):
        handler = await continuation(handler_call_details)
        if handler is None:
            return None  # an unknown method: grpc answers UNIMPLEMENTED, and no step runs
        method = handler_call_details.method
        for step in self.steps:
            handler = step.prepare(method, handler)
        shape = shape_of(handler)
        return handler._replace(**{shape: self._wrap(method, shape, getattr(handler, shape))})

    @contextlib.asynccontextmanager
    async def _entered(self, call: Call) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            for step in self.steps:
                await stack.enter_async_context(step.around(call))
            yield

    async def _request(self, call: Call, request: Any) -> None:
        for step in self.steps:
            await step.on_request(call, request)

    def _response(self, call: Call, response: Any) -> None:
        for step in self.steps:
            step.on_response(call, response)

    def _requests(self, call: Call, requests: AsyncIterator[Any]) -> AsyncIterator[Any]:
        async def passing() -> AsyncIterator[Any]:
            async for request in requests:
                await self._request(call, request)
                yield request

        return passing()

    async def _responses(self, call: Call, result: Any) -> AsyncIterator[Any]:
        # A streaming behaviour is an async generator, or a coroutine that answers through
        # context.write() (those writes pass no step).
        if hasattr(result, "__aiter__"):
            async for response in result:
                self._response(call, response)
                yield response
        else:
            await result

    def _wrap(self, method: str, shape: str, behaviour):
        entered, request, response, requests, responses = (
            self._entered, self._request, self._response, self._requests, self._responses)

        if shape == "unary_unary":
            async def unary_unary(message, context):
                call = Call(method, shape, context)
                async with entered(call):
                    await request(call, message)
                    answer = await behaviour(message, context)
                    response(call, answer)
                    return answer

            return unary_unary

        if shape == "stream_unary":
            async def stream_unary(iterator, context):
                call = Call(method, shape, context)
                async with entered(call):
                    answer = await behaviour(requests(call, iterator), context)
                    response(call, answer)
                    return answer

            return stream_unary

        if shape == "unary_stream":
            async def unary_stream(message, context):
                call = Call(method, shape, context)
                async with entered(call):
                    await request(call, message)
                    async for answer in responses(call, behaviour(message, context)):
                        yield answer

            return unary_stream

        async def stream_stream(iterator, context):
            call = Call(method, shape, context)
            async with entered(call):
                async for answer in responses(call, behaviour(requests(call, iterator), context)):
                    yield answer

        return stream_stream

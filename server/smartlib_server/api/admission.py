"""Admission control: decides whether a call may start any work at all.

A call is turned away, before the servicer runs, when
- its payload does not parse (INVALID_ARGUMENT; gRPC itself would answer UNKNOWN and leak the
  parser's class name),
- its deadline has already passed (DEADLINE_EXCEEDED, nothing downstream is touched),
- the server already runs `max_concurrent` unary calls or `max_streams` streams
  (RESOURCE_EXHAUSTED with RetryInfo, at once: a caller is better served retrying elsewhere
  than queueing behind work it would time out on).
Admitted calls get their deadline published through smartlib_server.deadlines.

Health checks and reflection are never counted or shed: probes must answer under overload.
Everything here runs on the server's single event loop, so plain counters need no lock.
"""
from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import grpc

from smartlib_core.errors import InvalidArgument, ResourceExhausted
from smartlib_server import deadlines
from smartlib_server.api.errors_interceptor import abort_with
from smartlib_server.api.pipeline import Call, Step

NEVER_SHED = ("/grpc.health.v1.Health/", "/grpc.reflection.")


class _Malformed:
    """Stands in for a request whose bytes did not parse, so the behaviour can reject it."""


MALFORMED = _Malformed()


def _tolerant(deserializer: Callable[[bytes], Any] | None) -> Callable[[bytes], Any] | None:
    if deserializer is None:
        return None

    def parse(raw: bytes) -> Any:
        try:
            return deserializer(raw)
        except Exception:  # noqa: BLE001 - any parse failure is the caller's input, not our fault
            return MALFORMED

    return parse


def _malformed_error() -> InvalidArgument:
    return InvalidArgument("the request message could not be parsed; send a serialized message of the method's request type")


class AdmissionInterceptor(Step):
    """Sheds load and expired calls at the door.

    Args:
        max_concurrent: unary calls (and server-streaming calls) allowed in flight at once.
        max_streams: client- and bidirectional streams (chat conversations) open at once.
        retry_after: the delay put in RetryInfo when a call is shed, in seconds.
        on_shed: called with "calls" or "streams" for each call turned away (a metrics counter).
    """

    def __init__(self, max_concurrent: int, max_streams: int, retry_after: float = 0.2,
                 on_shed: Callable[[str], None] | None = None):
        if max_concurrent < 1 or max_streams < 1:
            raise ValueError("max_concurrent and max_streams must be at least 1")
        self.max_concurrent = max_concurrent
        self.max_streams = max_streams
        self.retry_after = retry_after
        self.active = 0
        self.streams = 0
        self.shed = 0  # calls turned away for capacity since start, for tests and metrics
        self._on_shed = on_shed or (lambda kind: None)

    # -- slots ------------------------------------------------------------------------------
    def _try_acquire(self, stream: bool) -> bool:
        if stream:
            if self.streams >= self.max_streams:
                return False
            self.streams += 1
        else:
            if self.active >= self.max_concurrent:
                return False
            self.active += 1
        return True

    def _release(self, stream: bool) -> None:
        if stream:
            self.streams -= 1
        else:
            self.active -= 1

    async def _admit(self, context: grpc.aio.ServicerContext, counted: bool, stream: bool) -> None:
        """Aborts the call unless it may run; on return a slot is held when `counted`."""
        left = context.time_remaining()
        if left is not None and left <= 0:
            await abort_with(context, deadlines.DeadlineExceeded("deadline exceeded before the call started; nothing was done"))
        if counted and not self._try_acquire(stream):
            self.shed += 1
            kind = "streams" if stream else "calls"
            self._on_shed(kind)
            limit = self.max_streams if stream else self.max_concurrent
            await abort_with(
                context,
                ResourceExhausted(f"server busy: {limit} {kind} already in progress; retry after the RetryInfo delay", self.retry_after),
            )

    @contextlib.asynccontextmanager
    async def _admitted(self, context: grpc.aio.ServicerContext, counted: bool, stream: bool):
        """Holds a slot (when `counted`) and publishes the call's deadline for the body."""
        await self._admit(context, counted, stream)
        try:
            with deadlines.bound(context.time_remaining()):
                yield
        finally:
            if counted:
                self._release(stream)

    # -- the step ----------------------------------------------------------------------------
    def prepare(self, method: str, handler):
        return handler._replace(request_deserializer=_tolerant(handler.request_deserializer))

    @contextlib.asynccontextmanager
    async def around(self, call: Call):
        async with self._admitted(call.context, not call.method.startswith(NEVER_SHED), call.request_streaming):
            yield

    async def on_request(self, call: Call, request: Any) -> None:
        if request is MALFORMED:
            # Raised, not aborted: a streaming servicer may read its requests in another task,
            # and only the handler's own task can end the call (error mapping does, or chat's
            # reader hands it over).
            raise _malformed_error()

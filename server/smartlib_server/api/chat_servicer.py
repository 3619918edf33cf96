"""ChatService.Converse: a bidirectional stream where each user turn runs as its own task.

A reader task keeps reading requests while a turn streams, so a CancelTurn arrives mid-turn.
Bad requests become a TurnError event and the stream carries on; only an idle timeout or the
client closing ends it. Turns use the shared worker pool once each for their blocking work and
nothing while idle, so open chat streams cannot starve unary RPCs.
"""
from __future__ import annotations

import asyncio
import logging
import time
import uuid

import grpc

from smartlib.v1 import chat_service_pb2 as pb, chat_service_pb2_grpc
from smartlib_core.errors import InvalidArgument, ResourceExhausted, SmartLibError
from smartlib_server.api.conversion import book_to_pb
from smartlib_server.api.errors_interceptor import INTERNAL_MESSAGE, grpc_code
from smartlib_server.services.chat.turns import Card, ChatService, Done, TextDelta, Typing

log = logging.getLogger(__name__)

_CLOSE = object()
OUTBOX = 256  # events buffered per stream before a slow reader holds back its turn


class _Stream:
    """Per-stream state, touched only from the event loop."""

    def __init__(self) -> None:
        self.outbox: asyncio.Queue = asyncio.Queue(maxsize=OUTBOX)
        self.task: asyncio.Task | None = None
        self.turn_id = ""
        self.turns = 0
        self.cancel_requested = False

    @property
    def busy(self) -> bool:
        return self.task is not None and not self.task.done()


class ChatServicer(chat_service_pb2_grpc.ChatServiceServicer):
    def __init__(self, chat: ChatService, metrics=None):
        self.chat = chat
        self.metrics = metrics  # smartlib_server.metrics.ServerMetrics, or None in unit tests
        self.open_streams = 0

    async def Converse(self, request_iterator, context):
        limits = self.chat.limits
        if self.open_streams >= limits.max_streams:
            raise ResourceExhausted(f"too many open chat streams (limit {limits.max_streams}); retry shortly", retry_after=2.0)
        self.open_streams += 1
        if self.metrics is not None:
            self.metrics.chat_active_streams.inc()
        stream = _Stream()
        reader = asyncio.create_task(self._read(request_iterator, stream))
        try:
            while True:
                event = await stream.outbox.get()
                if event is _CLOSE:
                    break
                if isinstance(event, _Abort):
                    await context.abort(event.code, event.message)
                yield event
        finally:
            reader.cancel()
            if stream.busy:
                stream.task.cancel()
            self.open_streams -= 1
            if self.metrics is not None:
                self.metrics.chat_active_streams.dec()

    async def _read(self, request_iterator, stream: _Stream) -> None:
        idle = self.chat.limits.idle_timeout_s
        iterator = request_iterator.__aiter__()
        pending = asyncio.ensure_future(iterator.__anext__())
        try:
            while True:
                done, _ = await asyncio.wait({pending}, timeout=idle)
                if not done:
                    if stream.busy:
                        continue  # a long turn is not idleness
                    await stream.outbox.put(_Abort(grpc.StatusCode.DEADLINE_EXCEEDED,
                                                   f"chat stream idle for {idle:g}s; open a new stream to continue"))
                    return
                try:
                    request = pending.result()
                except StopAsyncIteration:
                    if stream.busy:  # the client half-closed: finish the running turn, then end
                        await asyncio.wait({stream.task})
                    await stream.outbox.put(_CLOSE)
                    return
                pending = asyncio.ensure_future(iterator.__anext__())
                await self._handle(request, stream)
        except asyncio.CancelledError:
            raise
        except SmartLibError as exc:  # a request the pipeline refused (a message that does not parse)
            await stream.outbox.put(_Abort(grpc_code(exc), exc.message))
        except Exception:  # the transport failed; the RPC is over anyway
            log.debug("chat stream reader stopped", exc_info=True)
            await stream.outbox.put(_CLOSE)
        finally:
            if not pending.done():
                pending.cancel()
            elif not pending.cancelled():
                pending.exception()  # retrieved, so asyncio does not log it as lost

    async def _handle(self, request: pb.ConverseRequest, stream: _Stream) -> None:
        kind = request.WhichOneof("kind")
        if kind == "cancel":
            wanted = request.cancel.turn_id
            if stream.busy and (not wanted or wanted == stream.turn_id):
                stream.cancel_requested = True
                stream.task.cancel()
            return  # a cancel with nothing to cancel is ignored, as the contract says
        if kind != "turn":
            await stream.outbox.put(_error(InvalidArgument.field("kind", "set either turn or cancel")))
            return
        if stream.busy:
            await stream.outbox.put(_error(TurnRunning()))
            return
        if stream.turns >= self.chat.limits.max_turns_per_stream:
            await stream.outbox.put(_error(ResourceExhausted(
                f"this stream reached {self.chat.limits.max_turns_per_stream} turns; "
                "open a new stream (same session_id keeps the context)")))
            return
        turn_id = uuid.uuid4().hex[:12]
        message = request.turn
        try:
            turn = self.chat.validate(message.session_id, message.user_id, message.text, message.language, seed=turn_id)
        except SmartLibError as exc:
            await stream.outbox.put(_error(exc))
            return
        stream.turns += 1
        stream.turn_id = turn_id
        stream.cancel_requested = False
        stream.task = asyncio.create_task(self._run_turn(turn, turn_id, stream))

    async def _run_turn(self, turn, turn_id: str, stream: _Stream) -> None:
        language = turn.language_hint or "en"
        started, first = time.perf_counter(), True
        try:
            async for event in self.chat.run_turn(turn):
                if first and self.metrics is not None:
                    self.metrics.chat_first_event_seconds.observe(time.perf_counter() - started)
                first = False
                if isinstance(event, Done):
                    language = event.language
                    self._count(language, "done")
                await stream.outbox.put(_to_pb(event, turn_id))
        except asyncio.CancelledError:
            if stream.cancel_requested:  # the client cancelled: the turn ends, the stream goes on
                self._count(language, "cancelled")
                await stream.outbox.put(pb.ConverseEvent(done=pb.TurnDone(turn_id=turn_id, cancelled=True, language=language)))
                return
            raise
        except SmartLibError as exc:
            self._count(language, "error")
            await stream.outbox.put(_error(exc, turn_id))
        except Exception:
            self._count(language, "error")
            log.exception("chat turn failed")
            await stream.outbox.put(pb.ConverseEvent(error=pb.TurnError(
                code="INTERNAL", message=INTERNAL_MESSAGE, turn_id=turn_id)))


    def _count(self, language: str, outcome: str) -> None:
        if self.metrics is not None:
            self.metrics.chat_turns.labels(language=language if language in ("en", "pt") else "other", outcome=outcome).inc()


class _Abort:
    def __init__(self, code: grpc.StatusCode, message: str):
        self.code = code
        self.message = message


class TurnRunning(SmartLibError):
    code = grpc.StatusCode.FAILED_PRECONDITION

    def __init__(self) -> None:
        super().__init__("a turn is still running; wait for its TurnDone or send CancelTurn first")


def _error(exc: SmartLibError, turn_id: str = "") -> pb.ConverseEvent:
    return pb.ConverseEvent(error=pb.TurnError(code=exc.code.name, message=exc.message, turn_id=turn_id))


def _to_pb(event, turn_id: str) -> pb.ConverseEvent:
    if isinstance(event, TextDelta):
        return pb.ConverseEvent(delta=pb.TextDelta(text=event.text, turn_id=turn_id))
    if isinstance(event, Card):
        return pb.ConverseEvent(card=pb.BookCard(book=book_to_pb(event.book), reason=event.reason, turn_id=turn_id))
    if isinstance(event, Typing):
        return pb.ConverseEvent(typing=pb.Typing(turn_id=turn_id))
    if isinstance(event, Done):
        return pb.ConverseEvent(done=pb.TurnDone(turn_id=turn_id, language=event.language))
    raise TypeError(f"unknown chat event {event!r}")

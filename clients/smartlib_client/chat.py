"""A synchronous conversation over the bidirectional ChatService.Converse stream, and the
message building and event conversion the asyncio conversation (aio.AsyncChat) shares."""
from __future__ import annotations

import queue
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import grpc
import pandas as pd

from smartlib.v1 import chat_service_pb2
from smartlib_client.errors import SmartLibError, error_for_name, from_rpc_error
from smartlib_client.frames import BOOK_COLUMNS, book_to_dict

_CLOSE = object()
TERMINAL = ("done", "error")


@dataclass
class ChatEvent:
    """One server event. `kind` is "typing", "delta", "card", "done" or "error"."""

    kind: str
    turn_id: str = ""
    text: str = ""  # delta text
    book: dict[str, Any] | None = None  # card
    reason: str = ""  # card
    code: str = ""  # error: a gRPC status code name
    message: str = ""  # error
    cancelled: bool = False  # done
    language: str = ""  # done


@dataclass
class ChatReply:
    """A whole turn: the concatenated text and the cards, in the order they arrived."""

    turn_id: str
    text: str
    cards: pd.DataFrame
    language: str = ""
    cancelled: bool = False
    events: list[ChatEvent] = field(default_factory=list)


def _event(message: chat_service_pb2.ConverseEvent) -> ChatEvent:
    kind = message.WhichOneof("kind")
    body = getattr(message, kind)
    if kind == "typing":
        return ChatEvent("typing", body.turn_id)
    if kind == "delta":
        return ChatEvent("delta", body.turn_id, text=body.text)
    if kind == "card":
        return ChatEvent("card", body.turn_id, book=book_to_dict(body.book), reason=body.reason)
    if kind == "done":
        return ChatEvent("done", body.turn_id, cancelled=body.cancelled, language=body.language)
    return ChatEvent("error", body.turn_id, code=body.code, message=body.message)


def turn_request(session_id: str, user_id: str, text: str, language: str) -> chat_service_pb2.ConverseRequest:
    turn = chat_service_pb2.UserTurn(session_id=session_id, user_id=user_id, text=text, language=language)
    return chat_service_pb2.ConverseRequest(turn=turn)


def cancel_request(turn_id: str = "") -> chat_service_pb2.ConverseRequest:
    return chat_service_pb2.ConverseRequest(cancel=chat_service_pb2.CancelTurn(turn_id=turn_id))


def reply_from(events: list[ChatEvent]) -> ChatReply:
    """A whole turn from its events, the last being `done` or `error`.

    Raises:
        SmartLibError: the turn ended with an error event (typed by its code).
    """
    last = events[-1]
    if last.kind == "error":
        raise error_for_name(last.code, last.message)
    cards = pd.DataFrame(
        [{**e.book, "reason": e.reason} for e in events if e.kind == "card"], columns=[*BOOK_COLUMNS, "reason"]
    )
    return ChatReply(
        turn_id=last.turn_id,
        text="".join(e.text for e in events if e.kind == "delta"),
        cards=cards,
        language=last.language,
        cancelled=last.cancelled,
        events=events,
    )


class ChatBase:
    """What a conversation holds, on either client; `_open` starts the Converse stream.

    Args:
        stub: a ChatServiceStub (on a grpc.aio channel for AsyncChat).
        session_id: the conversation id; a random one when None.
        user_id: optional stable user id, so the agent remembers the user across sessions.
        language: "en", "pt" or "" to let the server detect it.
        metadata: per-call metadata (the bearer token).
        timeout: deadline for the whole stream in seconds; None keeps it open until closed.
    """

    def __init__(self, stub, session_id: str | None, user_id: str, language: str, metadata, timeout: float | None):
        self.session_id = session_id or uuid.uuid4().hex
        self.user_id = user_id
        self.language = language
        self._closed = False
        self._call = self._open(stub, metadata, timeout)

    def _open(self, stub, metadata, timeout: float | None):
        raise NotImplementedError

    def _turn(self, text: str, language: str | None) -> chat_service_pb2.ConverseRequest:
        if self._closed:
            raise RuntimeError("this chat is closed")
        return turn_request(self.session_id, self.user_id, text, self.language if language is None else language)


class Chat(ChatBase):
    """An open conversation (arguments as ChatBase's). Use it as a context manager; the stream closes on exit."""

    def _open(self, stub, metadata, timeout: float | None):
        self._requests: queue.Queue = queue.Queue()
        return stub.Converse(self._outgoing(), metadata=metadata, timeout=timeout)

    def _outgoing(self) -> Iterator[chat_service_pb2.ConverseRequest]:
        while True:
            item = self._requests.get()
            if item is _CLOSE:
                return  # half-closes the stream
            yield item

    def send(self, text: str, language: str | None = None) -> None:
        """Sends a user turn without waiting; read its events with `events()`.

        Args:
            text: the user's message, 1 to 2000 characters.
            language: "en" or "pt"; defaults to the chat's language hint.

        Raises:
            RuntimeError: the chat is closed.
        """
        self._requests.put(self._turn(text, language))

    def cancel(self, turn_id: str = "") -> None:
        """Asks the server to stop the running turn; it answers with a `done` event marked cancelled.

        Args:
            turn_id: the turn to cancel; empty cancels whatever turn is running.
        """
        self._requests.put(cancel_request(turn_id))

    def events(self) -> Iterator[ChatEvent]:
        """Every event the server sends, across turns, until the stream ends.

        Raises:
            SmartLibError: the stream itself failed (a typed subclass for its status code).
        """
        try:
            for message in self._call:
                yield _event(message)
        except grpc.RpcError as err:
            if self._closed and err.code() == grpc.StatusCode.CANCELLED:
                return
            raise from_rpc_error(err) from None

    __iter__ = events

    def say(self, text: str, language: str | None = None) -> Iterator[ChatEvent]:
        """Sends a turn and yields its events as they arrive, ending after `done` or `error`.

        Args:
            text: the user's message.
            language: optional "en"/"pt" hint for this turn.

        Returns:
            An iterator of ChatEvent; a failed turn ends with an `error` event (not an exception).

        Raises:
            SmartLibError: the stream failed or ended before the turn finished.
        """
        self.send(text, language)
        for event in self.events():
            yield event
            if event.kind in TERMINAL:
                return
        raise SmartLibError("the chat stream ended before the turn finished")

    def ask(self, text: str, language: str | None = None) -> ChatReply:
        """Sends a turn and waits for the whole answer.

        Args:
            text: the user's message.
            language: optional "en"/"pt" hint for this turn.

        Returns:
            A ChatReply with the full text and a DataFrame of the book cards (plus `reason`).

        Raises:
            SmartLibError: the turn failed (typed by the TurnError code) or the stream failed.
        """
        return reply_from(list(self.say(text, language)))

    def close(self, timeout: float = 5.0) -> None:
        """Half-closes the stream, lets the server finish, and cancels it if it does not in `timeout` s."""
        if self._closed:
            return
        self._closed = True
        self._requests.put(_CLOSE)
        drain = threading.Thread(target=self._drain, daemon=True)
        drain.start()
        drain.join(timeout)
        if drain.is_alive():
            self._call.cancel()
            drain.join(1.0)

    def _drain(self) -> None:
        try:
            for _ in self.events():
                pass
        except SmartLibError:
            pass  # closing: a late stream error has no one left to report to

    def __enter__(self) -> "Chat":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

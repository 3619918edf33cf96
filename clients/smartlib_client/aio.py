"""AsyncSmartLibrary: the asyncio client, on grpc.aio. The same methods as SmartLibrary, awaited.

    async with AsyncSmartLibrary("localhost:50051") as lib:
        await lib.wait_until_ready()
        frame = await lib.similar("The Hobbit", k=5)
        async for page in lib.page_iter(page_size=200):
            ...

The methods are the ones written once in operations.py; only running them differs. Create the
client inside the event loop that uses it (a grpc.aio channel belongs to one loop).
"""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import grpc

from smartlib_client._plans import AsyncDriver
from smartlib_client._rpc_status import parse_details
from smartlib_client.chat import TERMINAL, ChatBase, ChatEvent, ChatReply, _event, cancel_request, reply_from
from smartlib_client.errors import SmartLibError, error_for, from_rpc_error
from smartlib_client.operations import LibraryOperations

__all__ = ["AsyncSmartLibrary", "AsyncChat"]


class AsyncChat(ChatBase):
    """An open conversation on grpc.aio (arguments as ChatBase's); `async with` closes the stream."""

    def _open(self, stub, metadata, timeout: float | None):
        return stub.Converse(metadata=metadata, timeout=timeout)

    async def send(self, text: str, language: str | None = None) -> None:
        """Sends a user turn without waiting; read its events with `events()`.

        Raises:
            RuntimeError: the chat is closed.
        """
        await self._write(self._turn(text, language))

    async def cancel(self, turn_id: str = "") -> None:
        """Asks the server to stop the running turn (empty: whatever turn is running)."""
        await self._write(cancel_request(turn_id))

    async def _write(self, request) -> None:
        try:
            await self._call.write(request)
        except (grpc.RpcError, asyncio.InvalidStateError):
            # The server already ended the stream (a refusal, a limit): grpc.aio reports the failed
            # write as INTERNAL, so raise the stream's own status instead.
            details = parse_details(await self._call.trailing_metadata())
            raise error_for(await self._call.code(), await self._call.details(),
                            violations=details.violations, retry_after=details.retry_after) from None

    async def events(self) -> AsyncIterator[ChatEvent]:
        """Every event the server sends, across turns, until the stream ends.

        Raises:
            SmartLibError: the stream itself failed (a typed subclass for its status code).
        """
        while True:
            try:
                message = await self._call.read()
            except grpc.RpcError as err:
                if self._closed and err.code() == grpc.StatusCode.CANCELLED:
                    return
                raise from_rpc_error(err) from None
            if message is grpc.aio.EOF:
                return
            yield _event(message)

    async def say(self, text: str, language: str | None = None) -> AsyncIterator[ChatEvent]:
        """Sends a turn and yields its events as they arrive, ending after `done` or `error`.

        Raises:
            SmartLibError: the stream failed or ended before the turn finished.
        """
        await self.send(text, language)
        async for event in self.events():
            yield event
            if event.kind in TERMINAL:
                return
        raise SmartLibError("the chat stream ended before the turn finished")

    async def ask(self, text: str, language: str | None = None) -> ChatReply:
        """Sends a turn and waits for the whole answer (text and a DataFrame of book cards).

        Raises:
            SmartLibError: the turn failed (typed by the TurnError code) or the stream failed.
        """
        return reply_from([event async for event in self.say(text, language)])

    async def close(self, timeout: float = 5.0) -> None:
        """Half-closes the stream, lets the server finish, and cancels it if it does not in `timeout` s."""
        if self._closed:
            return
        self._closed = True
        try:
            await self._call.done_writing()
            await asyncio.wait_for(self._drain(), timeout)
        except (asyncio.TimeoutError, grpc.RpcError, SmartLibError):
            pass  # closing: a late stream error has no one left to report to
        finally:
            self._call.cancel()

    async def _drain(self) -> None:
        async for _ in self.events():
            pass

    async def __aenter__(self) -> AsyncChat:
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()


class AsyncSmartLibrary(AsyncDriver, LibraryOperations[AsyncChat]):
    """A grpc.aio connection to a Smart Library server (or to several replicas, with round_robin).

    Takes the same arguments as SmartLibrary; every method is a coroutine except `page_iter`,
    which returns an async iterator, and `chat`, which returns an AsyncChat.
    """

    _aio = True
    _chat_type = AsyncChat

    async def close(self) -> None:
        """Closes the channel; calls in flight are cancelled."""
        await self._channel.close()

    async def __aenter__(self) -> AsyncSmartLibrary:
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

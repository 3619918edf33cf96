"""One chat turn as an async stream of plain events: typing, text chunks, book cards, done.

The blocking part (understanding, catalog lookups, recommendations, memory) runs on the shared
worker pool once per turn; streaming the words happens on the event loop, so an open or idle
chat stream holds no worker thread. With an LLM parser the turn goes to the pool twice: once to
read the session and link the message, then, after the model read it on the event loop, to
answer.
"""
from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import Executor
from typing import Any, Union

from smartlib_core.domain import Book
from smartlib_core.errors import InvalidArgument
from smartlib_server import deadlines
from smartlib_server.services.chat.agent import ChatAgent
from smartlib_server.services.chat.grounding import CatalogTitles, Grounding
from smartlib_server.services.chat.language import normalise_hint
from smartlib_server.services.chat.llm import LLMFailed, LLMPhraser
from smartlib_server.services.chat.llm_parse import LLMParser
from smartlib_server.services.chat.session import Reply, TurnInput

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class ChatLimits:
    max_text_chars: int = 2000
    max_id_chars: int = 128
    max_turns_per_stream: int = 500
    idle_timeout_s: float = 300.0  # a stream with no request and no running turn for this long is closed
    max_streams: int = 256  # open Converse streams per server process (config: at most SMARTLIB_MAX_STREAMS)
    chunk_words: int = 8  # words per TextDelta: 8 halves the messages of 3 (bench: +55% turns/s at 16 streams)
    chunk_delay_s: float = 0.0  # pause between built-in chunks; 0 yields to the loop without waiting

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if value < 0 or (value == 0 and field.name != "chunk_delay_s"):
                raise ValueError(f"ChatLimits.{field.name} must be positive")


@dataclasses.dataclass(frozen=True)
class Typing:
    pass


@dataclasses.dataclass(frozen=True)
class TextDelta:
    text: str


@dataclasses.dataclass(frozen=True)
class Card:
    book: Book
    reason: str


@dataclasses.dataclass(frozen=True)
class Done:
    language: str


Event = Union[Typing, TextDelta, Card, Done]

_CHUNK = re.compile(r"\S+\s*|\s+")


def chunks(text: str, words: int) -> Iterator[str]:
    """Splits text into pieces of `words` words, keeping every space and newline, so the pieces
    concatenate back to exactly `text`."""
    tokens = _CHUNK.findall(text)
    for start in range(0, len(tokens), words):
        yield "".join(tokens[start: start + words])


class ChatService:
    def __init__(self, agent: ChatAgent, executor: Executor, limits: ChatLimits = ChatLimits(), phraser: LLMPhraser | None = None,
                 parser: LLMParser | None = None):
        self.agent = agent
        self.executor = executor
        self.limits = limits
        self.phraser = phraser
        self.parser = parser  # reads each message before the local model when set; None: the local model alone
        self.llm_fallbacks = 0  # turns where the model failed and the built-in generator took over
        self.llm_dropped = 0  # model sentences dropped for naming a book the turn did not retrieve
        self._titles = CatalogTitles()

    def validate(self, session_id: str, user_id: str, text: str, language: str, seed: str = "") -> TurnInput:
        """Checks one user turn.

        Raises:
            InvalidArgument: the field named in the violation is missing, too long or unsupported.
        """
        limits = self.limits
        if not session_id.strip():
            raise InvalidArgument.field("turn.session_id", "must not be empty")
        if len(session_id) > limits.max_id_chars:
            raise InvalidArgument.field("turn.session_id", f"must be at most {limits.max_id_chars} characters")
        if len(user_id) > limits.max_id_chars:
            raise InvalidArgument.field("turn.user_id", f"must be at most {limits.max_id_chars} characters")
        if not text.strip():
            raise InvalidArgument.field("turn.text", "must not be empty")
        if len(text) > limits.max_text_chars:
            raise InvalidArgument.field("turn.text", f"must be at most {limits.max_text_chars} characters, got {len(text)}")
        if "\x00" in text:
            raise InvalidArgument.field("turn.text", "must not contain NUL characters")
        return TurnInput(session_id.strip(), text.strip(), user_id.strip(), normalise_hint(language), seed)

    async def run_turn(self, turn: TurnInput) -> AsyncIterator[Event]:
        """Typing, then the answer text in chunks, then the book cards, then Done.

        Raises:
            SmartLibError: the catalog or recommender refused (e.g. the index is still loading).
        """
        yield Typing()
        loop = asyncio.get_running_loop()
        if self.parser is None:
            reply: Reply = await loop.run_in_executor(self.executor, deadlines.in_context(self.agent.prepare, turn))
        else:
            reply = await self._prepare_parsed(turn)
        async for piece in self._phrase(reply):
            yield TextDelta(piece)
        for book, reason in reply.cards:
            yield Card(book, reason)
        await loop.run_in_executor(self.executor, deadlines.in_context(self.agent.commit, reply))
        yield Done(reply.language)

    async def _prepare_parsed(self, turn: TurnInput) -> Reply:
        """The turn with the LLM reading the message between two trips to the pool; whatever
        the model answers, a reading that does not validate leaves the local model to answer."""
        loop = asyncio.get_running_loop()
        reading = await loop.run_in_executor(self.executor, deadlines.in_context(self.agent.read, turn))
        parsed = await self.parser(turn.text, reading.entities, reading.situation)
        return await loop.run_in_executor(self.executor, deadlines.in_context(self.agent.prepare, turn, reading, parsed))

    async def _phrase(self, reply: Reply) -> AsyncIterator[str]:
        sent_any = False
        if self.phraser is not None:
            books = getattr(self.agent, "books", None) or {}
            grounding = Grounding(reply, self._titles.get(books))
            try:
                async for piece in self.phraser.stream(reply):
                    for sentence in grounding.feed(piece):
                        sent_any = True
                        yield sentence
                for sentence in grounding.finish():
                    sent_any = True
                    yield sentence
                self._count_dropped(grounding)
                if sent_any:
                    return
                log.warning("every sentence of the model's answer named an unretrieved book; using the built-in answer")
            except LLMFailed as exc:
                for sentence in grounding.finish():  # what arrived before the failure, checked too
                    sent_any = True
                    yield sentence
                self._count_dropped(grounding)
                self.llm_fallbacks += 1
                log.warning("LLM phrasing failed, using the built-in generator: %s", exc)
        if sent_any:
            yield "\n\n"  # the model stopped mid-answer: the full built-in answer follows
        for piece in chunks(reply.text, self.limits.chunk_words):
            yield piece
            await asyncio.sleep(self.limits.chunk_delay_s)  # let other streams' events out between chunks

    def _count_dropped(self, grounding: Grounding) -> None:
        if grounding.dropped:
            self.llm_dropped += len(grounding.dropped)
            log.info("dropped %d model sentence(s) naming books outside the turn's cards", len(grounding.dropped))

    def close(self) -> None:
        if self.phraser is not None:
            self.phraser.close()


def limits_from_settings(settings: Any) -> ChatLimits:
    """ChatLimits from Settings fields named chat_*, where present (defaults otherwise)."""
    values = {}
    for field in dataclasses.fields(ChatLimits):
        value = getattr(settings, f"chat_{field.name}", None)
        if value is not None:
            values[field.name] = value
    return ChatLimits(**values)

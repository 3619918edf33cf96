"""Optional LLM phrasing through an OpenAI-compatible streaming chat-completions endpoint
(Ollama, vLLM, llama.cpp server), grounded in the books the agent already retrieved.

urllib in a dedicated small thread pool, not httpx: no new dependency, and a slow model never
occupies the shared worker pool that unary RPCs need. Each wait is bounded (first token,
stall between tokens, whole answer), and any failure raises LLMFailed so the caller can fall
back to the built-in generator, mid-turn if needed.
"""
from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import threading
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

from smartlib_server.services.chat.session import Reply
from smartlib_server.services.chat.wording import byline, genres, rating

log = logging.getLogger(__name__)


class LLMFailed(Exception):
    """The model did not answer in time or answered something unusable."""


@dataclasses.dataclass(frozen=True)
class LLMConfig:
    url: str  # the endpoint, or a base URL that /v1/chat/completions is appended to
    model: str = "default"
    first_token_timeout_s: float = 8.0
    stall_timeout_s: float = 4.0
    total_timeout_s: float = 30.0
    max_tokens: int = 400
    concurrency: int = 8  # model calls at once; further turns wait for a slot, then fall back on timeout

    @property
    def endpoint(self) -> str:
        url = self.url.rstrip("/")
        if url.endswith("/chat/completions"):
            return url
        return url + ("/chat/completions" if url.endswith("/v1") else "/v1/chat/completions")

    def __post_init__(self) -> None:
        if urlsplit(self.endpoint).scheme not in ("http", "https"):
            raise ValueError(f"LLM url must be http:// or https://, got {self.url!r}")


SYSTEM = {
    "en": (
        "You are the Smart Library book assistant. Answer in English, warmly and briefly (under 150 words). "
        "Use ONLY the books and facts listed below; never mention any other book, author, award, date or fact. "
        "If the facts do not answer the question, say so. Keep every title exactly as written."
    ),
    "pt": (
        "Você é o assistente de livros da Smart Library. Responda em português do Brasil, de forma calorosa e breve "
        "(menos de 150 palavras). Use SOMENTE os livros e fatos listados abaixo; nunca cite outro livro, autor, prêmio, "
        "data ou fato. Se os fatos não responderem à pergunta, diga isso. Mantenha os títulos exatamente como estão."
    ),
}


def messages(reply: Reply) -> list[dict[str, str]]:
    """The prompt: the user's message, the retrieved books as facts, and the built-in draft."""
    facts = []
    for book, why in reply.cards:
        facts.append(
            f"- {byline(book, 'en')} | genres: {genres(book, 'en', 5, specific=False)} | rating: {rating(book, 'en') or 'unknown'}"
            f" | why shown: {why} | description: {book.description[:600]}"
        )
    user = (
        f"User message: {reply.turn.text}\n\nBooks (the only ones you may mention):\n"
        + ("\n".join(facts) or "- none")
        + f"\n\nDraft answer to rephrase naturally, keeping its facts and list order:\n{reply.text}"
    )
    return [{"role": "system", "content": SYSTEM[reply.language]}, {"role": "user", "content": user}]


class LLMPhraser:
    def __init__(self, config: LLMConfig):
        self.config = config
        self._pool = ThreadPoolExecutor(max_workers=config.concurrency, thread_name_prefix="smartlib-llm")

    async def stream(self, reply: Reply) -> AsyncIterator[str]:
        """Yields the model's text as it arrives.

        Raises:
            LLMFailed: connection error, HTTP error, malformed stream, or a timeout.
        """
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[str, object]] = asyncio.Queue()
        stop = threading.Event()

        def post(kind: str, value: object) -> None:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, (kind, value))
            except RuntimeError:  # the loop is gone: the server is shutting down
                stop.set()

        def work() -> None:
            try:
                for piece in self._pieces(messages(reply), stop):
                    post("text", piece)
                post("end", None)
            except Exception as exc:  # noqa: BLE001 - reported to the turn, which falls back
                post("error", exc)

        self._pool.submit(work)
        deadline = loop.time() + self.config.total_timeout_s
        first = True
        try:
            while True:
                wait = self.config.first_token_timeout_s if first else self.config.stall_timeout_s
                wait = min(wait, deadline - loop.time())
                try:
                    kind, value = await asyncio.wait_for(queue.get(), max(wait, 0.001))
                except TimeoutError:
                    raise LLMFailed("timed out waiting for the model") from None
                if kind == "text":
                    first = False
                    yield str(value)
                elif kind == "end":
                    if first:
                        raise LLMFailed("the model returned no text")
                    return
                else:
                    raise LLMFailed(f"model call failed: {value}")
        finally:
            stop.set()  # the worker thread drops the connection at its next read

    def _pieces(self, prompt: list[dict[str, str]], stop: threading.Event) -> Iterator[str]:
        body = json.dumps({
            "model": self.config.model, "messages": prompt, "stream": True,
            "temperature": 0.3, "max_tokens": self.config.max_tokens,
        }).encode()
        request = urllib.request.Request(
            self.config.endpoint, data=body, method="POST",
            headers={"Content-Type": "application/json", "Accept": "text/event-stream"},
        )
        # The socket timeout bounds every read, so a hung server never pins this thread for long.
        timeout = max(self.config.first_token_timeout_s, self.config.stall_timeout_s)
        with urllib.request.urlopen(request, timeout=timeout) as response:
            for raw in response:
                if stop.is_set():
                    return
                line = raw.decode("utf-8", "replace").strip()
                if not line.startswith("data:"):
                    continue
                data = line[5:].strip()
                if data == "[DONE]":
                    return
                try:
                    choice = json.loads(data)["choices"][0]
                except (ValueError, KeyError, IndexError, TypeError):
                    raise LLMFailed(f"unexpected stream line: {data[:80]!r}") from None
                piece = (choice.get("delta") or {}).get("content") or ""
                if piece:
                    yield piece
        # OpenAI, Ollama, vLLM and llama.cpp all end with [DONE]; without it the answer was cut off.
        if not stop.is_set():
            raise LLMFailed("the stream ended before [DONE]")

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

"""Optional LLM phrasing through an OpenAI-compatible streaming chat-completions endpoint
(Ollama, vLLM, llama.cpp server), grounded in the books the agent already retrieved.

The stream is read with httpx on the event loop: no thread is held per model call, so the only
limit on calls at once is the chat stream limit (SMARTLIB_CHAT_MAX_STREAMS), and a cancelled
turn closes its connection at once. Each wait is bounded (first token, stall between tokens,
whole answer), and any failure raises LLMFailed so the caller can fall back to the built-in
generator, mid-turn if needed.
"""
from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
from collections.abc import AsyncIterator
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


class ModelHTTP:
    """httpx, the modules its first connection imports, and one TLS context, all loaded when a
    model client is built (build_services, before SERVING, off the event loop). Loaded inside
    the first call they took the event loop for ~0.15 s of CPU, and a fresh client's CA bundle
    for ~25 ms more on every call: time in which no RPC on the loop moved (on the loaded host,
    six first turns at once held unary RPCs past a 1 s deadline)."""

    def __init__(self):
        import anyio._backends._asyncio  # noqa: F401  imported by the first connection otherwise
        import httpcore._backends.anyio  # noqa: F401
        import httpx  # only with SMARTLIB_LLM_URL: a start without a model never imports it

        self.httpx = httpx
        self.HTTPError = httpx.HTTPError
        self._tls = httpx.create_ssl_context()  # honours SSL_CERT_FILE / SSL_CERT_DIR as httpx does

    def client(self, timeout_s: float):
        """One call's client: its own connection, closed with the call."""
        return self.httpx.AsyncClient(timeout=self.httpx.Timeout(timeout_s), verify=self._tls)


class LLMPhraser:
    def __init__(self, config: LLMConfig):
        self.config = config
        self._http = ModelHTTP()

    async def stream(self, reply: Reply) -> AsyncIterator[str]:
        """Yields the model's text as it arrives.

        Raises:
            LLMFailed: connection error, HTTP error, malformed stream, or a timeout.
        """
        try:
            async for piece in self._pieces(messages(reply)):
                yield piece
        except self._http.HTTPError as exc:
            raise LLMFailed(f"model call failed: {type(exc).__name__}: {exc}") from None

    async def _pieces(self, prompt: list[dict[str, str]]) -> AsyncIterator[str]:
        config = self.config
        loop = asyncio.get_running_loop()
        deadline = loop.time() + config.total_timeout_s
        body = {"model": config.model, "messages": prompt, "stream": True, "temperature": 0.3, "max_tokens": config.max_tokens}
        # httpx's own timeouts bound connecting and each read; the loop below adds first-token,
        # stall and whole-answer limits on top. One client per call: a model call takes seconds,
        # so a fresh connection costs nothing that matters, and nothing outlives the turn.
        async with self._http.client(max(config.first_token_timeout_s, config.stall_timeout_s)) as client, client.stream(
            "POST", config.endpoint, json=body, headers={"Accept": "text/event-stream"}
        ) as response:
            if response.status_code >= 400:
                raise LLMFailed(f"the model answered HTTP {response.status_code}")
            lines = response.aiter_lines()
            first = True
            while True:
                wait = min(config.first_token_timeout_s if first else config.stall_timeout_s, deadline - loop.time())
                try:
                    line = (await asyncio.wait_for(anext(lines), max(wait, 0.001))).strip()
                except TimeoutError:
                    raise LLMFailed("timed out waiting for the model") from None
                except StopAsyncIteration:
                    # OpenAI, Ollama, vLLM and llama.cpp all end with [DONE]; without it the answer was cut off.
                    raise LLMFailed("the stream ended before [DONE]") from None
                if not line.startswith("data:"):
                    continue
                data = line[5:].strip()
                if data == "[DONE]":
                    if first:
                        raise LLMFailed("the model returned no text")
                    return
                try:
                    choice = json.loads(data)["choices"][0]
                except (ValueError, KeyError, IndexError, TypeError):
                    raise LLMFailed(f"unexpected stream line: {data[:80]!r}") from None
                piece = (choice.get("delta") or {}).get("content") or ""
                if piece:
                    first = False
                    yield piece

    def close(self) -> None:
        """Nothing to release: each call owns its connection."""

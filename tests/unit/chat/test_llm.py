"""LLM phrasing against a local OpenAI-compatible streaming server, and the fallback to the
built-in generator when the model fails before or during an answer."""
from __future__ import annotations

import asyncio
import json
import select
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from smartlib_core.domain import Book
from smartlib_server.services.chat.agent import Reply, TurnInput
from smartlib_server.services.chat.llm import LLMConfig, LLMFailed, LLMPhraser
from smartlib_server.services.chat.turns import ChatLimits, ChatService

DUNE = Book("dune", "Dune (Dune, #1)", ("Frank Herbert",), "On the desert planet Arrakis...", ("Science Fiction",), avg_rating=4.28)


class FakeModel(BaseHTTPRequestHandler):
    """Streams like /v1/chat/completions; `mode` picks a behaviour."""

    mode = "ok"
    requests: list[dict] = []
    words: tuple[str, ...] = ("Dune ", "is ", "a ", "classic.")
    release = threading.Event()  # "hold": every call waits for it before answering
    disconnected = threading.Event()  # "silent": set when the client closes the connection

    def do_POST(self):  # noqa: N802 - http.server's naming
        length = int(self.headers["Content-Length"])
        type(self).requests.append({"path": self.path, "body": json.loads(self.rfile.read(length))})
        if self.mode == "hold":
            self.release.wait(30)
        if self.mode == "silent":
            self._wait_for_disconnect()
            return
        if self.mode == "error":
            self.send_error(500, "model crashed")
            return
        if self.mode == "hang":
            time.sleep(2)
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        for word in self.words:
            self._event({"choices": [{"delta": {"content": word}}]})
            if self.mode == "stall":
                time.sleep(2)
                return
        if self.mode == "cut":
            return  # no [DONE]: the answer was cut off
        if self.mode == "garbage":
            self.wfile.write(b"data: {not json}\n\n")
        self.wfile.write(b"data: [DONE]\n\n")

    def _wait_for_disconnect(self) -> None:
        """Headers, then nothing: the model thinks. The connection's end of file is the client leaving."""
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        self.wfile.flush()
        for _ in range(600):
            readable, _, _ = select.select([self.connection], [], [], 0.05)
            if readable and self.connection.recv(1, socket.MSG_PEEK) == b"":
                type(self).disconnected.set()
                return

    def _event(self, payload: dict) -> None:
        self.wfile.write(f"data: {json.dumps(payload)}\n\n".encode())
        self.wfile.flush()

    def log_message(self, *args):  # keep test output clean
        pass


@pytest.fixture
def model(monkeypatch):
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeModel)
    server.daemon_threads = True
    monkeypatch.setattr(FakeModel, "requests", [])
    monkeypatch.setattr(FakeModel, "release", threading.Event())
    monkeypatch.setattr(FakeModel, "disconnected", threading.Event())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _phraser(server, mode: str, monkeypatch) -> LLMPhraser:
    monkeypatch.setattr(FakeModel, "mode", mode)
    url = f"http://127.0.0.1:{server.server_address[1]}"
    return LLMPhraser(LLMConfig(url, model="tiny", first_token_timeout_s=0.5, stall_timeout_s=0.5, total_timeout_s=5))


def _reply(language: str = "en") -> Reply:
    turn = TurnInput("s", "Tell me about Dune", language_hint=language)
    return Reply(language, "Dune by Frank Herbert.\n\nA desert planet.", [(DUNE, "the book you asked about")], turn, "about", {}, {})


async def _collect(agen) -> list[str]:
    return [piece async for piece in agen]


def test_streams_the_model_text_with_a_grounded_prompt(model, monkeypatch):
    phraser = _phraser(model, "ok", monkeypatch)
    assert asyncio.run(_collect(phraser.stream(_reply("pt")))) == ["Dune ", "is ", "a ", "classic."]
    request = FakeModel.requests[0]
    assert request["path"] == "/v1/chat/completions"
    body = request["body"]
    assert body["model"] == "tiny" and body["stream"] is True
    system, user = body["messages"]
    assert "SOMENTE" in system["content"] and "português" in system["content"]
    assert "Dune by Frank Herbert" in user["content"] and "the only ones you may mention" in user["content"]
    phraser.close()


@pytest.mark.parametrize("mode", ["error", "hang", "cut", "garbage"])
def test_failures_raise_llm_failed_quickly(model, monkeypatch, mode):
    phraser = _phraser(model, mode, monkeypatch)
    started = time.monotonic()
    with pytest.raises(LLMFailed):
        asyncio.run(_collect(phraser.stream(_reply())))
    assert time.monotonic() - started < 2.0
    phraser.close()


def test_more_model_calls_at_once_than_any_thread_pool_would_allow(model, monkeypatch):
    """Twelve turns reach the model together: no fixed cap (the old thread pool allowed 8)."""
    monkeypatch.setattr(FakeModel, "mode", "hold")
    url = f"http://127.0.0.1:{model.server_address[1]}"
    phraser = LLMPhraser(LLMConfig(url, first_token_timeout_s=15, stall_timeout_s=15, total_timeout_s=30))
    arrived_together = []

    def release_when_all_arrived() -> None:
        for _ in range(100):  # 5 s: far less than the 30 s a held call waits for release
            if len(FakeModel.requests) >= 12:
                break
            time.sleep(0.05)
        arrived_together.append(len(FakeModel.requests))
        FakeModel.release.set()

    async def twelve_turns():
        opener = asyncio.get_running_loop().run_in_executor(None, release_when_all_arrived)
        answers = await asyncio.gather(*(_collect(phraser.stream(_reply())) for _ in range(12)))
        await opener
        return answers

    answers = asyncio.run(twelve_turns())
    assert arrived_together == [12]
    assert all("".join(a) == "Dune is a classic." for a in answers)


def test_a_cancelled_turn_closes_its_model_connection_at_once(model, monkeypatch):
    """The reader leaves while the model is still thinking: the connection goes with the turn,
    well before any of the model timeouts (30 s here) would have ended it."""
    monkeypatch.setattr(FakeModel, "mode", "silent")
    url = f"http://127.0.0.1:{model.server_address[1]}"
    phraser = LLMPhraser(LLMConfig(url, first_token_timeout_s=30, stall_timeout_s=30, total_timeout_s=30))

    async def leave_mid_call():
        task = asyncio.create_task(_collect(phraser.stream(_reply())))
        for _ in range(200):
            if FakeModel.requests:
                break
            await asyncio.sleep(0.02)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(leave_mid_call())
    assert FakeModel.requests, "the call never reached the model"
    assert FakeModel.disconnected.wait(5), "the connection outlived the cancelled turn"


def test_unreachable_model_fails():
    phraser = LLMPhraser(LLMConfig("http://127.0.0.1:9", first_token_timeout_s=1, stall_timeout_s=1))
    with pytest.raises(LLMFailed):
        asyncio.run(_collect(phraser.stream(_reply())))
    phraser.close()


def test_a_stalled_model_falls_back_mid_turn(model, monkeypatch):
    phraser = _phraser(model, "stall", monkeypatch)
    service = ChatService(agent=None, executor=None, limits=ChatLimits(), phraser=phraser)
    pieces = asyncio.run(_collect(service._phrase(_reply())))
    assert pieces[0] == "Dune " and pieces[1] == "\n\n"
    assert "".join(pieces[2:]) == _reply().text  # the whole built-in answer follows
    assert service.llm_fallbacks == 1
    phraser.close()


def test_a_failing_model_before_any_text_leaves_only_the_built_in_answer(model, monkeypatch):
    phraser = _phraser(model, "error", monkeypatch)
    service = ChatService(agent=None, executor=None, limits=ChatLimits(), phraser=phraser)
    assert "".join(asyncio.run(_collect(service._phrase(_reply())))) == _reply().text
    phraser.close()


@pytest.mark.parametrize("url, endpoint", [
    ("http://localhost:11434", "http://localhost:11434/v1/chat/completions"),
    ("http://localhost:8000/v1/", "http://localhost:8000/v1/chat/completions"),
    ("https://llm.internal/v1/chat/completions", "https://llm.internal/v1/chat/completions"),
])
def test_endpoint(url, endpoint):
    assert LLMConfig(url).endpoint == endpoint


def test_rejects_non_http_urls():
    with pytest.raises(ValueError):
        LLMConfig("ftp://example")


LOTR = Book("lotr", "The Lord of the Rings", ("J.R.R. Tolkien",), genres=("Fantasy",))
MESSIAH = Book("messiah", "Dune Messiah (Dune, #2)", ("Frank Herbert",), genres=("Science Fiction",))


class _Catalog:
    """The one thing grounding needs from the agent: the catalog's books."""

    books = {b.id: b for b in (DUNE, LOTR, MESSIAH)}


def test_sentences_naming_books_outside_the_cards_are_dropped(model, monkeypatch):
    monkeypatch.setattr(FakeModel, "words", (
        "Dune is a ", "classic. You might also enjoy The Lord ", "of the Rings, an epic. ",
        "Or try *The Wind Through the Keyhole*. ", "Its sequel, Dune Messiah, continues the story. ",
        "It is set on the desert planet Arrakis.",
    ))
    phraser = _phraser(model, "ok", monkeypatch)
    service = ChatService(agent=_Catalog(), executor=None, limits=ChatLimits(), phraser=phraser)
    reply = _reply()  # its cards hold Dune only, and its draft names no other book
    text = "".join(asyncio.run(_collect(service._phrase(reply))))
    assert text == "Dune is a classic. It is set on the desert planet Arrakis."
    assert service.llm_dropped == 3 and service.llm_fallbacks == 0
    phraser.close()


def test_a_book_the_built_in_draft_names_may_be_named_by_the_model(model, monkeypatch):
    monkeypatch.setattr(FakeModel, "words", ("The catalog also has Dune Messiah, from the same series.",))
    phraser = _phraser(model, "ok", monkeypatch)
    service = ChatService(agent=_Catalog(), executor=None, limits=ChatLimits(), phraser=phraser)
    turn = TurnInput("s", "Tell me about Dune")
    reply = Reply("en", "Dune by Frank Herbert. The catalog also has Dune Messiah.", [(DUNE, "")], turn, "about", {}, {})
    assert "".join(asyncio.run(_collect(service._phrase(reply)))) == "The catalog also has Dune Messiah, from the same series."
    assert service.llm_dropped == 0
    phraser.close()


def test_an_answer_that_only_names_other_books_falls_back_to_the_built_in_one(model, monkeypatch):
    monkeypatch.setattr(FakeModel, "words", ("Read The Lord of the Rings instead.",))
    phraser = _phraser(model, "ok", monkeypatch)
    service = ChatService(agent=_Catalog(), executor=None, limits=ChatLimits(), phraser=phraser)
    assert "".join(asyncio.run(_collect(service._phrase(_reply())))) == _reply().text
    phraser.close()


# Run in a fresh interpreter: this process imported httpx long ago. A model call runs on the
# server's event loop, so it imports nothing and loads no CA bundle; both happen when the client
# is built, before SERVING.
_NOTHING_LOADED_ON_THE_LOOP = """
import asyncio, ssl, sys
from smartlib_server.services.chat.agent import Reply, TurnInput
from smartlib_server.services.chat.llm import LLMConfig, LLMFailed, LLMPhraser
from smartlib_server.services.chat.llm_parse import LLMParser
from smartlib_server.services.chat.understand import Situation

config = LLMConfig("http://127.0.0.1:9", first_token_timeout_s=1, stall_timeout_s=1)
phraser, parser = LLMPhraser(config), LLMParser(config, timeout_s=1)
loaded, bundles = set(sys.modules), []
real_load = ssl.SSLContext.load_verify_locations
ssl.SSLContext.load_verify_locations = lambda *a, **k: bundles.append(a) or real_load(*a, **k)

async def calls():
    try:
        async for _ in phraser.stream(Reply("en", "x", [], TurnInput("s", "x"), "about", {}, {})):
            pass
    except LLMFailed:
        pass
    assert await parser("books like dune", [], Situation()) is None

asyncio.run(calls())
asyncio.run(calls())
new = sorted(set(sys.modules) - loaded)
assert not new and not bundles, (new[:10], len(bundles))
"""


def test_a_model_call_imports_nothing_and_loads_no_ca_bundle_on_the_event_loop():
    """Loaded inside the first call, httpx's modules held the event loop for ~0.15 s of CPU (and
    the CA bundle ~25 ms on every call), long enough under load for unary RPCs to miss 1 s deadlines."""
    done = subprocess.run([sys.executable, "-c", _NOTHING_LOADED_ON_THE_LOOP], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]

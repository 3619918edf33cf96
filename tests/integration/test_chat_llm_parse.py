"""The LLM as parser (issue 24, item 6) behind ChatService.Converse, against the fake
OpenAI-compatible server: SMARTLIB_LLM_URL wires it in, its valid JSON decides the intent, and
anything else, a model that hangs included, leaves the local intent model to answer without
holding a worker thread."""
from __future__ import annotations

import dataclasses
import time

import pytest

from smartlib.v1 import catalog_service_pb2, catalog_service_pb2_grpc
from smartlib_server.adapters.memory.in_process import InProcessConversationMemory
from smartlib_server.app import build_services
from smartlib_server.background import BackgroundServer
from smartlib_server.services.chat import build_chat_service
from smartlib_server.services.chat.llm_parse import SYSTEM, LLMParser
from tests.integration.test_chat import Conversation
from tests.unit.chat.test_llm import FakeModel, model  # noqa: F401 - the fake server and its fixture

HELP = ('{"intent": "help", "confidence": 0.9}',)


@pytest.fixture
def llm_server(inference, starter_settings, model, monkeypatch):  # noqa: F811
    started: list[BackgroundServer] = []

    def make(mode: str = "ok", words: tuple[str, ...] = HELP, **overrides) -> BackgroundServer:
        monkeypatch.setattr(FakeModel, "mode", mode)
        monkeypatch.setattr(FakeModel, "words", words)
        settings = dataclasses.replace(starter_settings, llm_url=f"http://127.0.0.1:{model.server_address[1]}", **overrides)
        server = BackgroundServer(settings, build_services(settings, inference=inference))
        started.append(server)
        server.load()
        return server

    yield make
    FakeModel.release.set()  # a held call in the fake server ends
    for server in started:
        server.stop()


def _parses(requests: list[dict]) -> list[dict]:
    return [r for r in requests if r["body"]["messages"][0]["content"] == SYSTEM]


def test_the_setting_wires_the_parser_and_can_keep_the_llm_to_phrasing(llm_server):
    server = llm_server()
    services = server.services
    assert isinstance(services.chat.parser, LLMParser)
    off = build_chat_service(services.recommend, InProcessConversationMemory(), services.executor,
                             dataclasses.replace(services.settings, llm_parse=False))
    assert off.parser is None and off.phraser is not None


def test_the_models_valid_json_decides_the_intent(llm_server):
    server = llm_server(words=HELP)
    with server.channel() as channel:
        chat = Conversation(channel)
        turn = chat.say("Books like Dune")  # the local model reads a likeness ask; the LLM said help
        chat.close()
    assert not turn.cards
    parse = _parses(FakeModel.requests)[0]["body"]["messages"][-1]["content"]
    assert "{TITLE}" in parse and "Dune" not in parse  # the model sees slots, not the title
    assert (server.services.chat.parser.parsed, server.services.chat.parser.fallbacks) == (1, 0)


@pytest.mark.parametrize("mode, words", [("error", ()), ("ok", ("not JSON at all",)), ("ok", ('{"intent": "weather"}',))])
def test_anything_but_valid_json_leaves_the_local_model_to_answer(llm_server, mode, words):
    server = llm_server(mode=mode, words=words)
    with server.channel() as channel:
        chat = Conversation(channel)
        turn = chat.say("Books like Dune")
        chat.close()
    assert len(turn.cards) == 5 and "Dune" not in [c.book.title for c in turn.cards]
    assert (server.services.chat.parser.parsed, server.services.chat.parser.fallbacks) == (0, 1)


def test_a_hung_parse_holds_no_worker_and_times_out_to_the_local_model(llm_server):
    server = llm_server(mode="hold", workers=1)  # the fake model answers nothing until released
    parser = server.services.chat.parser
    parser.timeout_s = 3.0
    with server.channel() as channel:
        chat = Conversation(channel)
        chat.send("Books like Dune")
        assert chat.next().HasField("typing")
        deadline = time.monotonic() + 10
        while not _parses(FakeModel.requests) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _parses(FakeModel.requests), "the parse never reached the model"
        stub = catalog_service_pb2_grpc.CatalogServiceStub(channel)
        for _ in range(3):  # the one worker thread is free while the model thinks
            stub.SearchBooks(catalog_service_pb2.SearchBooksRequest(query="dune", limit=1), timeout=1)
        while not parser.fallbacks and time.monotonic() < deadline + 5:
            time.sleep(0.05)
        FakeModel.release.set()  # past the parse timeout: the phrasing call that follows answers at once
        turn = chat.read_turn()
        chat.close()
    assert turn.kinds[-1] == "done" and len(turn.cards) == 5
    assert (parser.parsed, parser.fallbacks) == (0, 1)

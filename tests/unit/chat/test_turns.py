"""Turn validation and the built-in generator's chunking."""
from __future__ import annotations

import dataclasses

import pytest

from smartlib_core.errors import InvalidArgument
from smartlib_server.services.chat.turns import ChatLimits, ChatService, chunks, limits_from_settings


@pytest.mark.parametrize("text", ["", "one", "Hello there, reader!\n\n1. Dune by Frank Herbert\n2. Foundation  ", "  leading"])
@pytest.mark.parametrize("words", [1, 3, 7])
def test_chunks_concatenate_back_exactly(text, words):
    pieces = list(chunks(text, words))
    assert "".join(pieces) == text
    assert all(len(p.split()) <= words for p in pieces)


@pytest.fixture
def service() -> ChatService:
    return ChatService(agent=None, executor=None, limits=ChatLimits(max_text_chars=50))


def test_validate_cleans_a_good_turn(service):
    turn = service.validate(" s1 ", "u1", "  Books like Dune ", "pt-BR", seed="t1")
    assert (turn.session_id, turn.user_id, turn.text, turn.language_hint, turn.seed) == ("s1", "u1", "Books like Dune", "pt", "t1")


@pytest.mark.parametrize("session_id, user_id, text, language, field", [
    ("", "", "hi", "", "turn.session_id"),
    ("s" * 129, "", "hi", "", "turn.session_id"),
    ("s", "u" * 129, "hi", "", "turn.user_id"),
    ("s", "", "", "", "turn.text"),
    ("s", "", " \n ", "", "turn.text"),
    ("s", "", "x" * 51, "", "turn.text"),
    ("s", "", "a\x00b", "", "turn.text"),
    ("s", "", "hi", "de", "turn.language"),
])
def test_validate_names_the_bad_field(service, session_id, user_id, text, language, field):
    with pytest.raises(InvalidArgument) as raised:
        service.validate(session_id, user_id, text, language)
    assert list(raised.value.violations) == [field]


def test_limits_are_read_from_chat_settings():
    @dataclasses.dataclass(frozen=True)
    class Settings:
        chat_idle_timeout_s: float = 12.0
        chat_max_text_chars: int = 500

    limits = limits_from_settings(Settings())
    assert (limits.idle_timeout_s, limits.max_text_chars, limits.max_streams) == (12.0, 500, ChatLimits().max_streams)
    with pytest.raises(ValueError):
        ChatLimits(max_streams=0)

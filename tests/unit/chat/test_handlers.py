"""The handler table: one handler per intent label, the old parser's every kind mapped onto a
label, and no handler module reaching back into the agent."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from smartlib_server.services.chat import handlers, intents
from smartlib_server.services.chat.handlers import HANDLERS
from smartlib_server.services.chat.request import LABELS

HANDLER_DIR = Path(handlers.__file__).parent


def test_every_label_has_one_handler():
    assert set(HANDLERS) == set(LABELS)
    assert all(callable(h) for h in HANDLERS.values())


@pytest.mark.parametrize("text, label", [
    ("hello", "greet"), ("thanks", "thanks_bye"), ("bye", "thanks_bye"), ("help", "help"),
    ("tell me about Dune", "about_book"), ("who is Neil Gaiman", "who_wrote"), ("books by Stephen King", "author"),
    ("books like Dune", "similar"), ("something like Dune but shorter", "similar"), ("recommend fantasy", "recommend"),
    ("best rated fantasy books", "best_rated"), ("Harry Potter in order", "series_order"),
    ("what is the second book in The Hunger Games", "series_order"), ("what comes after The Two Towers", "series_next"),
    ("compare Dune and Foundation", "compare"), ("more", "more"), ("the second one", "pick"), ("why?", "why"),
    ("not like that", "reject"), ("no romance", "refine"), ("something shorter", "refine"), ("I love fantasy", "taste_like"),
    ("I loved Dune", "taste_like"), ("I hate romance", "taste_dislike"), ("I hated Twilight", "taste_dislike"),
    ("what do you know about me?", "memory_show"), ("forget what I like", "memory_forget"),
    ("what's the weather tomorrow?", "off_topic"), ("asdf qwer", "nonsense"),
])
def test_the_parser_maps_onto_the_labels(text, label):
    assert intents.to_request(intents.parse(text, "en")).kind == label


def test_every_parser_kind_has_a_label():
    for kind in intents.KINDS:
        ask = intents.to_request(intents.Intent(kind, likes=("Fantasy",) if kind == "taste" else ()))
        assert ask.kind in LABELS, kind


def test_no_handler_imports_the_agent():
    modules = sorted(HANDLER_DIR.glob("*.py"))
    assert len(modules) >= 10
    for path in modules:
        for node in ast.walk(ast.parse(path.read_text())):  # imports inside functions too
            if isinstance(node, ast.ImportFrom):
                names = [f"{node.module}.{alias.name}" for alias in node.names]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            assert not [n for n in names if n.endswith(".agent") or n.endswith(".ChatAgent")], f"{path.name} imports the agent"

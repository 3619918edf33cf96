"""The handler table: one handler per intent label, and no handler module reaching back into
the agent."""
from __future__ import annotations

import ast
from pathlib import Path

from smartlib_server.services.chat import handlers
from smartlib_server.services.chat.handlers import HANDLERS
from smartlib_server.services.chat.request import LABELS

HANDLER_DIR = Path(handlers.__file__).parent


def test_every_label_has_one_handler():
    assert set(HANDLERS) == set(LABELS)
    assert all(callable(h) for h in HANDLERS.values())


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


def test_a_genre_read_as_both_liked_and_disliked_is_remembered_as_neither():
    """One message read as "likes young adult" and "dislikes young adult" must not make the
    conversation memory refuse the whole turn: the contradictory genre is dropped, the rest kept."""
    from smartlib_server.adapters.memory.in_process import InProcessConversationMemory
    from smartlib_server.services.chat.handlers.discover import taste_lists

    liked, disliked = taste_lists(["Fantasy", "Young Adult"], ["young adult", "Horror"])
    assert liked == ["fantasy"] and disliked == ["horror"]
    memory = InProcessConversationMemory()
    memory.remember("reader-1", liked_genres=liked, disliked_genres=disliked)
    profile = memory.profile("reader-1")
    assert list(profile.liked_genres) == ["fantasy"] and list(profile.disliked_genres) == ["horror"]

"""Reply wording, one catalog per language: messages/<language>.yaml maps a key to a template
with named placeholders ("Books like {title}:"), or to a list of equivalent templates to vary
between turns. Adding a language is adding a file with the same keys and placeholders
(tests/unit/chat/test_messages.py checks they match).
"""
from __future__ import annotations

import functools
import random
import string
from pathlib import Path

from smartlib_server.services.chat.lexicon import load_yaml

MESSAGES_DIR = Path(__file__).resolve().parent / "messages"


@functools.cache
def catalog(language: str) -> dict[str, str | list[str]]:
    """Every message of one language, read once.

    Raises:
        FileNotFoundError: no catalog for that language.
    """
    return load_yaml((MESSAGES_DIR / f"{language}.yaml").read_text(encoding="utf-8"))


def languages() -> tuple[str, ...]:
    return tuple(sorted(path.stem for path in MESSAGES_DIR.glob("*.yaml")))


def placeholders(entry: str | list[str]) -> set[str]:
    """The named placeholders of a message (of every variant, for a list)."""
    templates = entry if isinstance(entry, list) else [entry]
    return {name for template in templates for _, name, _, _ in string.Formatter().parse(template) if name}


class Phrasebook:
    """One turn's wording in one language; picks among a message's variants so a conversation
    does not repeat itself word for word, reproducibly for a given seed."""

    def __init__(self, language: str, seed: str):
        self.language = language
        self._messages = catalog(language)
        self._rng = random.Random(seed)

    def t(self, key: str, **values: object) -> str:
        """The message `key` with its placeholders filled.

        Raises:
            KeyError: an unknown key, or a placeholder without a value.
        """
        entry = self._messages[key]
        if isinstance(entry, list):
            entry = entry[self._rng.randrange(len(entry))]
        text = entry.format_map(values)
        for value in values.values():  # a name ending with its own point ("Jr.") ends the sentence once
            if isinstance(value, str) and value.endswith("."):
                text = text.replace(f"{value}. ", f"{value} ").replace(f"{value}.\n", f"{value}\n")
        return text

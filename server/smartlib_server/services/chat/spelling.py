"""Other spellings of catalog names that the linker's tables add (data/names.yaml): an author's
name transliterated as another language writes it ("dostoievski" for Dostoevsky), and a series
name without the word readers leave off its end ("earthsea" for the Earthsea Cycle).
"""
from __future__ import annotations

import functools
from pathlib import Path

import yaml

MIN_LETTERS = 5  # shorter names collide too easily once rewritten


@functools.cache
def _names() -> dict:
    return yaml.safe_load((Path(__file__).parent / "data" / "names.yaml").read_text(encoding="utf-8"))


def sound_key(folded: str) -> str:
    """A folded name rewritten by the transliteration rules: two spellings of one name from
    another alphabet share it ("dostoievski", "dostoevsky" -> "dostoevski"); "" for a short one."""
    if len(folded.replace(" ", "")) < MIN_LETTERS:
        return ""
    key = folded
    for old, new in _names()["transliteration"]:
        key = key.replace(old, new)
    return key


def series_head(folded: str) -> str:
    """A series name without the word readers leave off its end ("earthsea cycle" -> "earthsea"),
    or "" when it ends with none."""
    words = folded.split()
    if len(words) >= 2 and words[-1] in _names()["series_endings"]:
        return " ".join(words[:-1])
    return ""

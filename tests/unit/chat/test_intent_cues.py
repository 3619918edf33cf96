"""The intent model's cue features: polarity after negation, slots by clause, contrast, form."""
from __future__ import annotations

import pytest

from smartlib_server.services.chat.intent_cues import clause_polarity, cues


@pytest.mark.parametrize(("text", "sign"), [
    ("I really like {GENRE}", 1),
    ("I don't really like {GENRE}", -1),  # a negator a word or two before the liking word
    ("I never get into {GENRE}", -1),
    ("I can't stand {AUTHOR}", -1),  # "stand" likes; negated, it dislikes
    ("{GENRE} bores me", -1),
    ("I don't hate {GENRE}", 1),  # a disliking word negated
    ("não gosto de {GENRE}", -1),
    ("n curto {GENRE}", -1),
    ("{GENRE} me dá sono", -1),
    ("não me canso de {GENRE}", 1),
    ("what's {TITLE} about", 0),
])
def test_a_negator_flips_the_clause_it_governs(text, sign):
    assert f"p:net:{sign:+d}" in cues(text)


def test_each_clause_keeps_its_own_polarity_and_slots():
    found = cues("I love {GENRE} but I can't stand {AUTHOR}")
    assert "p:+1:genre" in found and "p:-1:author" in found
    assert "b:contrast" in found and "b:after:author" in found and "b:after:genre" not in found


def test_a_negator_reaches_only_a_few_words():
    assert clause_polarity("no idea why but everyone says they really do like it".split()) == 1


def test_slot_kinds_form_and_positions():
    found = cues("which is better, {TITLE} or {TITLE}?")
    assert {"s:q", "k:title", "k:set:title", "k:two:title", "s:first:which"} <= set(found)
    assert "o:1" in cues("tell me about the second one")
    assert "o:2" in cues("o primeiro ou o último, qual é melhor?")
    assert "s:nq" in cues("give me something like {TITLE}") and "k:set:none" in cues("hello")

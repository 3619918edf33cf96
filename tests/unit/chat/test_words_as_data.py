"""Word lists as data (data/words/*.yaml, issue 24): the matchers are built from the files, so a
word added there is read with no code change, in any language, and without retraining the intent
model (whose weights hash only data/linker and data/lexicon)."""
from __future__ import annotations

import pytest

from smartlib_server.services.chat import intent_model, words
from smartlib_server.services.chat.handlers.like_but import read_change


@pytest.mark.parametrize("modifier, language", [("but thinner", "en"), ("mas mais curtinho", "pt")])
def test_a_word_in_the_data_file_reaches_the_matcher(modifier, language):
    # "thinner" and "curtinho" are only in data/words/changes.yaml (shorter); without them this is a free-text ask
    assert read_change(modifier, language).kind == "shorter"


@pytest.fixture
def words_dir(tmp_path, monkeypatch):
    monkeypatch.setattr(words, "WORDS_DIR", tmp_path)
    words.table.cache_clear()
    yield tmp_path
    words.table.cache_clear()


def test_a_third_language_is_one_more_key_in_a_file(words_dir):
    (words_dir / "shorter.yaml").write_text("shorter:\n  en: [shorter]\n  pt: [mais curto]\n  es: [más corto]\n",
                                            encoding="utf-8")
    matcher = words.spaced(words.table("shorter")["shorter"])
    assert matcher.search("algo más corto")
    assert matcher.search("algo mais curto") and not matcher.search("algo mais")


def test_a_star_lets_a_word_go_on_and_nothing_else_is_a_pattern():
    assert words.whole_words(["murder*"]).search("two murderers")
    assert not words.whole_words(["murder"]).search("two murderers")
    assert words.whole_words(["w/o"]).search("fantasy w/o romance")
    assert not words.whole_words(["a.m"]).search("9 aXm")  # phrases are escaped, never read as patterns


def test_the_word_lists_are_outside_the_intent_models_hash():
    hashed = {path.resolve() for path in intent_model.trained_on()}
    assert not {path.resolve() for path in words.WORDS_DIR.iterdir()} & hashed

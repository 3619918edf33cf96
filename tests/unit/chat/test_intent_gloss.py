"""Portuguese reaches the intent model's English encoder as an English gloss; English as written."""
from __future__ import annotations

import numpy as np

from smartlib_server.services.chat import intent_model
from smartlib_server.services.chat.intent_gloss import for_encoder, gloss
from smartlib_server.services.chat.intent_model import Features


def test_a_portuguese_message_is_glossed_longest_phrase_first():
    assert for_encoder("quem escreveu {TITLE}?") == "who wrote {TITLE} ?"
    assert for_encoder("{GENRE} me dá sono") == "{GENRE} makes me sleepy"  # the phrase, not "me is sleep"
    assert gloss("nao curto {GENRE}") == "I do not like {GENRE}"  # folded, as readers type it


def test_an_english_message_reaches_the_encoder_as_written():
    # "do", "me", "a" are Portuguese words too: glossed, this would read "of the you have ..."
    assert for_encoder("do you have {TITLE}?") == "do you have {TITLE}?"
    assert for_encoder("give me a {GENRE} book") == "give me a {GENRE} book"


def test_the_design_embeds_the_gloss_and_keeps_the_ngrams_of_the_message(monkeypatch):
    seen: list[str] = []

    def embed(texts):
        seen.extend(texts)
        return np.ones((len(texts), 384), dtype=np.float32)

    text = "pq vc escolheu esses?"
    glossed, plain = Features(gloss=True).design([text], embed), Features().design([text], embed)
    assert seen == [intent_model.embed_text(for_encoder(text)), text]
    assert seen[0].startswith("why you")
    assert (glossed.cols == plain.cols).all()  # the n-grams and cues read the Portuguese


def test_the_shipped_weights_were_trained_on_glossed_portuguese():
    assert intent_model.shipped().features.gloss

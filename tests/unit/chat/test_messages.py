"""The reply catalogs: every language has the same keys and, per key, the same placeholders, so
a reply never fails or drops a fact in one language; and the agent's code uses only keys that exist."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from smartlib_server.services.chat import messages
from smartlib_server.services.chat.messages import Phrasebook

CHAT = Path(messages.__file__).parent


def test_both_languages_have_a_catalog():
    assert set(messages.languages()) >= {"en", "pt"}


@pytest.mark.parametrize("language", [lang for lang in messages.languages() if lang != "en"])
def test_every_catalog_has_the_english_keys_and_placeholders(language):
    english, other = messages.catalog("en"), messages.catalog(language)
    assert sorted(set(english) - set(other)) == [], f"missing in {language}"
    assert sorted(set(other) - set(english)) == [], f"only in {language}"
    differ = {key: (messages.placeholders(english[key]), messages.placeholders(other[key]))
              for key in english if messages.placeholders(english[key]) != messages.placeholders(other[key])}
    assert differ == {}


def test_every_message_is_text_or_a_list_of_variants():
    for language in messages.languages():
        for key, entry in messages.catalog(language).items():
            variants = entry if isinstance(entry, list) else [entry]
            assert variants and all(isinstance(v, str) and v.strip() for v in variants), (language, key)


def test_every_key_the_code_names_exists():
    named = set()
    for path in CHAT.rglob("*.py"):
        named |= set(re.findall(r"""\.t\(\s*"([a-z_]+(?:\.[a-z_]+)*)\"""", path.read_text()))
    assert len(named) >= 100
    assert sorted(named - set(messages.catalog("en"))) == []


def test_a_message_fills_its_placeholders_and_refuses_a_missing_one():
    p = Phrasebook("pt", "seed")
    assert p.t("taste.liked_book", title="Duna") == "Anotado, você gostou de Duna."
    with pytest.raises(KeyError):
        p.t("taste.liked_book")
    variants = {Phrasebook("en", str(seed)).t("more.intro") for seed in range(20)}
    assert variants == set(messages.catalog("en")["more.intro"])


@pytest.mark.parametrize("english, portuguese", [
    ("matches your words", "combina com as suas palavras"),
    ("matches your words and close to your description (Fantasy)",
     "combina com as suas palavras e próximo do que você descreveu (fantasia)"),
    ("matches Science Fiction, Fantasy", "combina com ficção científica, fantasia"),
    ("same author: Andy Weir", "mesmo autor: Andy Weir"),
])
def test_the_recommenders_reasons_read_in_portuguese(english, portuguese):
    from smartlib_server.services.chat.wording import reason

    assert reason(english, "pt") == portuguese
    assert reason(english, "en") == english

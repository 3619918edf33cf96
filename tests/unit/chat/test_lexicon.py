"""Portuguese titles and genres, and the English query words sent to the encoder."""
from __future__ import annotations

import csv
from importlib import resources

import pytest

from smartlib_core.text import bare_title, fold, split_series
from smartlib_server.services.chat import lexicon
from smartlib_server.services.chat.lexicon import EN_GENRES, GENRE_PT, PT_GENRES, PT_TITLES, english_query, genre_label, genre_phrases
from tests.conftest import dataset_path


@pytest.mark.parametrize("pt, en", [
    ("Duna", "dune"), ("Fundação", "foundation"), ("O Hobbit", "the hobbit"), ("A Guerra dos Tronos", "a game of thrones"),
    ("Orgulho e Preconceito", "pride and prejudice"), ("O Senhor dos Anéis", "the lord of the rings"),
])
def test_portuguese_titles(pt, en):
    assert lexicon.pt_title_key(fold(pt)) == en


def test_every_mapped_title_is_folded():
    for key, value in PT_TITLES.items():
        assert key == fold(key) and value == fold(value), key


def test_most_mapped_titles_are_in_the_starter_catalog():
    path = resources.files("smartlib_server") / "starter" / "starter_catalog.csv"
    with path.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    titles = {bare_title(row["Book"]) for row in rows}
    series = {fold(row["Book"].rsplit("(", 1)[1].split(",")[0]) for row in rows if "(" in row["Book"]}
    bare = {lexicon.strip_article(t) for t in titles | series}
    starter = lexicon._read("pt_titles.yaml")
    known = [v for v in starter.values() if v in titles or v in series or lexicon.strip_article(v) in bare]
    assert len(known) / len(starter) > 0.9, set(starter.values()) - set(known)


def test_every_10k_title_mapped_is_in_the_10k_catalog():
    path = dataset_path()
    if not path.is_file():
        pytest.skip(f"the 10k CSV is not at {path}")
    with path.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    names = {bare_title(row["Book"]) for row in rows} | {fold(split_series(row["Book"])[1]) for row in rows}
    mapped = lexicon._read("pt_titles_10k.yaml")
    assert len(mapped) >= 100
    assert not {v for v in mapped.values() if v not in names}


@pytest.mark.parametrize("text, genre", [
    ("fantasia", "Fantasy"), ("ficção científica", "Science Fiction"), ("romance", "Romance"), ("mistério", "Mystery"),
    ("terror", "Horror"), ("sci-fi", "Science Fiction"), ("fantasia épica", "Epic Fantasy"), ("quadrinhos", "Comics"),
])
def test_genre_words(text, genre):
    assert [g for _, g in genre_phrases(fold(text), "pt")] == [genre]


def test_longest_genre_phrase_wins():
    assert [g for _, g in genre_phrases("epic fantasy and science fiction", "en")] == ["Science Fiction", "Epic Fantasy"]
    assert [g for _, g in genre_phrases("ficcao historica", "pt")] == ["Historical Fiction"]


def test_every_genre_has_a_portuguese_label():
    for genre in set(EN_GENRES.values()) | set(PT_GENRES.values()):
        assert genre in GENRE_PT, genre
    assert genre_label("Science Fiction", "pt") == "ficção científica"
    assert genre_label("Childrens", "en") == "children's"


def test_portuguese_moods_are_translated_and_filler_dropped():
    assert english_query("livros sombrios sobre amizade", "pt") == "dark friendship"
    assert english_query("some books about friendship please", "en") == "friendship"

"""The conversation suite's expectations: each one passes on a reply that meets it and fails on
one that does not, so a passing suite means something."""
from __future__ import annotations

import pytest

from smartlib_bench.chat_suite import runner
from smartlib_bench.chat_suite.checks import TurnView, check_turn
from smartlib_core.domain import Book
from smartlib_server.services.chat.session import Reply, TurnInput

KING = Book("it", "It", ("Stephen King",), genres=("Horror",), avg_rating=4.2, num_ratings=900_000, list_rank=10)
SHINING = Book("sh", "The Shining (The Shining, #1)", ("Stephen King",), genres=("Horror", "Fiction"), avg_rating=4.3,
               num_ratings=1_000_000, series_name="The Shining", series_position="1", list_rank=5)
SLEEP = Book("ds", "Doctor Sleep (The Shining, #2)", ("Stephen King",), genres=("Horror",), avg_rating=4.1,
             num_ratings=200_000, series_name="The Shining", series_position="2", list_rank=50)
EMMA = Book("emma", "Emma", ("Jane Austen",), genres=("Romance", "Classics"), avg_rating=4.0, num_ratings=800_000, list_rank=30)
LOW = [Book(f"low{i}", f"Obscure {i}", ("Nobody",), genres=("Horror",), avg_rating=3.0, num_ratings=10, list_rank=900 + i)
       for i in range(8)]
CATALOG = {b.id: b for b in [KING, SHINING, SLEEP, EMMA, *LOW]}


def view(cards: list[Book], text: str = "", language: str = "en", earlier=(), fallback: bool = False) -> TurnView:
    reply = Reply(language, text, [(b, "") for b in cards], TurnInput("s", "q"), "x", {"fallback": fallback}, {})
    return TurnView(reply, CATALOG, list(earlier))


@pytest.mark.parametrize("expect, good, bad", [
    ({"author_share": {"author": "Stephen King"}}, view([KING, SHINING]), view([KING, EMMA])),
    ({"genre_share": {"genre": "Horror", "min": 1.0}}, view([KING, SLEEP]), view([KING, EMMA])),
    ({"no_genre": ["Romance"]}, view([KING]), view([EMMA])),
    ({"no_repeats": True}, view([KING], earlier=["sh"]), view([KING], earlier=["it"])),
    ({"first_title": "The Shining"}, view([SHINING, KING]), view([KING, SHINING])),
    ({"first_author": "Jane Austen"}, view([EMMA]), view([KING])),
    ({"has_title": "Emma"}, view([KING, EMMA]), view([KING])),
    ({"lacks_title": "Emma"}, view([KING]), view([EMMA])),
    ({"series_order": "The Shining"}, view([SHINING, SLEEP]), view([SLEEP, SHINING])),
    ({"asks": True}, view([SHINING, SLEEP], "Which one? 1. by Stephen King 2. by Stephen King"), view([SHINING], "Here it is.")),
    ({"text_any": ["horror"]}, view([], "Some Horror"), view([], "Some romance")),
    ({"text_all": ["horror", "romance"]}, view([], "horror and romance"), view([], "horror only")),
    ({"text_none": ["fantasy"]}, view([], "nothing here"), view([], "You like Fantasy")),
    ({"rated_high": "Horror"}, view([SHINING, KING]), view([LOW[0]])),
    ({"popular": None}, view([SHINING]), view([LOW[3]])),
    ({"min_cards": 2}, view([KING, EMMA]), view([KING])),
    ({"max_cards": 0}, view([]), view([KING])),
    ({"handled": False}, view([], fallback=True), view([KING])),
    ({"language": "pt"}, view([KING], language="pt"), view([KING], language="en")),
])
def test_each_expectation_passes_and_fails(expect, good, bad):
    assert check_turn(good, expect, "en") == []
    assert check_turn(bad, expect, "en") != []


def test_every_turn_checks_catalog_cards_language_and_that_it_was_answered():
    stranger = Book("fake", "Not In The Catalog", ("Nobody",))
    assert check_turn(view([stranger]), {}, "en")
    assert check_turn(view([KING], language="pt"), {}, "en")
    assert check_turn(view([], fallback=True), {}, "en")
    with pytest.raises(ValueError):
        check_turn(view([KING]), {"no_such_check": 1}, "en")


def test_the_suite_files_load_and_name_known_checks(tmp_path):
    conversations = runner.load()
    assert len({c.id for c in conversations}) == len(conversations)
    broken = tmp_path / "conversations_x.yaml"
    broken.write_text("- id: x\n  category: nonsense\n  language: en\n  turns: [{say: hi}]\n")
    with pytest.raises(ValueError):
        runner.load([broken])

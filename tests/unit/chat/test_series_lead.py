"""A chat list that starts from one book of a series leads with the book read after it, even when
the recommender (the reader ranker demotes the same author) left it out; never when the reader
has seen it, the filter drops it, the list is sorted, or the ask was "surprise me"."""
from __future__ import annotations

from types import SimpleNamespace

from smartlib_core.domain import Approach, Book, Recommendation, RecommendResult
from smartlib_server.services.chat.reading_order import next_entry
from smartlib_server.services.chat.session import Context, Draft, TurnInput
from smartlib_server.services.chat.toolkit import GenreShelf, Toolkit
from smartlib_server.services.chat.wording import Phrasebook


def book(i: str, series: str = "", position: str = "", genres=("Fantasy",), ratings: int = 1000) -> Book:
    return Book(i, f"Title {i}", (f"Author {i[0]}",), genres=genres, series_name=series, series_position=position,
                num_ratings=ratings)


SAGA = [book("s1", "Saga", "1"), book("s2", "Saga", "2"), book("s2b", "Saga", "2.5"), book("s3", "Saga", "3")]
OTHERS = [book(f"o{i}", genres=("Fantasy", "Horror") if i == 0 else ("Fantasy",)) for i in range(8)]
BOOKS = {b.id: b for b in [*SAGA, *OTHERS]}


def toolkit(turn_text: str = "more like the first saga book") -> Toolkit:
    def similar_books(book_id, k, approach, filt):  # readers' pairings: other authors only
        picks = [b for b in OTHERS if filt.accepts(b)][:k]
        return RecommendResult(tuple(Recommendation(b, 1.0, "shares genres: Fantasy") for b in picks), Approach.FINETUNED, "m")

    recommend = SimpleNamespace(index=SimpleNamespace(version=1), max_k=100, similar_books=similar_books)
    memory = SimpleNamespace(profile=lambda user: None)
    return Toolkit(recommend, memory, None, None, GenreShelf(), SimpleNamespace(books=BOOKS), Context(),
                   TurnInput("s", turn_text), page=5)


def ids(kit: Toolkit, surprise: bool = False, **query) -> list[str]:
    items = kit.run({"mode": "similar", "book": "s1", "genres": [], "seen": [], **query}, Draft(Phrasebook("en", "x")),
                    use_tastes=False, surprise=surprise)
    return [b.id for b, _ in items]


def test_the_next_main_entry_leads_a_list_that_starts_from_a_series_book():
    got = ids(toolkit())
    assert got[0] == "s2" and len(got) == 5 and "s3" not in got


def test_not_when_seen_filtered_out_sorted_or_a_surprise():
    assert "s2" not in ids(toolkit(), seen=["s2"])
    assert "s2" not in ids(toolkit(), genres=["horror"])  # the sequel is not horror
    assert "s2" not in ids(toolkit(), sort="rating")
    assert "s2" not in ids(toolkit("surprise me"), surprise=True)


def test_reading_order_skips_novellas_and_ends_with_the_last_book():
    assert next_entry(SAGA, SAGA[1]).id == "s3"
    assert next_entry(SAGA, SAGA[3]) is None
    assert next_entry(SAGA, SAGA[2]) is None  # a novella is not on the main run

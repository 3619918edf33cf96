"""interpret.to_request: the handler's Request from an Understanding. Slots come from linked
entities and their roles; below the model's threshold the agent stores nothing and answers
honestly when the message names nothing. Runs on the starter catalog's link tables, with the
intent given (no model), so each case pins the mapping alone."""
from __future__ import annotations

import dataclasses

import pytest

from smartlib_server.services.chat.interpret import to_request
from smartlib_server.services.chat.linker import link
from smartlib_server.services.chat.understand import finish


def ask(catalog, text, intent, confidence=0.9, ranked=(), **situation):
    tables, books = catalog
    u = finish(text, intent, confidence, link(text, tables, books), text, ranked or ((intent, confidence),), threshold=0.7)
    return to_request(u, text, "pt" if situation.pop("pt", False) else "en", **situation)


def test_a_named_author_inside_a_casual_sentence_is_the_subject(catalog):
    r = ask(catalog, "got any Agatha Christie lying around?", "recommend")
    assert (r.kind, r.subject) == ("author", "Agatha Christie")


def test_genres_split_into_the_ask_and_the_exclusion_by_clause(catalog):
    r = ask(catalog, "mystery books without horror", "recommend")
    assert (r.genres, r.exclude) == (("Mystery",), ("Horror",))
    assert "without" not in r.query.split()
    r = ask(catalog, "livros de mistério, menos os de terror", "best_rated", pt=True)
    assert (r.genres, r.exclude, r.sort) == (("Mystery",), ("Horror",), "rating")


def test_like_x_but_y_keeps_the_anchor_as_typed_and_the_change(catalog):
    r = ask(catalog, "something like Dune but shorter", "similar")
    assert (r.kind, r.subject, r.modifier) == ("similar", "Dune", "but shorter")
    r = ask(catalog, "books like the hobit", "similar")  # a typo: the catalog's spelling
    assert r.subject == "the hobbit"


def test_compare_takes_both_sides_even_when_one_is_not_linked(catalog):
    assert ask(catalog, "Compare Dune and Foundation", "compare").pairs == (("Dune", "Foundation"),)
    assert ask(catalog, "Compare The Girl and Dune", "compare").pairs == (("The Girl", "Dune"),)


def test_the_next_book_is_the_title_named_not_the_series(catalog):
    r = ask(catalog, "which Harry Potter book comes after the Chamber of Secrets?", "series_next")
    assert r.kind == "series_next" and "Chamber of Secrets" in r.subject


def test_a_message_naming_nothing_points_at_the_book_in_focus(catalog):
    assert ask(catalog, "who wrote it?", "who_wrote", has_focus=True).subject == "it"
    assert ask(catalog, "tell me about zorblax quintern", "about_book", has_focus=True).subject == "zorblax quintern"
    assert ask(catalog, "tell me about Zorblax Quintern", "about_book", has_focus=True).subject == "Zorblax Quintern"


def test_something_shorter_narrows_the_list_on_screen(catalog):
    assert ask(catalog, "something shorter", "recommend", list_shown=True).modifier == "shorter"
    assert ask(catalog, "something shorter", "recommend", list_shown=True).kind == "refine"


def test_unsure_and_naming_nothing_answers_honestly_instead_of_storing(catalog):
    r = ask(catalog, "blorp the thing", "taste_dislike", confidence=0.3)
    assert r.kind == "nonsense"
    r = ask(catalog, "please wipe it", "memory_forget", confidence=0.3)
    assert r.kind == "nonsense"
    # unsure lists are harmless: a vague ask still gets books
    assert ask(catalog, "any ideas for me?", "recommend", confidence=0.4).kind == "recommend"


def test_an_unsure_taste_with_genres_shows_books_without_storing(catalog):
    r = ask(catalog, "me indica uns de misterio", "taste_dislike", confidence=0.31, pt=True,
            ranked=(("taste_dislike", 0.31), ("recommend", 0.3), ("taste_like", 0.1)))
    assert (r.kind, r.genres, r.exclude, r.dislikes) == ("recommend", ("Mystery",), (), ())


def test_a_taste_statement_is_sure_when_both_taste_labels_together_are(catalog):
    r = ask(catalog, "I hate romance but I love mysteries", "taste_like", confidence=0.5,
            ranked=(("taste_like", 0.5), ("taste_dislike", 0.3), ("recommend", 0.1)))
    assert (r.kind, r.likes, r.dislikes) == ("taste_like", ("Mystery",), ("Romance",))


def test_requests_are_frozen_slots(catalog):
    r = ask(catalog, "recommend fantasy", "recommend")
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.kind = "more"  # type: ignore[misc]


# Asks the old pattern parser was pinned on, now read by the linker and interpret.py with the
# intent given: which genres are asked for, which are left out, and the order.
@pytest.mark.parametrize("text, pt, genres, excluded", [
    ("recommend fantasy books but no romance", False, ("Fantasy",), ("Romance",)),
    ("Recomende fantasia sem romance", True, ("Fantasy",), ("Romance",)),
    ("mystery books without horror or thriller", False, ("Mystery",), ("Horror", "Thriller")),
    ("quero um suspense que não seja terror", True, ("Suspense",), ("Horror",)),
    ("livros de ficção científica sem nada de romance", True, ("Science Fiction",), ("Romance",)),
    ("any thrillers that aren't horror?", False, ("Thriller",), ("Horror",)),
    ("não quero nada de terror, me indica um suspense", True, ("Suspense",), ("Horror",)),
])
def test_exclusions_never_become_included_genres(catalog, text, pt, genres, excluded):
    r = ask(catalog, text, "recommend", pt=pt)
    assert (r.kind, r.genres, r.exclude) == ("recommend", genres, excluded)


@pytest.mark.parametrize("text, pt, sort", [
    ("best rated fantasy", False, "rating"), ("os livros de fantasia mais bem avaliados", True, "rating"),
    ("Quais são os melhores livros de ficção científica?", True, "rating"),
    ("which fantasy novels do readers rate highest?", False, "rating"),
    ("melhores livros de terror segundo os leitores", True, "rating"),
    ("the most popular mystery novels", False, "popular"), ("os livros de mistério mais populares", True, "popular"),
    ("top 5 science fiction", False, "rating"), ("the 10 best fantasy books", False, "rating"),
])
def test_an_order_is_a_sort_not_topic_words(catalog, text, pt, sort):
    r = ask(catalog, text, "best_rated", pt=pt)
    assert (r.kind, r.sort, r.query) == ("best_rated", sort, "") and r.genres


@pytest.mark.parametrize("text, intent, pt, likes, dislikes", [
    ("I love fantasy and I hate romance", "taste_like", False, ("Fantasy",), ("Romance",)),
    ("gosto de ficção científica mas não de terror", "taste_like", True, ("Science Fiction",), ("Horror",)),
    ("My favourite genres are horror and mystery", "taste_like", False, ("Horror", "Mystery"), ()),
    ("I love fantasy but horror is not for me", "taste_like", False, ("Fantasy",), ("Horror",)),
    ("Romance isn't my thing", "taste_dislike", False, (), ("Romance",)),
    ("terror não é pra mim", "taste_dislike", True, (), ("Horror",)),
])
def test_stated_tastes_split_by_clause(catalog, text, intent, pt, likes, dislikes):
    r = ask(catalog, text, intent, pt=pt)
    assert (r.kind, r.likes, r.dislikes) == (intent, likes, dislikes)


@pytest.mark.parametrize("text, pt", [
    ("any recommendations?", False), ("alguma sugestão?", True), ("got something for me to read?", False),
    ("sugere alguma coisa ai", True), ("pick something for me", False),
])
def test_vague_asks_carry_no_topic_so_tastes_can_steer_them(catalog, text, pt):
    r = ask(catalog, text, "recommend", pt=pt)
    assert (r.kind, r.genres, r.query) == ("recommend", (), "")


def test_moods_and_leftover_words_become_an_english_query(catalog):
    r = ask(catalog, "Recommend cozy books about friendship and dragons", "recommend")
    assert (r.genres, r.query) == (("Dragons",), "cozy friendship")
    r = ask(catalog, "Recomende fantasia sombria e engraçada", "recommend", pt=True)
    assert (set(r.genres), r.query) == ({"Fantasy", "Humor"}, "dark")

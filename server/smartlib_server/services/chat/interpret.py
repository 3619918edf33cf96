"""The Request a handler answers, read from an Understanding (understand.py).

The intent comes from the model; the slots come from the linked entities and their roles: the
title, series or author named fills `subject` with the catalog's own spelling, genres fill
`genres`, `likes`, `dislikes` or `exclude` by the clause they sit in, moods and the words no
entity took become the free-text `query`. No pattern here reads what a message asks for; the
few word lists left are data (data/lexicon/function_words.yaml).
"""
from __future__ import annotations

import dataclasses
import re

from smartlib_core.text import bare_title, fold, split_series
from smartlib_server.services.chat import asides, constraints, lexicon, references, sides, words
from smartlib_server.services.chat.handlers.like_but import read_change
from smartlib_server.services.chat.link_tables import ARTICLES, static_tables
from smartlib_server.services.chat.linker import Entity
from smartlib_server.services.chat.request import Request
from smartlib_server.services.chat.understand import Understanding, assign_roles, governed

NAMED = ("title", "series", "author", "unknown_title")
_STARS = re.compile(rf"\s*(?:{words.alternation(words.table('units')['stars'])})", re.I)  # "4 stars" (data/words/units.yaml)
# An unsure label, and the label that also answers it when the model ranks that one next: a
# book's facts name it and its card first; a series in order shows what comes next too; one book
# named is no comparison ("should i read <title> or is it just hype": its facts).
# Labels a comparison of two places in the list on screen may be read as ("compare the first two").
_ON_SCREEN = frozenset({"pick", "compare", "about_book", "why", "refine", "more"})
_SAFER = {"similar": ("about_book",), "series_next": ("series_order",), "compare": ("about_book",)}
# Labels acted on even when the model is unsure and the message names nothing: a list steered by
# the reader's tastes, an action on the list on screen, or an honest answer; nothing is stored.
UNSURE_SAFE = frozenset({"recommend", "best_rated", "more", "pick", "why", "reject", "refine", "off_topic", "nonsense",
                         "memory_show"})
# Labels whose handlers store or erase what the reader likes: acted on only when sure.
STORING = frozenset({"taste_like", "taste_dislike", "memory_forget"})
TASTES = ("taste_like", "taste_dislike")
TASTE_MAJORITY = 0.5  # the share of probability the taste labels need to store a named taste below the threshold
# Asks about the book in focus ("other books by the same author"): the focus grounds them.
ON_FOCUS = frozenset({"about_book", "who_wrote", "author", "similar", "series_order", "series_next"})
# Labels that would answer with an author's books: a title qualified by its author is no such ask.
_AUTHOR_ASKS = frozenset({"author", "recommend", "best_rated"})
# Labels that act on one book, author or series: without a name they point at the book in focus.
_ON_ONE = frozenset({"about_book", "who_wrote", "author", "similar", "series_order", "series_next", "taste_like", "taste_dislike"})


def to_request(u: Understanding, text: str, language: str, has_focus: bool = False, list_shown: bool = False) -> Request:
    """The handler's Request for one understood message. `has_focus`: the session has a book in
    focus, so a message that names nothing ("who wrote it?") is about that book; `list_shown`:
    a list is on screen, so "something shorter" narrows it."""
    qualified = [e for e in u.entities if e.by]
    if qualified and u.intent in _AUTHOR_ASKS and not u.of("author"):
        # "do you have <title> by <author>": the author only says which book; the book is the ask
        u = dataclasses.replace(u, intent="about_book", entities=tuple(assign_roles(text, "about_book", list(u.entities))))
    ask = _request(u, text, language, has_focus, list_shown)
    by = next((e.by for e in qualified if phrase(e) == ask.subject), "")
    if ask.kind in asides.PASSING and not (ask.likes or ask.dislikes):
        # "curto distopias tipo 1984", "I adore cozy mysteries, got any?": a taste said in passing is kept
        likes, dislikes = asides.stated(text, u)
        ask = dataclasses.replace(ask, likes=likes, dislikes=dislikes)
    return dataclasses.replace(ask, by=by) if by else ask


def _request(u: Understanding, text: str, language: str, has_focus: bool, list_shown: bool) -> Request:
    if not u.entities and not u.sure and asides.feeling(text):
        # "i wanna be scared, like actually scared", "me faz chorar": a feeling wanted from a book,
        # with no genre word, is an ask for books whatever else the model half thought it was (a
        # sure reading stands: "me faz rir com uma besteira" asks the agent for a joke)
        u = dataclasses.replace(u, intent="recommend")
    if (u.intent == "off_topic" or not u.sure) and not u.entities and asides.asks_advice(text):
        # advice asked in everyday words ("o que você me recomenda?"): a vague ask steered by tastes, when the
        # model reads it as off-topic or is unsure of any other reading
        u = dataclasses.replace(u, intent="recommend")
    if not u.sure and not u.entities:
        if _surprise(text):  # "surprise me" in any words the lexicon lists: a vague ask, whatever the model says
            return Request("recommend", confidence=u.confidence, surprise=True)
        if u.intent not in UNSURE_SAFE and not (has_focus and u.intent in ON_FOCUS):
            # Unsure and naming nothing: an honest "I didn't understand" with example asks, rather
            # than a guess that would store a taste, forget one, or state facts about some book.
            return Request("nonsense", confidence=u.confidence)
    if not u.sure and u.intent != "author" and _names_one_author(u) \
            and not (u.intent in TASTES and _sure_of_kind(u) and asides.polarity(fold(text).split())):
        # unsure what is asked of the one author named and nothing else ("explore Terry Pratchett,
        # where to dip in?"): their books, best known first, answer it without storing a guess
        u = dataclasses.replace(u, intent="author", entities=tuple(assign_roles(text, "author", list(u.entities))))
    if u.intent in TASTES and not _sure_of_kind(u) and u.of("title", "series") and "similar" in (label for label, _ in u.ranked):
        # "my kid loved <book>, anything in that vein?": unsure of a taste, sure of the book; books like it
        u = dataclasses.replace(u, intent="similar", entities=tuple(assign_roles(text, "similar", list(u.entities))))
    if not u.sure and not u.modifier and not u.ordinal and _second(u) in _SAFER.get(u.intent, ()) and _names_one_book(u) \
            and not (u.intent == "compare" and sides.named_side(text, u.of("title", "series")[0])):
        # unsure between two asks about the one book named ("gone girl: overhyped or legit good",
        # "a série X, qual a sequência?"): the answer that serves both readings, its facts or its
        # whole series in order, rather than a guess at neighbours or a next book
        safer = _SAFER[u.intent][0]
        u = dataclasses.replace(u, intent=safer, entities=tuple(assign_roles(text, safer, list(u.entities))))
    if u.intent in TASTES and not _sure_of_kind(u) and _names_one_book(u) and not asides.polarity(fold(text).split()):
        # "pull up <title> for me": unsure of a taste that no word of liking or disliking states,
        # sure of the book; its facts, storing nothing (a taste is never stored on a guess)
        u = dataclasses.replace(u, intent="about_book", entities=tuple(assign_roles(text, "about_book", list(u.entities))))
    if u.intent == "memory_forget" and u.of("genre") and u.ranked[:1] and u.ranked[0][0] == "memory_forget":
        # "forget the sci-fi thing": forgetting only the genres named is safe even when unsure
        return Request("memory_forget", confidence=u.confidence, genres=_names(u.of("genre")))
    if u.intent in STORING and not _sure_of_kind(u):
        # Never store or erase on a guess: show books for the genres named, or say so honestly.
        if any(e.kind in ("genre", "mood") for e in u.entities):
            u = dataclasses.replace(u, intent="recommend", entities=tuple(assign_roles(text, "recommend", list(u.entities))))
        elif not u.entities:
            return Request("nonsense", confidence=u.confidence)
    named = u.of(*NAMED)
    genres = [e for e in u.entities if e.kind == "genre"]
    liked = _names(e for e in genres if e.role != "dislike")
    disliked = _names(e for e in genres if e.role == "dislike")
    rest = leftover(text, u.entities)
    c = constraints.extract(rest, language)
    subject = _subject(named, rest, has_focus)
    kind = u.intent
    base = Request(kind, confidence=u.confidence, ordinal=u.ordinal)
    authors = u.of("author")
    at = asides.book_at(text, u, ordinals=kind in ("series_next", "series_order"))
    if kind in ("series_next", "series_order", "similar", "about_book") and at and u.of("title", "series"):
        # "read cinder and loved it. book 2?": the book at that place in its series, not the one after it
        book = u.of("title", "series")[0]
        return dataclasses.replace(base, kind="series_order", subject=phrase(book), ordinal=at)
    pair = references.shown_pair(fold(text)) if list_shown and kind in _ON_SCREEN and len(named) < 2 else None
    if pair:  # "compare the first two", "o segundo vs o quarto": two books of the list on screen, by their places
        return dataclasses.replace(base, kind="compare", pairs=((f"#{pair[0]}", f"#{pair[1]}"),), ordinal=0)
    shunned = _shunned(text, u, authors)
    if shunned and kind in ("recommend", "best_rated", "author", "taste_dislike"):
        # "a good whodunit, just nothing by Agatha Christie": the genres asked for without that author
        topic = constraints.extract(leftover(text, u.entities), language).rest
        sort = "rating" if kind == "best_rated" and c.sort != "popular" else c.sort
        return dataclasses.replace(base, kind="best_rated" if kind == "best_rated" else "recommend", genres=liked,
                                   exclude=tuple(g for g in disliked if g not in liked), query=_query(topic, u, language),
                                   sort=sort, shunned=tuple(e.name for e in shunned))
    if kind in ("recommend", "best_rated") and authors:
        # "got any Le Guin lying around?", "the best of Stephen King": the name is the ask
        sort = "rating" if kind == "best_rated" else c.sort
        return dataclasses.replace(base, kind="author", subject=phrase(authors[0]), exclude=disliked, sort=sort)
    if kind == "recommend" and list_shown and not genres and not named and _asks_shorter(text, language):
        kind = "refine"  # "something shorter" with a list on screen narrows that list
    if kind == "recommend" and list_shown and disliked and not liked and not named and not u.of("mood") \
            and not sides.unusual(constraints.extract(rest, language).rest):
        # only genres turned away, with a list on screen ("hmm, none with ghosts though"): that list, narrowed
        return dataclasses.replace(base, kind="refine", exclude=disliked, sort=c.sort)
    if kind == "recommend" and not list_shown and disliked and not liked and not named and not u.of("mood") \
            and all(asides.everyday(w) for w in c.rest.split()):
        # only genres turned away, no other word of what is wanted ("algo pra rir, sem ser infantil" wants
        # humour) and no list to narrow ("no horror for me, ok?", "nada de terror pra mim"): a standing
        # dislike, kept like one stated, and a list steered by the reader's tastes without them
        return dataclasses.replace(base, exclude=disliked, dislikes=disliked, sort=c.sort)
    if kind in ("recommend", "best_rated", "refine"):
        # a title's words stay topic words here: "a story about a lonely robot" is no ask for "Robot"
        topic = constraints.extract(leftover(text, tuple(e for e in u.entities if e.kind not in NAMED)), language).rest
        # what the book should do or where it is set, in words that name no genre: "make me laugh", "space"
        # ("i scare easy, nothing horror-y" leaves Horror out: a genre the ask turns away is never added)
        wanted = (asides.TOPICS[w] for w in topic.split() if w in asides.TOPICS)
        liked = tuple(dict.fromkeys([*(g for g in wanted if g not in disliked), *liked]))
        sort = "rating" if (kind == "best_rated" or _stars(text, u)) and c.sort != "popular" else c.sort
        # a genre asked for and doubted in one message ("poetry people rate well? not a big poetry
        # person") is still what the ask is for
        disliked = tuple(g for g in disliked if g not in liked)
        return dataclasses.replace(base, kind=kind, genres=liked, exclude=disliked, query=_query(topic, u, language), sort=sort,
                                   modifier="shorter" if kind == "refine" and _asks_shorter(text, language) else "",
                                   surprise=_surprise(text))
    if kind in ("taste_like", "taste_dislike"):
        if genres:
            return dataclasses.replace(base, likes=liked, dislikes=disliked, genres=liked, exclude=disliked)
        return dataclasses.replace(base, subject=subject)
    if kind == "about_book" and not named and (genres or u.of("mood")):
        # "tell me about cosy mysteries" asks for books, not for one book
        return dataclasses.replace(base, kind="recommend", genres=liked, exclude=disliked, query=_query(c.rest, u, language))
    if kind == "similar" and any(e.role == "anchor" and e.kind != "author" for e in named) \
            and [e for e in authors if not e.role]:
        # "loved <book>, got any other <author>?": a book read, then an author named for more; the
        # author's books answer it (an author after "but" is a change: "like X but by Y")
        return dataclasses.replace(base, kind="author", subject=phrase(next(e for e in authors if not e.role)),
                                   exclude=disliked, sort=c.sort, read=tuple(phrase(e) for e in named if e.role == "anchor"))
    if kind == "similar":
        anchor = next((e for e in named if e.role == "anchor"), None)
        # a genre named after the book outside any "but" ("like <X> that's actually nonfiction",
        # "books like <X>, the sci-fi ones") is the change asked for, as after a "but"
        but = [e for e in u.entities if e.role == "but"] or [
            e for e in u.entities if anchor and e.kind == "genre" and not e.role and e.start >= anchor.end]
        modifier = u.modifier or (" ".join(e.text for e in but) if but else "")
        if lexicon.audience(fold(text)) and not lexicon.audience(fold(modifier)):
            # who it is for, said outside the "but" ("my nephew is 9 ... like <book> but for his age"), is the change
            modifier = " ".join(part for part in (leftover(text, tuple(named)), modifier) if part)
        return dataclasses.replace(base, subject=phrase(anchor) if anchor else subject, modifier=modifier, exclude=disliked,
                                   sort=c.sort, ordinal=0 if anchor else u.ordinal)
    if kind == "compare":
        # books are compared: two titles named outrank a series or an author beside them ("Blindness by
        # Saramago", "gosto de saga familiar, entre Pachinko e ...")
        titles = [e for e in named if e.kind in ("title", "unknown_title")]
        books = [e for e in named if e.kind != "author"]
        picked = [phrase(e) for e in next((group for group in (titles, books) if len(group) >= 2), named)]
        if len(picked) == 1:  # "Compare The Girl and Dune": the side the linker left is what the reader typed
            other = sides.other_side(text, named[0])
            if other:
                picked = [other, picked[0]] if text.find(other) < named[0].start else [picked[0], other]
            elif has_focus:  # "how does it compare to Gone Girl?": the book the talk is on is the other side
                picked = ["it", picked[0]]
        pairs = ((picked[0], picked[1]),) if len(picked) >= 2 and all(picked[:2]) else ()
        if len(named) == 1:  # one name linked across a joiner ("animal farm e 1984" is also an omnibus): the two books first
            pairs = sides.split_joined(named[0].text) + pairs
        return dataclasses.replace(base, pairs=pairs)
    if kind in ("series_order", "series_next") and len({e.name for e in named if e.kind == "title"}) >= 2 \
            and not _one_series(named):
        # "Dom Casmurro or Brás Cubas, which first?": two books of no one series are weighed, not ordered
        titles = [e for e in named if e.kind == "title"]
        return dataclasses.replace(base, kind="compare", pairs=((phrase(titles[0]), phrase(titles[1])),))
    if kind in ("series_next", "series_order") and named:
        # "reading order for asimov's foundation series": the series is the ask, the author only says whose
        named = sorted(named, key=lambda e: e.kind == "author")
    if kind == "series_next" and named:  # "which Harry Potter book comes after the Goblet of Fire": the book
        # several books of one series ("read Throne of Glass up to Heir of Fire"): the furthest one is where the reader is
        titles = [e for e in named if e.kind == "title"]
        # a title named as its own series is the series named beside a book read ("done with <#1>,
        # which <Series> book is next?"), not a further book read
        read = [e for e in titles if not _names_its_series(e)] or titles
        book = max(read, key=_series_position, default=named[0])
        return dataclasses.replace(base, subject=phrase(book), ordinal=_position(u, book))
    if kind == "series_order" and named:
        return dataclasses.replace(base, subject=phrase(named[0]), ordinal=_position(u, named[0]))
    if kind == "pick":
        if not u.ordinal and named:  # "tell me about Dune" with a list on screen
            return dataclasses.replace(base, kind="about_book", subject=phrase(named[0]))
        if not u.ordinal and c.sort:  # "algum desses com nota mais alta?": no place named, an order; the list re-ordered
            return dataclasses.replace(base, kind="refine", sort=c.sort, exclude=disliked, ordinal=0)
        return dataclasses.replace(base, ordinal=u.ordinal or 1)
    if kind == "why":
        return dataclasses.replace(base, subject=phrase(named[0]) if named else ("" if u.ordinal else _why_subject(rest)))
    if kind == "nonsense":
        if named:  # a title alone: the model may not know it is one
            return dataclasses.replace(base, subject=phrase(named[0]))
        if u.sure:  # words the model is sure ask nothing ("banana lamp seventeen"): no search of them
            return base
        return dataclasses.replace(base, subject=fold(text), query=lexicon.english_query(fold(text), language))
    if kind == "author" and authors and any(e.kind == "title" for e in named):
        # "done with <title>, what else by <author>?": the author is the ask, the title one the reader has
        return dataclasses.replace(base, subject=phrase(authors[0]), exclude=disliked, sort=c.sort,
                                   read=tuple(phrase(e) for e in named if e.kind == "title"))
    if kind in _ON_ONE:
        return dataclasses.replace(base, subject=subject, exclude=disliked, sort=c.sort)
    return base


def leftover(text: str, entities: tuple[Entity, ...]) -> str:
    """The folded words of the message outside every linked span."""
    out, at = [], 0
    for entity in sorted(entities, key=lambda e: e.start):
        out.append(text[at:entity.start])
        out.append(" ")
        at = entity.end
    out.append(text[at:])
    return fold("".join(out))


def phrase(entity: Entity) -> str:
    """How a handler's resolver should see a named entity: as typed when it matched a catalog
    name exactly (so "The Girl" stays as ambiguous as it is), the catalog's name when the linker
    corrected a typo ("the hobit")."""
    if entity.kind == "author":  # the linker already chose among authors sharing a surname ("vonnegut")
        return entity.name
    if entity.by:  # "night watch by pratchett": the title alone; the Request's `by` says whose
        return bare_title(entity.name)
    renamed = fold(entity.text) in static_tables().renames  # an alias or a Portuguese title: the catalog's name
    if (entity.score >= 100.0 and not renamed) or entity.kind == "unknown_title":
        return entity.text
    return bare_title(entity.name) if entity.kind == "title" else entity.name


def _names(entities) -> tuple[str, ...]:
    return tuple(dict.fromkeys(e.name for e in entities))


def _query(rest: str, u: Understanding, language: str) -> str:
    """English topic words for a free-text search: moods first, then the words no entity took."""
    vague = lexicon.VAGUE
    words = " ".join(w for w in asides.uncounted(rest.split()) if w not in vague)
    moods = [e.name for e in u.of("mood")] + asides.moods(rest)
    return " ".join(dict.fromkeys([*moods, lexicon.english_query(words, language)])).strip()


def _subject(named: list[Entity], rest: str, has_focus: bool) -> str:
    """The catalog name the message names; else the book in focus ("it"), unless words outside
    everyday speech are left, which may be a title the catalog lacks ("tell me about Zorblax")."""
    if named:
        return phrase(named[0])
    unusual = sides.unusual(rest)
    if has_focus and not unusual:
        return "it"
    return " ".join(unusual)


def _why_subject(rest: str) -> str:
    """'why this one?' asks about the book in focus; 'why?' about the whole list."""
    return "it" if set(rest.split()) & lexicon.FOCUS_WORDS else ""


def _position(u: Understanding, series: Entity) -> int:
    """A series position only when it is not part of the name ("Fahrenheit 451")."""
    return u.ordinal if not any(series.start <= e.start < series.end for e in u.of("number")) else 0


def _stars(text: str, u: Understanding) -> bool:
    """A number of stars asked for ("fantasia nota 5 estrelas", "4.5 stars and up"): an order by rating."""
    return any(_STARS.match(text, e.end) for e in u.of("number"))


def _shunned(text: str, u: Understanding, authors: list[Entity]) -> list[Entity]:
    """The authors a negation governs ("nothing by X", "nada do X"), when every author named is
    one and the message asks for something else too (a genre or a mood)."""
    if not authors or not u.of("genre", "mood"):
        return []
    against = governed(text, list(u.entities))
    return authors if all(e in against for e in authors) else []


def _one_series(named: list[Entity]) -> bool:
    """Every book named belongs to one series (the linker's title target lists its editions)."""
    return len({_series_of(e) for e in named if e.kind == "title"} | {e.name for e in named if e.kind == "series"}) == 1


def _series_position(entity: Entity) -> float:
    try:
        return float(split_series(entity.name)[2] or 0)
    except ValueError:  # "#1-3", a box set
        return 0.0


def _names_its_series(entity: Entity) -> bool:
    """A title whose words are its series' name ("The Saga", #4 of The Saga), articles aside."""
    title, series, _ = split_series(entity.name)
    return bool(series) and _unarticled(title) == _unarticled(series)


def _unarticled(name: str) -> list[str]:
    words = fold(name).split()
    return words[1:] if len(words) > 1 and words[0] in ARTICLES else words


def _series_of(entity: Entity) -> str:
    series = split_series(entity.name)[1]
    return series or entity.name


def _names_one_author(u: Understanding) -> bool:
    """The message names one author and no book, series or genre, and the model counts an
    author ask among its likeliest readings."""
    authors = u.of("author")
    return (len({e.name for e in authors}) == 1 and not u.of("title", "series", "unknown_title", "genre")
            and "author" in (label for label, _ in u.ranked))


def _second(u: Understanding) -> str:
    return u.ranked[1][0] if len(u.ranked) > 1 else ""


def _names_one_book(u: Understanding) -> bool:
    """One title or series named (editions of one title count once), and no genre or mood."""
    books = {e.name for e in u.of("title", "series")}
    return len(books) == 1 and not u.of("genre", "mood", "unknown_title")


def _sure_of_kind(u: Understanding) -> bool:
    """Sure enough to store: a taste statement that names what it is about is stored when the two
    taste labels together hold most of the probability, since each entity's polarity comes from
    its clause, not from the label ("I like mysteries but not horror")."""
    if u.sure or u.intent not in TASTES or not u.entities:
        return u.sure
    return sum(p for label, p in u.ranked if label in TASTES) > TASTE_MAJORITY


def _asks_shorter(text: str, language: str) -> bool:
    return read_change(text, language).kind == "shorter"


def _surprise(text: str) -> bool:
    folded = f" {fold(text)} "
    return any(f" {phrase} " in folded for phrase in lexicon.SURPRISE)

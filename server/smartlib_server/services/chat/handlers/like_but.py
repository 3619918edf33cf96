"""'Something like X but Y': X's neighbours, filtered or re-ranked by what Y asks to change.

Y may ask for a length ("shorter"), a tone ("less dark", "mais leve"), a genre ("but sci-fi",
"mas de ficção científica"), an exclusion ("but no romance"), an order ("but better rated"), or
another author. Anything else is read as a description and searched for among books sharing
X's genres.
"""
from __future__ import annotations

import dataclasses
import re

from smartlib_core.domain import Book
from smartlib_core.text import bare_title, fold
from smartlib_server.services.chat import constraints, lexicon, wording as w, words
from smartlib_server.services.chat.handlers.books import act, similar_plain, target
from smartlib_server.services.chat.link_tables import DATA, load_yaml
from smartlib_server.services.chat.ordering import darkness, length_proxy
from smartlib_server.services.chat.request import Request
from smartlib_server.services.chat.session import Draft
from smartlib_server.services.chat.toolkit import Toolkit
from smartlib_server.services.chat.wording import title

POOL = 8  # neighbours fetched per book shown, before the change is applied

# The words of each change (data/words/changes.yaml), matched between spaces in folded text
_CHANGES = words.table("changes")
_SHORTER = words.spaced(_CHANGES["shorter"])
_LIGHTER = words.spaced(words.combined(_CHANGES["softeners"], _CHANGES["heavy"]) + words.phrases(_CHANGES["lighter"]))
_DARKER = words.spaced(_CHANGES["darker"])


def _not_by(parts: dict) -> str:
    """A negated "by" ("not by", "que nao seja escrito por"), kept off the genres it must not precede."""
    optional = "".join(rf"(?:(?:{words.alternation(parts[k])}) )?" for k in ("be", "written") if parts.get(k))
    guard = rf"(?!{words.alternation(parts['not_before'])})" if parts.get("not_before") else ""
    return rf"(?:{words.alternation(parts['negation'])}) {optional}(?:{words.alternation(parts['by'])})(?= {guard})"


_OTHER_AUTHOR = re.compile(r"(?:^| )(?:" + "|".join([
    words.alternation(words.combined(_CHANGES["others"], _CHANGES["authors"])),
    *(_not_by(parts) for parts in _CHANGES["not_by"].values()),
    words.alternation(_CHANGES["different_author"])]) + r")(?: |$)")
_FUNNIER = words.spaced(_CHANGES["funnier"])
YOUNG = ("Childrens", "Middle Grade", "Young Adult", "Teen", "Picture Books")  # left out of a book for grown-ups
PAST = ("Classics", "Historical Fiction", "Historical", "Historical Romance")  # left out of a book of our time
_ROLES = load_yaml((DATA / "roles.yaml").read_text(encoding="utf-8"))
_NOW = tuple(fold(p) for p in _ROLES["era_now"])
_PAST = tuple(fold(p) for p in _ROLES["era_past"])
_FICTION = tuple(fold(p) for p in _ROLES["fiction"])
SIDES = ("Fiction", "Nonfiction")  # the fiction line: a change to one side leaves the other out


@dataclasses.dataclass(frozen=True)
class Change:
    kind: str  # "shorter", "lighter", "darker", "other_author", "adult", "genre", "order" or "text"
    include: tuple[str, ...] = ()  # catalog genres the books must have
    exclude: tuple[str, ...] = ()
    sort: str = ""
    text: str = ""  # English words for a free-text change


def read_change(modifier: str, language: str) -> Change:
    """What Y asks to change, and the side of the fiction line it asks for, if any ("like <a
    memoir> but fiction", "like <a novel> that's actually nonfiction"): that side is kept and the
    other left out, whatever else changes ("a shorter novel")."""
    change = _read_change(modifier, language)
    folded = fold(modifier)
    c = constraints.extract(folded, language)
    named = {g for _, g in lexicon.genre_phrases(c.rest, language)} & set(SIDES)
    if _says(_without_genres(c.rest, language), _FICTION):
        named.add("Fiction")
    if len(named) != 1:
        return change
    side = named.pop()
    other = next(s for s in SIDES if s != side)
    kind = "genre" if change.kind == "text" else change.kind
    return Change(kind, tuple(dict.fromkeys([side, *change.include])), tuple(dict.fromkeys([*change.exclude, other])),
                  change.sort, change.text if kind == "text" else "")


def _read_change(modifier: str, language: str) -> Change:
    folded = fold(modifier)
    c = constraints.extract(folded, language)
    # a genre named only to be toned down ("less scary") is no genre to keep
    toned = _DARKER.sub(" ", _LIGHTER.sub(" ", c.rest))
    include = tuple(dict.fromkeys(g for _, g in lexicon.genre_phrases(toned, language)))
    # who it is for comes first ("pra criança menor" is no ask for shorter), read without what is
    # excluded ("for grown-ups, no YA")
    audience = lexicon.audience(c.rest)
    if audience == "adult":
        return Change("adult", tuple(g for g in include if g not in YOUNG), (*c.exclude, *YOUNG), c.sort)
    if audience:
        wanted = "Childrens" if audience == "children" else "Young Adult"
        return Change("genre", tuple(dict.fromkeys([wanted, *(g for g in include if g not in YOUNG)])), c.exclude, c.sort)
    if _says(c.rest, _NOW):  # "but set in our time", "mas mais atual"
        return Change("genre", tuple(g for g in include if g not in PAST), (*c.exclude, *PAST), c.sort)
    if _says(c.rest, _PAST) and not include:  # "but set in the past", "mas de época": the shelf fits X later
        return Change("past", (), c.exclude, c.sort)  # (a genre named with it is the shelf: "mais antigo, um clássico")
    if _FUNNIER.search(folded):  # funnier is a genre the catalog labels, not only a lighter tone
        return Change("genre", tuple(dict.fromkeys(["Humor", *include])), c.exclude, c.sort)
    if _SHORTER.search(folded):
        return Change("shorter", include, c.exclude, c.sort)
    if _OTHER_AUTHOR.search(folded):
        return Change("other_author", include, c.exclude, c.sort)
    if _LIGHTER.search(folded):
        return Change("lighter", include, c.exclude, c.sort)
    if _DARKER.search(folded):
        return Change("darker", include, c.exclude, c.sort)
    if include or c.exclude:
        return Change("genre", include, c.exclude, c.sort)
    if c.sort:
        return Change("order", sort=c.sort)
    return Change("text", text=lexicon.english_query(c.rest, language))


def _says(folded: str, phrases: tuple[str, ...]) -> bool:
    return any(f" {phrase} " in f" {folded} " for phrase in phrases)


def _without_genres(folded: str, language: str) -> str:
    """The words no genre name took ("science fiction" is a genre, its "fiction" no side)."""
    text = f" {folded} "
    for phrase, _ in lexicon.genre_phrases(folded, language):
        text = text.replace(f" {phrase} ", " | ")
    return text.strip()


def past_shelf(change: Change, book: Book) -> Change:
    """'Set in the past' for X: Historical Fiction beside a novel, History beside a book of fact."""
    shelf = "History" if "Nonfiction" in book.genres else "Historical Fiction"
    return Change("genre", (shelf, *change.include), change.exclude, change.sort)


def similar(kit: Toolkit, ask: Request, out: Draft) -> None:
    """'Books like X', and 'like X but Y' when the ask says what should differ."""
    if ask.modifier:
        answer(kit, ask, out)
    else:
        similar_plain(kit, ask, out)


def answer(kit: Toolkit, ask: Request, out: Draft) -> None:
    p = out.p
    found = target(kit, ask, out)
    if found is None:
        return
    if found.kind in ("none", "ambiguous"):
        act(kit, "similar", found, ask.subject, out)
        out.pending = f"like_but:{ask.modifier}" if found.kind == "ambiguous" else out.pending
        return
    book = found.book if found.kind == "book" else found.books[0]
    change = differs(read_change(ask.modifier, p.language), book)
    change = past_shelf(change, book) if change.kind == "past" else change
    out.remember["liked"] = [book.id]
    exclude = [*ask.exclude, *change.exclude]
    if change.kind == "text":
        text = " ".join([change.text, *[g for g in book.genres if g not in w.GENERIC_GENRES][:2]]).strip()
        query = {"mode": "text", "text": text, "genres": [], "exclude_genres": exclude, "seen": [book.id]}
        items = kit.run(query, out)
    else:
        query = {"mode": "similar", "book": book.id, "genres": list(change.include), "exclude_genres": exclude,
                 "seen": [], "sort": change.sort or ask.sort}
        pool = kit.run(query, out, k=kit.page * POOL, record=False, seed_genres=book.genres)
        if not pool and (change.include or change.exclude):  # no neighbour fits: search X's themes with the change instead
            themes = [g for g in book.genres if g not in w.GENERIC_GENRES and g not in change.exclude][:3]
            query = {"mode": "text", "text": " ".join([*change.include, *themes]), "genres": list(change.include),
                     "exclude_genres": exclude, "seen": [book.id], "sort": change.sort}
            pool = kit.run(query, out, k=kit.page * POOL, record=False)
        items = _apply(change, book, pool)[: kit.page]
        out.set_list(items, query)
    out.focus = book.id
    out.text = w.recommendations(p, items, _intro(p, book, change), _note(p, change))


def differs(change: Change, book: Book) -> Change:
    """The change is what should differ from X: a genre X has already ("<space opera> was heavy, any
    sci-fi that's more on the funny side?") keeps every neighbour of X in, so when the change also
    names genres X lacks, those are the ones asked for."""
    new = tuple(g for g in change.include if g not in book.genres)
    return dataclasses.replace(change, include=new) if change.kind == "genre" and new else change


def _apply(change: Change, book: Book, pool: list[tuple[Book, str]]) -> list[tuple[Book, str]]:
    if change.kind == "shorter":
        limit = length_proxy(book)
        return [item for item in pool if length_proxy(item[0]) < limit]
    if change.kind == "lighter":
        limit = darkness(book)
        return [item for item in pool if darkness(item[0]) < limit]
    if change.kind == "darker":
        limit = darkness(book)
        return [item for item in pool if darkness(item[0]) > limit]
    if change.kind == "other_author":  # nor another edition of the same title (a graphic adaptation)
        return [item for item in pool if not set(item[0].authors) & set(book.authors)
                and fold(bare_title(item[0].title)) != fold(bare_title(book.title))]
    return pool


def _intro(p: w.Phrasebook, book: Book, change: Change) -> str:
    if change.kind == "genre":
        parts = [p.t("like_but.in", genres=w.labels(change.include, p.language)) if change.include else "",
                 p.t("like_but.without", genres=w.labels(change.exclude, p.language)) if change.exclude else ""]
        how = " ".join(x for x in parts if x)
    elif change.kind in ("shorter", "lighter", "darker", "other_author", "adult", "order", "text"):
        how = p.t(f"like_but.{change.kind}", text=change.text)
    else:
        how = ""
    return p.t("like_but.intro", title=title(book), how=how)


def _note(p: w.Phrasebook, change: Change) -> str:
    if change.kind == "shorter":
        return p.t("note.no_page_counts")
    if change.kind in ("lighter", "darker"):
        return p.t("note.tone")
    return ""


def resume(kit: Toolkit, pending: str, book: Book, out: Draft) -> None:
    """Completes 'like X but Y' once the reader picked which X."""
    modifier = pending.split(":", 1)[1]
    kit = dataclasses.replace(kit, ctx=dataclasses.replace(kit.ctx, focus=book.id))
    answer(kit, Request("similar", subject="it", modifier=modifier), out)

"""The state a turn works with: its input, the answer being drafted, what the session remembers."""
from __future__ import annotations

import dataclasses
from typing import Any

from smartlib_core.domain import Book
from smartlib_server.services.chat import wording as w
from smartlib_server.services.chat.wording import Phrasebook


@dataclasses.dataclass(frozen=True)
class TurnInput:
    session_id: str
    text: str
    user_id: str = ""
    language_hint: str = ""  # "", "en" or "pt" (already normalised)
    seed: str = ""  # varies the wording between turns; the turn id in production


@dataclasses.dataclass
class Reply:
    language: str
    text: str
    cards: list[tuple[Book, str]]
    turn: TurnInput
    intent: str
    record: dict[str, Any]  # what the session remembers of this turn
    remember: dict[str, list[str]]  # profile updates for the user, if any
    forget: bool = False  # erase the user's profile once the turn is delivered
    forget_genres: tuple[str, ...] = ()  # or only what they said about these genres

    @property
    def books(self) -> list[Book]:
        return [book for book, _ in self.cards]


@dataclasses.dataclass
class Context:
    """What earlier turns of the session left behind."""

    language: str | None = None
    shown: list[list[str]] = dataclasses.field(default_factory=list)  # [book id, reason] of the last list
    query: dict[str, Any] | None = None  # the last list's query, for "more", "shorter", "not like that"
    focus: str = ""  # the book the conversation is about
    pending: str = ""  # an action waiting for the user to pick a book: about, similar, compare:<id>
    approach: str = ""
    likes: list[str] = dataclasses.field(default_factory=list)  # genres this session said it likes
    dislikes: list[str] = dataclasses.field(default_factory=list)
    liked_authors: list[str] = dataclasses.field(default_factory=list)  # authors this session said it likes
    disliked_authors: list[str] = dataclasses.field(default_factory=list)

    @classmethod
    def from_records(cls, records: list[dict[str, Any]]) -> "Context":
        ctx = cls()
        for record in records:
            ctx.language = record.get("lang") or ctx.language
            if record.get("shown"):
                ctx.shown = record["shown"]
                ctx.approach = record.get("approach", "")
            if record.get("query"):
                ctx.query = record["query"]
            ctx.focus = record.get("focus") or ctx.focus
            ctx.pending = record.get("pending", "")
            if record.get("forget"):
                ctx.likes, ctx.dislikes, ctx.liked_authors, ctx.disliked_authors = [], [], [], []
            unsaid = set(record.get("forget_genres", ()))
            ctx.likes = [g for g in ctx.likes if g not in unsaid]
            ctx.dislikes = [g for g in ctx.dislikes if g not in unsaid]
            for genre in record.get("likes", []):  # a newer statement moves a genre between lists
                ctx.likes = [genre, *(g for g in ctx.likes if g != genre)]
                ctx.dislikes = [g for g in ctx.dislikes if g != genre]
            for genre in record.get("dislikes", []):
                ctx.dislikes = [genre, *(g for g in ctx.dislikes if g != genre)]
                ctx.likes = [g for g in ctx.likes if g != genre]
            for name in record.get("liked_authors", []):
                ctx.liked_authors = [name, *(a for a in ctx.liked_authors if a != name)]
                ctx.disliked_authors = [a for a in ctx.disliked_authors if a != name]
            for name in record.get("disliked_authors", []):
                ctx.disliked_authors = [name, *(a for a in ctx.disliked_authors if a != name)]
                ctx.liked_authors = [a for a in ctx.liked_authors if a != name]
        return ctx


class Draft:
    """The answer being built by a handler."""

    def __init__(self, p: Phrasebook):
        self.p = p
        self.text = ""
        self.cards: list[tuple[Book, str]] = []
        self.shown: list[list[str]] = []
        self.query: dict[str, Any] | None = None
        self.focus = ""
        self.pending = ""
        self.approach = ""
        self.remember: dict[str, list[str]] = {}
        self.likes: list[str] = []  # genre tastes stated in this turn, kept in the session
        self.dislikes: list[str] = []
        self.liked_authors: list[str] = []  # author tastes stated in this turn, kept in the session
        self.disliked_authors: list[str] = []
        self.forget = False
        self.forget_genres: list[str] = []  # genres whose stated taste is erased, in the session and the profile
        self.fallback = False  # the turn said it could not help (off-topic or not understood)
        self.skip: list[str] = []  # books never to list this turn: the other options of a question just answered

    def set_list(self, items: list[tuple[Book, str]], query: dict[str, Any]) -> None:
        reasons = [(b, w.reason(r, self.p.language)) for b, r in items]
        self.cards = reasons
        self.shown = [[b.id, r] for b, r in items]
        self.query = {**query, "seen": list(dict.fromkeys([*query.get("seen", []), *(b.id for b, _ in items)]))}

    def not_found(self, phrase: str) -> None:
        """A title the catalog lacks: said honestly, with no cards, and counted as a turn the agent
        could not help with (a made-up title must not read as an answer)."""
        self.text = w.not_found(self.p, phrase)
        self.cards, self.shown = [], []
        self.fallback = True

    def list_books(self, books, why: str) -> None:
        self.cards = [(b, why) for b in books]
        self.shown = [[b.id, why] for b in books]

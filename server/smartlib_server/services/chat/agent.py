"""The Smart Library Agent: one user message in, one grounded answer out (blocking, plain Python).

`read` loads the session and links the message's entities; `prepare` understands the message
(an intent label and its slots), builds the turn's Toolkit and runs the handler the table in
`handlers` names for the label; `commit` stores the turn in
conversation memory once it has been delivered, so a cancelled turn leaves no trace. Every
book named comes from the serving index; every list comes from RecommendService with
approach=None, i.e. FINETUNED whenever a trained encoder is active.
"""
from __future__ import annotations

import dataclasses
import logging
from typing import Any

from smartlib_core.domain import Book
from smartlib_server.adapters.memory.contract import ConversationMemory
from smartlib_server.services.chat import fallback, interpret, language as lang, tastes
from smartlib_server.services.chat.handlers import HANDLERS, choices
from smartlib_server.services.chat.handlers.discover import taste_lists
from smartlib_server.services.chat.language import Detection
from smartlib_server.services.chat.linker import Entity, Linker
from smartlib_server.services.chat.request import Request
from smartlib_server.services.chat.resolver import TitleResolver
from smartlib_server.services.chat.session import Context, Draft, Reply, TurnInput
from smartlib_server.services.chat.toolkit import PAGE, GenreShelf, Toolkit
from smartlib_server.services.chat.understand import Situation, Understander, Understanding, query_embedder
from smartlib_server.services.chat.wording import Phrasebook
from smartlib_server.services.recommend import RecommendService

log = logging.getLogger(__name__)

HISTORY = 12  # turns of the session read back to resolve follow-ups
# Labels a reply naming one of the books just offered ("the Tolkien one") may really be.
_MAY_BE_A_CHOICE = frozenset({"nonsense", "about_book", "author", "who_wrote", "recommend", "best_rated", "off_topic", "pick"})


@dataclasses.dataclass(frozen=True)
class Reading:
    """What a turn knows before its message is understood: the session so far, the answer's
    language and the entities the message names. An optional LLM parser reads the message
    between `read` and `prepare` (turns.py), on the event loop."""

    records: list[dict[str, Any]]
    ctx: Context
    language: str
    detection: Detection
    entities: list[Entity]
    hint: str = ""  # the client's language hint, for a language read again once more names are known

    @property
    def situation(self) -> Situation:
        return Situation(list_shown=bool(self.ctx.shown), language=self.language)


class ChatAgent:
    def __init__(self, recommend: RecommendService, memory: ConversationMemory, page: int = PAGE):
        self.recommend = recommend
        self.index = recommend.index
        self.memory = memory
        self.resolver = TitleResolver(recommend.index)
        self.page = page
        self._vocabulary = fallback.Vocabulary()
        self._shelf = GenreShelf()
        # MiniLM through the server's inference adapter: the same query-embedding cache and
        # batcher as text search, so understanding adds one cached model call per new message.
        self.understander = Understander(Linker(recommend.index), query_embedder(recommend.inference))

    @property
    def books(self) -> dict[str, Book]:
        return self.index.state.books

    def read(self, turn: TurnInput) -> Reading:
        """The session's recent turns, the answer's language and the message's linked entities."""
        records = self.memory.recent_turns(turn.session_id, HISTORY)
        ctx = Context.from_records(records)
        entities = self.understander.linker.link(turn.text)
        names = [span for e in entities if e.kind in interpret.NAMED for span in e.spans]
        language, detection = lang.choose(turn.text, turn.language_hint, ctx.language, names)
        return Reading(records, ctx, language, detection, entities, turn.language_hint)

    def understand(self, text: str, reading: Reading, parsed: Understanding | None = None) -> tuple[Request, Reading]:
        """The intent label and slots of one message: the LLM's reading when it gave one, else the
        learned model's (with a list on screen or not), slots from the linked entities. A title
        found only now, in everyday words ("quero the age of reason"), is a name too: the answer's
        language is read again from the words outside it, so the reading comes back with it."""
        if not text.strip():
            return Request("help"), reading
        understood = self.understander.complete(text, parsed or self.understander(text, reading.situation, reading.entities))
        ctx = reading.ctx
        names = [span for e in understood.entities if e.kind in interpret.NAMED for span in e.spans]
        if set(names) - {span for e in reading.entities if e.kind in interpret.NAMED for span in e.spans}:
            language, detection = lang.choose(text, reading.hint, ctx.language, names)
            reading = dataclasses.replace(reading, language=language, detection=detection)
        ask = interpret.to_request(understood, text, reading.language, has_focus=bool(ctx.focus), list_shown=bool(ctx.shown))
        return ask, reading

    def prepare(self, turn: TurnInput, reading: Reading | None = None, parsed: Understanding | None = None) -> Reply:
        """The turn's answer, not yet stored. `reading` and `parsed` come from turns.py when an
        LLM parser read the message; without them the turn is read and understood here."""
        reading = reading or self.read(turn)
        ask, reading = self.understand(turn.text, reading, parsed)
        records, ctx, language, detection = reading.records, reading.ctx, reading.language, reading.detection
        kit = Toolkit(self.recommend, self.memory, self.resolver, self._vocabulary, self._shelf,
                      self.index.state, ctx, turn, self.page)
        out = Draft(Phrasebook(language, f"{turn.session_id}:{len(records)}:{turn.seed}"))
        if ask.kind in ("nonsense", "off_topic") and detection.looks_foreign and not turn.language_hint:
            out.text = out.p.t("foreign")
            out.fallback = True
        else:
            self._dispatch(ask, kit, out)
        record = {
            "user": turn.text[:300], "lang": language, "intent": ask.kind, "shown": out.shown,
            "query": out.query, "focus": out.focus, "pending": out.pending, "approach": out.approach,
            "likes": out.likes, "dislikes": out.dislikes, "forget": out.forget, "fallback": out.fallback,
            "forget_genres": out.forget_genres, "liked_authors": out.liked_authors, "disliked_authors": out.disliked_authors,
        }
        return Reply(language, out.text, out.cards, turn, ask.kind, record, out.remember, out.forget, tuple(out.forget_genres))

    def commit(self, reply: Reply) -> None:
        """Stores the delivered turn; memory failures never fail a turn that was already answered."""
        try:
            self.memory.append_turn(reply.turn.session_id, reply.record)
            if reply.turn.user_id:  # so that ForgetUser finds this session's turns too
                self.memory.link_session(reply.turn.user_id, reply.turn.session_id)
            if reply.turn.user_id and reply.forget:
                self.memory.forget(reply.turn.user_id)
            if reply.turn.user_id and reply.forget_genres:
                tastes.forget_genres(self.memory, reply.turn.user_id, reply.forget_genres)
            if reply.turn.user_id and any(reply.remember.values()):
                self.memory.remember(reply.turn.user_id, **reply.remember)
        except ValueError:
            log.warning("conversation memory refused a turn", exc_info=True)

    @staticmethod
    def _dispatch(ask: Request, kit: Toolkit, out: Draft) -> None:
        if kit.ctx.pending and ask.kind in _MAY_BE_A_CHOICE:
            chosen = choices.named_choice(kit, kit.turn.text)
            if chosen is not None:  # "the Tolkien one" answers "which Hobbit did you mean?"
                choices.resume(kit, chosen, out)
                return
        HANDLERS[ask.kind](kit, ask, out)
        if (ask.likes or ask.dislikes) and not ({"liked_genres", "disliked_genres"} & out.remember.keys()):
            # a taste said in passing ("curto distopias tipo 1984") is kept whatever the ask was
            liked, disliked = taste_lists(list(ask.likes), list(ask.dislikes))
            out.remember["liked_genres"], out.remember["disliked_genres"] = liked, disliked
            out.likes, out.dislikes = liked, disliked

"""The Smart Library Agent: one user message in, one grounded answer out (blocking, plain Python).

`prepare` parses the message, resolves titles, asks the recommender and drafts the answer;
`commit` stores the turn in conversation memory once it has been delivered, so a cancelled
turn leaves no trace. Every book named comes from the serving index; every list comes from
RecommendService with approach=None, i.e. FINETUNED whenever a trained encoder is active.
"""
from __future__ import annotations

import logging
import random
import threading
from typing import Any

from smartlib_server.adapters.memory.contract import ConversationMemory
from smartlib_server.domain.profiles import UserProfile
from smartlib_core.domain import Book, BookFilter
from smartlib_server.services.chat import authors, fallback, follow_ups, lexicon, like_but, ordering, tastes
from smartlib_server.services.chat import compare as comparing
from smartlib_server.services.chat import language as lang
from smartlib_server.services.chat import wording as w
from smartlib_server.services.chat.intents import Intent, is_focus, parse
from smartlib_server.services.chat.resolver import Resolution, TitleResolver
from smartlib_server.services.chat.session import Context, Draft, Reply, TurnInput
from smartlib_server.services.chat.tastes import Tastes
from smartlib_server.services.chat.wording import Phrasebook, title
from smartlib_server.services.recommend import RecommendService
from smartlib_server.services.serving_index import ServingState
from smartlib_core.text import fold

log = logging.getLogger(__name__)

HISTORY = 12  # turns of the session read back to resolve follow-ups
PAGE = 5  # books per list


class ChatAgent:
    def __init__(self, recommend: RecommendService, memory: ConversationMemory, page: int = PAGE):
        self.recommend = recommend
        self.index = recommend.index
        self.memory = memory
        self.resolver = TitleResolver(recommend.index)
        self.page = page
        self.vocabulary = fallback.Vocabulary()
        self._local = threading.local()
        self._genres: tuple[tuple[int, int, int], frozenset[str]] | None = None

    @property
    def _state(self) -> ServingState:
        # One serving state per turn: a hot swap mid-turn cannot mix two catalogs in one answer.
        return getattr(self._local, "state", None) or self.index.state

    @property
    def books(self) -> dict[str, Book]:
        return self._state.books

    _books = books

    # -- the turn ---------------------------------------------------------------------------
    def prepare(self, turn: TurnInput) -> Reply:
        self._local.state = self.index.state
        try:
            return self._prepare(turn)
        finally:
            self._local.state = None

    def _prepare(self, turn: TurnInput) -> Reply:
        records = self.memory.recent_turns(turn.session_id, HISTORY)
        ctx = Context.from_records(records)
        self._local.ctx = ctx
        language, detection = lang.choose(turn.text, turn.language_hint, ctx.language)
        intent = parse(turn.text, language)
        p = Phrasebook(language, f"{turn.session_id}:{len(records)}:{turn.seed}")
        out = Draft(p)
        if intent.kind == "unknown" and detection.looks_foreign and not turn.language_hint:
            out.text = ("Sorry, I only speak English and Portuguese. Try \"Recommend fantasy books\".\n"
                        "Desculpe, só falo inglês e português. Tente \"Recomende livros de fantasia\".")
            out.fallback = True
        else:
            self._dispatch(intent, ctx, turn, out)
        record = {
            "user": turn.text[:300], "lang": language, "intent": intent.kind, "shown": out.shown,
            "query": out.query, "focus": out.focus, "pending": out.pending, "approach": out.approach,
            "likes": out.likes, "dislikes": out.dislikes, "forget": out.forget, "fallback": out.fallback,
        }
        return Reply(language, out.text, out.cards, turn, intent.kind, record, out.remember, out.forget)

    def commit(self, reply: Reply) -> None:
        """Stores the delivered turn; memory failures never fail a turn that was already answered."""
        try:
            self.memory.append_turn(reply.turn.session_id, reply.record)
            if reply.turn.user_id:  # so that ForgetUser finds this session's turns too
                self.memory.link_session(reply.turn.user_id, reply.turn.session_id)
            if reply.turn.user_id and reply.forget:
                self.memory.forget(reply.turn.user_id)
            if reply.turn.user_id and any(reply.remember.values()):
                self.memory.remember(reply.turn.user_id, **reply.remember)
        except ValueError:
            log.warning("conversation memory refused a turn", exc_info=True)

    def _dispatch(self, intent: Intent, ctx: Context, turn: TurnInput, out: Draft) -> None:
        kind = intent.kind
        if ctx.pending and kind in ("unknown", "about", "author", "author_info", "recommend"):
            chosen = self._named_choice(turn.text, ctx)
            if chosen is not None:  # "the Tolkien one" answers "which Hobbit did you mean?"
                self._resume(ctx.pending, chosen, ctx, turn, out)
                return
        handler = self._READER_ASKS.get(kind)
        if handler is not None:
            handler(self, intent, ctx, turn, out)
            return
        if kind == "greet":
            self._greet(turn, out)
        elif kind in ("help", "thanks", "bye"):
            out.text = {
                "help": w.help_text(out.p),
                "thanks": out.p.say("You're welcome! Ask me anytime for another book.", "De nada! Quando quiser outra dica, é só pedir."),
                "bye": out.p.say("Happy reading!", "Boa leitura!"),
            }[kind]
        elif kind == "pick":
            self._pick(intent.ordinal, ctx, turn, out)
        elif kind in ("about", "similar", "like", "dislike"):
            target = self.target(intent, ctx, out)
            if target is not None:
                self.act(kind, target, intent.subject, ctx, turn, out, intent.exclude, intent.sort)
        elif kind == "compare":
            self._compare(intent, ctx, out)
        elif kind == "recommend":
            self.recommend_genres(intent, ctx, turn, out)
        elif kind in ("more", "not_like", "shorter"):
            follow_ups.follow_up(self, kind, ctx, turn, out)
        elif kind == "why":
            follow_ups.why(self, intent, ctx, out)
        else:
            self._unknown(intent, ctx, turn, out)

    # -- handlers ---------------------------------------------------------------------------
    def _greet(self, turn: TurnInput, out: Draft) -> None:
        profile = self.profile(turn)
        liked = [self._books[i] for i in profile.liked if i in self._books]
        out.text = w.greeting(out.p, liked, profile.mentioned_genres)

    def target(self, intent: Intent, ctx: Context, out: Draft) -> Resolution | None:
        """The book an ask is about: a position in the last list, the book in focus, or a title."""
        if intent.ordinal:
            book = self._shown_book(ctx, intent.ordinal)
            if book is None:
                out.text = out.p.say("I haven't shown you a list to pick from yet.", "Ainda não mostrei uma lista para escolher.")
                return None
            return Resolution("book", (book,))
        pronoun = is_focus(intent.subject) and not (intent.subject == "it" and out.p.language == "pt")  # "It" is a title in Portuguese
        if pronoun and ctx.focus in self._books:
            return Resolution("book", (self._books[ctx.focus],))
        return self.resolver.resolve(intent.subject)

    def act(self, kind: str, found: Resolution, phrase: str, ctx: Context, turn: TurnInput, out: Draft,
            exclude: tuple[str, ...] = (), sort: str = "") -> None:
        """Answers about, similar, like or dislike for a resolved phrase; asks when it is ambiguous."""
        p = out.p
        if found.kind == "none":
            out.text = w.not_found(p, phrase)
            return
        if found.kind == "ambiguous":
            out.text = w.ambiguous(p, phrase, found.books)
            out.list_books(found.books, p.say("one of the matches", "uma das opções"))
            out.pending = "similar" if kind in ("similar", "like") else kind
            out.query = {"mode": "choice"}  # "more" now means more of the original ask, not of the choices
            return
        if kind == "about":
            self._about(found, out)
            return
        book = found.book
        if kind == "dislike":
            out.remember["disliked"] = [book.id]
            out.text = p.say(f"Noted: I'll leave {title(book)} out of my suggestions for you.",
                             f"Anotado: vou deixar {title(book)} fora das minhas sugestões para você.")
            out.focus = book.id
            return
        if kind == "like":
            out.remember["liked"] = [book.id]
        skip = [b.id for b in found.books] if found.kind != "book" else []
        query = {"mode": "similar", "book": book.id, "genres": [], "exclude_genres": list(exclude), "seen": skip, "sort": sort}
        items = self.run(query, turn, out, seed_genres=book.genres)
        intro = w.intro_similar(p, book, len(items))
        if kind == "like":
            intro = p.say(f"Noted, you liked {title(book)}. ", f"Anotado, você gostou de {title(book)}. ") + intro
        if found.kind != "book":
            intro = p.say(f"Starting from {title(book)} ({found.name}). ", f"Partindo de {title(book)} ({found.name}). ") + intro
        out.text = w.recommendations(p, items, intro)
        out.focus = book.id
        out.remember["liked"] = [book.id]  # asking for books like X says the user likes X

    def _about(self, found: Resolution, out: Draft) -> None:
        p = out.p
        if found.kind == "book":
            book = found.book
            siblings = self.series_of(book)
            out.text = w.about_book(p, book, siblings)
            out.cards.append((book, p.say("the book you asked about", "o livro que você pediu")))
            out.focus = book.id
            out.remember["mentioned_books"] = [book.id]
        elif found.kind == "series":
            out.text = w.about_series(p, found.name, found.books)
            for book in found.books:
                position = f" #{book.series_position}" if book.series_position else ""
                out.cards.append((book, p.say(f"{found.name}{position}", f"{found.name}{position}")))
            out.shown = [[b.id, p.say(f"in the {found.name} series", f"da série {found.name}")] for b in found.books]
            out.pending = "about"
        else:
            out.text = w.about_author(p, found.name, found.books)
            out.list_books(found.books[: self.page], p.say(f"by {found.name}", f"de {found.name}"))
            out.pending = "about"

    def _pick(self, ordinal: int, ctx: Context, turn: TurnInput, out: Draft) -> None:
        book = self._shown_book(ctx, ordinal)
        if book is None:
            out.text = out.p.say(
                "There is no list to pick from yet, or it is shorter than that. Ask me for recommendations first.",
                "Ainda não há uma lista para escolher, ou ela é menor que isso. Peça recomendações primeiro.",
            )
            return
        self._resume(ctx.pending, book, ctx, turn, out)

    def _resume(self, pending: str, book: Book, ctx: Context, turn: TurnInput, out: Draft) -> None:
        """Carries out the action a question was waiting for, with the book the user chose."""
        if ctx.query and ctx.query.get("mode") == "choice":  # the options not chosen are not what the reader wants either
            out.skip = [i for i, _ in ctx.shown if i != book.id]
        if pending.startswith("like_but:"):
            like_but.resume(self, pending, book, ctx, turn, out)
            return
        if pending.startswith("compare:"):
            _, other_id, side = (pending.split(":") + [""])[:3]
            other = self._books.get(other_id)
            if other is not None:
                self._compare_books(*((book, other) if side == "a" else (other, book)), out)
                return
        if pending in ("similar", "like", "dislike"):
            self.act(pending, Resolution("book", (book,)), title(book), ctx, turn, out)
        else:
            self._about(Resolution("book", (book,)), out)

    def _named_choice(self, text: str, ctx: Context) -> Book | None:
        """The one book of the pending choice whose author or distinctive title word the reply names."""
        words = set(fold(text).split()) - {"the", "one", "o", "a", "do", "da", "de", "by", "livro", "book"}
        words |= {w[:-1] for w in words if w.endswith("s") and len(w) > 4}  # "Lukyanenko's" folds to "lukyanenkos"
        choices = [self._books[i] for i, _ in ctx.shown if i in self._books]
        if not words or len(choices) < 2:
            return None
        def names(book: Book) -> set[str]:
            return {part for author in book.authors for part in fold(author).split() if len(part) > 2}
        hits = [b for b in choices if words & names(b)]
        return hits[0] if len(hits) == 1 else None

    def _compare(self, intent: Intent, ctx: Context, out: Draft) -> None:
        best: tuple[Resolution, Resolution, tuple[str, str]] | None = None
        for a_phrase, b_phrase in intent.pairs:
            a, b = self.resolver.resolve(a_phrase), self.resolver.resolve(b_phrase)
            if a.kind != "none" and b.kind != "none":
                best = (a, b, (a_phrase, b_phrase))
                if a.kind != "ambiguous" and b.kind != "ambiguous":
                    break
        if best is None:
            a_phrase, b_phrase = intent.pairs[0]
            missing = a_phrase if self.resolver.resolve(a_phrase).kind == "none" else b_phrase
            out.text = w.not_found(out.p, missing)
            return
        a, b, (a_phrase, b_phrase) = best
        for side, other, phrase, which in ((a, b, a_phrase, "a"), (b, a, b_phrase, "b")):
            if side.kind == "ambiguous" and other.kind != "ambiguous":
                out.text = w.ambiguous(out.p, phrase, side.books)
                out.list_books(side.books, out.p.say("one of the matches", "uma das opções"))
                out.pending = f"compare:{other.book.id}:{which}"  # which side the pick fills
                return
        if a.kind == "ambiguous":
            out.text = w.ambiguous(out.p, a_phrase, a.books)
            out.list_books(a.books, out.p.say("one of the matches", "uma das opções"))
            return
        self._compare_books(a.book, b.book, out)

    def _compare_books(self, a: Book, b: Book, out: Draft) -> None:
        p = out.p
        if a.id == b.id:
            out.text = p.say(f"That's the same book twice: {title(a)}.", f"É o mesmo livro duas vezes: {title(a)}.")
            return
        baseline = self._state.baseline
        result = comparing.compare(a, b, baseline.vector(a.id), baseline.vector(b.id))
        out.text = comparing.render(p, result)
        out.list_books([a, b], p.say("in the comparison", "na comparação"))
        out.remember["mentioned_books"] = [a.id, b.id]

    def recommend_genres(self, intent: Intent, ctx: Context, turn: TurnInput, out: Draft) -> None:
        p = out.p
        if intent.likes or intent.dislikes:  # "I love mysteries, what should I read?"
            out.remember["liked_genres"] = [g.lower() for g in intent.likes]
            out.remember["disliked_genres"] = [g.lower() for g in intent.dislikes]
            out.likes, out.dislikes = list(out.remember["liked_genres"]), list(out.remember["disliked_genres"])
        genres = [g for g in intent.genres if self._catalog_has_genre(g)]
        topic = intent.query.strip()
        if not genres and not topic:
            if intent.genres:  # a genre the catalog lacks: say so rather than guess
                out.text = p.say(f"The catalog has no books labelled {w.join([w.genre_label(g, 'en') for g in intent.genres], 'en')}.",
                                 f"O catálogo não tem livros com o gênero {w.join([w.genre_label(g, 'pt') for g in intent.genres], 'pt')}.")
                return
            tastes.vague(self, intent, ctx, turn, out)
            return
        # Genre and mood asks go to the text search, whose ranking is quality-aware for broad asks;
        # "best rated" / "most read" without topic words order the genre by catalog ratings instead.
        if topic and not genres and not intent.likes:
            found = self.resolver.author(topic, loose=False)
            # "has stephen king written anything good", "o que vcs tem do george orwell": a full name
            # among words that only ask for someone's books
            name = " ".join(word for word in topic.split() if word not in lexicon.AUTHOR_ASK_WORDS)
            if found.kind != "author" and name != topic and len(name.split()) >= 2:
                found, topic = self.resolver.author(name, loose=False), name
            if found.kind == "author":  # "give me some Neil Gaiman": the whole topic is an author
                authors.books_by(self, Intent("author", subject=topic, exclude=intent.exclude, sort=intent.sort), ctx, turn, out)
                return
        mode = "ranked" if intent.sort and not topic else "text"
        query = {"mode": mode, "text": " ".join([*genres, topic]).strip(), "genres": genres,
                 "exclude_genres": list(intent.exclude), "seen": [], "sort": intent.sort}
        items = self.run(query, turn, out, surprise=intent.surprise)
        intro = w.intro_genre(p, genres, topic, len(items), intent.sort, intent.exclude)
        out.text = w.recommendations(p, items, intro)
        out.remember["mentioned_genres"] = [g.lower() for g in genres]

    def _unknown(self, intent: Intent, ctx: Context, turn: TurnInput, out: Draft) -> None:
        found = self.resolver.resolve(intent.subject) if intent.subject else Resolution("none")
        if found.kind == "book" and ctx.pending:
            self._resume(ctx.pending, found.book, ctx, turn, out)
        elif found.kind != "none":
            self.act("about", found, intent.subject, ctx, turn, out)
        else:
            self.free_text(intent, ctx, turn, out)

    def free_text(self, intent: Intent, ctx: Context, turn: TurnInput, out: Draft) -> None:
        """A description the catalog can read goes to the text search; anything else gets an
        honest "I didn't understand" with example asks, and no cards."""
        text = intent.query or intent.subject
        if text and self.vocabulary.readable(text, self._books, self.index.version):
            self.recommend_genres(Intent("recommend", query=text, exclude=intent.exclude, sort=intent.sort), ctx, turn, out)
        else:
            out.text = fallback.not_understood(out.p)
            out.fallback = True

    def _off_topic(self, intent: Intent, ctx: Context, turn: TurnInput, out: Draft) -> None:
        out.text = fallback.off_topic(out.p)
        out.fallback = True

    # -- helpers ----------------------------------------------------------------------------
    def run(self, query: dict[str, Any], turn: TurnInput, out: Draft, k: int | None = None, record: bool = True,
            *, surprise: bool = False, use_tastes: bool = True, seed_genres: tuple[str, ...] = ()) -> list[tuple[Book, str]]:
        """The books for a query, leaving out books seen or disliked and genres excluded or disliked
        (a disliked genre stays in when the ask names it, or the book it starts from has it)."""
        k = k or self.page
        query.setdefault("exclude_genres", [])
        taste = self.tastes(turn) if use_tastes else Tastes()
        if use_tastes and query.get("mode") != "author":
            query["exclude_genres"] = tastes.keep_out(query, taste, seed_genres)
        excluded = frozenset([*query.get("seen", []), *taste.disliked_books, *out.skip])
        filt = BookFilter(
            include_genres=frozenset(g.lower() for g in query.get("genres", [])),
            exclude_genres=frozenset(g.lower() for g in query.get("exclude_genres", [])),
            exclude_ids=excluded,
        )
        sort = query.get("sort", "")
        k = min(k, self.recommend.max_k)
        fetch = min(k * 4 if (sort or surprise) and query["mode"] in ("similar", "text") else k, self.recommend.max_k)
        p = out.p
        if query["mode"] in ("popular", "ranked", "author"):
            if query["mode"] == "author":
                pool = [b for b in self.resolver.author(query["author"]).books if filt.accepts(b)]
            else:
                pool = [b for b in list(self._books.values()) if filt.accepts(b)]
            ordered = ordering.order(pool, sort or "popular") if query["mode"] != "author" or sort else pool
            if query["mode"] == "popular" and not sort:
                ordered = sorted(pool, key=lambda b: (b.list_rank < 0, b.list_rank, -b.avg_rating))
            items = [(b, self._ranked_reason(b, query, p)) for b in ordered[: k * 4 if surprise else k]]
        else:
            if query["mode"] == "similar":
                result = self.recommend.similar_books(query["book"], fetch, None, filt)
            else:
                result = self.recommend.search_by_text(query["text"], fetch, None, filt)
            items = [(item.book, item.reason) for item in result.items]
            out.approach = result.approach.value
            if sort:
                order = {b.id: i for i, b in enumerate(ordering.order([b for b, _ in items], sort))}
                items.sort(key=lambda item: order[item[0].id])
        if surprise and len(items) > k:  # a different handful each time, still from the best matches
            rng = random.Random(f"{turn.session_id}:{turn.seed}:{turn.text}")
            items = sorted(rng.sample(items, k), key=items.index)
        items = items[:k]
        if record:
            out.set_list(items, query)
        return items

    @staticmethod
    def _ranked_reason(book: Book, query: dict[str, Any], p: Phrasebook) -> str:
        if query["mode"] == "author":
            return w.series_note(book, p.language) or w.genres(book, p.language, 2)
        if query["mode"] == "popular" and not query.get("sort"):
            return p.say("one of the catalog's best-loved books", "um dos livros mais queridos do catálogo")
        if book.num_ratings:
            count = f"{book.num_ratings:,}".replace(",", "." if p.language == "pt" else ",")
            return p.say(f"rated by {count} readers", f"avaliado por {count} leitores")
        return p.say("among the best rated", "entre os mais bem avaliados")

    def _shown_book(self, ctx: Context, ordinal: int) -> Book | None:
        if not ctx.shown:
            return None
        position = ordinal - 1 if ordinal > 0 else len(ctx.shown) - 1
        if not 0 <= position < len(ctx.shown):
            return None
        return self._books.get(ctx.shown[position][0])

    def series_of(self, book: Book) -> list[Book]:
        if not book.series_name:
            return []
        return [b for b in self._books.values() if b.series_name == book.series_name]

    def profile(self, turn: TurnInput) -> UserProfile:
        return self.memory.profile(turn.user_id) if turn.user_id else UserProfile("anonymous")

    def tastes(self, turn: TurnInput, ctx: Context | None = None) -> Tastes:
        """What the reader likes and dislikes: their profile plus this session's statements."""
        ctx = ctx if ctx is not None else getattr(self._local, "ctx", None) or Context()
        return tastes.combine(self.profile(turn), ctx)

    def _catalog_has_genre(self, genre: str) -> bool:
        books = self._books
        key = (id(books), self.index.version, len(books))
        cached = self._genres
        if cached is None or cached[0] != key:  # one scan per catalog version, not per turn
            cached = (key, frozenset(g.lower() for b in list(books.values()) for g in b.genres))
            self._genres = cached
        return genre.lower() in cached[1]





ChatAgent._READER_ASKS = {
    "author": authors.books_by,
    "author_info": authors.author_info,
    "series": authors.series_order,
    "series_next": authors.series_next,
    "series_at": authors.series_at,
    "like_but": like_but.answer,
    "taste": lambda agent, intent, ctx, turn, out: tastes.state(agent, intent, turn, out),
    "memory_show": lambda agent, intent, ctx, turn, out: tastes.show(agent, ctx, turn, out),
    "memory_forget": lambda agent, intent, ctx, turn, out: tastes.forget(turn, out),
    "off_topic": ChatAgent._off_topic,
    "refine": follow_ups.refine,
}

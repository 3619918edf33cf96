"""The Smart Library Agent: one user message in, one grounded answer out (blocking, plain Python).

`prepare` parses the message, resolves titles, asks the recommender and drafts the answer;
`commit` stores the turn in conversation memory once it has been delivered, so a cancelled
turn leaves no trace. Every book named comes from the serving index; every list comes from
RecommendService with approach=None, i.e. FINETUNED whenever a trained encoder is active.
"""
from __future__ import annotations

import logging
import threading
from collections import Counter
from typing import Any

from smartlib_server.adapters.conversation_memory import ConversationMemory, UserProfile
from smartlib_server.domain import Book, BookFilter
from smartlib_server.services.chat import compare as comparing
from smartlib_server.services.chat import language as lang
from smartlib_server.services.chat import wording as w
from smartlib_server.services.chat.intents import Intent, is_focus, parse
from smartlib_server.services.chat.resolver import Resolution, TitleResolver
from smartlib_server.services.chat.session import Context, Draft, Reply, TurnInput
from smartlib_server.services.chat.wording import Phrasebook, title
from smartlib_server.services.recommend import RecommendService
from smartlib_server.services.serving_index import ServingState

log = logging.getLogger(__name__)

HISTORY = 12  # turns of the session read back to resolve follow-ups
PAGE = 5  # books per list
SHORT_GENRES = frozenset({"Picture Books", "Short Stories", "Novella", "Poetry", "Plays", "Childrens", "Comics", "Graphic Novels", "Essays"})


class ChatAgent:
    def __init__(self, recommend: RecommendService, memory: ConversationMemory, page: int = PAGE):
        self.recommend = recommend
        self.index = recommend.index
        self.memory = memory
        self.resolver = TitleResolver(recommend.index)
        self.page = page
        self._local = threading.local()
        self._genres: tuple[tuple[int, int, int], frozenset[str]] | None = None

    @property
    def _state(self) -> ServingState:
        # One serving state per turn: a hot swap mid-turn cannot mix two catalogs in one answer.
        return getattr(self._local, "state", None) or self.index.state

    @property
    def _books(self) -> dict[str, Book]:
        return self._state.books

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
        language, detection = lang.choose(turn.text, turn.language_hint, ctx.language)
        intent = parse(turn.text, language)
        p = Phrasebook(language, f"{turn.session_id}:{len(records)}:{turn.seed}")
        out = Draft(p)
        if intent.kind == "unknown" and detection.looks_foreign and not turn.language_hint:
            out.text = ("Sorry, I only speak English and Portuguese. Try \"Recommend fantasy books\".\n"
                        "Desculpe, só falo inglês e português. Tente \"Recomende livros de fantasia\".")
        else:
            self._dispatch(intent, ctx, turn, out)
        record = {
            "user": turn.text[:300], "lang": language, "intent": intent.kind, "shown": out.shown,
            "query": out.query, "focus": out.focus, "pending": out.pending, "approach": out.approach,
        }
        return Reply(language, out.text, out.cards, turn, intent.kind, record, out.remember)

    def commit(self, reply: Reply) -> None:
        """Stores the delivered turn; memory failures never fail a turn that was already answered."""
        try:
            self.memory.append_turn(reply.turn.session_id, reply.record)
            if reply.turn.user_id and any(reply.remember.values()):
                self.memory.remember(reply.turn.user_id, **reply.remember)
        except ValueError:
            log.warning("conversation memory refused a turn", exc_info=True)

    def _dispatch(self, intent: Intent, ctx: Context, turn: TurnInput, out: Draft) -> None:
        kind = intent.kind
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
            target = self._target(intent, ctx, out)
            if target is not None:
                self._act(kind, target, intent.subject, ctx, turn, out)
        elif kind == "compare":
            self._compare(intent, ctx, out)
        elif kind == "recommend":
            self._recommend_genres(intent, turn, out)
        elif kind in ("more", "not_like", "shorter"):
            self._follow_up(kind, ctx, turn, out)
        elif kind == "why":
            self._why(intent.ordinal, ctx, out)
        else:
            self._unknown(intent, ctx, turn, out)

    # -- handlers ---------------------------------------------------------------------------
    def _greet(self, turn: TurnInput, out: Draft) -> None:
        profile = self._profile(turn)
        liked = [self._books[i] for i in profile.liked if i in self._books]
        out.text = w.greeting(out.p, liked, profile.mentioned_genres)

    def _target(self, intent: Intent, ctx: Context, out: Draft) -> Resolution | None:
        if intent.ordinal:
            book = self._shown_book(ctx, intent.ordinal)
            if book is None:
                out.text = out.p.say("I haven't shown you a list to pick from yet.", "Ainda não mostrei uma lista para escolher.")
                return None
            return Resolution("book", (book,))
        if is_focus(intent.subject) and ctx.focus in self._books:
            return Resolution("book", (self._books[ctx.focus],))
        return self.resolver.resolve(intent.subject)

    def _act(self, kind: str, found: Resolution, phrase: str, ctx: Context, turn: TurnInput, out: Draft) -> None:
        p = out.p
        if found.kind == "none":
            out.text = w.not_found(p, phrase)
            return
        if found.kind == "ambiguous":
            out.text = w.ambiguous(p, phrase, found.books)
            out.list_books(found.books, p.say("one of the matches", "uma das opções"))
            out.pending = "similar" if kind in ("similar", "like") else kind
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
        query = {"mode": "similar", "book": book.id, "genres": [], "exclude_genres": [], "seen": skip}
        items = self._run(query, self._profile(turn), out)
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
            siblings = self._series_of(book)
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
        if pending.startswith("compare:"):
            _, other_id, side = (pending.split(":") + [""])[:3]
            other = self._books.get(other_id)
            if other is not None:
                self._compare_books(*((book, other) if side == "a" else (other, book)), out)
                return
        if pending in ("similar", "like", "dislike"):
            self._act(pending, Resolution("book", (book,)), title(book), ctx, turn, out)
        else:
            self._about(Resolution("book", (book,)), out)

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

    def _recommend_genres(self, intent: Intent, turn: TurnInput, out: Draft) -> None:
        p = out.p
        profile = self._profile(turn)
        genres = [g for g in intent.genres if self._catalog_has_genre(g)]
        topic = intent.query.strip()
        if not genres and not topic:
            liked = [i for i in profile.liked if i in self._books]
            if liked:
                book = self._books[liked[0]]
                query = {"mode": "similar", "book": book.id, "genres": [], "exclude_genres": [], "seen": []}
                items = self._run(query, profile, out)
                intro = p.say(f"You liked {title(book)} before, so here are books like it:",
                              f"Você gostou de {title(book)} antes, então aqui vão livros parecidos:")
                out.text = w.recommendations(p, items, intro)
                return
            query = {"mode": "popular", "genres": [], "exclude_genres": [], "seen": []}
            items = self._run(query, profile, out)
            intro = p.say("Here are some of the catalog's best-loved books. Tell me a genre or a mood and I'll narrow it down:",
                          "Aqui vão alguns dos livros mais queridos do catálogo. Diga um gênero ou clima e eu refino:")
            out.text = w.recommendations(p, items, intro)
            return
        query = {"mode": "text", "text": " ".join([*genres, topic]).strip(), "genres": genres, "exclude_genres": [], "seen": []}
        items = self._run(query, profile, out)
        out.text = w.recommendations(p, items, w.intro_genre(p, genres, topic, len(items)))
        out.remember["mentioned_genres"] = [g.lower() for g in genres]

    def _follow_up(self, kind: str, ctx: Context, turn: TurnInput, out: Draft) -> None:
        p = out.p
        query = dict(ctx.query) if ctx.query else None
        if query is None and ctx.focus in self._books:
            query = {"mode": "similar", "book": ctx.focus, "genres": [], "exclude_genres": [], "seen": []}
        if query is None:
            out.text = p.say("Happy to! First tell me what you like: a book, a genre or a mood.",
                             "Claro! Primeiro me diga do que você gosta: um livro, um gênero ou um clima.")
            return
        profile = self._profile(turn)
        query["seen"] = list(dict.fromkeys([*query.get("seen", []), *(i for i, _ in ctx.shown)]))
        if kind == "more":
            items = self._run(query, profile, out)
            out.text = w.recommendations(p, items, p.pick(["Here are more:", "A few more:"], ["Aqui vão mais:", "Mais algumas:"]))
        elif kind == "not_like":
            shown = [i for i, _ in ctx.shown if i in self._books]
            # Rejecting a list is weaker than "I loved X": books the user liked stay liked.
            out.remember["disliked"] = [i for i in shown if i not in set(profile.liked)]
            steer = self._dominant_genre([self._books[i] for i in shown], query.get("genres", []))
            if steer:
                query["exclude_genres"] = [*query.get("exclude_genres", []), steer]
            items = self._run(query, profile, out)
            left_out = p.say(f" I left out {w.genre_label(steer, 'en')} and", f" Deixei de fora {w.genre_label(steer, 'pt')} e") if steer else ""
            intro = p.say(f"Got it, something different.{left_out or ' I left out'} the ones I already showed:",
                          f"Entendi, algo diferente.{left_out or ' Deixei de fora'} os que já mostrei:")
            out.text = w.recommendations(p, items, intro)
        else:
            self._shorter(query, ctx, profile, out)

    def _shorter(self, query: dict[str, Any], ctx: Context, profile: UserProfile, out: Draft) -> None:
        p = out.p
        reference = [self._books[i] for i, _ in ctx.shown if i in self._books]
        if not reference and ctx.focus in self._books:
            reference = [self._books[ctx.focus]]
        proxies = sorted(length_proxy(b) for b in reference)
        limit = proxies[len(proxies) // 2] if proxies else None  # shorter than the median shown
        pool = self._run(query, profile, out, k=self.page * 6, record=False)
        shorter = [(b, r) for b, r in pool if limit is None or length_proxy(b) < limit] or pool
        shorter.sort(key=lambda item: length_proxy(item[0]))
        items = shorter[: self.page]
        out.set_list(items, query)
        note = p.say(
            "The catalog has no page counts, so I judged length by genre labels that usually mean a quicker read "
            "(picture books, short stories, poetry, plays, comics, children's) and then by how long the catalog description is.",
            "O catálogo não tem número de páginas, então estimei o tamanho pelos gêneros que costumam indicar leitura mais "
            "rápida (livros ilustrados, contos, poesia, teatro, quadrinhos, infantil) e depois pelo tamanho da descrição no catálogo.",
        )
        intro = p.say("Shorter picks along the same lines:", "Opções mais curtas na mesma linha:")
        out.text = w.recommendations(p, items, intro, note)

    def _why(self, ordinal: int, ctx: Context, out: Draft) -> None:
        p = out.p
        rows = [(self._books[i], r) for i, r in ctx.shown if i in self._books]
        if not rows:
            out.text = p.say("I haven't suggested anything yet, so there's nothing to explain.",
                             "Ainda não sugeri nada, então não há o que explicar.")
            return
        if ordinal:
            position = ordinal - 1 if ordinal > 0 else len(rows) - 1
            rows = rows[position: position + 1] if 0 <= position < len(rows) else []
            if not rows:
                out.text = p.say("That list had fewer books than that.", "Aquela lista tinha menos livros.")
                return
        lines = [f"- {title(b)}: {w.reason(r, p.language)}" for b, r in rows]
        how = {
            "finetuned": p.say("the fine-tuned recommender (trained on this catalog)", "recomendador ajustado (treinado neste catálogo)"),
            "baseline": p.say("the baseline recommender (sentence embeddings of title, genres and description)",
                              "recomendador base (embeddings de título, gêneros e descrição)"),
        }.get(ctx.approach, "")
        head = p.say("Here's why I picked them:", "Veja por que escolhi:") if len(rows) > 1 else p.say("Here's why:", "O motivo:")
        tail = p.say(f"The ranking came from {how}.", f"A ordem veio do {how}.") if how else ""
        out.text = "\n".join([head, *lines]) + (f"\n\n{tail}" if tail else "")

    def _unknown(self, intent: Intent, ctx: Context, turn: TurnInput, out: Draft) -> None:
        found = self.resolver.resolve(intent.subject) if intent.subject else Resolution("none")
        if found.kind == "book" and ctx.pending:
            self._resume(ctx.pending, found.book, ctx, turn, out)
        elif found.kind != "none":
            self._act("about", found, intent.subject, ctx, turn, out)
        elif len(intent.query.split()) >= 2:
            self._recommend_genres(Intent("recommend", query=intent.query), turn, out)
        else:
            out.text = out.p.say(
                "I'm not sure what you mean. " + w.help_text(out.p),
                "Não entendi bem. " + w.help_text(out.p),
            )

    # -- helpers ----------------------------------------------------------------------------
    def _run(self, query: dict[str, Any], profile: UserProfile, out: Draft, k: int | None = None,
             record: bool = True) -> list[tuple[Book, str]]:
        k = k or self.page
        excluded = frozenset([*query.get("seen", []), *profile.disliked])
        filt = BookFilter(
            include_genres=frozenset(g.lower() for g in query.get("genres", [])),
            exclude_genres=frozenset(g.lower() for g in query.get("exclude_genres", [])),
            exclude_ids=excluded,
        )
        if query["mode"] == "popular":
            books = sorted((b for b in self._books.values() if filt.accepts(b)),
                           key=lambda b: (b.list_rank < 0, b.list_rank, -b.avg_rating))
            reason = out.p.say("one of the catalog's best-loved books", "um dos livros mais queridos do catálogo")
            items = [(b, reason) for b in books[:k]]
        else:
            if query["mode"] == "similar":
                result = self.recommend.similar_books(query["book"], k, None, filt)
            else:
                result = self.recommend.search_by_text(query["text"], k, None, filt)
            items = [(item.book, item.reason) for item in result.items]
            out.approach = result.approach.value
        if record:
            out.set_list(items, query)
        return items

    def _shown_book(self, ctx: Context, ordinal: int) -> Book | None:
        if not ctx.shown:
            return None
        position = ordinal - 1 if ordinal > 0 else len(ctx.shown) - 1
        if not 0 <= position < len(ctx.shown):
            return None
        return self._books.get(ctx.shown[position][0])

    def _series_of(self, book: Book) -> list[Book]:
        if not book.series_name:
            return []
        return [b for b in self._books.values() if b.series_name == book.series_name]

    def _profile(self, turn: TurnInput) -> UserProfile:
        return self.memory.profile(turn.user_id) if turn.user_id else UserProfile("anonymous")

    def _catalog_has_genre(self, genre: str) -> bool:
        books = self._books
        key = (id(books), self.index.version, len(books))
        cached = self._genres
        if cached is None or cached[0] != key:  # one scan per catalog version, not per turn
            cached = (key, frozenset(g.lower() for b in list(books.values()) for g in b.genres))
            self._genres = cached
        return genre.lower() in cached[1]

    @staticmethod
    def _dominant_genre(books: list[Book], keep: list[str]) -> str:
        """The specific genre most of the rejected books share, unless the user asked for it."""
        kept = {g.lower() for g in keep}
        counts = Counter(g for b in books for g in b.genres if g not in w.GENERIC_GENRES and g.lower() not in kept)
        if not counts:
            return ""
        genre, n = counts.most_common(1)[0]
        return genre if n >= max(2, len(books) // 2) else ""


def length_proxy(book: Book) -> tuple[int, int]:
    """Smaller means shorter. No page counts in the catalog: genre labels first, then description length."""
    return (0 if SHORT_GENRES & set(book.genres) else 1, len(book.description))

"""understand(text, situation) -> Understanding: the one step between a reader's message and
the handler that answers it.

Entities first (linker.py), then the intent of the message with its entities replaced by
slots (intent_model.py), weighed by what the session knows (a list on screen or not). Roles
and polarity come from where entities sit: the part after "but" in "like X but Y", the two
sides of a comparison, the clause a "not" governs. An optional LLM parser (llm_parse.py) may
read the message instead (turns.py asks it first); this model is always the fallback.
"""
from __future__ import annotations

import dataclasses
import re

import numpy as np

from smartlib_core.embedding import BLOCK_DIM, BLOCKS, QUERY_WEIGHTS
from smartlib_core.text import fold
from smartlib_server.services.chat import intent_model, language, lexicon, link_tables, words
from smartlib_server.services.chat.intent_model import IntentModel
from smartlib_server.services.chat.link_tokens import tokens as _tokens
from smartlib_server.services.chat.linker import WELL_READ, Entity, Linker, slotted

# Words that open the part of a sentence that should differ: "like Dune but shorter", and words
# that turn a clause against what it names: "I love fantasy but hate romance" (data/words/).
_BUT = words.whole_words(words.table("connectives")["but"], re.I)
_NEGATION = words.table("negation")
_AGAINST = words.whole_words(_NEGATION["against"], re.I)
# Portuguese "no" is "in the" ("pra ler no fim de semana"), never a negation: a Portuguese message
# is read without it.
_AGAINST_PT = words.whole_words([w for w in words.phrases(_NEGATION["against"]) if w not in _NEGATION["not_negation"]["pt"]], re.I)
_ROLES = link_tables.load_yaml((link_tables.DATA / "roles.yaml").read_text(encoding="utf-8"))
_ASKING = frozenset(fold(w) for w in _ROLES["asking_words"])
_TIME = frozenset(fold(w) for w in _ROLES["time_words"])
# A negation with a verb of having read after it: "never read", "nunca leu nada", "haven't tried".
_UNREAD = re.compile(rf"\b(?:{words.alternation(_NEGATION['unread'])})\s+(?:\w+\s+)?(?:"
                     + words.alternation(_ROLES["experience"]) + rf")\b(?:\s+(?:{words.alternation(_NEGATION['unread_any'])}))?", re.I)
_CLAUSE = re.compile(rf"\b(?:{words.alternation(words.table('connectives')['clause'])})\b|[;,.]", re.I)
# A place said as a word, read in the raw text (so with accents too): data/words/pointing.yaml
_ORDINALS = words.merged(words.table("pointing")["ordinal_places"])
_ORDINAL = re.compile(r"\b(" + "|".join(map(re.escape, _ORDINALS)) + r")\b", re.I)
_WORD = re.compile(r"[^\W_]+", re.U)
# Asks about one book: when they name none, a title in everyday words may be it.
_ABOUT_ONE = frozenset({"about_book", "who_wrote", "series_order", "series_next", "similar"})
_NAMES = ("title", "series", "author", "unknown_title")
# Readings of a message as naming no book at all: a title in everyday words may still be in it.
_NO_BOOK = frozenset({"off_topic", "nonsense", "help"})
# A number with a unit is a quantity, never a list position: "my 8 yr old", "10 anos", "300 pages".
_UNITS = words.table("units")
_QUANTITY = re.compile(rf"\s*(?:-\s*)?(?:(?:{words.alternation(_UNITS['quantity'])})\b|{words.alternation(_UNITS['quantity_marks'])})",
                       re.I)


@dataclasses.dataclass(frozen=True)
class Situation:
    """What the session knows that changes how a message reads."""

    list_shown: bool = False  # a list is on screen: "more", "the second one", "why" have something to act on
    language: str = "en"


@dataclasses.dataclass(frozen=True)
class Understanding:
    intent: str  # one of intent_model.LABELS
    confidence: float  # the intent's probability after the context prior
    entities: tuple[Entity, ...]  # with roles
    slotted: str  # the message as the classifier saw it
    ranked: tuple[tuple[str, float], ...] = ()  # the three likeliest intents
    polarity: int = 0  # taste statements: 1 likes, -1 dislikes, 0 neither
    ordinal: int = 0  # a position in the list on screen ("the second one"); -1 is the last; 0 none
    modifier: str = ""  # what should differ when it names no entity: "but for teenagers"
    source: str = "model"  # "model" or "llm"
    sure: bool = True  # confidence at or above the k-fold threshold
    threshold: float = 0.0  # that threshold, for callers that weigh several labels together

    def of(self, *kinds: str) -> list[Entity]:
        return [e for e in self.entities if e.kind in kinds]

    def first(self, *kinds: str) -> Entity | None:
        found = self.of(*kinds)
        return found[0] if found else None


def query_embedder(inference) -> intent_model.Embed:
    """MiniLM sentence vectors from the server's inference adapter: embed_queries lays the
    384-d embedding into the description block of a 2688-d query (see place_query), so it is
    read back from there, through the same cache and batcher as text search."""
    block = BLOCKS.index("description")
    weight = QUERY_WEIGHTS["description"]

    def embed(texts: list[str]) -> np.ndarray:
        return np.asarray(inference.embed_queries(texts))[:, block * BLOCK_DIM:(block + 1) * BLOCK_DIM] / weight

    return embed


class Understander:
    """Links, classifies and assigns roles; holds the linker's tables and the model."""

    def __init__(self, linker: Linker, embed: intent_model.Embed, model: IntentModel | None = None):
        self.linker = linker
        self.embed = embed
        self.model = model or intent_model.shipped()

    def __call__(self, text: str, situation: Situation, entities: list[Entity] | None = None) -> Understanding:
        """The local model's reading; `entities` when the message was linked already."""
        return self.local(text, self.linker.link(text) if entities is None else entities, situation)

    def local(self, text: str, entities: list[Entity], situation: Situation) -> Understanding:
        seen = slotted(text, entities)
        probs = self.model.probabilities([seen], self.embed)[0]
        probs = probs * intent_model.context_prior(self.model.labels, situation.list_shown)
        probs = probs / probs.sum()
        order = np.argsort(-probs)
        intent = self.model.labels[int(order[0])]
        ranked = tuple((self.model.labels[int(i)], float(probs[i])) for i in order[:3])
        return finish(text, intent, float(probs[order[0]]), entities, seen, ranked, self.model.threshold)


    def complete(self, text: str, u: Understanding) -> Understanding:
        """An ask about a book that names too few: the titles it holds in everyday words. A
        comparison takes the one beside a joining word ("compare Station Eleven and the road"),
        an ask about one book the one that ends its clause ("tell me about the other woman").
        Catalog genres the lexicon lacks count where a negation turns them away (`_shunned_genres`)."""
        u = self._shunned_genres(text, u)
        alone = self._title_alone(text, u) if not u.entities and u.intent != "compare" else None
        if alone is not None:
            return alone
        books = [e for e in u.entities if e.kind in ("title", "series", "unknown_title")]
        if not u.of(*_NAMES) and (u.intent in _NO_BOOK or not u.sure) and u.intent not in _ABOUT_ONE | {"compare"}:
            return self._as_title(text, u)
        if u.intent == "compare" and len(books) < 2:
            wanted = 2 - len(books)
        elif u.intent in _ABOUT_ONE and not u.of("title", "series", "author", "unknown_title"):
            wanted = 1
        else:
            return u
        added: list[Entity] = []
        for candidate in self.linker.everyday_titles(text):
            if len(added) == wanted:
                break
            if any(candidate.start < e.end and e.start < candidate.end for e in [*u.entities, *added]):
                continue
            if u.intent == "compare":
                fits = _beside_joiner(text, candidate)
            else:  # one everyday word ("next", "one", "it") is the ask's own word here, never a book
                fits = len(candidate.text.split()) >= 2 and _ends_clause(text, candidate)
            if fits:
                added.append(candidate)
        if not added:  # an ask about one book with its title mid-clause ("is the road any good or just bleak?")
            return self._as_title(text, u) if wanted == 1 else u
        entities = sorted([*u.entities, *added], key=lambda e: e.start)
        return finish(text, u.intent, u.confidence, entities, slotted(text, entities), u.ranked, u.threshold, u.source)


    def _shunned_genres(self, text: str, u: Understanding) -> Understanding:
        """"None with vampires or werewolves", "nothing with ghosts": a catalog genre the lexicon
        lacks, named where a negation governs it, is left out like any genre. Read after the model
        (the slots it saw stay as they were) and only when turned away, since a genre name such as
        "Death" or "Family" is asked for in everyday words more often than as a shelf. One that holds a
        genre the linker found, and only genres, is the longer name of what the reader named, wanted or
        not ("any set during world war two?": World War II, not War): the longest run wins, as in the linker."""
        genres = self.linker.tables().genres
        if not genres:
            return u
        words = _tokens(text)
        # a lowercase title that is a genre's name ("without ghosts") is that genre where it is turned away
        found = [Entity("genre", genres[fold(e.text)], e.text, e.start, e.end) for e in u.entities
                 if e.kind == "title" and fold(e.text) in genres and e.text.islower()]
        kept = [e for e in u.entities if not any(f.start == e.start and f.end == e.end for f in found)]
        taken = [(e.start, e.end) for e in u.entities]
        longer: list[Entity] = []  # catalog genres that hold a genre the linker found: "world war two" over "war"
        for i in range(len(words)):
            for j in range(min(len(words), i + 3), i, -1):  # the longest run first: "world war ii" before "war"
                name = genres.get(" ".join(t.folded for t in words[i:j]))
                start, end = words[i].start, words[j - 1].end
                inner = {(e.start, e.end): e.kind for e in u.entities if start <= e.start and e.end <= end}
                inner.pop((start, end), None)
                if name and "genre" in inner.values() and set(inner.values()) <= {"genre", "number"} \
                        and not any(a < end and start < b for a, b in taken if (a, b) not in inner):
                    longer.append(Entity("genre", name, text[start:end], start, end))
                    taken.append((start, end))
                    break
                if name and not any(a < end and start < b for a, b in taken):
                    found.append(Entity("genre", name, text[start:end], start, end))
                    taken.append((start, end))
                    break
        against = [e for e in found if e in governed(text, sorted([*kept, *found], key=lambda e: e.start))] + longer
        if not against:
            return u
        entities = sorted([e for e in u.entities if not any(a.start <= e.start and e.end <= a.end for a in against)] + against,
                          key=lambda e: e.start)
        return finish(text, u.intent, u.confidence, entities, u.slotted, u.ranked, u.threshold, u.source)

    def _title_alone(self, text: str, u: Understanding) -> Understanding | None:
        """A title in everyday words that is all the message names, among words that only ask
        ("do you have <title>", "quero <title>", "is <title> good", "the book called <title>"): a
        librarian hears that title asked for, whatever the model made of the words. Function words
        alone ("it", "about me") are no such title, a word of asking must be there, and on a catalog
        with counts the title must be well read or have a book whose count the catalog lacks (no
        count of zero: it may be as read as any, as the resolver holds)."""
        function, rated = link_tables.static_tables().function, self.linker.tables().rated
        asking = function | lexicon.VAGUE | _ASKING
        for candidate in self.linker.everyday_titles(text):
            inside, outside = fold(candidate.text).split(), fold(f"{text[:candidate.start]} {text[candidate.end:]}").split()
            if not outside or set(inside) <= function or not set(outside) <= asking:
                continue
            if not set(outside) & _ASKING or (rated and not _maybe_read(candidate, self.linker)):
                continue  # "good night" asks for nothing; a little-read title is the reader's words
            return finish(text, "about_book", u.confidence, [candidate], slotted(text, [candidate]), u.ranked, u.threshold, u.source)
        return None

    def _as_title(self, text: str, u: Understanding) -> Understanding:
        """A message read as naming no book ("is night watch any good?" as small talk) that holds
        a well-read title in everyday words: read again with that title slotted, and kept when
        the model is then sure it is an ask about that book."""
        for candidate in self.linker.everyday_titles(text):
            if len(candidate.text.split()) < 2 or 0 < _readers(candidate, self.linker) < WELL_READ:
                continue
            entities = sorted([*u.entities, candidate], key=lambda e: e.start)
            again = self.local(text, entities, Situation(language=""))
            if again.sure and again.intent in _ABOUT_ONE:
                return again
            break  # one extra reading at most: the longest, most read candidate
        return u


def _maybe_read(entity: Entity, linker: Linker) -> bool:
    books = linker.index.books if linker.index is not None else {}
    present = [books[i] for i in entity.ids if i in books]
    return sum(b.num_ratings for b in present) >= WELL_READ or any(not b.num_ratings for b in present)


def _readers(entity: Entity, linker: Linker) -> int:
    books = linker.index.books if linker.index is not None else {}
    return sum(books[i].num_ratings for i in entity.ids if i in books)


def _beside_joiner(text: str, entity: Entity) -> bool:
    before, after = fold(text[:entity.start]).split()[-1:], fold(text[entity.end:]).split()[:1]
    return bool(set(before + after) & lexicon.JOINERS)


def _ends_clause(text: str, entity: Entity) -> bool:
    return not _WORD.search(re.split(r"[,.;:!?]", text[entity.end:], maxsplit=1)[0])


def finish(text: str, intent: str, confidence: float, entities: list[Entity], seen: str,
           ranked: tuple[tuple[str, float], ...] = (), threshold: float = 0.0, source: str = "model") -> Understanding:
    """Roles, polarity, ordinal and modifier for an intent already chosen."""
    roled = assign_roles(text, intent, entities)
    return Understanding(intent, confidence, tuple(roled), seen, ranked, polarity(text, intent), ordinal(text, entities),
                         modifier(text, intent, roled), source, confidence >= threshold, threshold)


def assign_roles(text: str, intent: str, entities: list[Entity]) -> list[Entity]:
    """"anchor" and "but" for likeness asks, "a" and "b" for comparisons, "like" and "dislike"
    for tastes (by the clause each entity sits in)."""
    named = [e for e in entities if e.kind in ("title", "series", "author", "unknown_title")]
    out = []
    cut = _BUT.search(text)
    against = governed(text, entities)  # a dislike with no cue at all ("ugh, horror") is all dislike
    for entity in entities:
        role = ""
        if intent == "similar":
            after = cut is not None and entity.start >= cut.end() and not (named and entity is named[0])
            role = "but" if after else ("anchor" if entity in named[:1] else "")
        elif intent == "compare" and entity in named:
            role = "ab"[min(named.index(entity), 1)]
        elif intent in ("taste_like", "taste_dislike", "recommend", "best_rated", "refine") and entity.kind != "number":
            role = "dislike" if entity in against or (intent == "taste_dislike" and not against) else "like"
        out.append(dataclasses.replace(entity, role=role))
    return out


def governed(text: str, entities: list[Entity]) -> list[Entity]:
    """The entities a negation governs: one before the entity in its clause ("nothing romantic",
    "sem romance"), or one after the last entity of a clause, which then governs the entities
    joined to it without a negation of their own ("romance and horror bore me"). A negation
    between two entities belongs to the second: "mystery without horror" dislikes only horror."""
    out: list[Entity] = []
    ordered = sorted(entities, key=lambda e: e.start)
    against = _AGAINST_PT if language.detect(text).language == "pt" else _AGAINST
    after = False  # whether the entity after this one is disliked by words that follow it
    for i in range(len(ordered) - 1, -1, -1):
        entity = ordered[i]
        starts = [m.end() for m in _CLAUSE.finditer(text, 0, entity.start)]
        before = text[(starts[-1] if starts else 0): entity.start]
        end = _CLAUSE.search(text, entity.end)
        stop = end.start() if end else len(text)
        nxt = ordered[i + 1] if i + 1 < len(ordered) and ordered[i + 1].start < stop else None
        if nxt is None:
            after = _against(text[entity.end: stop][:40], against)
        elif _against(text[entity.end: nxt.start], against):
            after = False
        if _against(before, against) or after or _around(before, text[entity.end: nxt.start if nxt else stop], against):
            out.append(entity)
    return out


def _against(words: str, against: re.Pattern[str] = _AGAINST) -> bool:
    """Whether words turn a clause against what it names, leaving out a negation of having read."""
    return bool(against.search(_UNREAD.sub(" ", words)))


def _around(before: str, after: str, against: re.Pattern[str]) -> bool:
    """A phrase that turns away what it is split around: "leave <name> out", "deixa <name> de fora".
    Only a phrase across the name counts, so "mystery and not horror" leaves mystery alone."""
    words = before.split()
    while words and fold(words[-1]) in link_tables.ARTICLES:  # "deixa a <name> de fora"
        words.pop()
    left = " ".join(words[-2:])
    joined = f"{left} {' '.join(after.split()[:2])}"
    return any(m.start() < len(left) < m.end() for m in against.finditer(joined))


def polarity(text: str, intent: str) -> int:
    if intent == "taste_like":
        return 1
    if intent == "taste_dislike":
        return -1
    return 0


def ordinal_words(text: str, entities: list[Entity]) -> list[tuple[int, int]]:
    """The ordinal words no entity holds ("second", "o terceiro", "last"): (value, end) each, in order."""
    return [(_ORDINALS[m.group(1).lower()], m.end()) for m in _ORDINAL.finditer(text)
            if not any(e.start <= m.start() < e.end for e in entities if e.kind != "number") and not _of_time(text, m.end())]


def _of_time(text: str, end: int) -> bool:
    """Whether the word after an ordinal is a word of time: "last spring", "a primeira vez" say when."""
    after = fold(text[end:end + 24]).split()[:1]
    return bool(after) and after[0] in _TIME


def ordinal(text: str, entities: list[Entity]) -> int:
    """'the second one', 'o terceiro', 'number 2', '#2': a list position, when no entity holds it."""
    words = ordinal_words(text, entities)
    if words:
        return words[0][0]
    numbers = [e for e in entities if e.kind == "number" and not _counts(text, e, entities)]
    if numbers and len(numbers) == 1 and numbers[0].name.isdigit() and 0 < int(numbers[0].name) <= 20:
        return int(numbers[0].name)
    return 0


def _counts(text: str, number: Entity, entities: list[Entity]) -> bool:
    """A number that counts or measures rather than points into a list: one written into a word
    ("3am", "90s"), one with a unit after it ("2 hour flight", "10 anos"), or one right before a
    name it counts ("3 agatha christies", "two Sandersons")."""
    if number.end < len(text) and text[number.end].isalpha():
        return True
    if _QUANTITY.match(text, number.end):
        return True
    gap = text[number.end:]
    return any(e.start == number.end + len(gap) - len(gap.lstrip()) for e in entities if e.kind in ("title", "series", "author"))


def modifier(text: str, intent: str, entities: list[Entity]) -> str:
    """The words after "but" in a likeness ask, when they are not all one entity."""
    if intent != "similar":
        return ""
    cut = _BUT.search(text)
    anchor = next((e for e in entities if e.role == "anchor"), None)
    if cut is None or (anchor is not None and cut.start() < anchor.start):
        return ""
    rest = text[cut.start():].strip(" ?!.")
    return rest if len(_WORD.findall(rest)) >= 2 else ""

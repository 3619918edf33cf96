"""What a message says beside its ask, read after the intent model from data that sits outside
the model's weights' hash (data/topics.yaml, data/roles.yaml): a taste said in passing
("curto distopias, tipo 1984?"), a feeling wanted from a book with no genre word ("me faz
chorar"), and a series position asked for by number ("book 2?").
"""
from __future__ import annotations

import re

from smartlib_core.text import fold
from smartlib_server.services.chat import intent_cues, lexicon, link_tables, words
from smartlib_server.services.chat.understand import Understanding, ordinal_words

_TOPIC_DATA = link_tables.load_yaml((link_tables.DATA / "topics.yaml").read_text(encoding="utf-8"))
TOPICS: dict[str, str] = _TOPIC_DATA["genres"]  # a word of what a book should do -> the genre that does it
TOPIC_MOODS: dict[str, str] = _TOPIC_DATA["moods"]  # -> English words for the text search
_ROLES = link_tables.load_yaml((link_tables.DATA / "roles.yaml").read_text(encoding="utf-8"))
_POSITION_WORDS = frozenset(fold(w) for w in _ROLES["position_words"])
_AFTER_WORDS = frozenset(fold(w) for w in _ROLES["after_words"])
_NUMBER_WORDS = {fold(w): int(n) for w, n in _ROLES["number_words"].items()}
_LIKING = frozenset(fold(w) for w in _ROLES["liking_words"])
_SPEAKER = frozenset(fold(w) for w in _ROLES["speaker_words"])
_BOOK_WORDS = frozenset(fold(w) for w in _ROLES["book_words"])
_OF = frozenset({"of", "de", "do", "da"})
_CAUSING = frozenset(fold(w) for w in _ROLES["causing"])
_READING = frozenset(fold(w) for w in _ROLES["reading_words"])
# Asks for books during which a taste said in passing is kept.
PASSING = frozenset({"similar", "recommend", "best_rated"})
# Words about when the reader reads or that keep the talk going, and the words of asking for advice
# ("dica", "recs", "suggest"): none names a topic (data/roles.yaml).
_NO_TOPIC = frozenset(fold(w) for w in _ROLES["no_topic"])
# and the words that only ask for a book, chat spellings of "you" among them ("vc", "u", "ya")
_ASKING = frozenset(fold(w) for w in _ROLES["asking_words"])
_ADVICE = frozenset(fold(w) for w in _ROLES["advice"])
_CLITICS = ("d", "ll", "re", "ve", "m", "s")  # English contractions once the apostrophe is folded away
_CLAUSES = re.compile(rf"[,;.!?:]|\s-\s|\b(?:{words.alternation(words.table('connectives')['aside_clause'])})\b", re.I)


def stated(text: str, u: Understanding) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The genres a message says the reader likes or dislikes while it asks for something else:
    those in a clause of the reader's own liking or disliking words ("I love", "curto", "can't
    stand"; intent_cues' polarity, negation applied), said in the first person or opening with
    the verb as Portuguese does. A question to the agent ("do you like fantasy?") states nothing,
    nor does an exclusion ("fantasy without romance": no liking word)."""
    likes: list[str] = []
    dislikes: list[str] = []
    for entity in u.of("genre"):
        starts = [m.end() for m in _CLAUSES.finditer(text, 0, entity.start)]
        end = _CLAUSES.search(text, entity.end)
        words = fold(text[(starts[-1] if starts else 0): end.start() if end else len(text)]).split()
        if not words or not (set(words) & _SPEAKER or words[0] in intent_cues.POSITIVE | intent_cues.NEGATIVE):
            continue
        sign = polarity(words)
        (likes if sign > 0 else dislikes if sign < 0 else []).append(entity.name)
    both = set(likes) & set(dislikes)
    return tuple(dict.fromkeys(g for g in likes if g not in both)), tuple(dict.fromkeys(g for g in dislikes if g not in both))


def polarity(words: list[str]) -> int:
    """+1 if folded words like, -1 if they dislike (intent_cues' reading, with data/roles.yaml's liking words)."""
    return intent_cues.clause_polarity(words) or (1 if _LIKING & set(words) else 0)


def feeling(text: str) -> bool:
    """Whether the message names what a book should make the reader feel (data/topics.yaml), and
    not as an order to the agent itself ("make me laugh with something silly": no book asked for)."""
    words = fold(text).split()
    ordered = words[:2] in ([c, "me"] for c in _CAUSING) or (words[:1] == ["me"] and words[1:2] and words[1] in _CAUSING)
    if ordered and not _READING & set(words):
        return False
    return any(w in TOPICS or w in TOPIC_MOODS for w in words)


def moods(folded: str) -> list[str]:
    """The English words the text search reads for the feelings named in folded words ("chorar": sad)."""
    return [TOPIC_MOODS[w] for w in folded.split() if w in TOPIC_MOODS]


def book_at(text: str, u: Understanding, ordinals: bool = False) -> int:
    """The series position a message asks for by number ("book 2?", "e o livro 3?"): a number right
    after a position word, with no word of what comes after in the message; 0 otherwise. With
    `ordinals` (a series ask), an ordinal word that does not qualify a name counts too: "read <title>,
    is there a second one?" asks for the second book (a place after the first, where a book read
    may stand before it), while "the first of <series>" or "the second <series> book" says which
    book is meant and leaves the ask as it was."""
    if _AFTER_WORDS & set(fold(text).split()):
        return 0
    for number in u.of("number"):
        before = fold(text[:number.start]).split()[-1:]
        if before and before[0] in _POSITION_WORDS and number.name.isdigit() and 0 < int(number.name) <= 40:
            return int(number.name)
    words = fold(text).split()
    for before, word in zip(words, words[1:], strict=False):  # "book two", "o livro dois": a number written as a word
        if before in _POSITION_WORDS and word in _NUMBER_WORDS:
            return _NUMBER_WORDS[word]
    named = u.of("title", "series")
    for value, end in ordinal_words(text, list(u.entities)) if ordinals and named else ():
        if value >= 2 and not _qualifies(text, end, named):  # "X or Y, which first?" asks what to read first
            return value
    return 0


def _qualifies(text: str, end: int, named: list) -> bool:
    """Whether the words after an ordinal reach a name through "of", articles and words for a book only."""
    gap = fold(text[end:min((e.start for e in named if e.start >= end), default=end)]).split()
    return any(e.start >= end for e in named) and all(w in _OF | link_tables.ARTICLES | _POSITION_WORDS for w in gap)


def uncounted(words: list[str]) -> list[str]:
    """Folded words without those that count or measure the books asked for ("a couple of books",
    "a stack of novels", "um punhado de livros"): a word right before "of"/"de" and a word for
    books says how many, not what about."""
    return [w for i, w in enumerate(words)
            if not (i + 2 < len(words) and words[i + 1] in _OF and words[i + 2] in _BOOK_WORDS)]


def everyday(word: str) -> bool:
    """A folded word that names no topic: a function word, a word of any vague ask or of asking
    for a book ("o que vc me recomenda?"), or a pronoun with its clitic folded in ("you'd",
    "we'll", "they've" fold to "youd", "well", "theyve")."""
    function = link_tables.static_tables().function
    if word in function or word in lexicon.VAGUE or word in _NO_TOPIC or word in _ASKING:
        return True
    return any(word.endswith(c) and len(word) > len(c) + 1 and word[:-len(c)] in function for c in _CLITICS)


def asks_advice(text: str) -> bool:
    """Every word everyday and one of them asks for advice ("e aí, alguma dica pra mim?", "any recs
    for me?"): a vague ask for books, steered by the reader's tastes, never an off-topic one."""
    words = fold(text).split()
    return bool(words) and any(w in _ADVICE for w in words) and all(everyday(w) for w in words)

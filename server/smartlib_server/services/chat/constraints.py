"""Constraints a reader adds to any ask: genres to leave out and an order ("best rated").

"Fantasy but no romance", "sem romance", "the best rated books by Stephen King", "os livros mais
bem avaliados de fantasia": these words qualify the ask rather than name it, so interpret.py takes
them out of the words no entity took before the rest becomes a free-text query, and like_but
reads them in what the "but" asks to change.
"""
from __future__ import annotations

import dataclasses
import re

from smartlib_server.services.chat import lexicon

# Words that turn the genre after them into an exclusion ("no", "sem", "tirando"...), and the words
# allowed between them and the genre ("without any romance", "sem nada de romance"): data, in
# data/lexicon/function_words.yaml.
_NEGATIONS = lexicon.NEGATIONS
_BRIDGE = lexicon.NEGATION_BRIDGE
# Orders stay patterns for now: optional words and numbers around them ("the 10 best", "top
# rated", "com as notas mais altas") read more plainly as one expression than as phrase lists.
_SORTS: list[tuple[str, re.Pattern]] = [
    ("popular", re.compile(
        r"(?:^| )(?:the )?(?:most (?:popular|read|famous|loved|rated)|best ?sell(?:ing|ers?)|"
        r"mais (?:populares|popular|lidos|lidas|lido|lida|famosos|famosas|famoso|famosa|conhecidos|conhecidas|queridos)|"
        r"best known|well known)(?= |$)")),
    ("rating", re.compile(
        r"(?:^| )(?:the )?(?:(?:best|top|highest|higher|better|most highly|highly|(?:really |very )?well)[ -]?(?:rated|reviewed|ranked|li"
        r"ked)|"
        r"(?:do |that )?(?:readers|people|critics) (?:rate|rated|like|love|liked|loved) (?:the )?(?:highest|most|best)|"
        r"rated (?:the )?highest|(?:with )?(?:the )?(?:highest|best|top) (?:ratings?|reviews|scores?)|critically acclaimed|acclaimed|"
        r"(?:com )?(?:as |a )?(?:notas?|avaliac(?:ao|oes)) mais altas?|(?:que )?(?:os leitores|o pessoal|as pessoas) (?:mais )?(?:gostam|"
        r"gostaram|amam|avaliam melhor)(?: mais)?|"
        r"(?:the )?(?:\d+ )?(?:best|top|greatest|finest)(?: \d+)?|highest rating|best ratings?|"
        r"(?:mais )?bem (?:avaliados|avaliadas|avaliado|avaliada|cotados|cotadas)|melhor(?:es)? (?:avaliados|avaliadas|avaliado|avaliada)|"
        r"(?:com )?(?:as |a )?(?:melhores|maiores|melhor|maior) notas?|(?:com )?(?:a )?nota mais alta|(?:com )?notas? (?:boas?|altas?)|"
        r"(?:com )?boas notas|good (?:ratings?|reviews)|melhores|melhor)(?= |$)")),
]


@dataclasses.dataclass(frozen=True)
class Constraints:
    rest: str  # the folded text with the constraint words taken out
    plain: str  # the folded text without the exclusions only ("best" may be part of a title)
    exclude: tuple[str, ...] = ()  # catalog genre names to leave out
    sort: str = ""  # "", "rating" or "popular"


def extract(folded: str, language: str) -> Constraints:
    """Splits off exclusions and an order; `language` only breaks genre-word ties."""
    words = folded.split()
    excluded: list[str] = []
    drop: set[int] = set()
    for phrase, genre in lexicon.genre_phrases(folded, language):
        size = len(phrase.split())
        for start in _occurrences(words, phrase.split()):
            cue = _negation_before(words, start)
            if cue is not None:
                excluded.append(genre)
                drop.update(range(cue, start + size))
    rest = plain = _trim(" ".join(w for i, w in enumerate(words) if i not in drop))
    sort = ""
    for name, pattern in _SORTS:
        if pattern.search(rest):
            sort = name
            rest = _trim(" ".join(_EVER.sub(" ", pattern.sub(" ", rest)).split()))
            break
    return Constraints(rest, plain, tuple(dict.fromkeys(excluded)), sort)


def _occurrences(words: list[str], phrase: list[str]) -> list[int]:
    n = len(phrase)
    return [i for i in range(len(words) - n + 1) if words[i: i + n] == phrase]


def _negation_before(words: list[str], start: int) -> int | None:
    """Where the negation governing words[start] begins, looking back over bridge words."""
    i = start - 1
    while i >= 0 and start - i <= 4:
        if words[i] in _NEGATIONS:
            while i > 0 and words[i - 1] in _NEGATIONS:  # "sem nada de romance"
                i -= 1
            return i
        if words[i] not in _BRIDGE and not lexicon.is_genre_word(words[i]):
            return None
        i -= 1
    return None


_EVER = re.compile(r"(?:^| )(?:of all time|ever written|of the century|ever|de todos os tempos|da historia|ja escritos?|do seculo|"
                   r"according to (?:the )?readers|by readers|segundo (?:os )?leitores|de acordo com (?:os )?leitores|pelos leitores|"
                   r"right now|at the moment|currently|no momento|atualmente|hoje em dia)(?= |$)")
_DANGLING = re.compile(r"(?:^| )(?:but|and|or|please|mas|e|ou|porem|so que|por favor)$")


def _trim(text: str) -> str:
    """'fantasy but' -> 'fantasy': connectors left hanging once a constraint is taken out."""
    previous = None
    while previous != text:
        previous, text = text, _DANGLING.sub("", text).strip()
    return text

"""How free-text queries are ranked: broad genre asks by what readers love, descriptions by content.

Two kinds of ask reach SearchByText and chat, and one scoring rule cannot serve both (README,
"Text search"): a reader who types what a book is about wants that book, which only the raw
description and genre blocks find (known-item hit@10 0.87 against 0.21 in the 256-d space);
a reader who asks for "fantasy books" wants the fantasy that readers love most, and there the
cosine barely separates thousands of fantasy books while popularity does. So a query made only
of genre names and filler words is a broad ask, and anything else is a description.
"""
from __future__ import annotations

import heapq
import re
from collections.abc import Callable, Mapping, Sequence
from operator import itemgetter
from typing import NamedTuple

import numpy as np

from smartlib_core.domain import Book, BookFilter
from smartlib_core.popularity import popularity_prior
from smartlib_core.text import fold, longest_runs

# A description: cosine plus a nudge that breaks near-ties towards known books (0.05 kept
# known-item hit@10 at 0.89, and 0.1 already cost three points).
DESCRIPTIVE_PRIOR_WEIGHT = 0.05
# A broad ask: among books on the asked shelves, popularity prior + cosine + shelf position.
BROAD_SIMILARITY_WEIGHT = 1.0
BROAD_SHELF_WEIGHT = 0.2
BROAD_POOL = 300  # the asked shelves' books scored with their cosine: the best by prior and shelf
# A description: the dense ranking and the lexical (BM25) one fused by reciprocal rank, chosen
# over a calibrated blend on held-out asks (README, "Text search: words and meaning"): c=10 with
# equal weights found 0.984 of held-out known items and, on genre asks sent through fusion, kept
# 0.72 of the results on the genre where the blend kept 0.56 and a double lexical weight 0.34.
FUSION_K = 10
LEXICAL_WEIGHT = 1.0
LEXICAL_POOL = 100  # BM25's best books that take part in the fusion

# Words that do not change what a broad ask is about, in English and Portuguese.
FILLER = frozenset("""
a an the some any me us i we you please can could would like love want need give show find suggest
recommend recommendation recommendations book books novel novels read reads reading good great best top
popular classic favourite favorite new more other something anything genre genres kind type of in about
for with and or to on by my your some story stories
um uma uns umas o a os as me nos eu voce vc por favor pode poderia quero queria gostaria preciso
recomende recomenda recomendar recomendacao recomendacoes sugira sugere sugerir indique indica
livro livros romance romances leitura leituras ler bom bons boa boas melhor melhores otimo otimos
popular populares classico classicos novo novos mais outro outros outra outras algo algum alguma
alguns algumas genero generos tipo de do da dos das em sobre para com e ou no na nos nas meu minha
""".split())
# "romance" is a genre and a Portuguese word for "novel": as a genre name it wins (see broad_ask).

_WORD = re.compile(r"\w+")


def broad_ask(query: str, genre_names: Mapping[str, str], longest: int | None = None) -> tuple[str, ...]:
    """The catalog genres a query asks for when it names genres and nothing else; () otherwise.

    Args:
        query: the reader's text.
        genre_names: folded genre name -> the catalog's spelling of it.
        longest: the most words in a genre name, when the caller knows it (else counted here).
    """
    words = fold(query).split()
    if not words:
        return ()
    found: list[str] = []
    rest: list[str] = []
    if longest is None:
        longest = longest_name(genre_names)
    for name, start, _ in longest_runs(len(words), lambda a, b: genre_names.get(" ".join(words[a:b])), longest):
        if name is not None:
            found.append(name)
        else:
            rest.append(words[start])
    if not found or any(word not in FILLER for word in rest):
        return ()
    return tuple(dict.fromkeys(found))


def longest_name(genre_names: Mapping[str, str]) -> int:
    return max((len(name.split()) for name in genre_names), default=1)


def neutral_priors(priors: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Priors where a book without any popularity data gets the median of those with data, so
    it ranks on its content and shelves instead of sinking below every rated book."""
    priors = np.asarray(priors, dtype=np.float64)
    known = np.asarray(known, dtype=bool)
    if not known.any():
        return np.zeros_like(priors)
    return np.where(known, priors, float(np.median(priors[known])))


def broad_scores(similarity: np.ndarray, priors: np.ndarray, shelf_position: np.ndarray) -> np.ndarray:
    """Scores of books on the asked shelves: well-loved first, closer to the ask and filed under
    it earlier (Goodreads orders shelves by how many readers chose them) breaking the rest."""
    return (BROAD_SIMILARITY_WEIGHT * np.asarray(similarity, dtype=np.float64) + priors
            + BROAD_SHELF_WEIGHT / np.sqrt(np.asarray(shelf_position, dtype=np.float64) + 1.0))


def descriptive_scores(similarity: np.ndarray, priors: np.ndarray) -> np.ndarray:
    return np.asarray(similarity, dtype=np.float64) + DESCRIPTIVE_PRIOR_WEIGHT * np.asarray(priors, dtype=np.float64)


class ShelfIndex:
    """Each genre's books with the genre's position among their shelves, and every book's prior
    (neutral where the book has no popularity data), for one state of the catalog."""

    def __init__(self, books: Mapping[str, Book]):
        ids = list(books)
        known = np.array([books[i].list_rank >= 0 or books[i].num_ratings > 0 for i in ids], dtype=bool)
        raw = np.array([popularity_prior(books[i].list_rank, books[i].num_ratings) for i in ids])
        self.prior = dict(zip(ids, neutral_priors(raw, known).tolist(), strict=True))
        self.shelves: dict[str, dict[str, int]] = {}  # folded genre -> {book id: shelf position}
        for book in books.values():
            for position, genre in enumerate(book.genres):
                self.shelves.setdefault(fold(genre), {}).setdefault(book.id, position)
        self.names = {name: name for name in self.shelves if name}  # keys are folded already
        self.longest = longest_name(self.names)  # counted once: a third of a text ask's own time

    def asked(self, query: str, filt: BookFilter) -> tuple[str, ...]:
        """The folded genres of a broad ask, or (): a genre-only query, or filler words only
        while the filter names the genres (as chat sends "recommend me some" + Fantasy)."""
        genres = broad_ask(query, self.names, self.longest)
        if not genres and filt.include_genres and all(w in FILLER for w in fold(query).split()):
            genres = tuple(g for g in map(fold, sorted(filt.include_genres)) if g in self.shelves)
        return genres

    def pool(self, genres: tuple[str, ...], filt: BookFilter, books: Mapping[str, Book], size: int) -> tuple[list[str], np.ndarray]:
        """The `size` books on the asked shelves that pass the filter with the best prior and
        shelf position, with each one's earliest position among the asked shelves."""
        positions: dict[str, int] = {}
        for genre in genres:
            for book_id, position in self.shelves.get(genre, {}).items():
                positions[book_id] = min(position, positions.get(book_id, position))
        prior = self.prior
        ranked = sorted(positions, key=lambda i: -(prior[i] + BROAD_SHELF_WEIGHT / (positions[i] + 1) ** 0.5))
        picked = [i for i in ranked if i in books and filt.accepts(books[i])][:size]
        return picked, np.array([positions[i] for i in picked], dtype=np.float64)


class TextHit(NamedTuple):
    """One answer to a text ask, and which part found it: "words" (the lexical index),
    "meaning" (the dense vectors), "both", or "shelves" (a broad genre ask)."""

    id: str
    score: float
    part: str


def fuse(rankings: Sequence[Sequence[str]], weights: Sequence[float], c: float = FUSION_K,
         n: int | None = None) -> list[tuple[str, float]]:
    """Reciprocal-rank fusion: each ranking adds weight / (c + rank) to each book in it (rank
    1 first); best first, ties in order of first appearance; the best `n` only when given.
    Only ranks count, so BM25's unbounded scores and cosines need no calibration against each
    other."""
    fused: dict[str, float] = {}
    get = fused.get
    for ranking, weight in zip(rankings, weights, strict=True):
        for rank, book_id in enumerate(ranking, start=1):
            fused[book_id] = get(book_id, 0.0) + weight / (c + rank)
    if n is not None:  # a partial sort of a few hundred for the k a reply shows
        return heapq.nlargest(n, fused.items(), key=itemgetter(1))
    return sorted(fused.items(), key=itemgetter(1), reverse=True)


def rank_text(
    shelves: ShelfIndex, books: Mapping[str, Book], query: str, k: int, filt: BookFilter,
    similarity_of: Callable[[list[str]], np.ndarray], search: Callable[[int], list[tuple[str, float]]],
    lexical: Callable[[int], list[tuple[str, float]]] | None = None, genres: tuple[str, ...] | None = None,
) -> list[TextHit]:
    """The best k answers to a text query under the default approach.

    Args:
        similarity_of: ids -> the query's cosine to each (2688-d query layout).
        search: n -> the top n (id, cosine) of the whole catalog for the query.
        lexical: n -> the top n (id, BM25 score) of the lexical index for the query; None
            ranks descriptions by the dense vectors alone.
        genres: `shelves.asked(query, filt)` when the caller has it already (SearchByText
            parses the ask before its lexical step); None parses it here.
    """
    if genres is None:
        genres = shelves.asked(query, filt)
    if genres:
        ids, positions = shelves.pool(genres, filt, books, BROAD_POOL)
        scores = broad_scores(similarity_of(ids), np.array([shelves.prior[i] for i in ids]), positions)
        order = np.argsort(-np.asarray(scores), kind="stable")[:k]
        return [TextHit(ids[i], float(scores[i]), "shelves") for i in order.tolist()]
    dense = _descriptive(shelves, books, k, filt, search)
    if lexical is None:
        return [TextHit(i, score, "meaning") for i, score in dense[:k]]
    found = lexical(LEXICAL_POOL)
    if filt.is_empty:  # the usual ask: no filter call per book
        words = [i for i, _ in found if i in books]
    else:
        words = [i for i, _ in found if i in books and filt.accepts(books[i])]
    meaning = [i for i, _ in dense]
    by_words, by_meaning = set(words), set(meaning)
    return [TextHit(i, score, "both" if i in by_words and i in by_meaning else "words" if i in by_words else "meaning")
            for i, score in fuse([meaning, words], [1.0, LEXICAL_WEIGHT], n=k)]


def _descriptive(
    shelves: ShelfIndex, books: Mapping[str, Book], k: int, filt: BookFilter, search: Callable[[int], list[tuple[str, float]]],
) -> list[tuple[str, float]]:
    """The dense ranking of a description: cosine plus a nudge of the prior, at least 4k deep."""
    fetch = (k + len(filt.exclude_ids)) * 4
    while True:
        hits = search(fetch)
        passed = [(i, s) for i, s in hits if i in books and filt.accepts(books[i])]
        if len(passed) >= k * 4 or len(hits) < fetch:
            break
        fetch *= 4  # a selective filter: widen until enough pass
    ids = [i for i, _ in passed]
    scores = descriptive_scores(np.array([s for _, s in passed]), np.array([shelves.prior.get(i, 0.0) for i in ids]))
    order = np.argsort(-np.asarray(scores), kind="stable")
    return [(ids[i], float(scores[i])) for i in order.tolist()]

"""RecommendForUser on the reader ranker: the reader-ranked rows of a user's books, merged.

Each book the user liked has a reader-ranked row (its candidates ordered the way readers'
"readers also enjoyed" lists are, smartlib_core.reader_ranking). The ranker's scores are
logits of a softmax over the row, so each row becomes a distribution over its candidates and
a candidate's score is the evidence-weighted mean of its probability across the user's books:
books that several of the user's books pair with rise above one book's neighbours. With one
book this is exactly that book's row, so one like already personalises as SimilarBooks does.

Two kinds of co-reading evidence join with a weight that grows with how many of the user's
books they know: collaborative filtering over the interaction log, and the co-reading graph
learned from readers' lists (smartlib_core.co_reading). Books like the ones the user disliked or dismissed (in the head of
their rows, or of the same series) are pushed down, and no series takes more than its share
of the list when the user liked books from several.
"""
from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Iterable, Mapping, Sequence

import numpy as np

from smartlib_core.personal_fusion import FusionModel, fusion_features

# The head of each reader row that is merged: the server keeps 132 (RecommendService) and
# readers' lists rarely reach past 100 (the dev file's relevant books sit in the first 100 of
# the row 0.91 of the time they are in the pool at all).
ROW_DEPTH = 100


@dataclasses.dataclass(frozen=True)
class PersonalWeights:
    """How the merge counts. `temperature` was fit on the dev file by 5-fold cross-validation
    over readers (training/smartlib_training/personal_fit.py); the rest are set by principle,
    since the dev file holds only 5-star readers without a log (README, Personalisation)."""

    temperature: float = 1.0  # softmax temperature over each row's reader-ranker logits
    cf: float = 0.5  # CF's share of the score once it has plenty of evidence
    cf_half_evidence: float = 5.0  # user's books CF knows at which it gets half that share
    # The co-reading graph's share, the same way. Chosen by nested 5-fold cross-validation over
    # the dev readers (training/smartlib_training/co_reading_fit.py): the folds chose 0.5-0.7
    # and 1-3; on all readers (0.6, 1) is the choice.
    co_reading: float = 0.6
    co_reading_half_evidence: float = 1.0
    dislike_twins: int = 10  # the head of a disliked book's row that counts as its near twins
    dislike_factor: float = 0.2  # a near twin's score is multiplied by this
    series_share: float = 0.3  # most of the list one series may take, when several are liked


DEFAULT_WEIGHTS = PersonalWeights()


@dataclasses.dataclass(frozen=True)
class Row:
    """One of the user's books with its reader-ranked candidates, best first."""

    book: str
    weight: float  # > 0: how much the user likes it (rating, recency, kind)
    ids: Sequence[str]
    scores: Sequence[float]  # the reader ranker's logits, same order


@dataclasses.dataclass(frozen=True)
class Scored:
    book: str
    score: float
    source: str  # the user's book it comes from most, or "" when CF carries it
    via_cf: bool = False
    via_co_reading: bool = False  # the co-reading graph carries it (source: the liked book it comes from)


def row_probabilities(scores: Sequence[float], temperature: float) -> np.ndarray:
    """Softmax of the head's logits: a row's mass sums to 1 whatever its scores' scale."""
    logits = np.asarray(scores[:ROW_DEPTH], dtype=np.float64) / max(temperature, 1e-6)
    if not len(logits):
        return logits
    weights = np.exp(logits - logits.max())
    return weights / weights.sum()


def merge_rows(rows: Sequence[Row], weights: PersonalWeights) -> dict[str, tuple[float, str]]:
    """Candidate -> (weighted mean probability over the user's rows, the book contributing most)."""
    index, merged, source = _merge(rows, weights)
    return {b: (score, rows[s].book) for b, score, s in zip(index, merged.tolist(), source.tolist(), strict=True)}


def _merge(rows: Sequence[Row], weights: PersonalWeights) -> tuple[dict[str, int], np.ndarray, np.ndarray]:
    """merge_rows over candidate numbers: (candidate -> its number, in the order the rows first
    name them; each one's weighted mean probability; the number of the row contributing most, the
    first such row on a tie). The sums run row by row, as a loop over the rows would add them, so
    the scores are the same to the last bit; the numbering is one dict built in C, not a Python
    step a candidate."""
    total = sum(r.weight for r in rows)
    heads = [r.ids[:ROW_DEPTH] for r in rows]
    named = list(itertools.chain.from_iterable(heads))
    index = _numbered(named)
    if not index:
        return index, np.zeros(0), np.zeros(0, dtype=np.intp)
    number = np.fromiter(map(index.__getitem__, named), dtype=np.intp, count=len(named))
    part = np.concatenate([(r.weight / total if total > 0 else 0.0) * row_probabilities(r.scores, weights.temperature)
                           for r in rows])
    row_of = np.repeat(np.arange(len(rows), dtype=np.intp), [len(h) for h in heads])
    merged = np.bincount(number, weights=part, minlength=len(index))  # adds in array order: row by row
    best = np.full(len(index), -np.inf)
    np.maximum.at(best, number, part)
    tops = np.flatnonzero(part == best[number])  # ascending: the first top of a candidate is its first row's
    candidates, first = np.unique(number[tops], return_index=True)
    source = np.zeros(len(index), dtype=np.intp)
    source[candidates] = row_of[tops[first]]
    return index, merged, source


def _numbered(ids: Iterable[str], index: dict[str, int] | None = None) -> dict[str, int]:
    """`index` (a new one when None) with every id it lacks numbered next, in the order of `ids`."""
    index = {} if index is None else index
    fresh = dict.fromkeys(itertools.filterfalse(index.__contains__, ids))
    index.update(zip(fresh, range(len(index), len(index) + len(fresh)), strict=True))
    return index


def fuse_rows(rows: Sequence[Row], weights: PersonalWeights, fusion: FusionModel) -> dict[str, tuple[float, str]]:
    """Candidate -> (softmax of the fusion's score over the candidates, the book contributing most
    as merge_rows names it): the learned alternative to merge_rows (smartlib_core.personal_fusion)."""
    heads = [(r.ids[:ROW_DEPTH], row_probabilities(r.scores, weights.temperature)) for r in rows]
    ids, features = fusion_features([r.book for r in rows], [r.weight for r in rows], heads)
    if not ids:
        return {}
    logits = fusion.score(features)
    probabilities = np.exp(logits - logits.max())
    probabilities /= probabilities.sum()
    sources = merge_rows(rows, weights)
    return {b: (float(p), sources[b][1]) for b, p in zip(ids, probabilities.tolist(), strict=True)}


def cf_share(known: int, weights: PersonalWeights) -> float:
    """CF's share of the score: 0 without evidence, `weights.cf` with plenty."""
    return evidence_share(known, weights.cf, weights.cf_half_evidence)


def evidence_share(known: int, most: float, half: float) -> float:
    """A source's share of the score: 0 without evidence, `most` with plenty, half of it at `half`."""
    return most * known / (known + half) if known > 0 else 0.0


@dataclasses.dataclass(frozen=True)
class CoReadingEvidence:
    """What the co-reading graph says about the user's candidates (CoReading.evidence)."""

    scores: Mapping[str, float]  # candidate -> score, any scale (divided by its best)
    sources: Mapping[str, str]  # candidate -> the user's book it comes from most
    known: int  # how many of the user's books the graph knows


def _odds(share: float) -> float:
    """A share as the weight beside the rows' 1: one source at share s scores (1 - s) rows + s it."""
    return share / (1.0 - share) if share < 1.0 else 1e6


@dataclasses.dataclass(frozen=True)
class Ordered:
    """A user's candidates scored and ordered, before the request's filter and k: what
    RecommendForUser may keep per user, since nothing in it depends on the request. Kept as
    columns by candidate number: a call reads about k of some 1,000-2,000 candidates, so nothing
    is built per candidate beyond them (`order`, `named_by` and `via_of` spell it all out)."""

    ids: Sequence[str]  # candidate number -> id
    ranked: Sequence[int]  # candidate numbers, best first; ties go to the smaller id
    scores: Sequence[float]  # by candidate number
    named: Sequence[str]  # by number: the user's book it comes from ("" when CF carries it)
    via: Sequence[int]  # by number: _VIA's index of the source that carries it (0: the rows)
    groups: int  # series (or standalones) among the user's books: two or more turn the series cap on

    @property
    def order(self) -> list[tuple[str, float]]:
        """(candidate, score), best first."""
        return [(self.ids[i], self.scores[i]) for i in self.ranked]

    @property
    def named_by(self) -> dict[str, str]:
        return dict(zip(self.ids, self.named, strict=True))

    @property
    def via_of(self) -> dict[str, str]:
        """Candidate -> "cf" or "co_reading" when that source carries it."""
        return {b: _VIA[v] for b, v in zip(self.ids, self.via, strict=True) if v}


def _standalone(book_id: str) -> str:
    return ""


@dataclasses.dataclass(frozen=True)
class Evidence:
    """What orders a user's candidates besides their liked books' rows and the weights: the one
    options object of personal_ranking and order_candidates."""

    cf: Mapping[str, float] | None = None  # candidate -> CF score (any scale; divided by its best); None: no CF
    cf_known: int = 0  # how many of the user's books CF knows: its evidence
    disliked: Sequence[Row] = ()  # rows of the books the user disliked or dismissed; their heads are near twins
    series_of: Callable[[str], str] = _standalone  # book -> series key, "" for a standalone (cap, disliked series)
    # series key -> its books (series_of's inverse), so a disliked series' near twins are found
    # among its members instead of asking the series of every candidate; None asks every one.
    series_members: Callable[[str], Iterable[str]] | None = None
    # A learned fusion of two or more rows (fuse_rows); None, or one row, merges them plainly, so
    # one liked book still gives exactly its row.
    fusion: FusionModel | None = None
    # The co-reading graph's evidence: its candidates join the rows' and it weighs in by
    # `weights.co_reading` as CF does. None leaves it out.
    co_reading: CoReadingEvidence | None = None


NO_EVIDENCE = Evidence()


def personal_ranking(
    rows: Sequence[Row],
    k: int,
    weights: PersonalWeights = DEFAULT_WEIGHTS,
    *,
    accepts: Callable[[str], bool] = lambda book_id: True,
    evidence: Evidence = NO_EVIDENCE,
) -> list[Scored]:
    """The user's top k (fewer when too few candidates pass `accepts`).

    Args:
        rows: the reader-ranked rows of the user's liked books.
        accepts: False for a book never to return: the user's own (read, liked, rated, disliked,
            dismissed) and whatever the request's filter drops.
        evidence: CF, the co-reading graph, the disliked books, the series and a fusion (Evidence).

    Each source is scaled by its best candidate; with shares s_i of the evidence sources, the rows
    weigh 1 and source i weighs s_i / (1 - s_i), so one source alone scores (1 - s) rows + s it.
    """
    return pick(order_candidates(rows, weights, evidence), k, accepts, evidence.series_of, weights)


def order_candidates(rows: Sequence[Row], weights: PersonalWeights = DEFAULT_WEIGHTS,
                     evidence: Evidence = NO_EVIDENCE) -> Ordered:
    """Every candidate of personal_ranking scored and ordered (its arguments), for pick to filter.

    Candidates are numbered once (`index`) and scored in arrays: a user of 20 liked books has
    some 1,000 candidates, and a loop over them in dicts was most of a first call's CPU."""
    cf, co_reading, disliked, series_of = evidence.cf, evidence.co_reading, evidence.disliked, evidence.series_of
    fusion = evidence.fusion
    if fusion is not None and len(rows) > 1:
        fused = fuse_rows(rows, weights, fusion)
        index = _numbered(fused)
        merged = np.fromiter((score for score, _ in fused.values()), dtype=np.float64, count=len(fused))
        named = np.array([source for _, source in fused.values()], dtype=object)
    else:
        index, merged, source = _merge(rows, weights)
        named = np.array([r.book for r in rows], dtype=object)[source] if len(index) else np.zeros(0, dtype=object)
    top = float(merged.max()) if len(merged) else 0.0
    sources = []  # (scores, their best, odds, sources or None for CF)
    if cf and (cf_top := max(cf.values(), default=0.0)) > 0:
        sources.append((cf, cf_top, _odds(cf_share(evidence.cf_known, weights)), None))
    if co_reading is not None and co_reading.scores and (co_top := max(co_reading.scores.values())) > 0:
        share = evidence_share(co_reading.known, weights.co_reading, weights.co_reading_half_evidence)
        sources.append((co_reading.scores, co_top, _odds(share), co_reading.sources))
    norm = 1.0 + sum(odds for _, _, odds, _ in sources)
    scale = 1.0 / top / norm if top > 0 else 0.0
    scores = merged * scale
    via = np.zeros(len(index), dtype=np.int8)  # _VIA: which source carries a candidate
    for values, best, odds, names in sources:
        if odds <= 0:
            continue
        known, keys = len(index), list(values)
        _numbered(keys, index)
        number = np.fromiter(map(index.__getitem__, keys), dtype=np.intp, count=len(keys))
        new = len(index) - known
        scores, via = np.concatenate([scores, np.zeros(new)]), np.concatenate([via, np.zeros(new, dtype=np.int8)])
        named = np.concatenate([named, np.full(new, "", dtype=object)])  # CF names no source; the reason asks the CF model
        base = scores[number]  # 0.0 for a candidate this source brings
        part = odds * np.fromiter(values.values(), dtype=np.float64, count=len(keys)) / best / norm
        scores[number] = base + part
        carries = part > base
        via[number[carries]] = _VIA.index("cf" if names is None else "co_reading")
        if names is not None:  # the graph names the liked book behind what it carries or brings
            renamed = np.flatnonzero(carries | (number >= known))
            named[number[renamed]] = [names.get(keys[j], "") for j in renamed.tolist()]
    ids = list(index)
    if disliked:
        scores[_twins(ids, index, disliked, evidence, weights)] *= weights.dislike_factor
    return Ordered(ids, _best_first(ids, scores).tolist(), scores.tolist(), named.tolist(), via.tolist(),
                   len({series_of(r.book) or r.book for r in rows}))


_VIA = ("", "cf", "co_reading")
_CF, _CO_READING = 1, 2


def _best_first(ids: Sequence[str], scores: np.ndarray) -> np.ndarray:
    """Candidate numbers by score, best first, equal scores by id: one sort of the floats, then
    the few runs of equal scores sorted by id (a sort of every id as a string cost more than
    the rest of the ordering)."""
    order = np.argsort(-scores, kind="stable")
    ranked = scores[order]
    ties = np.flatnonzero(ranked[1:] == ranked[:-1])  # i: ranked[i] equals ranked[i + 1]
    if len(ties):
        starts = ties[np.r_[True, np.diff(ties) > 1]]  # the first index of each run of equal scores
        ends = ties[np.r_[np.diff(ties) > 1, True]] + 2  # one past its last
        for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
            order[start:end] = sorted(order[start:end].tolist(), key=ids.__getitem__)
    return order


def pick(
    ordered: Ordered, k: int, accepts: Callable[[str], bool], series_of: Callable[[str], str],
    weights: PersonalWeights = DEFAULT_WEIGHTS,
) -> list[Scored]:
    """The top k of `ordered` that `accepts` lets through, with the series cap."""
    ids, scores, named, via = ordered.ids, ordered.scores, ordered.named, ordered.via
    # `accepts` (the user's own books, the request's filter) is asked lazily, best first: a list
    # needs about k answers, not one per candidate of every row.
    picks = (Scored(ids[i], scores[i], named[i], via[i] == _CF, via[i] == _CO_READING)
             for i in ordered.ranked if accepts(ids[i]))
    return _cap_series(picks, k, ordered.groups, series_of, weights.series_share)


def _twins(ids: Sequence[str], index: Mapping[str, int], disliked: Sequence[Row], evidence: Evidence,
           weights: PersonalWeights) -> np.ndarray:
    """Which candidates (by number) are near twins of a disliked book: in the head of its row, or
    of its series (its members that are candidates, or every candidate's series asked)."""
    twins = np.zeros(len(ids), dtype=bool)
    heads = [index[b] for row in disliked for b in row.ids[:weights.dislike_twins] if b in index]
    twins[heads] = True
    series_of, members = evidence.series_of, evidence.series_members
    series = {series_of(r.book) for r in disliked} - {""}
    if series and members is not None:
        twins[[index[b] for key in series for b in members(key) if b in index]] = True
    elif series:
        twins |= np.fromiter(map(series.__contains__, map(series_of, ids)), dtype=bool, count=len(ids))
    return twins


def _cap_series(ranked: Iterable[Scored], k: int, groups: int, series_of: Callable[[str], str], share: float) -> list[Scored]:
    """The top k of `ranked` (best first, read only as far as needed) with no series over
    `share` of k when the user liked books of two or more (`groups`) series or standalones; the
    ones held back fill the list only if nothing else can."""
    if groups < 2:
        return list(itertools.islice(ranked, k))
    cap = max(1, int(share * k))
    picked: list[Scored] = []
    held: list[Scored] = []
    counts: dict[str, int] = {}
    for item in ranked:
        series = series_of(item.book)
        if series and counts.get(series, 0) >= cap:
            held.append(item)
            continue
        counts[series] = counts.get(series, 0) + 1
        picked.append(item)
        if len(picked) == k:
            return picked
    return picked + held[:k - len(picked)]

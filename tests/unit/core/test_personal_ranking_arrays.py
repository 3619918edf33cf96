"""order_candidates scores in arrays; these check it against the plain loop over dicts that it
replaced (kept here as the reference), on random users whose rows overlap, tie and repeat."""
from __future__ import annotations

import operator
import random

import pytest

from smartlib_core.personal_ranking import (
    ROW_DEPTH,
    CoReadingEvidence,
    Evidence,
    PersonalWeights,
    Row,
    cf_share,
    evidence_share,
    merge_rows,
    order_candidates,
    row_probabilities,
)


def reference_merge(rows, weights):
    total = sum(r.weight for r in rows)
    merged: dict[str, list] = {}
    for row in rows:
        share = row.weight / total if total > 0 else 0.0
        for book_id, p in zip(row.ids[:ROW_DEPTH], row_probabilities(row.scores, weights.temperature).tolist(), strict=True):
            contribution = share * p
            entry = merged.get(book_id)
            if entry is None:
                merged[book_id] = [contribution, row.book, contribution]
            else:
                entry[0] += contribution
                if contribution > entry[2]:
                    entry[1], entry[2] = row.book, contribution
    return {b: (score, source) for b, (score, source, _) in merged.items()}


def reference_order(rows, weights, cf, cf_known, disliked, series_of, co_reading):
    merged = reference_merge(rows, weights)
    top = max((s for s, _ in merged.values()), default=0.0)
    sources = []
    if cf and (cf_top := max(cf.values(), default=0.0)) > 0:
        share = cf_share(cf_known, weights)
        sources.append((cf, cf_top, share / (1 - share) if share < 1 else 1e6, None))
    if co_reading is not None and co_reading.scores and (co_top := max(co_reading.scores.values())) > 0:
        share = evidence_share(co_reading.known, weights.co_reading, weights.co_reading_half_evidence)
        sources.append((co_reading.scores, co_top, share / (1 - share) if share < 1 else 1e6, co_reading.sources))
    norm = 1.0 + sum(odds for _, _, odds, _ in sources)
    scale = 1.0 / top / norm if top > 0 else 0.0
    scores = {b: score * scale for b, (score, _) in merged.items()}
    named_by = {b: source for b, (_, source) in merged.items()}
    via = {}
    for values, best, odds, named in sources:
        if odds <= 0:
            continue
        for b, value in values.items():
            base = scores.get(b, 0.0)
            part = odds * value / best / norm
            scores[b] = base + part
            if part > base:
                via[b] = "cf" if named is None else "co_reading"
            if named is not None and (part > base or b not in named_by):
                named_by[b] = named.get(b, "")
            named_by.setdefault(b, "")
    heads = {b for row in disliked for b in row.ids[:weights.dislike_twins]}
    series = {series_of(r.book) for r in disliked} - {""}
    for b in [b for b in scores if b in heads or (bool(series) and series_of(b) in series)]:
        scores[b] *= weights.dislike_factor
    order = sorted(scores.items())
    order.sort(key=operator.itemgetter(1), reverse=True)
    return order, named_by, via


def random_user(rng: random.Random):
    books = [f"b{i:02d}" for i in range(40)]
    series = {b: rng.choice(["", "", "s1", "s2"]) for b in books}

    def row(book):
        ids = rng.choices(books, k=rng.randint(0, 12))  # repeats happen
        return Row(book, rng.choice([1.0, 1.0, 0.3, rng.random()]), ids, [float(rng.randint(0, 3)) for _ in ids])

    rows = [row(b) for b in rng.sample(books, rng.randint(1, 6))]
    cf = {b: rng.choice([1.0, 2.0, rng.random()]) for b in rng.sample(books, rng.randint(0, 10))}
    co_books = rng.sample(books, rng.randint(0, 10))
    co = CoReadingEvidence({b: rng.choice([0.5, rng.random()]) for b in co_books},
                           {b: rng.choice([r.book for r in rows]) for b in co_books if rng.random() < 0.8},
                           known=rng.randint(0, 3))
    disliked = [row(b) for b in rng.sample(books, rng.randint(0, 2))]
    weights = PersonalWeights(temperature=rng.choice([0.5, 1.0, 4.0]), dislike_twins=rng.randint(0, 4))
    return rows, weights, cf, rng.randint(0, 8), disliked, series.__getitem__, co if rng.random() < 0.7 else None


@pytest.mark.parametrize("seed", range(300))
def test_arrays_order_as_the_loop_over_dicts_did(seed):
    rows, weights, cf, known, disliked, series_of, co = random_user(random.Random(seed))
    ordered = order_candidates(rows, weights, Evidence(cf, known, disliked, series_of, co_reading=co))
    order, named_by, via = reference_order(rows, weights, cf, known, disliked, series_of, co)
    assert ordered.order == order  # the same floats to the last bit, ties by id
    assert ordered.named_by == named_by
    assert ordered.via_of == via


@pytest.mark.parametrize("seed", range(100))
def test_a_disliked_series_found_by_its_members_pushes_down_what_asking_every_candidate_does(seed):
    rows, weights, cf, known, disliked, series_of, co = random_user(random.Random(seed))
    table = series_of.__self__  # the user's catalog: book -> series

    def members(key):
        return [b for b, s in table.items() if s == key]
    asked = order_candidates(rows, weights, Evidence(cf, known, disliked, series_of, co_reading=co))
    found = order_candidates(rows, weights, Evidence(cf, known, disliked, series_of, members, co_reading=co))
    assert found.order == asked.order and found.named_by == asked.named_by and found.via_of == asked.via_of


@pytest.mark.parametrize("seed", range(50))
def test_merge_rows_sums_and_names_as_the_loop_did(seed):
    rows, weights, *_ = random_user(random.Random(seed))
    assert merge_rows(rows, weights) == reference_merge(rows, weights)


def test_a_tie_between_rows_names_the_first():
    # Equal weights and equal logits: both rows give "shared" the same contribution.
    rows = [Row("first", 1.0, ["shared", "x"], [1.0, 0.0]), Row("second", 1.0, ["shared", "y"], [1.0, 0.0])]
    assert merge_rows(rows, PersonalWeights()) == reference_merge(rows, PersonalWeights())
    assert order_candidates(rows).named_by["shared"] == "first"

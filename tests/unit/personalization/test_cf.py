"""Item-item CF: preferences, similarity from co-occurrence, and incremental retraining."""
from __future__ import annotations

import random

import numpy as np
from scipy import sparse

from smartlib_server.domain.personalization import Interaction, InteractionKind as K
from smartlib_server.services.personalization.cf import CFModel, CFTrainer, fold_preferences, train

T = 1_780_000_000_000


def ev(user, book, kind, rating=0, t=0):
    return Interaction(user, book, kind, rating, T + t)


def test_preferences_follow_the_latest_signal():
    prefs = fold_preferences([
        ev("u", "a", K.LIKE, t=1), ev("u", "a", K.DISLIKE, t=2),  # disliked after liking: gone
        ev("u", "b", K.DISMISS, t=1), ev("u", "b", K.READ, t=2),  # read after dismissing: back
        ev("u", "c", K.CLICK), ev("u", "d", K.VIEW), ev("u", "e", K.RATE, 2), ev("u", "f", K.RATE, 4),
    ])
    assert prefs == {"b": 1.0, "c": 0.3, "f": 0.8}


def test_co_read_books_are_similar_and_unrelated_ones_are_not():
    pairs = {}
    for u in range(10):  # ten readers read both x and y
        pairs[(f"u{u}", "x")] = pairs[(f"u{u}", "y")] = 1.0
    pairs[("loner", "x")] = pairs[("loner", "z")] = 1.0  # one reader pairs x with z
    for u in range(5):
        pairs[(f"w{u}", "q")] = 1.0
    model = train(pairs, "cf@1")
    scores = model.scores({"x": 1.0})
    assert scores["y"] > scores["z"] > 0  # shrinkage: one co-reader is weak evidence
    assert "q" not in scores and "x" not in scores
    assert model.because_of("y", {"x": 1.0, "q": 1.0}) == "x"


def test_neighbour_lists_are_capped():
    pairs = {(f"u{u}", f"b{b}"): 1.0 for u in range(3) for b in range(30)}
    model = train(pairs, "cf@1", neighbours=5)
    assert max(model.similarity.getnnz(axis=1)) == 5


def test_trainer_reads_only_new_interactions_and_versions_the_model(interaction_store):
    trainer = CFTrainer(interaction_store, page=2)  # a small page exercises the paging loop
    assert not trainer.refresh() and trainer.model.version == "cf@0"
    interaction_store.add([ev("u1", "a", K.READ), ev("u1", "b", K.READ), ev("u2", "a", K.LIKE), ev("u2", "b", K.LIKE)])
    assert trainer.refresh()
    first = trainer.model
    assert first.version == f"cf@{interaction_store.last_seq()}" and "b" in first.scores({"a": 1.0})
    assert not trainer.refresh() and trainer.model is first  # nothing new: no retraining
    interaction_store.add([ev("u1", "b", K.DISLIKE, t=5), ev("u2", "b", K.DISMISS, t=5)])
    assert trainer.refresh()
    assert trainer.model.version != first.version
    assert "b" not in trainer.model.scores({"a": 1.0})  # both readers took b back


def _scores_via_scipy(model, prefs):
    """The sparse-algebra definition of CFModel.scores: the reference its faster path must match."""
    known = [(model.columns[b], w) for b, w in prefs.items() if b in model.columns]
    if not known:
        return {}
    rows = np.array([c for c, _ in known])
    weights = np.array([w for _, w in known], dtype=np.float32)
    totals = np.asarray(model.similarity[rows].T @ weights).ravel()
    return {model.book_ids[i]: float(totals[i]) for i in np.flatnonzero(totals > 0)}


def test_scores_match_the_sparse_definition_on_random_logs():
    rng = random.Random(7)
    for trial in range(20):
        books = [f"b{i}" for i in range(rng.randint(5, 60))]
        pairs = {(f"u{u}", b): rng.choice([0.3, 0.8, 1.0])
                 for u in range(rng.randint(3, 40)) for b in rng.sample(books, rng.randint(2, min(8, len(books))))}
        model = train(pairs, f"cf@{trial}", neighbours=rng.randint(2, 10))
        for _ in range(10):
            prefs = {b: rng.random() for b in rng.sample(books + ["unknown"], rng.randint(1, 6))}
            assert model.scores(prefs) == _scores_via_scipy(model, prefs)


def test_anchors_name_the_book_because_of_names_on_random_models():
    """CFModel.anchors reads a block of the matrix at once; it must name, for every candidate, the
    book the scalar loop of because_of names, ties included (similarities and weights are drawn
    from a few values, so equal scores are common: the first book in the user's order wins)."""
    rng = random.Random(11)
    named = 0
    for trial in range(40):
        books = tuple(f"b{i}" for i in range(rng.randint(5, 40)))
        matrix = sparse.random(len(books), len(books), density=0.3, format="csr", dtype=np.float32, rng=trial)
        matrix.data = np.ceil(matrix.data * 4) / 4  # 0.25, 0.5, 0.75 or 1
        model = CFModel(f"cf@{trial}", books, {b: i for i, b in enumerate(books)}, matrix)
        for _ in range(10):
            prefs = {b: rng.choice([0.3, 1.0, 0.3 * 0.5 ** 0.05]) for b in rng.sample(books + ("unknown",), rng.randint(0, 6))}
            candidates = rng.sample(books + ("elsewhere",), rng.randint(1, 6))
            expected = [model.because_of(c, prefs) for c in candidates]
            assert model.anchors(candidates, prefs) == expected
            named += sum(e is not None for e in expected)
    assert named > 300  # the comparison covered books that are named, not only Nones

"""top_n: the one partial-sort ranking under serving, training and the bench."""
from __future__ import annotations

import numpy as np
import pytest

from smartlib_core.top_n import top_n


def test_best_first_and_ties_go_to_the_lower_index():
    scores = np.array([0.2, 0.9, 0.5, 0.9, 0.1, 0.5], dtype=np.float32)
    assert top_n(scores, 4).tolist() == [1, 3, 2, 5]


def test_a_tie_at_the_cut_keeps_one_of_the_tied_and_drops_nothing_better():
    scores = np.array([0.3, 0.7, 0.3, 0.3, 0.8])
    kept = top_n(scores, 3)
    assert kept[:2].tolist() == [4, 1]
    assert kept[2] in (0, 2, 3)


def test_n_larger_than_the_array_returns_everything_ordered():
    scores = np.array([1.0, 3.0, 2.0])
    assert top_n(scores, 10).tolist() == [1, 2, 0]
    assert top_n(scores, 0).tolist() == []
    assert top_n(np.zeros(0), 5).tolist() == []


def test_excluded_indices_never_come_back_even_when_n_asks_for_all():
    scores = np.array([5.0, 4.0, 3.0, 2.0])
    assert top_n(scores, 2, exclude=0).tolist() == [1, 2]
    assert top_n(scores, 10, exclude=[0, 2]).tolist() == [1, 3]
    assert top_n(scores, 10, exclude=np.array([3, 3])).tolist() == [0, 1, 2]


def test_a_batch_ranks_each_row_and_excludes_one_index_per_row():
    scores = np.array([[0.9, 0.1, 0.5, 0.7], [0.2, 0.8, 0.8, 0.1]])
    assert top_n(scores, 2).tolist() == [[0, 3], [1, 2]]
    assert top_n(scores, 9, exclude=np.array([0, 1])).tolist() == [[3, 2, 1], [2, 0, 3]]
    with pytest.raises(ValueError):
        top_n(scores, 2, exclude=[0])


def test_unordered_keeps_the_same_set_and_the_input_is_never_changed():
    rng = np.random.default_rng(7)
    scores = rng.standard_normal(500).astype(np.float32)
    before = scores.copy()
    loose = top_n(scores, 25, exclude=np.argmax(scores), ordered=False)
    exact = np.argsort(-scores, kind="stable")[1:26]
    assert sorted(loose.tolist()) == sorted(exact.tolist())
    assert top_n(scores, 25, exclude=np.argmax(scores)).tolist() == exact.tolist()
    np.testing.assert_array_equal(scores, before)


def test_integer_scores_rank_like_floats():
    counts = np.array([3, 7, 7, 1], dtype=np.int32)
    assert top_n(counts, 3, exclude=1).tolist() == [2, 0, 3]

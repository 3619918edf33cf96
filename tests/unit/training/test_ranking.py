from __future__ import annotations

import numpy as np
import pytest

from smartlib_training.ranking import popularity_prior, popularity_priors, rerank


def test_prior_is_zero_without_popularity_data():
    assert popularity_prior(-1, 0) == 0.0


def test_prior_rises_with_list_position_and_ratings():
    assert popularity_prior(0, 0) == pytest.approx(1.0)
    assert popularity_prior(0, 0) > popularity_prior(99, 0) > popularity_prior(9999, 0) >= 0.0
    assert popularity_prior(-1, 5_000_000) > popularity_prior(-1, 1_000) > 0.0
    assert 0.0 <= popularity_prior(50_000, 10) <= 1.0  # values outside the usual range stay in [0, 1]


def test_vectorised_prior_matches_scalar():
    ranks = np.array([-1, 0, 7, 500, 9999, -1, 3])
    ratings = np.array([0, 0, 120, 0, 4_000_000, 900, 10])
    expected = [popularity_prior(int(r), int(n)) for r, n in zip(ranks, ratings, strict=True)]
    np.testing.assert_allclose(popularity_priors(ranks, ratings), expected, rtol=1e-6)


def test_rerank_adds_weighted_prior_and_drops_padding_last():
    priors = np.array([0.0, 1.0, 0.5, 0.0], dtype=np.float32)
    scores = np.array([[0.90, 0.85, 0.80, -3.4e38]], dtype=np.float32)
    ids = np.array([[0, 1, 2, -1]])
    top, combined = rerank(scores, ids, priors, weight=0.1, k=3)
    assert top.tolist() == [[1, 0, 2]]  # 0.95 > 0.90 > 0.85
    np.testing.assert_allclose(combined[0], [0.95, 0.90, 0.85], rtol=1e-6)
    top0, _ = rerank(scores, ids, priors, weight=0.0, k=4)
    assert top0.tolist() == [[0, 1, 2, -1]]


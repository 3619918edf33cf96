"""Fitting the fusion of reader rows on readers' lists: it learns what the lists reward, and refuses too few readers."""
from __future__ import annotations

import numpy as np
import pytest

from smartlib_core.personal_fusion import FUSION_FEATURES
from smartlib_core.personal_ranking import Row
from smartlib_training.fusion_fit import MIN_READERS, fit_fusion, fusion_sample

SHARE = FUSION_FEATURES.index("row_share")


def consensus_readers(count: int, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """Readers whose listed books are the ones every row holds, whatever their probabilities."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        x = rng.normal(size=(40, len(FUSION_FEATURES)))
        x[:, SHARE] = rng.choice([1 / 3, 2 / 3, 1.0], size=40)
        out.append((x, (x[:, SHARE] == 1.0).astype(float)))
    return out


def test_the_fit_learns_what_the_lists_reward():
    model = fit_fusion(consensus_readers(MIN_READERS))
    assert model.weights[SHARE] > 1.0
    assert max(abs(w) for i, w in enumerate(model.weights) if i != SHARE) < 0.5 * model.weights[SHARE]
    x, y = consensus_readers(1, seed=99)[0]
    top = np.argsort(-model.score(x))[: int(y.sum())]
    assert y[top].all()  # on an unseen reader, the consensus books come first


def test_the_fit_refuses_too_few_readers():
    enough = consensus_readers(MIN_READERS)
    with pytest.raises(ValueError, match=str(MIN_READERS)):
        fit_fusion(enough[:-1])
    # A reader none of whose listed books is among its candidates teaches nothing and does not count.
    empty = [(x, np.zeros(len(y))) for x, y in consensus_readers(5, seed=3)]
    with pytest.raises(ValueError):
        fit_fusion(enough[:-1] + empty)


def test_a_sample_leaves_the_readers_own_books_out_and_labels_the_list():
    rows = [Row("dune", 1.0, ["hyperion", "messiah", "solaris"], [2.0, 1.0, 0.0]),
            Row("hyperion", 1.0, ["dune", "endymion", "messiah"], [2.0, 1.0, 0.0])]
    x, y = fusion_sample(rows, {"dune", "hyperion"}, {"messiah"})
    assert x.shape == (3, len(FUSION_FEATURES))  # messiah, solaris, endymion
    assert y.tolist() == [1.0, 0.0, 0.0]

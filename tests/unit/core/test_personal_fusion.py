"""The learned fusion of reader rows, on hand-made rows and weights with known answers."""
from __future__ import annotations

import numpy as np
import pytest

from smartlib_core.personal_fusion import FUSION_FEATURES, FusionModel, centrality, fusion_features
from smartlib_core.personal_ranking import Evidence, Row, personal_ranking

# "consensus" is in all three rows but low in each; "solo" heads one row only.
DUNE = Row("dune", 1.0, ["solo", "a1", "a2", "consensus"], [5.0, 1.0, 0.5, 0.0])
HYPERION = Row("hyperion", 1.0, ["b1", "b2", "b3", "consensus"], [3.0, 2.0, 1.0, 0.0])
FOUNDATION = Row("foundation", 1.0, ["c1", "c2", "dune", "consensus"], [3.0, 2.0, 1.0, 0.0])
ROWS = [DUNE, HYPERION, FOUNDATION]
NEUTRAL = dict(mean=(0.0,) * 5, scale=(1.0,) * 5)


def weights(**named: float) -> FusionModel:
    return FusionModel(**NEUTRAL, weights=tuple(named.get(n, 0.0) for n in FUSION_FEATURES))


def test_a_book_all_rows_hold_outranks_one_rows_head_when_the_weights_say_so():
    by_share = personal_ranking(ROWS, 2, evidence=Evidence(fusion=weights(row_share=5.0, log_max_probability=0.1)))
    assert by_share[0].book == "consensus"
    by_best = personal_ranking(ROWS, 2, evidence=Evidence(fusion=weights(log_max_probability=1.0)))
    assert by_best[0].book == "solo"


def test_the_users_own_books_never_come_back():
    own = {"dune", "hyperion", "foundation"}
    # "dune" sits in foundation's row; weights that would favour it still leave it out.
    picks = personal_ranking(ROWS, 20, evidence=Evidence(fusion=weights(row_share=1.0)), accepts=lambda b: b not in own)
    assert own.isdisjoint(p.book for p in picks)
    assert len(picks) == 9  # every other candidate of the three rows


def test_one_liked_book_keeps_its_row_order_whatever_the_weights():
    picks = personal_ranking([DUNE], 4, evidence=Evidence(fusion=weights(row_share=-3.0, log_max_probability=-1.0)))
    assert [p.book for p in picks] == ["solo", "a1", "a2", "consensus"]


def test_features_are_read_across_rows():
    heads = [(r.ids, np.full(len(r.ids), 0.25)) for r in ROWS]
    ids, x = fusion_features([r.book for r in ROWS], [1.0, 1.0, 2.0], heads)
    share = x[:, FUSION_FEATURES.index("row_share")]
    assert share[ids.index("consensus")] == pytest.approx(1.0)
    assert share[ids.index("c1")] == pytest.approx(0.5)  # foundation weighs half of the user's taste
    assert share[ids.index("solo")] == pytest.approx(0.25)


def test_the_central_row_is_the_one_that_holds_the_users_other_books():
    heads = [(r.ids, np.full(len(r.ids), 0.25)) for r in ROWS]
    assert centrality([r.book for r in ROWS], heads).tolist() == [0.0, 0.0, 0.25]  # foundation's row holds dune
    ids, x = fusion_features([r.book for r in ROWS], [1.0, 1.0, 1.0], heads)
    central = x[:, FUSION_FEATURES.index("log_central_probability")]
    assert central[ids.index("c1")] == pytest.approx(np.log(0.25))
    assert central[ids.index("solo")] == pytest.approx(np.log(1e-6))  # not in foundation's row
    # The centrality-weighted mean: only foundation's row holds another liked book, so only it counts.
    weighted = x[:, FUSION_FEATURES.index("log_central_mean_probability")]
    assert weighted[ids.index("solo")] == pytest.approx(np.log(1e-6))
    assert weighted[ids.index("consensus")] == pytest.approx(np.log(0.25))


def test_a_stored_model_must_name_the_same_features():
    model = weights(row_share=1.0)
    assert FusionModel.from_dict(model.to_dict()) == model
    with pytest.raises(ValueError):
        FusionModel.from_dict({**model.to_dict(), "features": ["row_share"]})
    with pytest.raises(ValueError):
        FusionModel(**NEUTRAL, weights=(float("nan"),) * 5)

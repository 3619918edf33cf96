"""The quality gate compares a candidate's manifest with the active version's."""
from __future__ import annotations

import pytest

from smartlib_core.quality_gate import refusal, shortfalls


def _manifest(recall: tuple[float, float, float] | None = None, known: tuple[float, float, float] | None = None,
              ndcg: float | None = None) -> dict:
    gate = {}
    if recall:
        gate["behaviour_recall@10"] = dict(zip(("low", "mean", "high"), recall, strict=True))
    if known:
        gate["known_item_hit@10"] = dict(zip(("low", "mean", "high"), known, strict=True))
    return {"gate": gate, "metrics": {"finetuned": {"ndcg@10": ndcg}} if ndcg is not None else {}}


def test_a_drop_beyond_the_candidates_interval_is_refused():
    active = _manifest(recall=(0.33, 0.37, 0.41), known=(0.86, 0.90, 0.93))
    worse = _manifest(recall=(0.18, 0.21, 0.24), known=(0.86, 0.90, 0.93))
    [found] = shortfalls(worse, active)
    assert (found.metric, found.candidate, found.active) == ("behaviour_recall@10", 0.21, 0.37)
    message = refusal("v2", "v1", [found], "call ActivateVersion with force=true")
    assert "behaviour_recall@10 of v2 is 0.210, below v1's 0.370" in message and "force=true" in message


def test_a_drop_within_the_interval_is_noise_and_passes():
    active = _manifest(recall=(0.33, 0.37, 0.41), known=(0.86, 0.90, 0.93))
    close = _manifest(recall=(0.31, 0.35, 0.39), known=(0.84, 0.88, 0.91))
    assert shortfalls(close, active) == []
    assert shortfalls(active, close) == []  # and a better candidate always passes


def test_known_item_search_is_gated_too():
    active = _manifest(recall=(0.33, 0.37, 0.41), known=(0.86, 0.90, 0.93))
    lost = _manifest(recall=(0.33, 0.37, 0.41), known=(0.22, 0.27, 0.32))
    assert [s.metric for s in shortfalls(lost, active)] == ["known_item_hit@10"]


def test_without_behaviour_figures_the_held_out_proxy_stands_in():
    assert [s.metric for s in shortfalls(_manifest(ndcg=0.60), _manifest(ndcg=0.70))] == ["held-out ndcg@10"]
    assert shortfalls(_manifest(ndcg=0.69), _manifest(ndcg=0.70)) == []
    assert shortfalls({}, _manifest(ndcg=0.70)) == []  # an old manifest without figures is not judged


def test_the_margin_is_the_candidates_own_half_width_not_the_actives():
    # A precisely measured candidate just below a noisily measured active version: refused, since
    # the drop (0.02) is beyond the candidate's own noise (0.01), however wide the active's is.
    narrow, wide = _manifest(recall=(0.34, 0.35, 0.36)), _manifest(recall=(0.20, 0.37, 0.54))
    [found] = shortfalls(narrow, wide)
    assert found.margin == pytest.approx(0.01)
    # The other way round the same drop is within the candidate's noise (0.15): it passes.
    wide_candidate, narrow_active = _manifest(recall=(0.20, 0.35, 0.50)), _manifest(recall=(0.365, 0.37, 0.375))
    assert shortfalls(wide_candidate, narrow_active) == []


def test_a_candidate_exactly_one_half_width_below_passes_and_any_further_is_refused():
    candidate = _manifest(recall=(0.25, 0.5, 0.75), known=(0.25, 0.5, 0.75))  # half-width 0.25, exact in binary
    assert shortfalls(candidate, _manifest(recall=(0.7, 0.75, 0.8), known=(0.7, 0.75, 0.8))) == []
    beyond = _manifest(recall=(0.7, 0.75 + 1e-9, 0.8), known=(0.7, 0.75, 0.8))
    assert [s.metric for s in shortfalls(candidate, beyond)] == ["behaviour_recall@10"]

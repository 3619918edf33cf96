"""The quality gate: a candidate encoder may not serve readers worse than the one it replaces.

Both `smartlib train` and ActivateVersion compare the candidate's manifest with the active
version's. A gated figure refuses when the candidate's mean plus its bootstrap half-width still
falls short of the active mean, that is, when the drop is larger than the candidate's own
measurement noise. The gated figures are behavioural recall@10 and known-item hit@10 (manifest
"gate"); where either side lacks behavioural figures (no behaviour file at training time), the
held-out proxy nDCG@10 stands in with a fixed tolerance, as it carries no interval.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping

GATED = ("behaviour_recall@10", "known_item_hit@10")
PROXY = "ndcg@10"
PROXY_TOLERANCE = 0.02


@dataclasses.dataclass(frozen=True)
class Shortfall:
    metric: str
    candidate: float
    active: float
    margin: float  # how far below the active mean the candidate may fall

    def describe(self, candidate: str, active: str) -> str:
        return (f"{self.metric} of {candidate} is {self.candidate:.3f}, below {active}'s {self.active:.3f} "
                f"by more than {self.margin:.3f}")


def shortfalls(candidate: Mapping, active: Mapping) -> list[Shortfall]:
    """What makes `candidate` (a manifest) worse than `active` (the serving version's manifest)."""
    found = []
    cand_gate, active_gate = candidate.get("gate", {}) or {}, active.get("gate", {}) or {}
    for metric in GATED:
        mine, theirs = cand_gate.get(metric), active_gate.get(metric)
        if not mine or not theirs:
            continue
        margin = (mine["high"] - mine["low"]) / 2
        if mine["mean"] + margin < theirs["mean"]:
            found.append(Shortfall(metric, mine["mean"], theirs["mean"], margin))
    if GATED[0] not in cand_gate or GATED[0] not in active_gate:
        mine = candidate.get("metrics", {}).get("finetuned", {}).get(PROXY)
        theirs = active.get("metrics", {}).get("finetuned", {}).get(PROXY)
        if mine is not None and theirs is not None and mine + PROXY_TOLERANCE < theirs:
            found.append(Shortfall(f"held-out {PROXY}", mine, theirs, PROXY_TOLERANCE))
    return found


def refusal(candidate_version: str, active_version: str, found: list[Shortfall], override: str) -> str:
    """The message a refused candidate gets: each figure, both values, and how to override."""
    reasons = "; ".join(s.describe(candidate_version, active_version) for s in found)
    return f"encoder {candidate_version} refused by the quality gate: {reasons}. To activate it anyway, {override}"

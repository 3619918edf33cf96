"""The conversations the agent is known to fail on a catalog, each with a reason
(known_failures.yaml), and the verdict of a run against that list.

A run is green when every conversation passes or is listed for that catalog. A crash is never
excused. A listed conversation that passes is reported as fixed, and so is an entry that names
no conversation of the run, so the list only ever shrinks to what still fails.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import yaml

from smartlib_bench.chat_suite.runner import SUITE_DIR, Outcome

KNOWN_FAILURES = SUITE_DIR / "known_failures.yaml"


@dataclasses.dataclass(frozen=True)
class KnownFailure:
    id: str
    catalog: str  # "starter" or "10k"
    reason: str


@dataclasses.dataclass
class Verdict:
    catalog: str
    unexpected: list[Outcome]  # failed or crashed without an entry (a crash even with one)
    excused: list[tuple[Outcome, str]]  # failed as the list says, with its reason
    fixed: list[KnownFailure]  # listed, yet passed: delete the entry
    stale: list[KnownFailure]  # listed, but no such conversation ran on this catalog

    @property
    def green(self) -> bool:
        return not (self.unexpected or self.fixed or self.stale)


def load(path: Path = KNOWN_FAILURES) -> list[KnownFailure]:
    """Reads the list.

    Raises:
        ValueError: an entry without an id, a catalog of starter or 10k, or a reason; or a duplicate.
    """
    entries = []
    for raw in yaml.safe_load(Path(path).read_text(encoding="utf-8")) or []:
        entry = KnownFailure(str(raw.get("id", "")), str(raw.get("catalog", "")), str(raw.get("reason", "")).strip())
        if not entry.id or entry.catalog not in ("starter", "10k") or not entry.reason:
            raise ValueError(f"{path}: every known failure needs an id, a catalog (starter or 10k) and a reason: {raw}")
        entries.append(entry)
    keys = [(e.id, e.catalog) for e in entries]
    if len(keys) != len(set(keys)):
        raise ValueError(f"{path}: a conversation is listed twice for one catalog")
    return entries


def judge(outcomes: list[Outcome], known: list[KnownFailure], catalog: str) -> Verdict:
    listed = {e.id: e for e in known if e.catalog == catalog}
    ran = {o.conversation.id for o in outcomes}
    verdict = Verdict(catalog, [], [], [], [e for e in listed.values() if e.id not in ran])
    for outcome in outcomes:
        entry = listed.get(outcome.conversation.id)
        if outcome.passed:
            if entry is not None:
                verdict.fixed.append(entry)
        elif entry is None or outcome.crashed:
            verdict.unexpected.append(outcome)
        else:
            verdict.excused.append((outcome, entry.reason))
    return verdict


def report(verdict: Verdict) -> str:
    """What a reader of the test log needs: the listed failures with their reasons, and what to change."""
    lines = [f"known failures on the {verdict.catalog} catalog: {len(verdict.excused)}"]
    lines += [f"- {o.conversation.id} ({o.conversation.category}): {reason}" for o, reason in verdict.excused]
    if verdict.fixed:
        lines.append("now passing, delete from known_failures.yaml: " + ", ".join(e.id for e in verdict.fixed))
    if verdict.stale:
        lines.append("listed but not run on this catalog, delete from known_failures.yaml: " + ", ".join(e.id for e in verdict.stale))
    for outcome in verdict.unexpected:
        what = "crashed" if outcome.crashed else "failed"
        lines.append(f"{what} and not excused: {outcome.conversation.id}: " + "; ".join(outcome.failures))
    return "\n".join(lines)

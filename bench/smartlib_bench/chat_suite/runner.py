"""Runs the conversation suite against a ChatAgent (no gRPC: the agent is what is measured)
and reports the pass rate per category, plus per-turn latency.

A conversation passes when every expectation of every turn holds. Conversations marked
`catalog: 10k` need books the starter catalog lacks and are skipped over it; `catalog: starter`
ones rely on the starter's small size (a title that only there is ambiguous).
"""
from __future__ import annotations

import dataclasses
import time
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from smartlib_bench.chat_suite.checks import TurnView, check_turn
from smartlib_server.services.chat.agent import ChatAgent
from smartlib_server.services.chat.session import TurnInput

SUITE_DIR = Path(__file__).resolve().parent
CATEGORIES = ("author", "series", "like_but", "exclusion", "rating", "title", "compare", "disambiguation", "memory", "fallback",
              "genre_mood", "follow_up")


@dataclasses.dataclass(frozen=True)
class Conversation:
    id: str
    category: str
    language: str
    sessions: tuple[tuple[dict[str, Any], ...], ...]  # each session: turns of {say, expect}
    catalog: str = "any"  # "any", "10k" or "starter"
    user: bool = True  # whether the reader has a user_id (memory across sessions)


@dataclasses.dataclass
class Outcome:
    conversation: Conversation
    failures: list[str]
    turn_seconds: list[float]
    crashed: bool = False  # a turn raised: never excused by the known-failures list

    @property
    def passed(self) -> bool:
        return not self.failures


def load(paths: Iterable[Path] | None = None) -> list[Conversation]:
    """Reads conversations from YAML files (the suite's own by default).

    Raises:
        ValueError: a conversation without an id, a known category, a language or turns.
    """
    conversations = []
    for path in paths or sorted(SUITE_DIR.glob("conversations_*.yaml")):
        for raw in yaml.safe_load(Path(path).read_text(encoding="utf-8")) or []:
            sessions = raw.get("sessions") or [raw.get("turns") or []]
            conversation = Conversation(
                id=str(raw.get("id", "")), category=raw.get("category", ""), language=raw.get("language", ""),
                sessions=tuple(tuple(session) for session in sessions),
                catalog=raw.get("catalog", "any"), user=raw.get("user", True),
            )
            if conversation.catalog not in ("any", "10k", "starter"):
                raise ValueError(f"{path}: conversation {conversation.id}: catalog must be any, 10k or starter")
            if not conversation.id or conversation.category not in CATEGORIES or conversation.language not in ("en", "pt"):
                raise ValueError(f"{path}: conversation {conversation.id or '?'} needs an id, a category in {CATEGORIES} and a language")
            if not all(conversation.sessions) or not all("say" in turn for s in conversation.sessions for turn in s):
                raise ValueError(f"{path}: conversation {conversation.id} has a session without turns, or a turn without 'say'")
            conversations.append(conversation)
    ids = [c.id for c in conversations]
    if len(ids) != len(set(ids)):
        raise ValueError("conversation ids must be unique")
    return conversations


def run_conversation(agent: ChatAgent, conversation: Conversation) -> Outcome:
    # Ids derive from the conversation, never a random draw: the agent seeds its wording and
    # "surprise me" picks from the session id and turn seed, so a run is reproducible. Each run
    # uses a fresh agent memory, so fixed ids cannot see an earlier run's turns.
    user = f"suite-{conversation.id}" if conversation.user else ""
    failures: list[str] = []
    seconds: list[float] = []
    for s, session in enumerate(conversation.sessions):
        session_id = f"{conversation.id}-{s}"
        shown: list[str] = []
        for t, turn in enumerate(session):
            started = time.perf_counter()
            try:
                reply = agent.prepare(TurnInput(session_id, turn["say"], user, seed=f"{conversation.id}:{s}:{t}"))
                agent.commit(reply)
            except Exception as exc:  # noqa: BLE001 - a crash fails this conversation, not the run
                failures.append(f"session {s + 1} turn {t + 1} ({turn['say']!r}): raised {type(exc).__name__}: {exc}")
                return Outcome(conversation, failures, seconds, crashed=True)
            seconds.append(time.perf_counter() - started)
            view = TurnView(reply, agent.books, shown)
            for failure in check_turn(view, turn.get("expect") or {}, conversation.language):
                failures.append(f"session {s + 1} turn {t + 1} ({turn['say']!r}): {failure}")
            shown.extend(b.id for b in reply.books)
    return Outcome(conversation, failures, seconds)


def run(agent: ChatAgent, conversations: list[Conversation], catalog: str) -> list[Outcome]:
    """Runs the conversations meant for any catalog and those meant for this one."""
    return [run_conversation(agent, c) for c in conversations if c.catalog in ("any", catalog)]


def table(outcomes: list[Outcome]) -> str:
    """A Markdown table: conversations and pass rate per category, per language and overall."""
    groups: dict[str, list[Outcome]] = defaultdict(list)
    for outcome in outcomes:
        groups[outcome.conversation.category].append(outcome)
    lines = ["| category | conversations | EN | PT | passed | pass rate |", "|---|---:|---:|---:|---:|---:|"]
    for category in [c for c in CATEGORIES if c in groups]:
        items = groups[category]
        lines.append(_row(category, items))
    lines.append(_row("**all**", outcomes))
    return "\n".join(lines)


def _row(name: str, items: list[Outcome]) -> str:
    if not items:
        return f"| {name} | 0 | 0 | 0 | 0 | - |"
    passed = sum(o.passed for o in items)
    en = sum(1 for o in items if o.conversation.language == "en")
    return f"| {name} | {len(items)} | {en} | {len(items) - en} | {passed} | {passed / len(items):.1%} |"


def latency(outcomes: list[Outcome]) -> dict[str, float]:
    """Full-turn p50/p95 in milliseconds over every turn of the run (agent time, no transport)."""
    values = np.asarray([s for o in outcomes for s in o.turn_seconds]) * 1000.0
    if not len(values):
        return {"turns": 0}
    return {"turns": int(len(values)), "p50_ms": round(float(np.percentile(values, 50)), 2),
            "p95_ms": round(float(np.percentile(values, 95)), 2)}


def pass_rate(outcomes: list[Outcome]) -> float:
    return sum(o.passed for o in outcomes) / len(outcomes) if outcomes else 0.0

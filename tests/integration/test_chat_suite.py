"""The conversation suite (services/chat/suite) run against the agent: on the starter catalog in
every test run, and on an ingested 10k catalog when SMARTLIB_CHAT10K_HOME points at one.

The table of pass rates per category is printed (see it with `pytest -s`); the test fails
below 95 %, the bar the suite must clear.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from smartlib_server.adapters.memory.in_process import InProcessConversationMemory
from smartlib_server.app import build_services
from smartlib_server.config import Settings
from smartlib_server.services.chat.agent import ChatAgent
from smartlib_server.services.chat.suite import runner

BAR = 0.95


def _run(services, catalog: str) -> list[runner.Outcome]:
    services.load()
    agent = ChatAgent(services.recommend, InProcessConversationMemory())
    outcomes = runner.run(agent, runner.load(), catalog)
    print(f"\nchat suite over the {catalog} catalog ({len(outcomes)} conversations)\n{runner.table(outcomes)}")
    print(f"turn latency (agent only): {runner.latency(outcomes)}")
    for outcome in outcomes:
        for failure in outcome.failures:
            print(f"- {outcome.conversation.id}: {failure}")
    return outcomes


def test_suite_is_large_bilingual_and_broad():
    conversations = runner.load()
    portuguese = sum(c.language == "pt" for c in conversations)
    assert len(conversations) >= 80
    assert 0.4 <= portuguese / len(conversations) <= 0.6
    assert {c.category for c in conversations} == set(runner.CATEGORIES)
    for category in runner.CATEGORIES:  # every category in both languages, on both catalogs
        assert {c.language for c in conversations if c.category == category and c.catalog == "any"} == {"en", "pt"}


def test_suite_passes_on_the_starter_catalog(starter_settings, inference):
    services = build_services(starter_settings, inference=inference)
    try:
        outcomes = _run(services, "starter")
    finally:
        services.close()
    assert len(outcomes) >= 80
    assert runner.pass_rate(outcomes) >= BAR, [f"{o.conversation.id}: {o.failures}" for o in outcomes if not o.passed]


def test_suite_passes_on_the_10k_catalog(tmp_path, inference):
    home = os.environ.get("SMARTLIB_CHAT10K_HOME", "")
    if not home or not (Path(home) / "catalog.sqlite3").is_file():
        pytest.skip("set SMARTLIB_CHAT10K_HOME to a home where the 10k CSV was ingested (`smartlib ingest`) to run the suite on it")
    shutil.copy(Path(home) / "catalog.sqlite3", tmp_path / "catalog.sqlite3")  # loading may write derived files
    services = build_services(Settings(home=tmp_path), inference=inference)
    try:
        outcomes = _run(services, "10k")
    finally:
        services.close()
    assert runner.pass_rate(outcomes) >= BAR, [f"{o.conversation.id}: {o.failures}" for o in outcomes if not o.passed]

"""The known-failures list: a listed failure is excused with its reason, a crash never is, and a
listed conversation that passes (or no longer runs) turns the run red so the list shrinks."""
from __future__ import annotations

import pytest

from smartlib_bench.chat_suite import known, runner


def outcome(cid: str, failures=(), crashed: bool = False) -> runner.Outcome:
    conversation = runner.Conversation(cid, "author", "en", (({"say": "hi"},),))
    return runner.Outcome(conversation, list(failures), [0.01], crashed)


LISTED = [known.KnownFailure("a1", "10k", "asks which Dune"), known.KnownFailure("s1", "starter", "only on starter")]


def test_a_listed_failure_is_excused_with_its_reason():
    verdict = known.judge([outcome("a1", ["wrong author"]), outcome("b1")], LISTED, "10k")
    assert verdict.green
    assert [(o.conversation.id, reason) for o, reason in verdict.excused] == [("a1", "asks which Dune")]
    assert "a1 (author): asks which Dune" in known.report(verdict)


def test_an_unlisted_failure_or_a_crash_is_not():
    verdict = known.judge([outcome("b1", ["no cards"]), outcome("a1", ["raised KeyError"], crashed=True)], LISTED, "10k")
    assert not verdict.green
    assert [o.conversation.id for o in verdict.unexpected] == ["b1", "a1"]
    assert "crashed and not excused: a1" in known.report(verdict)


def test_an_entry_for_another_catalog_excuses_nothing():
    verdict = known.judge([outcome("s1", ["x"])], LISTED, "10k")
    assert [o.conversation.id for o in verdict.unexpected] == ["s1"]


def test_a_listed_conversation_that_passes_or_is_gone_is_reported():
    verdict = known.judge([outcome("b1")], LISTED, "starter")
    assert not verdict.green
    assert verdict.stale == [LISTED[1]]
    verdict = known.judge([outcome("a1")], LISTED, "10k")
    assert verdict.fixed == [LISTED[0]] and not verdict.green
    assert "now passing, delete from known_failures.yaml: a1" in known.report(verdict)


def test_the_file_needs_a_reason_for_every_entry(tmp_path):
    path = tmp_path / "k.yaml"
    path.write_text("- {id: a1, catalog: 10k, reason: ''}\n")
    with pytest.raises(ValueError, match="reason"):
        known.load(path)
    path.write_text("- {id: a1, catalog: 10k, reason: x}\n- {id: a1, catalog: 10k, reason: y}\n")
    with pytest.raises(ValueError, match="twice"):
        known.load(path)


def test_the_repo_list_names_only_suite_conversations():
    ids = {c.id for c in runner.load()}
    assert {e.id for e in known.load()} <= ids

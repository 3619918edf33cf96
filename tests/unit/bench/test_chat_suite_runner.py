"""The suite runner is reproducible: the ids it gives the agent derive from the conversation,
because the agent seeds its wording and "surprise me" picks from the session id and turn seed."""
from __future__ import annotations

from smartlib_bench.chat_suite import runner
from smartlib_server.services.chat.session import Reply


class RecordingAgent:
    """Answers every turn with nothing and records the turn inputs it was given."""

    books: dict = {}

    def __init__(self):
        self.turns = []

    def prepare(self, turn):
        self.turns.append(turn)
        return Reply("en", "ok", [], turn, "help", {}, {})

    def commit(self, reply):
        pass


def test_two_runs_give_the_agent_the_same_sessions_users_and_seeds():
    conversation = runner.Conversation("c1", "memory", "en", (({"say": "I loved Dune"},), ({"say": "surprise me"},)))
    first, second = RecordingAgent(), RecordingAgent()
    runner.run_conversation(first, conversation)
    runner.run_conversation(second, conversation)
    assert first.turns == second.turns
    assert len({t.session_id for t in first.turns}) == 2  # each session of the conversation is its own
    assert len({t.user_id for t in first.turns}) == 1  # one reader across them

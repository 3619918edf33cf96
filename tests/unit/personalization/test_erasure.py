"""ForgetUser against the replica's own follower thread, which applies logged erasures."""
from __future__ import annotations

import threading

from smartlib_server.adapters.erasure_store import ErasureStore
from smartlib_server.adapters.memory.in_process import InProcessConversationMemory
from smartlib_server.domain.personalization import Interaction, InteractionKind as K
from smartlib_server.services.personalization.cf import CFTrainer
from smartlib_server.services.personalization.erasure import UserEraser

T = 1_780_000_000_000


class FollowerRacingStore(ErasureStore):
    """Runs the replica's follow() from another thread as soon as the erasure is logged,
    the moment the background follower may wake in a server."""

    eraser: UserEraser

    def erase(self, user_id, digest):
        logged = super().erase(user_id, digest)
        self.follower = threading.Thread(target=lambda: setattr(self, "applied", self.eraser.follow()))
        self.follower.start()
        self.follower.join(timeout=0.5)  # a follow() not held back by the eraser finishes here
        return logged


def test_the_follower_never_takes_an_erasure_from_the_call_that_made_it(sqlite_db, interaction_store, experiment_store):
    interaction_store.add([Interaction("ana", f"b-{i}", K.LIKE, 0, T + i) for i in range(6)])
    trainer = CFTrainer(interaction_store)
    trainer.refresh()
    store = FollowerRacingStore(sqlite_db)
    eraser = store.eraser = UserEraser(store, trainer, InProcessConversationMemory())
    report = eraser.forget_user("ana")
    store.follower.join(timeout=10)
    assert report.interactions == 6 and report.cf_preferences == 6
    assert store.applied == 0 and not trainer.knows_user("ana")

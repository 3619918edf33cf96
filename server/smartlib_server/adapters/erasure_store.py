"""The SQL side of ForgetUser: deleting a user's rows and the `erasures` log replicas follow.

The log holds a hash of the user id, never the id.
"""
from __future__ import annotations

import time

from smartlib_server.adapters.sql import SqlDatabase


class ErasureStore:
    """Args:
        db: the catalog database holding interactions and exposures (their tables must exist:
            build this after the interaction and experiment stores).
    """

    def __init__(self, db: SqlDatabase):
        self._db = db
        with db.schema_tx() as cur:
            cur.execute(
                f"""CREATE TABLE IF NOT EXISTS erasures (
                    seq {db.dialect.serial} PRIMARY KEY, user_digest TEXT NOT NULL, ts_ms BIGINT NOT NULL)"""
            )

    def last_seq(self) -> int:
        with self._db.tx() as cur:
            row = cur.one("SELECT MAX(seq) FROM erasures")
        return int(row[0] or 0)

    def erase(self, user_id: str, digest: str) -> tuple[int, int, int]:
        """Deletes the user's interactions and exposures and logs the erasure, in one
        transaction; returns (interactions, exposures, log seq)."""
        with self._db.tx() as cur:
            cur.execute("DELETE FROM interactions WHERE user_id = ?", (user_id,))
            interactions = cur.rowcount
            cur.execute("DELETE FROM exposures WHERE user_id = ?", (user_id,))
            exposures = cur.rowcount
            seq = cur.one("INSERT INTO erasures (user_digest, ts_ms) VALUES (?, ?) RETURNING seq",
                          (digest, int(time.time() * 1000)))[0]
        return interactions, exposures, int(seq)

    def since(self, seq: int) -> list[tuple[int, str]]:
        """(seq, user digest) of every erasure logged after `seq`, oldest first."""
        with self._db.tx() as cur:
            return [(int(s), d) for s, d in cur.all("SELECT seq, user_digest FROM erasures WHERE seq > ? ORDER BY seq", (seq,))]

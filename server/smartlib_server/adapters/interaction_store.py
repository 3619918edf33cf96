"""Durable interaction log in the catalog database (SQLite or PostgreSQL, through SqlDatabase).

The log is append-only; `seq` orders it, so the CF trainer can read just what is new.
"""
from __future__ import annotations

from collections.abc import Sequence

from smartlib_server.adapters.sql import SqlDatabase
from smartlib_server.domain.personalization import Interaction, InteractionKind

_COLUMNS = "user_id, book_id, kind, rating, ts_ms, recommendation_id"


class InteractionStore:
    def __init__(self, db: SqlDatabase):
        self._db = db
        serial = db.dialect.serial
        with db.schema_tx() as cur:
            cur.execute(
                f"""CREATE TABLE IF NOT EXISTS interactions (
                    seq {serial} PRIMARY KEY, user_id TEXT NOT NULL, book_id TEXT NOT NULL,
                    kind TEXT NOT NULL, rating INTEGER NOT NULL, ts_ms BIGINT NOT NULL,
                    recommendation_id TEXT NOT NULL)"""
            )
            cur.execute("CREATE INDEX IF NOT EXISTS interactions_user ON interactions (user_id, ts_ms)")
            cur.execute("CREATE INDEX IF NOT EXISTS interactions_rec ON interactions (recommendation_id)")

    @property
    def commits_in_seq_order(self) -> bool:
        """Whether a row never becomes visible after one with a higher `seq`: true on SQLite (one
        writer, which takes its seq under the write lock); on PostgreSQL a sequence hands out
        numbers before commit, so a slow transaction can appear behind a later one."""
        return self._db.dialect.name == "sqlite"

    def add(self, items: Sequence[Interaction]) -> list[int]:
        """Stores a batch in one transaction: all of it or none of it. Returns each item's `seq`."""
        if not items:
            return []
        seqs = []
        with self._db.tx() as cur:
            for it in items:
                row = cur.one(
                    f"INSERT INTO interactions ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?) RETURNING seq",
                    (it.user_id, it.book_id, it.kind.value, it.rating, it.timestamp_ms, it.recommendation_id),
                )
                seqs.append(int(row[0]))
        return seqs

    def user_history(self, user_id: str, limit: int = 2000) -> list[Interaction]:
        """The user's most recent `limit` interactions, oldest first (by timestamp, then seq)."""
        return [event for _, event in self.user_history_seqs(user_id, limit)]

    def cached(self, user_id: str, limit: int = 2000) -> None:
        """Nothing is kept here (HistoryCache keeps histories): every read goes to the database."""
        return None

    def user_history_seqs(self, user_id: str, limit: int = 2000) -> list[tuple[int, Interaction]]:
        """user_history with each interaction's `seq`."""
        with self._db.tx(write=False) as cur:
            rows = cur.all(
                f"SELECT seq, {_COLUMNS} FROM interactions WHERE user_id = ? ORDER BY ts_ms DESC, seq DESC LIMIT ?",
                (user_id, limit),
            )
        return [(int(r[0]), _row(r[1:])) for r in reversed(rows)]

    def since(self, seq: int, limit: int = 100_000) -> list[tuple[int, Interaction]]:
        """Interactions stored after `seq`, in log order, at most `limit` of them."""
        with self._db.tx() as cur:
            rows = cur.all(
                f"SELECT seq, {_COLUMNS} FROM interactions WHERE seq > ? ORDER BY seq LIMIT ?", (seq, limit)
            )
        return [(int(r[0]), _row(r[1:])) for r in rows]

    def last_seq(self) -> int:
        with self._db.tx() as cur:
            row = cur.one("SELECT MAX(seq) FROM interactions")
        return int(row[0] or 0)

    def count(self) -> int:
        with self._db.tx() as cur:
            return int(cur.one("SELECT COUNT(*) FROM interactions")[0])


_KINDS = {kind.value: kind for kind in InteractionKind}  # a dict lookup: Enum's own call is slower, once a row


def _row(row: Sequence) -> Interaction:
    return Interaction(
        user_id=row[0], book_id=row[1], kind=_KINDS[row[2]], rating=int(row[3]),
        timestamp_ms=int(row[4]), recommendation_id=row[5],
    )

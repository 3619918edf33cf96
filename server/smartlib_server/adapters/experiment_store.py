"""Experiments and exposures in the catalog database, next to the interaction log they join with."""
from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future

from smartlib_core.domain import Approach
from smartlib_core.errors import AlreadyExists, FailedPrecondition, NotFound
from smartlib_server.adapters.group_commit import GroupCommit
from smartlib_server.adapters.interaction_store import InteractionStore
from smartlib_server.adapters.sql import SqlDatabase
from smartlib_server.domain.personalization import Arm, Experiment


@dataclasses.dataclass(frozen=True)
class Exposure:
    recommendation_id: str
    experiment: str  # "" when no experiment was running
    arm: str
    user_id: str
    book_ids: tuple[str, ...]
    timestamp_ms: int


@dataclasses.dataclass(frozen=True)
class LinkedOutcome:
    """An interaction that names a response of this experiment, by the user who got it."""

    arm: str
    recommendation_id: str
    shown: bool  # the book was among the response's items
    kind: str
    rating: int


SYNC_EVERY_S = 1.0  # exposures committed without an fsync since the last durable commit: at most this old


class ExperimentStore:
    """Args:
        db: the catalog database (exposures join its interactions table).
        interactions: the interaction store, created first.
        sync_every_s: exposures commit without waiting for the disk (they are in the database's
            log, so a crash of this process loses none); a batch commits durably when the last
            durable one is older than this, which bounds what a power loss could take.
        clock: monotonic seconds, for that bound (tests pass a fake).
    """

    def __init__(self, db: SqlDatabase, interactions: InteractionStore, sync_every_s: float = SYNC_EVERY_S,
                 clock: Callable[[], float] = time.monotonic):
        self._db = db
        self._interactions = interactions  # results join its table, so it must exist first
        self._exposures: GroupCommit[Exposure] = GroupCommit(self._write_exposures)
        self._sync_every_s = sync_every_s
        self._clock = clock
        self._synced_at = clock()
        with db.schema_tx() as cur:
            cur.execute(
                """CREATE TABLE IF NOT EXISTS experiments (
                    name TEXT PRIMARY KEY, arms TEXT NOT NULL, running INTEGER NOT NULL,
                    created_ms BIGINT NOT NULL, stopped_ms BIGINT)"""
            )
            cur.execute(
                """CREATE TABLE IF NOT EXISTS exposures (
                    recommendation_id TEXT PRIMARY KEY, experiment TEXT NOT NULL, arm TEXT NOT NULL,
                    user_id TEXT NOT NULL, book_ids TEXT NOT NULL, ts_ms BIGINT NOT NULL)"""
            )
            cur.execute("CREATE INDEX IF NOT EXISTS exposures_arm ON exposures (experiment, arm)")

    # -- experiments ---------------------------------------------------------------------
    def create(self, experiment: Experiment) -> Experiment:
        """Stores a new running experiment. Only one runs at a time, so a user sees one arm."""
        with self._db.tx() as cur:
            if cur.one("SELECT 1 FROM experiments WHERE name = ?", (experiment.name,)):
                raise AlreadyExists(f"an experiment named {experiment.name!r} exists; pick another name")
            running = cur.one("SELECT name FROM experiments WHERE running = 1")
            if running:
                raise FailedPrecondition(
                    f"experiment {running[0]!r} is running; stop it first (one experiment at a time)"
                )
            cur.execute(
                "INSERT INTO experiments (name, arms, running, created_ms, stopped_ms) VALUES (?, ?, 1, ?, NULL)",
                (experiment.name, _dump_arms(experiment.arms), experiment.created_at_ms),
            )
        return dataclasses.replace(experiment, running=True, stopped_at_ms=None)

    def stop(self, name: str, now_ms: int) -> Experiment:
        """Stops an experiment; stopping a stopped one changes nothing."""
        with self._db.tx() as cur:
            cur.execute("UPDATE experiments SET running = 0, stopped_ms = ? WHERE name = ? AND running = 1", (now_ms, name))
        return self.get(name)

    def get(self, name: str) -> Experiment:
        with self._db.tx() as cur:
            row = cur.one("SELECT name, arms, running, created_ms, stopped_ms FROM experiments WHERE name = ?", (name,))
        if row is None:
            raise NotFound(f"no experiment named {name!r}; ListExperiments shows the known ones")
        return _experiment(row)

    def list(self) -> list[Experiment]:
        with self._db.tx() as cur:
            rows = cur.all("SELECT name, arms, running, created_ms, stopped_ms FROM experiments ORDER BY created_ms DESC, name")
        return [_experiment(r) for r in rows]

    def running(self) -> Experiment | None:
        with self._db.tx(write=False) as cur:
            row = cur.one("SELECT name, arms, running, created_ms, stopped_ms FROM experiments WHERE running = 1")
        return _experiment(row) if row else None

    # -- exposures and outcomes ----------------------------------------------------------
    def add_exposure(self, exposure: Exposure) -> None:
        """Returns once the exposure is committed; concurrent callers share one commit (group_commit).

        The commit does not wait for the disk unless the last one that did is `sync_every_s` old
        (SqlDatabase.tx, durable=False): a crash of the server loses no exposure whose id was
        handed out, and a power loss at most the last `sync_every_s` of them. None that an
        acknowledged interaction names: the log is flushed in order, so that interaction's
        durable commit carries every exposure before it."""
        self._exposures.submit(exposure)

    def add_exposure_async(self, exposure: Exposure) -> Future:
        """add_exposure for a caller that must not block: the returned future is resolved once
        the exposure is committed, as add_exposure returns (the same batches and durability)."""
        return self._exposures.submit_async(exposure)

    def _write_exposures(self, exposures: Sequence[Exposure]) -> None:
        started = self._clock()
        durable = started - self._synced_at >= self._sync_every_s
        with self._db.tx(durable=durable) as cur:
            for exposure in exposures:
                cur.execute(
                    "INSERT INTO exposures (recommendation_id, experiment, arm, user_id, book_ids, ts_ms) VALUES (?, ?, ?, ?, ?, ?)",
                    (exposure.recommendation_id, exposure.experiment, exposure.arm, exposure.user_id,
                     json.dumps(list(exposure.book_ids)), exposure.timestamp_ms),
                )
        if durable:  # one writer at a time (group_commit), so no lock
            self._synced_at = started

    def exposures(self, recommendation_ids: Sequence[str]) -> dict[str, Exposure]:
        out: dict[str, Exposure] = {}
        wanted = list(dict.fromkeys(recommendation_ids))
        with self._db.tx() as cur:
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                marks = ", ".join("?" * len(chunk))
                for row in cur.all(
                    "SELECT recommendation_id, experiment, arm, user_id, book_ids, ts_ms FROM exposures "
                    f"WHERE recommendation_id IN ({marks})",
                    chunk,
                ):
                    out[row[0]] = Exposure(row[0], row[1], row[2], row[3], tuple(json.loads(row[4])), int(row[5]))
        return out

    def exposure_counts(self, experiment: str) -> dict[str, int]:
        with self._db.tx() as cur:
            rows = cur.all("SELECT arm, COUNT(*) FROM exposures WHERE experiment = ? GROUP BY arm", (experiment,))
        return {arm: int(n) for arm, n in rows}

    def linked_outcomes(self, experiment: str) -> list[LinkedOutcome]:
        """Interactions attributed to the experiment's responses. An interaction by another user
        than the one who got the response is not an outcome of it, so the join requires both."""
        with self._db.tx() as cur:
            rows = cur.all(
                "SELECT e.arm, e.recommendation_id, e.book_ids, i.book_id, i.kind, i.rating FROM exposures e "
                "JOIN interactions i ON i.recommendation_id = e.recommendation_id AND i.user_id = e.user_id "
                "WHERE e.experiment = ? AND i.kind IN ('click', 'like', 'read', 'rate')",
                (experiment,),
            )
        shown_cache: dict[str, set[str]] = {}
        out = []
        for arm, rec_id, book_ids, book_id, kind, rating in rows:
            shown = shown_cache.setdefault(rec_id, set(json.loads(book_ids)))
            out.append(LinkedOutcome(arm, rec_id, book_id in shown, kind, int(rating)))
        return out


def _dump_arms(arms: Sequence[Arm]) -> str:
    return json.dumps([
        {"name": a.name, "weight": a.weight, "approach": a.approach.value if a.approach else None,
         "cf_weight": a.cf_weight, "content_weight": a.content_weight, "ranking": a.ranking}
        for a in arms
    ])


def _experiment(row: Sequence) -> Experiment:
    arms = tuple(
        Arm(a["name"], float(a["weight"]), Approach(a["approach"]) if a["approach"] else None,
            float(a["cf_weight"]), float(a["content_weight"]), a.get("ranking", ""))
        for a in json.loads(row[1])
    )
    return Experiment(row[0], arms, bool(row[2]), int(row[3]), int(row[4]) if row[4] is not None else None)

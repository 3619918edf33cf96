"""A/B experiments over RecommendForUser: arms, deterministic assignment, exposures and results.

Attribution: every RecommendForUser response gets a `recommendation_id` and is stored as an
exposure with the arm that served it. An interaction names that id; it counts as an outcome
of the response only when the same user sent it and the book was among the response's items.
Per arm, each exposure is one Bernoulli trial for "clicked" and one for "liked", so the rates
are proportions and Wilson intervals and a two-proportion z-test apply.
"""
from __future__ import annotations

import hashlib
import logging
import math
import re
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import Future

from smartlib_core.errors import InvalidArgument
from smartlib_server.adapters.experiment_store import ExperimentStore, Exposure, LinkedOutcome
from smartlib_server.domain.personalization import (
    RANKINGS,
    Arm,
    ArmResults,
    Assignment,
    Experiment,
    ExperimentResults,
    Interaction,
    InteractionKind,
)
from smartlib_server.services.personalization.stats import two_proportion_p_value, wilson
from smartlib_server.services.recommend.similar import may_block

log = logging.getLogger(__name__)

_NAME = re.compile(r"^[a-z0-9_-]{1,64}$")
DEFAULT_ARM = Arm("default", 1.0)  # serves everyone while no experiment runs
MAX_ARMS = 10


def assign_arm(user_id: str, experiment: Experiment) -> Arm:
    """The user's arm: a stable hash of (experiment, user) placed on the cumulative weights.

    SHA-256 rather than hash(): Python salts str hashes per process, and replicas must agree.
    Salting with the experiment name reshuffles users between experiments.
    """
    digest = hashlib.sha256(f"{experiment.name}\x1f{user_id}".encode()).digest()
    point = int.from_bytes(digest[:8], "big") / 2**64 * sum(a.weight for a in experiment.arms)
    cumulative = 0.0
    for arm in experiment.arms:
        cumulative += arm.weight
        if point < cumulative:
            return arm
    return experiment.arms[-1]  # float rounding at the very top


def outcome_of(kind: InteractionKind | str, rating: int) -> tuple[bool, bool, bool]:
    """(click, like, read) flags of one interaction. Liking or reading a shown book implies it was
    opened, so both count as a click; a rating of 4 or 5 counts as a like."""
    kind = kind.value if isinstance(kind, InteractionKind) else kind
    like = kind == "like" or (kind == "rate" and rating >= 4)
    read = kind == "read"
    click = kind in ("click", "like", "read", "rate")
    return click, like, read


def validate_experiment(experiment: Experiment, field: str = "experiment") -> None:
    """Raises InvalidArgument listing every problem, each under its field path."""
    problems: dict[str, str] = {}
    if not _NAME.match(experiment.name):
        problems[f"{field}.name"] = "1 to 64 characters of a-z, 0-9, _ and -"
    if not 2 <= len(experiment.arms) <= MAX_ARMS:
        problems[f"{field}.arms"] = f"needs 2 to {MAX_ARMS} arms, got {len(experiment.arms)}"
    seen: set[str] = set()
    for i, arm in enumerate(experiment.arms):
        path = f"{field}.arms[{i}]"
        if not _NAME.match(arm.name):
            problems[f"{path}.name"] = "1 to 64 characters of a-z, 0-9, _ and -"
        elif arm.name in seen:
            problems[f"{path}.name"] = f"duplicate arm name {arm.name!r}"
        seen.add(arm.name)
        if not (math.isfinite(arm.weight) and arm.weight > 0):
            problems[f"{path}.weight"] = "must be a positive number"
        if arm.ranking and arm.ranking not in RANKINGS:
            problems[f"{path}.ranking"] = f"one of {', '.join(RANKINGS)}, or empty for the server's default"
        for name in ("cf_weight", "content_weight"):
            value = getattr(arm, name)
            if not (math.isfinite(value) and 0 <= value <= 1):
                problems[f"{path}.{name}"] = "must be between 0 and 1"
    if problems:
        raise InvalidArgument("invalid experiment: " + "; ".join(f"{k}: {v}" for k, v in problems.items()), problems)


class ExperimentService:
    """Create/stop/list, assignment, exposure logging and per-arm results.

    Args:
        store: durable experiments and exposures.
        metrics: a ServerMetrics (experiment_exposures / experiment_outcomes counters) or None.
        cache_ttl_s: how long the running experiment is reused before re-reading it, so that a
            create or stop on another replica reaches this one within that time.
    """

    def __init__(self, store: ExperimentStore, metrics=None, clock: Callable[[], float] = time.time, cache_ttl_s: float = 2.0):
        self.store = store
        self.metrics = metrics
        self.clock = clock
        self.cache_ttl_s = cache_ttl_s
        self._lock = threading.Lock()
        self._cached: tuple[float, Experiment | None] | None = None

    def _now_ms(self) -> int:
        return int(self.clock() * 1000)

    # -- admin ---------------------------------------------------------------------------
    def create(self, experiment: Experiment) -> Experiment:
        validate_experiment(experiment)
        created = self.store.create(Experiment(experiment.name, experiment.arms, True, self._now_ms()))
        self._forget()
        log.info("experiment %s started with arms %s", created.name, [a.name for a in created.arms])
        return created

    def stop(self, name: str) -> Experiment:
        stopped = self.store.stop(name, self._now_ms())
        self._forget()
        return stopped

    def list(self) -> list[Experiment]:
        return self.store.list()

    def results(self, name: str) -> ExperimentResults:
        experiment = self.store.get(name)
        return compute_results(experiment, self.store.exposure_counts(name), self.store.linked_outcomes(name))

    # -- serving -------------------------------------------------------------------------
    def running(self, wait: bool = True) -> Experiment | None:
        """The running experiment, re-read when the kept one is `cache_ttl_s` old.

        Raises:
            WouldBlock: `wait` is false and it would have to be read from the store."""
        now = time.monotonic()
        with self._lock:
            if self._cached is not None and now - self._cached[0] < self.cache_ttl_s:
                return self._cached[1]
        may_block(wait)
        experiment = self.store.running()
        with self._lock:
            self._cached = (now, experiment)
        return experiment

    def _forget(self) -> None:
        with self._lock:
            self._cached = None

    def assign(self, user_id: str, wait: bool = True) -> Assignment:
        experiment = self.running(wait)
        if experiment is None:
            return Assignment("", DEFAULT_ARM)
        return Assignment(experiment.name, assign_arm(user_id, experiment))

    def record_exposure(self, assignment: Assignment, user_id: str, book_ids: Sequence[str]) -> str:
        """Logs one served response and returns its new recommendation_id."""
        exposure = self._exposure(assignment, user_id, book_ids)
        self.store.add_exposure(exposure)
        self._count(assignment)
        return exposure.recommendation_id

    def submit_exposure(self, assignment: Assignment, user_id: str, book_ids: Sequence[str]) -> tuple[str, Future]:
        """record_exposure without waiting: the new recommendation_id, and a future resolved once
        its exposure is committed (the id must not be handed out before)."""
        exposure = self._exposure(assignment, user_id, book_ids)
        committed = self.store.add_exposure_async(exposure)
        committed.add_done_callback(lambda f: f.exception() is None and self._count(assignment))
        return exposure.recommendation_id, committed

    def _exposure(self, assignment: Assignment, user_id: str, book_ids: Sequence[str]) -> Exposure:
        return Exposure(uuid.uuid4().hex, assignment.experiment, assignment.arm.name, user_id, tuple(book_ids),
                        self._now_ms())

    def _count(self, assignment: Assignment) -> None:
        if self.metrics is not None and assignment.experiment:
            self.metrics.experiment_exposures.labels(experiment=assignment.experiment, arm=assignment.arm.name).inc()

    def on_interactions(self, interactions: list[Interaction]) -> None:
        """Counts linked outcomes into Prometheus (the durable counts come from the store)."""
        if self.metrics is None:
            return
        linked = [i for i in interactions if i.recommendation_id and any(outcome_of(i.kind, i.rating))]
        if not linked:
            return
        exposures = self.store.exposures([i.recommendation_id for i in linked])
        for item in linked:
            exposure = exposures.get(item.recommendation_id)
            if not exposure or not exposure.experiment or exposure.user_id != item.user_id or item.book_id not in exposure.book_ids:
                continue
            for name, hit in zip(("click", "like", "read"), outcome_of(item.kind, item.rating), strict=True):
                if hit:
                    self.metrics.experiment_outcomes.labels(experiment=exposure.experiment, arm=exposure.arm, outcome=name).inc()


def compute_results(
    experiment: Experiment, exposures: dict[str, int], outcomes: Sequence[LinkedOutcome]
) -> ExperimentResults:
    """Per-arm counts of exposures with at least one click / like / read on a shown book."""
    flags: dict[str, dict[str, set[str]]] = {a.name: {"click": set(), "like": set(), "read": set()} for a in experiment.arms}
    for outcome in outcomes:
        arm = flags.get(outcome.arm)
        if arm is None or not outcome.shown:
            continue
        for name, hit in zip(("click", "like", "read"), outcome_of(outcome.kind, outcome.rating), strict=True):
            if hit:
                arm[name].add(outcome.recommendation_id)
    arms = []
    for arm in experiment.arms:
        n = exposures.get(arm.name, 0)
        clicks, likes, reads = (len(flags[arm.name][k]) for k in ("click", "like", "read"))
        arms.append(ArmResults(arm.name, n, clicks, likes, reads, wilson(clicks, n), wilson(likes, n)))
    first, second = arms[0], arms[1]
    return ExperimentResults(
        experiment,
        tuple(arms),
        two_proportion_p_value(first.clicks, first.exposures, second.clicks, second.exposures),
        two_proportion_p_value(first.likes, first.exposures, second.likes, second.exposures),
    )

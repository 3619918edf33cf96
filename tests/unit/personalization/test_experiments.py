"""Experiments: assignment, validation, lifecycle, results on a constructed log, and detection."""
from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from prometheus_client import CollectorRegistry
from scipy import stats as scipy_stats

from smartlib_core.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from smartlib_server.adapters.experiment_store import Exposure
from smartlib_server.domain.personalization import (
    Arm,
    Experiment,
    Interaction,
    InteractionInput,
    InteractionKind as K,
)
from smartlib_server.metrics import ServerMetrics
from smartlib_server.services.personalization.experiments import ExperimentService, assign_arm
from smartlib_server.services.personalization.interactions import InteractionService
from smartlib_server.services.personalization.stats import two_proportion_p_value, wilson

AB = Experiment("blend-vs-content", (Arm("control", 1.0), Arm("content", 1.0, cf_weight=0.0, content_weight=1.0)))


class Clock:
    def __init__(self):
        self.now = 1_780_000_000.0

    def __call__(self) -> float:
        self.now += 1
        return self.now


@pytest.fixture
def service(experiment_store) -> ExperimentService:
    return ExperimentService(experiment_store, clock=Clock(), cache_ttl_s=0)


def test_wilson_matches_the_textbook_values():
    est = wilson(8, 10)
    assert est.rate == 0.8
    assert est.low == pytest.approx(0.4902, abs=1e-4) and est.high == pytest.approx(0.9433, abs=1e-4)
    zero = wilson(0, 50)
    assert zero.low == 0.0 and zero.high == pytest.approx(0.0714, abs=1e-4)
    assert wilson(0, 0) == (wilson(0, 0).__class__(0.0, 0.0, 1.0))


def test_z_test_matches_scipy_normal_tail():
    x1, n1, x2, n2 = 120, 1000, 90, 1000
    pooled = (x1 + x2) / (n1 + n2)
    z = (x1 / n1 - x2 / n2) / np.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    assert two_proportion_p_value(x1, n1, x2, n2) == pytest.approx(2 * scipy_stats.norm.sf(abs(z)), rel=1e-9)
    assert two_proportion_p_value(0, 10, 0, 10) == 1.0
    assert two_proportion_p_value(3, 0, 1, 10) == 1.0


def test_assignment_is_stable_and_independent_of_the_process():
    arms = [assign_arm(f"user-{i}", AB).name for i in range(200)]
    assert arms == [assign_arm(f"user-{i}", AB).name for i in range(200)]
    # SHA-256 based, so these values hold in every process and on every replica.
    assert [assign_arm(u, AB).name for u in ("alice", "bob", "carol", "dave")] == EXPECTED_ALICE_TO_DAVE


# Pinned: a change here would move every live user to another arm mid-experiment.
EXPECTED_ALICE_TO_DAVE = ["control", "content", "control", "content"]


@pytest.mark.parametrize("weights", [(1.0, 1.0), (3.0, 1.0), (1.0, 1.0, 2.0)])
def test_assignment_is_balanced_within_tolerance(weights):
    experiment = Experiment("balance", tuple(Arm(f"a{i}", w) for i, w in enumerate(weights)))
    n = 30_000
    counts = Counter(assign_arm(f"user-{i}", experiment).name for i in range(n))
    for i, w in enumerate(weights):
        expected = w / sum(weights)
        sd = np.sqrt(expected * (1 - expected) / n)
        assert abs(counts[f"a{i}"] / n - expected) < 4 * sd, counts


def test_experiments_reshuffle_users():
    other = Experiment("another-test", AB.arms)
    same = sum(assign_arm(f"u{i}", AB).name == assign_arm(f"u{i}", other).name for i in range(10_000))
    assert 0.47 < same / 10_000 < 0.53  # independent: agreement by chance only


def test_invalid_experiments_name_every_bad_field(service):
    bad = Experiment("Bad Name", (Arm("x", 0.0), Arm("x", 1.0, cf_weight=1.5), Arm("ok", float("nan"), content_weight=-1)))
    with pytest.raises(InvalidArgument) as err:
        service.create(bad)
    assert set(err.value.violations) == {
        "experiment.name", "experiment.arms[0].weight", "experiment.arms[1].name", "experiment.arms[1].cf_weight",
        "experiment.arms[2].weight", "experiment.arms[2].content_weight",
    }
    with pytest.raises(InvalidArgument) as err:
        service.create(Experiment("one-arm", (Arm("solo", 1.0),)))
    assert set(err.value.violations) == {"experiment.arms"}
    with pytest.raises(InvalidArgument) as err:
        service.create(Experiment("rankings", (Arm("a", 1.0, ranking="newest"), Arm("b", 1.0))))
    assert set(err.value.violations) == {"experiment.arms[0].ranking"}


def test_an_arms_ranking_is_stored_with_it(service):
    old_vs_new = Experiment("old-vs-new", (Arm("old", 1.0, ranking="blend"), Arm("new", 1.0, ranking="readers")))
    service.create(old_vs_new)
    assert service.list()[0].arms == old_vs_new.arms
    assert service.assign("alice").arm.ranking in ("blend", "readers")


def test_lifecycle_one_running_at_a_time(service):
    created = service.create(AB)
    assert created.running and created.created_at_ms > 0
    with pytest.raises(AlreadyExists):
        service.create(AB)
    with pytest.raises(FailedPrecondition):
        service.create(Experiment("second", AB.arms))
    assert service.assign("alice").experiment == AB.name
    stopped = service.stop(AB.name)
    assert not stopped.running and stopped.stopped_at_ms >= created.created_at_ms
    assert service.stop(AB.name).stopped_at_ms == stopped.stopped_at_ms  # idempotent
    assert service.assign("alice").experiment == "" and service.assign("alice").arm.name == "default"
    service.create(Experiment("second", AB.arms))
    assert [e.name for e in service.list()] == ["second", AB.name]
    assert service.list()[1].arms == AB.arms
    with pytest.raises(NotFound):
        service.stop("missing")


def test_results_on_a_constructed_log(service, experiment_store, interaction_store):
    service.create(AB)
    log = [
        # (rec id, arm, user, books shown)
        ("r1", "control", "u1", ("b1", "b2")),
        ("r2", "control", "u2", ("b1", "b3")),
        ("r3", "control", "u3", ("b1",)),
        ("r4", "control", "u4", ("b4",)),
        ("r5", "content", "u5", ("b1",)),
        ("r6", "content", "u6", ("b2",)),
    ]
    for rec, arm, user, shown in log:
        experiment_store.add_exposure(Exposure(rec, AB.name, arm, user, shown, 1))
    experiment_store.add_exposure(Exposure("r-other", "", "default", "u1", ("b1",), 1))
    t = 1_780_000_000_000
    interaction_store.add([
        Interaction("u1", "b1", K.CLICK, 0, t, "r1"),
        Interaction("u1", "b2", K.CLICK, 0, t, "r1"),  # a second click on the same response: one success
        Interaction("u1", "b1", K.LIKE, 0, t, "r1"),
        Interaction("u2", "b3", K.READ, 0, t, "r2"),  # a read implies a click
        Interaction("u3", "b9", K.CLICK, 0, t, "r3"),  # a book the response never showed
        Interaction("u9", "b4", K.CLICK, 0, t, "r4"),  # another user's click on u4's response
        Interaction("u5", "b1", K.RATE, 5, t, "r5"),  # 5 stars: a like
        Interaction("u6", "b2", K.RATE, 2, t, "r6"),  # 2 stars: a click, not a like
        Interaction("u6", "b2", K.VIEW, 0, t, "r6"),  # views are not outcomes
        Interaction("u1", "b1", K.CLICK, 0, t, "r-other"),  # outside the experiment
    ])
    results = service.results(AB.name)
    control, content = results.arms
    assert (control.name, control.exposures, control.clicks, control.likes, control.reads) == ("control", 4, 2, 1, 1)
    assert (content.name, content.exposures, content.clicks, content.likes, content.reads) == ("content", 2, 2, 1, 0)
    assert control.ctr == wilson(2, 4) and content.like_rate == wilson(1, 2)
    assert results.ctr_p_value == pytest.approx(two_proportion_p_value(2, 4, 2, 2))
    assert results.like_rate_p_value == pytest.approx(two_proportion_p_value(1, 4, 1, 2))


def _simulate(service, interactions, true_ctr: dict[str, float], users: int, seed: int):
    """Users get a response from their arm and click the first book with the arm's true CTR."""
    rng = np.random.default_rng(seed)
    for i in range(users):
        user = f"sim-{seed}-{i}"
        assignment = service.assign(user)
        rec = service.record_exposure(assignment, user, ["b1", "b2"])
        if rng.random() < true_ctr[assignment.arm.name]:
            batch = [InteractionInput(user, "b1", K.CLICK, recommendation_id=rec)]
            if rng.random() < 0.5:
                batch.append(InteractionInput(user, "b1", K.LIKE, recommendation_id=rec))
            assert interactions.record(batch).accepted == len(batch)


@pytest.fixture
def interactions(interaction_store, service):
    return InteractionService(interaction_store, lambda b: b if b in ("b1", "b2") else None, [service.on_interactions])


def test_a_truly_better_arm_is_detected(service, interactions):
    service.create(AB)
    _simulate(service, interactions, {"control": 0.06, "content": 0.18}, users=1200, seed=1)
    results = service.results(AB.name)
    control, content = results.arms
    assert control.exposures + content.exposures == 1200
    assert results.ctr_p_value < 0.001
    assert content.ctr.low > control.ctr.high  # the intervals separate, in the right direction
    assert control.ctr.low < 0.06 < control.ctr.high and content.ctr.low < 0.18 < content.ctr.high


def test_equal_arms_are_declared_different_about_5_percent_of_the_time():
    """Calibration: over many A/A experiments, p < 0.05 should happen at about the nominal rate."""
    rng = np.random.default_rng(5)
    n, rate, runs = 1000, 0.12, 4000
    clicks = rng.binomial(n, rate, size=(runs, 2))
    false_alarms = np.mean([two_proportion_p_value(a, n, b, n) < 0.05 for a, b in clicks])
    assert 0.035 < false_alarms < 0.065


def test_prometheus_counts_per_arm_with_experiment_and_arm_labels_only(experiment_store, interaction_store):
    metrics = ServerMetrics(CollectorRegistry())
    service = ExperimentService(experiment_store, metrics, cache_ttl_s=0)
    interactions = InteractionService(interaction_store, lambda b: b, [service.on_interactions])
    service.create(AB)
    a = service.assign("alice")
    rec = service.record_exposure(a, "alice", ["b1"])
    interactions.record([
        InteractionInput("alice", "b1", K.LIKE, recommendation_id=rec),
        InteractionInput("mallory", "b1", K.CLICK, recommendation_id=rec),  # not alice's: not counted
    ])
    get = metrics.registry.get_sample_value
    labels = {"experiment": AB.name, "arm": a.arm.name}
    assert get("smartlib_experiment_exposures_total", labels) == 1
    assert get("smartlib_experiment_outcomes_total", {**labels, "outcome": "like"}) == 1
    assert get("smartlib_experiment_outcomes_total", {**labels, "outcome": "click"}) == 1
    for family in metrics.registry.collect():
        if family.name.startswith("smartlib_experiment"):
            for sample in family.samples:
                assert set(sample.labels) <= {"experiment", "arm", "outcome"}

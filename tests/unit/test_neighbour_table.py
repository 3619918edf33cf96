"""The neighbour table must always equal a brute-force top-M, through any sequence of writes."""
from __future__ import annotations

import numpy as np
import pytest

from smartlib_server.services.recommend.neighbour_table import NeighbourTable

DIM = 16


def bias_of(labels: np.ndarray) -> np.ndarray:
    """Each label's bias: any fixed function of the label will do."""
    return (np.asarray(labels) % 97 / 97).astype(np.float32)


def unit(rng: np.random.Generator, count: int) -> np.ndarray:
    vectors = rng.standard_normal((count, DIM)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def assert_exact(table: NeighbourTable, live: dict[int, np.ndarray]) -> None:
    labels = np.array(sorted(live))
    matrix = np.stack([live[label] for label in labels]) if len(labels) else np.empty((0, DIM))
    for row, label in enumerate(labels.tolist()):
        scores = matrix @ matrix[row]
        scores[row] = -np.inf
        want = min(table.depth, len(labels) - 1)
        expected = np.sort(scores)[::-1][:want]
        found = table.lookup(label, want)
        assert found is not None
        got_labels, got_scores, got_bias = found
        np.testing.assert_allclose(got_bias, bias_of(got_labels))  # each neighbour's own bias
        np.testing.assert_allclose(got_scores, expected, rtol=0, atol=1e-5)
        # Labels must be the ones holding those scores (random vectors: no ties).
        np.testing.assert_allclose(matrix[np.searchsorted(labels, got_labels)] @ matrix[row], got_scores, atol=1e-5)
        assert label not in got_labels.tolist()


def test_bulk_load_is_exact() -> None:
    rng = np.random.default_rng(1)
    vectors = unit(rng, 300)
    table = NeighbourTable(DIM, depth=10)
    table.add(np.arange(300), vectors, bias_of(np.arange(300)))
    assert_exact(table, dict(enumerate(vectors)))


@pytest.mark.parametrize("depth", [5, 40])
def test_random_writes_keep_every_row_exact(depth: int) -> None:
    """Small adds (merge path), removals (recompute path), replacements; rows shallower and
    deeper than the catalog (depth 40 starts with every other vector in each row)."""
    rng = np.random.default_rng(depth)
    table = NeighbourTable(DIM, depth=depth)
    live: dict[int, np.ndarray] = {}
    next_label = 0
    start = unit(rng, 30)
    table.add(np.arange(30), start, bias_of(np.arange(30)))
    live.update(enumerate(start))
    next_label = 30
    for _ in range(60):
        action = rng.integers(3)
        if action == 0 or len(live) < 5:
            count = int(rng.integers(1, 4))
            vectors = unit(rng, count)
            labels = np.arange(next_label, next_label + count)
            next_label += count
            table.add(labels, vectors, bias_of(labels))
            live.update(zip(labels.tolist(), vectors, strict=True))
        elif action == 1:
            gone = rng.choice(sorted(live), size=int(rng.integers(1, 3)), replace=False)
            table.remove(gone)
            for label in gone.tolist():
                del live[label]
        else:  # a replaced vector: what VectorIndex does on an update
            old = int(rng.choice(sorted(live)))
            table.remove(np.array([old]))
            del live[old]
            vector = unit(rng, 1)
            table.add(np.array([next_label]), vector, bias_of(np.array([next_label])))
            live[next_label] = vector[0]
            next_label += 1
        assert len(table) == len(live)
        assert_exact(table, live)


def test_lookup_refuses_rows_shallower_than_asked() -> None:
    rng = np.random.default_rng(3)
    table = NeighbourTable(DIM, depth=8)
    table.add(np.arange(50), unit(rng, 50))
    assert table.lookup(7, 8) is not None
    assert table.lookup(7, 9) is None  # the row holds 8 of 49 others
    assert table.lookup(999, 1) is None  # unknown label

    small = NeighbourTable(DIM, depth=8)
    small.add(np.arange(4), unit(rng, 4))
    labels, _, bias = small.lookup(0, 100)  # holds every other vector: any depth can be answered
    assert sorted(labels.tolist()) == [1, 2, 3]
    assert not bias.any()  # added without biases: 0


def test_single_vector_has_no_neighbours() -> None:
    table = NeighbourTable(DIM, depth=4)
    table.add(np.array([5]), unit(np.random.default_rng(0), 1))
    labels, scores, _ = table.lookup(5, 3)
    assert len(labels) == 0 and len(scores) == 0
    table.remove(np.array([5]))
    assert len(table) == 0 and table.lookup(5, 1) is None


def test_stored_rows_restore_an_exact_table_that_stays_exact_under_writes() -> None:
    rng = np.random.default_rng(5)
    vectors = unit(rng, 200)
    built = NeighbourTable(DIM, depth=12)
    built.add(np.arange(200), vectors, bias_of(np.arange(200)))
    rows = built.rows()

    labels = np.arange(1000, 1200)  # another index may give the same vectors other labels
    restored = NeighbourTable(DIM, depth=12)
    restored.add(labels, vectors, bias_of(labels), rows=rows)
    live = dict(zip(labels.tolist(), vectors, strict=True))
    assert_exact(restored, live)
    extra = unit(rng, 5)
    restored.add(np.arange(2000, 2005), extra, bias_of(np.arange(2000, 2005)))  # the merge path
    restored.remove(np.array([1000, 1100]))  # the recompute path
    live.update(zip(range(2000, 2005), extra, strict=True))
    del live[1000], live[1100]
    assert_exact(restored, live)
    with pytest.raises(ValueError):
        restored.rows()  # changed since its one add: positions would no longer mean anything


def test_stored_rows_that_do_not_fit_are_refused() -> None:
    vectors = unit(np.random.default_rng(6), 20)
    built = NeighbourTable(DIM, depth=4)
    built.add(np.arange(20), vectors)
    positions, scores, lengths = built.rows()
    with pytest.raises(ValueError):  # for other vectors than these
        NeighbourTable(DIM, depth=4).add(np.arange(10), vectors[:10], rows=(positions[:10], scores[:10], lengths[:10]))
    with pytest.raises(ValueError):  # another depth
        NeighbourTable(DIM, depth=5).add(np.arange(20), vectors, rows=(positions, scores, lengths))
    filled = NeighbourTable(DIM, depth=4)
    filled.add(np.arange(20), vectors)
    with pytest.raises(ValueError):  # only an empty table is filled from rows
        filled.add(np.arange(20, 40), vectors, rows=(positions, scores, lengths))

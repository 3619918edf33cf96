"""The co-reading blend scored out of fold: no reader's own list reaches the graph it is ranked or tuned with."""
from __future__ import annotations

from types import SimpleNamespace

from smartlib_training.behaviour import BehaviourQuery
from smartlib_training.co_reading_fit import blend_grid, co_reading_of, out_of_fold_co_reading
from smartlib_training.personal_quality import readers

# 20 disjoint lists: query i is book 4i, its list books 4i+1..4i+3, so a list's books are in a
# graph only when that list itself went in.
BOOKS = [SimpleNamespace(id=f"b{i}", series_key="") for i in range(80)]
QUERIES = [BehaviourQuery(4 * i, (4 * i + 1, 4 * i + 2, 4 * i + 3)) for i in range(20)]


class Recorder:
    """Stands in for FoldRows: records the graph each reader is ranked with."""

    def __init__(self, log: list, role: tuple):
        self.log, self.role = log, role

    def rank(self, reader, series_of, row_of, weights, co_reading=None):
        self.log.append((self.role, reader.query, co_reading))
        return []


class Nested:
    folds = 5

    def __init__(self):
        self.fold_of = {i: i % 5 for i in range(len(QUERIES))}
        self.log: list = []

    def test(self, f):
        return Recorder(self.log, ("test", f))

    def train(self, f, g):
        return Recorder(self.log, ("train", f, g))


def test_the_graph_holds_each_list_as_one_reader():
    graph = co_reading_of(BOOKS, QUERIES[:2], provenance="two lists")
    assert graph.lists == 2 and len(graph) == 8
    ids, shares = graph.rows["b0"]
    assert set(ids) == {"b1", "b2", "b3"} and abs(sum(shares) - 1.0) < 1e-9
    assert "b4" not in ids  # another list's books are not co-read with it


def test_no_reader_is_ranked_or_tuned_with_a_graph_that_holds_its_own_list():
    nested = Nested()
    rank, chosen = out_of_fold_co_reading(BOOKS, QUERIES, nested)
    assert len(chosen) == 5 and all(w in blend_grid() for w in chosen)
    for reader in readers(QUERIES, 2):
        rank(reader)
    tuned = [entry for entry in nested.log if entry[0][0] == "train"]
    tested = [entry for entry in nested.log if entry[0][0] == "test"]
    assert len(tested) == 20 and tuned
    for role, query, graph in nested.log:
        assert BOOKS[QUERIES[query].query].id not in graph.rows, (role, query)
        held = {role[1]} if role[0] == "test" else {role[1], role[2]}
        # Every list outside the held folds is there: the graph is all the evidence it may have.
        assert graph.lists == sum(1 for i in range(20) if nested.fold_of[i] not in held)
    assert all(role[1] != nested.fold_of[query] for role, query, _ in tuned)  # tuning never sees the test fold

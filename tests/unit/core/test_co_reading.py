"""The co-reading graph of readers' lists: rows as shares, a user's mix of them, and its file."""
from __future__ import annotations

import json

import pytest

from smartlib_core.co_reading import CO_READING_FILE, CoReading, load_co_reading

LISTS = [["dune", "hyperion", "foundation"], ["dune", "hyperion"], ["emma", "persuasion", "emma"]]


def test_each_list_is_one_reader_and_rows_are_shares_of_the_books_co_read():
    graph = CoReading.from_lists(LISTS, "three lists")
    assert graph.lists == 3 and len(graph) == 5
    ids, shares = graph.rows["dune"]
    assert ids == ("hyperion", "foundation") and shares == pytest.approx((2 / 3, 1 / 3))
    assert graph.rows["emma"] == (("persuasion",), (1.0,))  # a repeat within a list counts once


def test_evidence_mixes_the_known_liked_books_by_weight():
    graph = CoReading.from_lists(LISTS)
    scores, sources, known = graph.evidence({"dune": 1.0, "emma": 3.0, "unknown": 5.0})
    assert known == 2
    assert scores["persuasion"] == pytest.approx(0.75)
    assert scores["hyperion"] == pytest.approx(0.25 * 2 / 3)
    assert sources == {"persuasion": "emma", "hyperion": "dune", "foundation": "dune"}
    assert graph.evidence({"unknown": 1.0}) == ({}, {}, 0)


def test_the_file_round_trips_and_a_broken_one_is_refused(tmp_path):
    assert load_co_reading(tmp_path) is None  # a version trained without lists
    graph = CoReading.from_lists(LISTS, "three lists")
    graph.save(tmp_path)
    again = load_co_reading(tmp_path)
    assert again.rows.keys() == graph.rows.keys() and again.lists == 3 and again.provenance == "three lists"
    assert again.rows["dune"][1] == pytest.approx(graph.rows["dune"][1])
    data = json.loads((tmp_path / CO_READING_FILE).read_text())
    data["rows"]["dune"][1].pop()
    (tmp_path / CO_READING_FILE).write_text(json.dumps(data))
    with pytest.raises(ValueError, match="dune"):
        load_co_reading(tmp_path)
    (tmp_path / CO_READING_FILE).write_text(json.dumps({"format": 99}))
    with pytest.raises(ValueError, match="format"):
        load_co_reading(tmp_path)

import json

import numpy as np
import pytest

from smartlib_core import torchserve_payload as wire


def test_text_requests_round_trip():
    records = [["Dune", "Frank Herbert", "", "Science Fiction", "", "", "Dune by Frank Herbert"]]
    assert wire.parse_text_request(wire.books_request(records)) == ("books", records)
    assert wire.parse_text_request(wire.queries_request(["é sci-fi"])) == ("queries", ["é sci-fi"])


@pytest.mark.parametrize(
    "payload",
    [
        b"\x80not utf-8",
        b"[1, 2]",
        json.dumps({"queries": []}).encode(),
        json.dumps({"queries": ["a"], "books": []}).encode(),
        json.dumps({"queries": [1]}).encode(),
        json.dumps({"books": [["only", "three", "fields"]]}).encode(),
        json.dumps({"books": ["not a list"]}).encode(),
        json.dumps({"queries": ["x" * (wire.MAX_TEXT_CHARS + 1)]}).encode(),
        json.dumps({"queries": ["x"] * (wire.MAX_ROWS + 1)}).encode(),
        json.dumps({"pickle": ["x"]}).encode(),
    ],
)
def test_malformed_text_requests_are_refused(payload):
    with pytest.raises(wire.WireError):
        wire.parse_text_request(payload)


def test_vectors_round_trip_little_endian():
    matrix = np.arange(6, dtype=np.float32).reshape(2, 3)
    raw = wire.vectors_to_bytes(matrix)
    assert raw == matrix.astype("<f4").tobytes()
    back = wire.vectors_from_bytes(raw, 3)
    np.testing.assert_array_equal(back, matrix)
    back[0, 0] = 9  # a writable copy, not a view of the request bytes


@pytest.mark.parametrize(
    "payload",
    [b"", b"\x00" * 11, np.array([np.nan, 0, 0], "<f4").tobytes(), np.zeros((5, 3), "<f4").tobytes()],
)
def test_bad_vector_payloads_are_refused(payload):
    with pytest.raises(wire.WireError):
        wire.vectors_from_bytes(payload, 3, max_rows=4)


def test_response_round_trip_and_errors():
    matrix = np.random.default_rng(0).standard_normal((4, 5)).astype(np.float32)
    np.testing.assert_array_equal(wire.parse_response(wire.vectors_response(matrix), 5), matrix)
    with pytest.raises(wire.RemoteError, match="bad input"):
        wire.parse_response(wire.error_response("bad input"), 5)
    with pytest.raises(wire.WireError):
        wire.parse_response(wire.vectors_response(matrix), 6)  # wrong dimension
    with pytest.raises(wire.WireError):
        wire.parse_response(wire.vectors_response(matrix)[:-4], 5)  # truncated
    with pytest.raises(wire.WireError):
        wire.parse_response(matrix.tobytes(), 5)  # untagged bytes

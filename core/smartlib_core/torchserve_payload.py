"""The bytes exchanged between the server and the TorchServe handlers.

Requests are JSON (text) or raw little-endian float32 (vectors). Responses carry a 4-byte tag:
VECTORS_TAG + uint32 rows + uint32 dim + float32 data, or ERROR_TAG + a UTF-8 message. The tag
is needed because TorchServe's gRPC API answers OK even when a handler sets a 400 status for one
request of a batch. Nothing is ever pickled, so a hostile payload can at worst be rejected.
Imported by both sides; it must not import TorchServe or torch.
"""
from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np

EMBEDDER_MODEL = "smartlib_embedder"
ENCODER_MODEL = "smartlib_encoder"
INPUT_KEY = "data"  # the key of PredictionsRequest.input the handlers read
FLOAT = np.dtype("<f4")
VECTORS_TAG = b"SLv1"
ERROR_TAG = b"SLe1"
_HEADER = np.dtype("<u4")
FIELDS_PER_BOOK = 7

# Per-request caps: far above what the server sends in one call, low enough that a single
# request cannot hold a worker for minutes.
MAX_ROWS = 1024
MAX_TEXT_CHARS = 100_000


class WireError(ValueError):
    """Bytes that do not follow this format; in a handler, the message goes back as the error."""


def books_request(records: Sequence[Sequence[str]]) -> bytes:
    return json.dumps({"books": [list(r) for r in records]}, ensure_ascii=False).encode()


def queries_request(texts: Sequence[str]) -> bytes:
    return json.dumps({"queries": list(texts)}, ensure_ascii=False).encode()


def parse_text_request(payload: bytes | bytearray) -> tuple[str, list]:
    """-> ("books", [[7 str], ...]) or ("queries", [str, ...]).

    Raises:
        WireError: not UTF-8 JSON of one of the two shapes, or over the caps.
    """
    try:
        body = json.loads(bytes(payload).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise WireError(f"request is not UTF-8 JSON: {exc}") from None
    if not isinstance(body, dict) or len(body) != 1 or next(iter(body)) not in ("books", "queries"):
        raise WireError('request must be {"books": [[7 strings], ...]} or {"queries": [strings]}')
    kind, rows = next(iter(body.items()))
    if not isinstance(rows, list) or not rows or len(rows) > MAX_ROWS:
        raise WireError(f"{kind} must be a list of 1..{MAX_ROWS} items")
    texts = [text for row in rows for text in (row if kind == "books" and isinstance(row, list) else [row])]
    if kind == "books" and not all(isinstance(row, list) and len(row) == FIELDS_PER_BOOK for row in rows):
        raise WireError(f"each book must be a list of {FIELDS_PER_BOOK} field strings")
    if not all(isinstance(t, str) and len(t) <= MAX_TEXT_CHARS for t in texts):
        raise WireError(f"every text must be a string of at most {MAX_TEXT_CHARS} characters")
    return kind, rows


def vectors_to_bytes(matrix: np.ndarray) -> bytes:
    """Raw float32 rows, the request format of the encoder."""
    return np.ascontiguousarray(matrix, dtype=FLOAT).tobytes()


def vectors_response(matrix: np.ndarray) -> bytes:
    rows, dim = matrix.shape
    return VECTORS_TAG + np.array([rows, dim], dtype=_HEADER).tobytes() + vectors_to_bytes(matrix)


def error_response(message: str) -> bytes:
    return ERROR_TAG + message.encode("utf-8", errors="replace")


class RemoteError(Exception):
    """The handler refused the request; the message is the handler's reason."""


def parse_response(payload: bytes, dim: int) -> np.ndarray:
    """A handler response -> (n, dim) float32.

    Raises:
        RemoteError: the handler answered with an error.
        WireError: the bytes are not a well-formed response of that dimension.
    """
    tag = payload[:4]
    if tag == ERROR_TAG:
        raise RemoteError(payload[4:].decode("utf-8", errors="replace"))
    if tag != VECTORS_TAG or len(payload) < 12:
        raise WireError("response is not a Smart Library vectors response")
    rows, got_dim = np.frombuffer(payload[4:12], dtype=_HEADER)
    if got_dim != dim or len(payload) != 12 + int(rows) * dim * FLOAT.itemsize:
        raise WireError(f"response holds {rows}x{got_dim} vectors in {len(payload)} bytes; expected dim {dim}")
    return np.frombuffer(payload, dtype=FLOAT, offset=12).reshape(int(rows), dim).astype(np.float32)


def vectors_from_bytes(payload: bytes | bytearray, dim: int, max_rows: int | None = MAX_ROWS) -> np.ndarray:
    """Raw float32 bytes -> (n, dim) float32 array (a copy, so it is writable).

    Raises:
        WireError: the length is not a whole number of rows, or is over max_rows.
    """
    row_bytes = dim * FLOAT.itemsize
    if not payload or len(payload) % row_bytes:
        raise WireError(f"expected a whole number of {dim}-d float32 rows, got {len(payload)} bytes")
    rows = len(payload) // row_bytes
    if max_rows is not None and rows > max_rows:
        raise WireError(f"at most {max_rows} rows per request, got {rows}")
    matrix = np.frombuffer(bytes(payload), dtype=FLOAT).reshape(rows, dim).astype(np.float32)
    if not np.isfinite(matrix).all():
        raise WireError("vectors must be finite")
    return matrix

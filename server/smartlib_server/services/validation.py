"""Request checks shared by services: each failure names the field the caller must fix."""
from __future__ import annotations

from smartlib_core.errors import InvalidArgument


def require_k(k: int, max_k: int, field: str = "k") -> int:
    if not 1 <= k <= max_k:
        raise InvalidArgument.field(field, f"must be between 1 and {max_k}, got {k}")
    return k


def require_text(text: str, field: str, max_chars: int) -> str:
    stripped = text.strip()
    if not stripped:
        raise InvalidArgument.field(field, "must not be empty")
    if len(text) > max_chars:
        raise InvalidArgument.field(field, f"must be at most {max_chars} characters, got {len(text)}")
    if "\x00" in text:
        raise InvalidArgument.field(field, "must not contain NUL characters")
    return stripped


def require_id(book_id: str, field: str) -> str:
    if not book_id.strip():
        raise InvalidArgument.field(field, "must not be empty")
    if len(book_id) > 128:
        raise InvalidArgument.field(field, "must be at most 128 characters")
    return book_id.strip()

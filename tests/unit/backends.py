"""Unit fixtures that run the same tests on SQLite and the real PostgreSQL."""
from __future__ import annotations

import pytest

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def on_backend(request, tmp_path, sqlite_open, postgres_open):
    """What `sqlite_open(path)` or `postgres_open(url)` gives for a fixture parametrised by BACKENDS."""
    if request.param == "sqlite":
        return sqlite_open(tmp_path / "catalog.sqlite3")
    return postgres_open(request.getfixturevalue("postgres_url"))

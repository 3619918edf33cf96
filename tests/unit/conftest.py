"""Fixtures shared by the unit tests of more than one package."""
from __future__ import annotations

import pytest

from smartlib_server.adapters.sql import postgres_database, sqlite_database


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_db(request, tmp_path):
    """The same tests on both backends: SQLite and the real PostgreSQL."""
    if request.param == "sqlite":
        db = sqlite_database(tmp_path / "catalog.sqlite3")
    else:
        db = postgres_database(request.getfixturevalue("postgres_url"))
    yield db
    db.close()

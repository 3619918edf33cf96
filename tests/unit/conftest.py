"""Fixtures shared by the unit tests of more than one package."""
from __future__ import annotations

import pytest

from smartlib_server.adapters.sql import postgres_database, sqlite_database
from tests.unit.backends import BACKENDS, on_backend


@pytest.fixture(params=BACKENDS)
def any_db(request, tmp_path):
    """The same tests on both backends: SQLite and the real PostgreSQL."""
    db = on_backend(request, tmp_path, sqlite_database, postgres_database)
    yield db
    db.close()

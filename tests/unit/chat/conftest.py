"""Fixtures shared by the chat unit tests."""
from __future__ import annotations

import pytest

from smartlib_core.embedding import DIM
from smartlib_server.app import starter_catalog_path
from smartlib_server.services.chat import link_tables
from smartlib_server.services.chat.resolver import TitleResolver
from smartlib_server.services.ingest import load_file
from smartlib_server.services.recommend.serving_index import ServingIndex, ServingState
from smartlib_server.services.recommend.vector_index import VectorIndex
from smartlib_server.services.title_search import TitleIndex


@pytest.fixture
def resolver_over():
    """Builds a TitleResolver over a small catalog held in a real ServingIndex."""
    def build(books) -> TitleResolver:
        index = ServingIndex(store=None, titles=TitleIndex())
        index.state = ServingState({b.id: b for b in books}, VectorIndex(DIM), None)
        index.lexical.upsert(books)
        return TitleResolver(index)
    return build


@pytest.fixture(scope="session")
def catalog():
    """The starter catalog's books and the linker's tables over them (a module may define its own)."""
    books = {b.id: b for _, b in load_file(starter_catalog_path())[0]}
    return link_tables.build((1, 1, len(books)), books), books

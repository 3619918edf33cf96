"""The pieces of SearchByText that the event loop runs (`wait=False`) never wait: where they would
(a writer on the text view, this version's shelves not built, inference that computes instead
of queueing) they say so, and a worker does the step instead. With `wait=True` they answer as
before."""
from __future__ import annotations

import threading
import types

import numpy as np
import pytest

from smartlib_core.domain import Book, BookFilter
from smartlib_core.lexical import LexicalIndex
from smartlib_server.adapters.batched_inference import BatchedInference
from smartlib_server.adapters.inference import PendingRows
from smartlib_server.services.recommend import RecommendService, WouldBlock
from smartlib_server.services.recommend.vector_index import VectorIndex
from smartlib_server.services.text_search import TextSearch

BOOKS = {b.id: b for b in [
    Book("a", "The Salt Island", ("Ann Author",), description="An island keeps its secrets.", genres=("Fantasy",)),
    Book("b", "Stars Apart", ("Bo Writer",), description="Two ships drift between the stars.", genres=("Science Fiction",)),
]}


@pytest.fixture
def view() -> VectorIndex:
    index = VectorIndex(2)
    index.upsert(["a", "b"], np.array([[1.0, 0.0], [0.0, 1.0]], dtype=np.float32))
    return index


def _writer_waiting(index: VectorIndex):
    """A reader holds the view and a writer waits behind it: new readers would wait too.
    Returns the release of the reader (the writer then runs and ends)."""
    reading = index._lock.read()
    reading.__enter__()
    writer = threading.Thread(target=lambda: index.upsert(["c"], np.array([[0.6, 0.8]], dtype=np.float32)))
    writer.start()
    while not index._lock._writers_waiting:
        threading.Event().wait(0.001)

    def release():
        reading.__exit__(None, None, None)
        writer.join()
    return release


def _at_once(fn):
    """fn() run in a thread that must end within 2 s (a wait would hang the test instead)."""
    out = []
    thread = threading.Thread(target=lambda: out.append(fn()), daemon=True)
    thread.start()
    thread.join(2.0)
    assert out, "it waited"
    return out[0]


def test_the_view_answers_without_waiting_unless_a_writer_is_due(view):
    query = np.array([1.0, 0.0], dtype=np.float32)
    assert view.search(query, 1, wait=False)[0][0][0] == "a"
    assert view.vectors(["b"], wait=False).tolist() == [[0.0, 1.0]]
    release = _writer_waiting(view)
    try:
        assert _at_once(lambda: view.search(query, 1, wait=False)) is None
        assert _at_once(lambda: view.vectors(["b"], wait=False)) is None
    finally:
        release()
    assert view.search(query, 3, wait=False)[0][0][0] == "a"  # the write is done: "c" is in
    assert len(view.search(query, 3)[0]) == 3


def test_ranking_on_the_loop_passes_where_it_would_wait(view, monkeypatch):
    monkeypatch.setattr("smartlib_server.services.text_search.text_view", lambda v: np.array([[1.0, 0.0]], np.float32))
    text, lexical = TextSearch(), LexicalIndex()
    lexical.upsert(BOOKS.values())
    vector = np.zeros(2688, dtype=np.float32)
    with pytest.raises(WouldBlock):  # this version's shelves are not built yet: building them is a worker's job
        text.words(BOOKS, 1, "an island with secrets", BookFilter(), lexical, wait=False)
    words = text.words(BOOKS, 1, "an island with secrets", BookFilter(), lexical)  # builds them
    assert text.words(BOOKS, 1, "an island with secrets", BookFilter(), lexical, wait=False) == words
    hits = text.rank(BOOKS, 1, view, "an island with secrets", vector, 1, BookFilter(), words, wait=False)
    assert [hit.id for hit in hits] == ["a"]
    release = _writer_waiting(view)
    try:
        with pytest.raises(WouldBlock):
            text.rank(BOOKS, 1, view, "an island with secrets", vector, 1, BookFilter(), words, wait=False)
    finally:
        release()


class Rows:
    """Inference that computes a query's rows at once (no batcher in front)."""

    backend, fallback, queues_queries = "local", None, False

    def __init__(self):
        self.started = 0

    def start_queries(self, texts):
        self.started += 1
        return PendingRows(np.ones((len(texts), 2688), dtype=np.float32))

    def embed_queries(self, texts):
        return self.start_queries(texts).result()

    def embed_books(self, records):
        raise AssertionError("no books here")

    def encode(self, vectors):
        raise AssertionError("no encoder here")

    def close(self):
        pass


def _service(inference) -> RecommendService:
    index = types.SimpleNamespace(version=1, state=types.SimpleNamespace(finetuned=None, books=BOOKS),
                                  ready=threading.Event())
    index.ready.set()
    return RecommendService(index, inference)


def test_only_inference_that_queues_is_started_from_the_loop():
    computing = Rows()
    service = _service(computing)
    with pytest.raises(WouldBlock):
        service.start_search("an island", 1, None, BookFilter(), wait=False)
    assert computing.started == 0  # refused before computing anything on the loop
    assert service.start_search("an island", 1, None, BookFilter()).pending.future is None  # a worker may
    assert computing.started == 1

    batched = BatchedInference(Rows(), max_wait_s=0.0, cache_bytes=0)
    try:
        ask = _service(batched).start_search("an island", 1, None, BookFilter(), wait=False)
        assert ask.pending.future.result(timeout=5).shape == (1, 2688)  # done once its batch has run
        assert ask.pending.result().shape == (1, 2688)
    finally:
        batched.close()


def test_a_query_found_in_the_query_cache_has_nothing_to_await():
    batched = BatchedInference(Rows(), max_wait_s=0.0)
    try:
        batched.start_queries(["an island"]).result()
        again = batched.start_queries(["an island"])
        assert again.future is None and again.result().shape == (1, 2688)
    finally:
        batched.close()

"""An LRU of query embeddings bounded in bytes, so chat follow-ups and repeated searches skip the model.

Keys are the normalised text and the embedder's version: two spellings the tokenizer cannot
tell apart (case, spacing, Unicode forms; all-MiniLM-L6-v2 is uncased) share one entry, and a
new embedder never reads an old one's vectors.
"""
from __future__ import annotations

import threading
import unicodedata
from collections import OrderedDict

import numpy as np


def normalise_query(text: str) -> str:
    """What the uncased MiniLM tokenizer sees alike: NFC, lower case, single spaces, no ends."""
    return " ".join(unicodedata.normalize("NFC", text).lower().split())


class QueryEmbeddingCache:
    """Query vectors by (embedder version, normalised text), least recently used out first.

    Args:
        max_bytes: the vectors' bytes at most (keys are small beside 2688 float32s); 0 disables.
        version: the embedder version in every key.
    """

    def __init__(self, max_bytes: int, version: str) -> None:
        self.max_bytes, self.version = max_bytes, version
        self._entries: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    @property
    def nbytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._entries)

    def key(self, text: str) -> tuple[str, str]:
        return self.version, normalise_query(text)

    def get(self, key: tuple[str, str]) -> np.ndarray | None:
        with self._lock:
            vector = self._entries.get(key)
            if vector is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return vector

    def put(self, key: tuple[str, str], vector: np.ndarray) -> None:
        vector = np.array(vector, dtype=np.float32)  # a private copy: callers may write to theirs
        vector.setflags(write=False)
        if vector.nbytes > self.max_bytes:
            return
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= old.nbytes
            self._entries[key] = vector
            self._bytes += vector.nbytes
            while self._bytes > self.max_bytes:
                _, dropped = self._entries.popitem(last=False)
                self._bytes -= dropped.nbytes

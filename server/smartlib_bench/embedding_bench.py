"""Embedding throughput: our batched, de-duplicated, length-sorted path against the naive one."""
from __future__ import annotations

import time

import numpy as np

from smartlib_server.domain import Book
from smartlib_server.embedding import BLOCK_DIM, BLOCKS, MiniLMTextEncoder, assemble, book_fields


def naive_vectors(books: list[Book], encoder: MiniLMTextEncoder) -> np.ndarray:
    """The naive baseline: each field of each book encoded on its own pass, batch 32, no reuse."""
    model = encoder._load()
    out = np.zeros((len(books), BLOCK_DIM * len(BLOCKS)), dtype=np.float32)
    records = [book_fields(b) for b in books]
    for block in range(len(BLOCKS)):
        texts = [r[block] for r in records]
        vectors = model.encode(texts, batch_size=32, normalize_embeddings=True, show_progress_bar=False)
        for row, text in enumerate(texts):
            if text:
                out[row, block * BLOCK_DIM : (block + 1) * BLOCK_DIM] = vectors[row]
    return out


def block_cosines(fast: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Cosine per non-empty 384-d block between two vector sets."""
    a = fast.reshape(len(fast), len(BLOCKS), BLOCK_DIM)
    b = reference.reshape(len(reference), len(BLOCKS), BLOCK_DIM)
    na, nb = np.linalg.norm(a, axis=2), np.linalg.norm(b, axis=2)
    present = (na > 0) & (nb > 0)
    return ((a * b).sum(axis=2)[present] / (na[present] * nb[present]))


def run(books: list[Book]) -> dict:
    fp32 = MiniLMTextEncoder(batch_size=32)
    fp32._load()
    start = time.perf_counter()
    reference = naive_vectors(books, fp32)
    naive_s = time.perf_counter() - start
    results = {"books": len(books), "naive_books_per_s": len(books) / naive_s}
    for name, encoder in (("fp32", fp32), ("bf16", MiniLMTextEncoder(batch_size=32, bf16=True))):
        records = [book_fields(b) for b in books]
        start = time.perf_counter()
        fast = assemble(records, encoder)
        seconds = time.perf_counter() - start
        cos = block_cosines(fast, reference)
        results[name] = {
            "books_per_s": len(books) / seconds,
            "speedup_vs_naive": naive_s / seconds,
            "cosine_mean": float(cos.mean()),
            "cosine_min": float(cos.min()),
        }
    return results

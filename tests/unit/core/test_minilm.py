"""smartlib_core.minilm, the plain-torch all-MiniLM-L6-v2 the server runs, gives
sentence-transformers' vectors: in fp32, under bf16 autocast (the books' path) and with bf16
weights (the queries' path), on English and Portuguese texts from one word to far past the
256-token cut, alone or in padded batches."""
from __future__ import annotations

import copy
import random
import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from smartlib_core.embedding import MiniLMTextEncoder, model_path
from smartlib_core.minilm import MAX_TOKENS, MiniLM

ENGLISH = ("the old lighthouse keeper wrote letters to a daughter he had never met while storms broke over "
           "the northern coast and the village slowly forgot his name until a stranger arrived with a map").split()
PORTUGUESE = ("a velha senhora guardava as cartas de amor numa caixa de madeira junto à janela onde o sol da "
              "manhã entrava devagar e as crianças da aldeia contavam histórias de pescadores perdidos no "
              "mar ação coração não são também português saudade").split()
NAMES = ["Dune", "Jane Austen", "José Saramago", "Ensaio sobre a Cegueira", "Harry Potter, #1",
         "Ünïcode tïtle — with accents", "Fantasy, Magic, Dragons", "Romance, Ficção, Clássicos"]


def mixed_texts(count: int = 300, seed: int = 25) -> list[str]:
    """Made-up titles, genre lists and descriptions; about one in seven is cut at 256 tokens."""
    rng = random.Random(seed)
    texts = list(NAMES) + ["  padded with spaces  ", "x", "!!!", "1984"]
    while len(texts) < count:
        words = rng.choice((ENGLISH, PORTUGUESE))
        length = rng.choices((rng.randint(1, 6), rng.randint(10, 120), rng.randint(240, 400)), (6, 7, 2))[0]
        text = " ".join(rng.choice(words) for _ in range(length))
        texts.append(text.capitalize() + rng.choice((".", "!", "?", "", " — fim.")))
    return texts


TEXTS = mixed_texts()


@pytest.fixture(scope="module")
def ours() -> MiniLM:
    return MiniLM.load(model_path())


def on(model: MiniLM, **options) -> MiniLMTextEncoder:
    encoder = MiniLMTextEncoder(**options)
    encoder._model = model  # the module's loaded copy
    return encoder


def reference_vectors(model, texts, bf16_autocast=False) -> np.ndarray:
    """sentence-transformers' forward pass, normalised in float32 as the server's encoder does."""
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16_autocast):
        pooled = model(model.tokenize(list(texts), max_length=model.max_seq_length))["sentence_embedding"]
        return F.normalize(pooled.float(), dim=1).numpy()


def test_tokens_and_the_cut_are_the_reference_tokenizers(ours, reference_minilm):
    assert MAX_TOKENS == reference_minilm.max_seq_length
    features = reference_minilm.tokenize(TEXTS, max_length=reference_minilm.max_seq_length)
    expected = [row[mask.bool()].tolist() for row, mask in zip(features["input_ids"], features["attention_mask"], strict=True)]
    ids = ours.tokenizer.ids(TEXTS)
    assert ids == expected
    assert sum(len(row) == MAX_TOKENS for row in ids) >= 30  # the cut is exercised, not only short texts
    cut = ours.tokenizer.ids([TEXTS[-1]], limit=16)[0]
    assert len(cut) == 16 and cut[0] == 101 and cut[-1] == 102  # [CLS] ... [SEP] within the limit


def test_fp32_vectors_match_sentence_transformers(reference_minilm):
    encoder = MiniLMTextEncoder(batch_size=16)
    vectors = encoder(TEXTS)
    reference = reference_minilm.encode(TEXTS, batch_size=32, normalize_embeddings=True, convert_to_numpy=True)
    assert vectors.shape == (len(TEXTS), 384) and vectors.dtype == np.float32
    assert np.abs(vectors - reference).max() <= 1e-5


def test_bf16_autocast_and_bf16_weights_match_the_reference_bit_for_bit(ours, reference_minilm):
    # The same torch operations in the same order: bf16 rounds the same way on both sides.
    # Short names, mid-length texts and the two longest (cut at 256 tokens) in one padded batch:
    # the cases of the 48 texts it once took, at a third of the tokens (bf16 is emulated on
    # CPUs without it, 135 s of CPU for this test alone on an AVX2 host).
    tail = TEXTS[-24:]
    sample = TEXTS[:10] + tail[:4] + sorted(tail, key=len)[-2:]
    assert [len(ids) for ids in ours.tokenizer.ids(sample[-2:])] == [MAX_TOKENS, MAX_TOKENS]  # the cut is in
    books = on(ours, batch_size=len(sample), token_budget=10**6)
    books.bf16 = True  # whether or not this CPU computes bf16 natively
    np.testing.assert_array_equal(books(sample), reference_vectors(reference_minilm, sample, bf16_autocast=True))
    queries = on(MiniLM(ours.tokenizer, ours.encoder.to(torch.bfloat16)), batch_size=len(sample), token_budget=10**6)
    queries.bf16_weights = True
    bf16_reference = copy.deepcopy(reference_minilm).to(torch.bfloat16)  # the session's copy stays fp32
    np.testing.assert_array_equal(queries(sample), reference_vectors(bf16_reference, sample))


def test_a_text_alone_and_in_any_padded_batch_gets_the_same_vector(ours):
    sample = TEXTS[::15]
    alone = np.concatenate([on(ours)([text]) for text in sample])
    for batch_size, budget in ((len(sample), 10**6), (5, 2048), (2, 300)):
        batched = on(ours, batch_size=batch_size, token_budget=budget)(sample)
        assert np.abs(batched - alone).max() <= 1e-5, (batch_size, budget)


def test_loading_the_embedder_imports_neither_transformers_nor_sentence_transformers():
    script = ("import sys; from smartlib_core.embedding import MiniLMTextEncoder; "
              "MiniLMTextEncoder(bf16=True)(['warm-up']); MiniLMTextEncoder.for_queries()(['a query']); "
              "print(sorted(m for m in ('transformers', 'sentence_transformers') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"

"""CPU of one MiniLM pass through OpenVINO by shape (texts x tokens), bf16 hint against f32.

    PYTHONPATH=bench python -m smartlib_bench.pass_cost [--rounds 3] [--repeats 20]

Then the served query path (`runtime.query_encoder`, the server's two-stream model) on the
bench queries in groups of 1, 4 and 8, packed into one row (the default) against padded to the
longest, in process CPU a query, with each side's min cosine to fp32 torch.

Each pass is fed directly to the compiled model (one stream, one thread, run in this thread, so
`time.thread_time` holds all of its CPU); the shapes and precisions take turns within a round and
the best round is printed. It shows what a pass costs per token and what it costs whatever its
size, which is what batching and padding trade against each other (README, "Performance").
"""
from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

from smartlib_bench.queries import QUERIES
from smartlib_core import runtime
from smartlib_core.embedding import MiniLMTextEncoder
from smartlib_core.minilm import padded_feed
from smartlib_core.runtime import RuntimeTextEncoder

SHAPES = [(1, 8), (1, 16), (1, 32), (4, 16), (8, 16), (16, 16), (32, 16), (8, 64)]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as cache:
        sessions = {}
        for precision in ("bf16", "f32"):
            encoder = RuntimeTextEncoder("openvino", Path(cache), threads=1, bf16=precision == "bf16", streams=1)
            encoder(["warm up"])
            sessions[precision] = encoder._load()
        best: dict = {}
        for _ in range(args.rounds):
            for texts, tokens in SHAPES:
                feed = padded_feed([[2000] * tokens] * texts, range(texts))
                for precision, session in sessions.items():
                    session.run(feed)
                    started = time.thread_time()
                    for _ in range(args.repeats):
                        session.run(feed)
                    ms = 1000 * (time.thread_time() - started) / args.repeats
                    best[(texts, tokens, precision)] = min(ms, best.get((texts, tokens, precision), ms))
    print("| texts x tokens | bf16 hint, CPU a pass | f32, CPU a pass | bf16 per token |\n|---|---:|---:|---:|")
    for texts, tokens in SHAPES:
        bf16, f32 = best[(texts, tokens, "bf16")], best[(texts, tokens, "f32")]
        print(f"| {texts} x {tokens} | {bf16:.2f} ms | {f32:.2f} ms | {bf16 / (texts * tokens):.3f} ms |")

    packing(args.rounds)


def packing(rounds: int) -> None:
    queries = [f"{query} run{n} {n}" for n, query in enumerate(QUERIES * 4)]  # as the load generator words them
    reference = MiniLMTextEncoder()(queries)
    with tempfile.TemporaryDirectory() as cache:
        packed = runtime.query_encoder(runtime.text_encoder("openvino", Path(cache)))
        padded = runtime.query_encoder(runtime.text_encoder("openvino", Path(cache)))
        padded.packed = False
        sides = {"packed": packed, "padded": padded}
        cosine = {name: float((encode(queries, max_tokens=64) * reference).sum(axis=1).min()) for name, encode in sides.items()}
        picker = random.Random(1)
        groups = {size: [picker.sample(queries, size) for _ in range(60)] for size in (1, 4, 8)}
        best: dict = {}
        for _ in range(rounds):
            for size, batches in groups.items():
                for name, encode in sides.items():
                    started = time.process_time()
                    for batch in batches:
                        encode(batch, max_tokens=64)
                    ms = 1000 * (time.process_time() - started) / (size * len(batches))
                    best[(size, name)] = min(ms, best.get((size, name), ms))
    print("\n| queries a pass | packed, CPU a query | padded, CPU a query |\n|---|---:|---:|")
    for size in groups:
        print(f"| {size} | {best[(size, 'packed')]:.2f} ms | {best[(size, 'padded')]:.2f} ms |")
    print(f"\nmin cosine to fp32 torch: packed {cosine['packed']:.6f}, padded {cosine['padded']:.6f}")


if __name__ == "__main__":
    main()

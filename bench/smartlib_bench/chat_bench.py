"""Benchmark: chat turns over real gRPC with the built-in generator.

Per turn it records the time to the first event (Typing), to the first text, and to TurnDone,
and reports p50/p99 for a scripted English and Portuguese conversation run by N concurrent
streams. `measure(address)` works against any server with ChatService registered;
`python -m smartlib_bench.chat_bench` starts one in-process over the starter catalog.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from smartlib_server.services.chat.turns import ChatLimits as ChatLimitsDefaults

SCRIPT_EN = [
    "Hi", "Tell me about Harry Potter", "the second one", "Books like The Hobbit", "more", "why?",
    "Recommend fantasy books", "something shorter", "Compare Dune and Foundation",
]
SCRIPT_PT = [
    "Olá", "Me fale sobre Harry Potter", "o segundo", "Livros parecidos com O Hobbit", "mais", "por quê?",
    "Recomende livros de fantasia", "algo mais curto", "Compare Duna e Fundação",
]


def _percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {"n": 0}
    array = np.asarray(values) * 1000.0
    return {"n": len(values), "p50_ms": round(float(np.percentile(array, 50)), 2),
            "p99_ms": round(float(np.percentile(array, 99)), 2), "max_ms": round(float(array.max()), 2)}


async def _stream(address: str, n: int, rounds: int, timings: dict[str, list[float]], think_s: float = 0.0,
                  streams: int = 1) -> int:
    import grpc

    from smartlib.v1 import chat_service_pb2 as pb, chat_service_pb2_grpc

    errors = 0
    script = SCRIPT_PT if n % 2 else SCRIPT_EN
    async with grpc.aio.insecure_channel(address) as channel:
        call = chat_service_pb2_grpc.ChatServiceStub(channel).Converse()
        if think_s:
            await asyncio.sleep(think_s * n / streams)  # readers arrive spread out, not in lockstep
        for _ in range(rounds):
            for text in script:
                if think_s and timings["done"]:
                    await asyncio.sleep(think_s)  # the reader reads the answer and types the next turn
                started = time.perf_counter()
                await call.write(pb.ConverseRequest(turn=pb.UserTurn(session_id=f"bench-{n}", user_id=f"bench-user-{n}", text=text)))
                first_event = first_text = None
                while True:
                    event = await call.read()
                    timings["events"].append(1)
                    now = time.perf_counter() - started
                    kind = event.WhichOneof("kind")
                    first_event = now if first_event is None else first_event
                    if kind == "delta" and first_text is None:
                        first_text = now
                    if kind in ("done", "error"):
                        break
                if kind == "error":
                    errors += 1
                    continue
                timings["first_event"].append(first_event)
                timings["first_text"].append(first_text or now)
                timings["done"].append(now)
        await call.done_writing()
    return errors


async def measure(address: str, streams: int = 16, rounds: int = 1, think_s: float = 0.0) -> dict:
    """Runs `streams` concurrent conversations of the scripted turns, `rounds` times each; with
    `think_s`, each reader pauses that long before every turn after its first (closed loop else).

    Returns:
        p50/p99 of time to first event, to first text and to done (ms), turns/s and errors.
    """
    timings: dict[str, list[float]] = {"first_event": [], "first_text": [], "done": [], "events": []}
    started = time.perf_counter()
    errors = await asyncio.gather(*(_stream(address, n, rounds, timings, think_s, streams) for n in range(streams)))
    elapsed = time.perf_counter() - started
    turns = len(timings["done"])
    return {
        "streams": streams, "think_ms": round(think_s * 1000), "turns": turns, "errors": sum(errors), "seconds": round(elapsed, 2),
        "turns_per_s": round(turns / elapsed, 1) if elapsed else 0.0,
        "events_per_turn": round(len(timings["events"]) / max(turns, 1), 1),
        "time_to_first_event": _percentiles(timings["first_event"]),
        "time_to_first_text": _percentiles(timings["first_text"]),
        "time_to_done": _percentiles(timings["done"]),
    }


def concurrency_section(address: str, rounds: int = 2, streams: int = 16, think_ms: float = 1000.0) -> dict:
    """A lone conversation against `streams` at once, closed loop and with readers pausing
    `think_ms` between turns, from a separate client process; rows for the bench table."""
    command = [sys.executable, "-m", "smartlib_bench.chat_bench", "--address", address, "--streams", "1", str(streams),
               "--rounds", str(rounds), "--think-ms", "0", str(think_ms)]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    phases = json.loads(out[out.index("["):])
    rows = []
    for think in (0, round(think_ms)):
        lone, many = (next(p for p in phases if p["streams"] == n and p["think_ms"] == think) for n in (1, streams))
        ratio = many["time_to_done"]["p50_ms"] / max(lone["time_to_done"]["p50_ms"], 1e-9)
        how = "closed loop (no pause between turns)" if not think else f"readers pause {think / 1000:g} s between turns"
        rows.append((f"chat, {streams} conversations vs 1, {how}",
                     f"full turn p50 {many['time_to_done']['p50_ms']:.1f} vs {lone['time_to_done']['p50_ms']:.1f} ms, "
                     f"p99 {many['time_to_done']['p99_ms']:.1f} ms, {many['turns_per_s']:.0f} turns/s",
                     f"{ratio:.2f}x a lone conversation (target 2x); errors {many['errors']}"))
    return {"figures": phases, "rows": rows}


def _serve_starter(home: Path, chunk_words: int):
    """An in-process server over the starter catalog with ChatService registered."""
    from smartlib.v1 import chat_service_pb2_grpc
    from smartlib_server.adapters.memory.in_process import InProcessConversationMemory
    from smartlib_server.api.chat_servicer import ChatServicer
    from smartlib_server.app import build_services, starter_catalog_path
    from smartlib_server.background import BackgroundServer
    from smartlib_server.config import Settings
    from smartlib_server.server import build_server
    from smartlib_server.services.chat import ChatAgent, ChatLimits, ChatService
    from smartlib_server.services.ingest import ingest_csv

    settings = Settings.from_env(home=home, grpc_port=0)  # SMARTLIB_MODEL_STORE etc. apply
    services = build_services(settings)
    if services.store.count_books() == 0:
        ingest_csv(services.catalog, starter_catalog_path(), progress=False)
    limits = ChatLimits(chunk_words=chunk_words)
    chat = ChatService(ChatAgent(services.recommend, InProcessConversationMemory()), services.executor, limits)

    class ChatBenchServer(BackgroundServer):
        async def _start(self, settings, interceptors):
            app = build_server(settings, self.services, interceptors)
            chat_service_pb2_grpc.add_ChatServiceServicer_to_server(ChatServicer(chat), app.server)
            await app.start()
            return app

    server = ChatBenchServer(settings, services)
    server.load()
    return server


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m smartlib_bench.chat_bench")
    parser.add_argument("--address", help="a running server with ChatService (default: start one in-process)")
    parser.add_argument("--home", help="catalog folder for the in-process server (default: a temporary starter catalog)")
    parser.add_argument("--streams", type=int, nargs="+", default=[1, 16, 64])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--chunk-words", type=int, default=ChatLimitsDefaults.chunk_words, help="words per TextDelta (in-process server)")
    parser.add_argument("--think-ms", type=float, nargs="+", default=[0.0],
                        help="a reader's pause before each turn after the first; 0 is closed loop (every phase runs per value)")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.address:
        async def run_all() -> list[dict]:
            # One event loop for every phase: grpc.aio channels are bound to the loop that made them.
            await measure(args.address, streams=1, rounds=1)  # warm-up: model load, first queries
            return [await measure(args.address, streams=n, rounds=args.rounds, think_s=think / 1000)
                    for think in args.think_ms for n in args.streams]

        print(json.dumps(asyncio.run(run_all()), indent=2))
        return
    tmp = None if args.home else tempfile.mkdtemp(prefix="smartlib-chat-bench-")
    server = _serve_starter(Path(args.home or tmp), args.chunk_words)
    try:
        # The conversations run in a separate process, as a real client would: in this one they
        # would take the server's GIL and inflate every turn under concurrency.
        command = [sys.executable, "-m", "smartlib_bench.chat_bench", "--address", server.address,
                   "--streams", *map(str, args.streams), "--rounds", str(args.rounds),
                   "--think-ms", *map(str, args.think_ms)]
        subprocess.run(command, check=True)
    finally:
        server.stop()
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

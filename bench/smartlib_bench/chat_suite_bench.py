"""Chat latency over the conversation suite (bench/smartlib_bench/chat_suite), through real gRPC.

Every turn of every conversation the catalog can serve is sent on its own stream per session,
one conversation at a time, so the figures are per-turn latency without queueing: time to the
first event (Typing) and to TurnDone. `make bench` reports first-event p50 and full-turn p50/p95.
"""
from __future__ import annotations

import queue
import time
import uuid

import grpc
import numpy as np

from smartlib.v1 import chat_service_pb2 as pb, chat_service_pb2_grpc
from smartlib_bench.chat_suite import runner


def run(address: str, catalog: str) -> dict:
    """Replays the suite's turns against the server at `address`; `catalog` is "starter" or "10k"."""
    conversations = [c for c in runner.load() if c.catalog in ("any", catalog)]
    first: list[float] = []
    done: list[float] = []
    errors = 0
    with grpc.insecure_channel(address) as channel:
        stub = chat_service_pb2_grpc.ChatServiceStub(channel)
        _warm_up(stub)
        for conversation in conversations:
            user = f"bench-{conversation.id}-{uuid.uuid4().hex[:6]}" if conversation.user else ""
            for session in conversation.sessions:
                requests: queue.Queue = queue.Queue()
                events = stub.Converse(iter(requests.get, None))
                session_id = uuid.uuid4().hex
                for turn in session:
                    started = time.perf_counter()
                    requests.put(pb.ConverseRequest(turn=pb.UserTurn(session_id=session_id, user_id=user, text=turn["say"])))
                    first_at = None
                    for event in events:
                        now = time.perf_counter() - started
                        first_at = now if first_at is None else first_at
                        kind = event.WhichOneof("kind")
                        if kind in ("done", "error"):
                            errors += kind == "error"
                            break
                    first.append(first_at)
                    done.append(now)
                requests.put(None)
    first_ms, done_ms = np.asarray(first) * 1000.0, np.asarray(done) * 1000.0
    figures = {
        "conversations": len(conversations), "turns": len(done), "errors": errors,
        "first_event_p50_ms": round(float(np.percentile(first_ms, 50)), 2),
        "turn_p50_ms": round(float(np.percentile(done_ms, 50)), 2),
        "turn_p95_ms": round(float(np.percentile(done_ms, 95)), 2),
    }
    rows = [(f"chat suite ({figures['turns']} turns, {catalog} catalog)",
             f"first event p50 {figures['first_event_p50_ms']:.1f} ms; full turn p50 {figures['turn_p50_ms']:.1f} ms, "
             f"p95 {figures['turn_p95_ms']:.1f} ms", f"errors {errors}")]
    return {"figures": figures, "rows": rows}


def _warm_up(stub) -> None:
    """Untimed: the first text query loads the text encoder, the first unreadable ask builds
    the catalog's vocabulary; both are once per process, not per turn."""
    requests: queue.Queue = queue.Queue()
    events = stub.Converse(iter(requests.get, None))
    for text in ("a story about a lonely robot", "qwxz vbnm", "Books like Dune"):
        requests.put(pb.ConverseRequest(turn=pb.UserTurn(session_id="bench-warm-up", text=text)))
        for event in events:
            if event.WhichOneof("kind") in ("done", "error"):
                break
    requests.put(None)

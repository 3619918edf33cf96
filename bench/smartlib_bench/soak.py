"""`make soak`: a bounded mixed load against a real `smartlib serve` process, watching for leaks.

    python -m smartlib_bench.soak [--seconds N] [--rate RPS] [--home DIR] [--out FILE]

The load is paced (default 20 calls/s from 4 client threads), not flat out: a soak looks for
slow growth, and a saturated 2-core machine only measures queueing. The mix is SimilarBooks,
SearchByText, Catalog reads and one-turn Chat conversations (when the server has ChatService).
Every `--every` seconds it samples the server's RSS, thread count and open file descriptors.

Pass/fail, between the first sample after warm-up (the first 20 % of the run) and the largest of
the last 20 % of samples:
  RSS grows by at most max(32 MiB, 10 %), threads by at most 4, descriptors by at most 16,
  and not one call fails.
Writes a JSON report (default var/bench/soak.json) and exits 1 when a bound is broken.
Duration: --seconds, else SOAK_SECONDS, else 600.
"""
from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import grpc
import psutil

from smartlib.v1 import (
    catalog_service_pb2 as cs,
    catalog_service_pb2_grpc,
    chat_service_pb2 as chat,
    chat_service_pb2_grpc,
    recommend_service_pb2 as rs,
    recommend_service_pb2_grpc,
)
from smartlib_bench.process_bench import start_server

RSS_GROWTH_MIB = 32
RSS_GROWTH_FRACTION = 0.10
THREAD_GROWTH = 4
FD_GROWTH = 16
QUERIES = ["space opera about galactic empires", "a cozy village mystery", "dragons and magic schools",
           "a war memoir", "funny books about friendship", "livros de fantasia com dragões"]
CHAT_TURNS = ["recommend something like Dune", "a cozy mystery please", "who wrote The Hobbit?", "livros como Harry Potter"]


@dataclasses.dataclass
class Sample:
    t: float
    rss_mib: float
    threads: int
    fds: int
    calls: int
    errors: int


class Counters:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.calls = 0
        self.errors: list[str] = []
        self.by_kind: dict[str, int] = {}

    def ok(self, kind: str) -> None:
        with self.lock:
            self.calls += 1
            self.by_kind[kind] = self.by_kind.get(kind, 0) + 1

    def fail(self, kind: str, error: Exception) -> None:
        with self.lock:
            self.calls += 1
            if len(self.errors) < 20:  # enough to diagnose; the count is what fails the run
                self.errors.append(f"{kind}: {getattr(error, 'code', lambda: '')()} {error}")
            else:
                self.errors.append(kind)


# -- the load -------------------------------------------------------------------------------
def _chat_turn(stub, text: str, session: str) -> None:
    """One turn: send it, read events until the turn is done, then close the stream."""
    done = threading.Event()

    def requests():
        yield chat.ConverseRequest(turn=chat.UserTurn(session_id=session, user_id=session, text=text))
        done.wait(30)  # keep the stream open until the answer is complete

    call = stub.Converse(requests(), timeout=30)
    try:
        for event in call:
            if event.HasField("error"):
                raise RuntimeError(f"chat turn error {event.error.code}: {event.error.message}")
            if event.HasField("done"):
                return
        raise RuntimeError("chat stream ended before the turn was done")
    finally:
        done.set()
        call.cancel()


def _chat_served(channel: grpc.Channel) -> bool:
    try:
        _chat_turn(chat_service_pb2_grpc.ChatServiceStub(channel), "hello", "soak-probe")
        return True
    except grpc.RpcError as error:
        if error.code() == grpc.StatusCode.UNIMPLEMENTED:
            return False
        raise


def _client(address: str, book_ids: list[str], chat_on: bool, period: float, stop: threading.Event,
            counters: Counters, seed: int) -> None:
    rng = random.Random(seed)
    with grpc.insecure_channel(address) as channel:
        recommend = recommend_service_pb2_grpc.RecommendServiceStub(channel)
        catalog = catalog_service_pb2_grpc.CatalogServiceStub(channel)
        chats = chat_service_pb2_grpc.ChatServiceStub(channel)
        kinds = ["similar"] * 4 + ["text"] * 2 + ["get", "list", "search"] + (["chat"] * 2 if chat_on else [])
        sessions = itertools.count()
        next_at = time.monotonic()
        while not stop.is_set():
            kind = rng.choice(kinds)
            try:
                if kind == "similar":
                    recommend.SimilarBooks(rs.SimilarBooksRequest(book_id=rng.choice(book_ids), k=10), timeout=30)
                elif kind == "text":
                    recommend.SearchByText(rs.SearchByTextRequest(query=rng.choice(QUERIES), k=10), timeout=30)
                elif kind == "get":
                    catalog.GetBook(cs.GetBookRequest(id=rng.choice(book_ids)), timeout=30)
                elif kind == "list":
                    catalog.ListBooks(cs.ListBooksRequest(page_size=50), timeout=30)
                elif kind == "search":
                    catalog.SearchBooks(cs.SearchBooksRequest(query=rng.choice(QUERIES)[:20], limit=5), timeout=30)
                else:  # a fresh session now and then, so memory for old sessions must be released
                    _chat_turn(chats, rng.choice(CHAT_TURNS), f"soak-{seed}-{next(sessions) % 50}")
                counters.ok(kind)
            except Exception as error:  # noqa: BLE001 - every failure is a soak failure, counted and shown
                counters.fail(kind, error)
            next_at += period
            stop.wait(max(0.0, next_at - time.monotonic()))


def _sample(proc: psutil.Process, started: float, counters: Counters) -> Sample:
    with counters.lock:
        calls, errors = counters.calls, len(counters.errors)
    return Sample(round(time.monotonic() - started, 1), round(proc.memory_info().rss / 2**20, 1),
                  proc.num_threads(), proc.num_fds(), calls, errors)


def verdict(samples: list[Sample], errors: int) -> tuple[bool, dict]:
    """Applies the documented bounds; returns (passed, the numbers behind it)."""
    warm = samples[max(1, len(samples) // 5)] if len(samples) > 2 else samples[0]
    tail = samples[-max(1, len(samples) // 5):]
    numbers = {
        "rss_warm_mib": warm.rss_mib, "rss_end_max_mib": max(s.rss_mib for s in tail),
        "threads_warm": warm.threads, "threads_end_max": max(s.threads for s in tail),
        "fds_warm": warm.fds, "fds_end_max": max(s.fds for s in tail), "errors": errors,
    }
    numbers["rss_growth_mib"] = round(numbers["rss_end_max_mib"] - warm.rss_mib, 1)
    numbers["rss_bound_mib"] = round(max(RSS_GROWTH_MIB, RSS_GROWTH_FRACTION * warm.rss_mib), 1)
    passed = (
        numbers["rss_growth_mib"] <= numbers["rss_bound_mib"]
        and numbers["threads_end_max"] - warm.threads <= THREAD_GROWTH
        and numbers["fds_end_max"] - warm.fds <= FD_GROWTH
        and errors == 0
    )
    return passed, numbers


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m smartlib_bench.soak", description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=float(os.environ.get("SOAK_SECONDS", "600")))
    parser.add_argument("--rate", type=float, default=20.0, help="calls per second over all clients (default 20)")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--every", type=float, default=0.0, help="seconds between samples (default: 60 samples per run, at least 2 s)")
    parser.add_argument("--home", help="copy this SMARTLIB_HOME (with catalog.sqlite3) instead of seeding the starter catalog")
    parser.add_argument("--out", default="var/bench/soak.json")
    args = parser.parse_args(argv)
    every = args.every or max(2.0, args.seconds / 60)

    with tempfile.TemporaryDirectory(prefix="smartlib-soak-") as scratch:
        home = Path(scratch) / "home"
        if args.home:
            shutil.copytree(args.home, home)
        else:
            home.mkdir()
        log = Path(scratch) / "server.log"
        proc, address, _ = start_server(home, log=log, seed_starter=True, timeout_s=900)  # seeding embeds the starter
        server = psutil.Process(proc.pid)
        try:
            with grpc.insecure_channel(address) as channel:
                page = catalog_service_pb2_grpc.CatalogServiceStub(channel).ListBooks(cs.ListBooksRequest(page_size=200), timeout=30)
                book_ids = [b.id for b in page.books]
                chat_on = _chat_served(channel)
            counters = Counters()
            stop = threading.Event()
            clients = [threading.Thread(target=_client, args=(address, book_ids, chat_on, args.clients / args.rate, stop, counters, i),
                                        daemon=True) for i in range(args.clients)]
            started = time.monotonic()
            for client in clients:
                client.start()
            samples = [_sample(server, started, counters)]
            print(f"soak {args.seconds:.0f} s at {args.rate:g} calls/s, chat {'on' if chat_on else 'not served'}")
            print(f"{'t (s)':>8} {'RSS MiB':>9} {'threads':>8} {'fds':>5} {'calls':>7} {'errors':>7}")
            while time.monotonic() - started < args.seconds:
                time.sleep(min(every, max(0.0, args.seconds - (time.monotonic() - started))))
                sample = _sample(server, started, counters)
                samples.append(sample)
                print(f"{sample.t:>8.0f} {sample.rss_mib:>9.1f} {sample.threads:>8} {sample.fds:>5} "
                      f"{sample.calls:>7} {sample.errors:>7}", flush=True)
            stop.set()
            for client in clients:
                client.join(timeout=60)
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                exit_code = proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                exit_code = proc.wait()
        passed, numbers = verdict(samples, len(counters.errors))
        passed = passed and exit_code == 0
        report = {
            "seconds": args.seconds, "rate": args.rate, "clients": args.clients, "chat": chat_on, "passed": passed,
            "server_exit_code": exit_code, "calls": counters.calls, "calls_by_kind": counters.by_kind,
            "bounds": {"rss_growth": f"max({RSS_GROWTH_MIB} MiB, {RSS_GROWTH_FRACTION:.0%})", "threads": THREAD_GROWTH, "fds": FD_GROWTH},
            **numbers, "first_errors": counters.errors[:20], "samples": [dataclasses.asdict(s) for s in samples],
        }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps({k: v for k, v in report.items() if k not in ("samples", "first_errors")}))
    for line in counters.errors[:5]:
        print("error:", line)
    print(f"soak {'PASSED' if passed else 'FAILED'}; report in {out}")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())

"""kill -9 at random points of `smartlib ingest`, of UpsertBooks on `smartlib serve`, and of
knowledge-base builds; after every kill the store and the artifacts must be whole.

After each kill: the store passes integrity_check(), every acknowledged write is present, no
book lacks its vector (books and vectors commit together), and the next run starts and
finishes. SMARTLIB_CRASH_ROUNDS (default 3) sets the kills per scenario; `make crash` runs more.
"""
from __future__ import annotations

import json
import os
import random
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from smartlib.v1 import books_pb2, catalog_service_pb2 as cs, catalog_service_pb2_grpc
from smartlib_core.embedding import EMBEDDER_ID
from smartlib_server.adapters.catalog_store import open_store
from smartlib_server.app import starter_catalog_path

ROUNDS = int(os.environ.get("SMARTLIB_CRASH_ROUNDS", "3"))
INGEST_ROWS = 40
# `smartlib ingest` with small batches, so a 40-row file has several commit points to die between.
INGEST = ("import sys; import smartlib_server.services.ingest as i; i.BATCH = 6; "
          "from smartlib_server.cli import main; sys.exit(main(sys.argv[1:]))")
# Builds and activates knowledge-base versions in a loop, printing each one once it is durable.
KB_LOOP = """
import sys
from pathlib import Path
from smartlib_server.adapters.catalog_store import open_store
from smartlib_server.artifacts import knowledge_base as kb
from smartlib_core.embedding import EMBEDDER_ID
home = Path(sys.argv[1])
store = open_store("", home / "catalog.sqlite3")
while True:
    built = kb.build_kb(store, EMBEDDER_ID, home / "kb", keep=1000)
    print("built", built.name, flush=True)
    kb.activate(home / "kb", built.name)
    print("activated", built.name, flush=True)
"""

# Logs exposures as RecommendForUser does (without waiting for the disk, adapters/experiment_store.py)
# from 4 threads, printing each recommendation_id once add_exposure has returned for it.
EXPOSURE_LOOP = """
import sys, threading, uuid
from pathlib import Path
from smartlib_server.adapters.sql import sqlite_database
from smartlib_server.adapters.interaction_store import InteractionStore
from smartlib_server.adapters.experiment_store import ExperimentStore, Exposure
db = sqlite_database(Path(sys.argv[1]) / "catalog.sqlite3")
store = ExperimentStore(db, InteractionStore(db))
out = threading.Lock()
def loop():
    while True:
        rec = uuid.uuid4().hex
        store.add_exposure(Exposure(rec, "", "default", "u", ("b1", "b2"), 1))
        with out:
            print(rec, flush=True)
for _ in range(4):
    threading.Thread(target=loop).start()
"""


def _env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMARTLIB_")}
    env.update(SMARTLIB_HOME=str(home), HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", **extra)
    return env


def _kill(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)


def _count(db: Path, table: str) -> int:
    """Rows committed so far, read beside the writer (WAL lets readers in)."""
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as conn:
            return conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
    except sqlite3.Error:
        return 0  # not created yet, or briefly locked


def _assert_whole(db: Path, acknowledged: set[str] = frozenset()) -> int:
    """Integrity, acknowledged writes present, and a vector for every book. Returns the book count."""
    store = open_store("", db)
    try:
        assert store.integrity_check() == []
        books = store.all_books()
        ids = {b.id for b in books}
        missing = {a for a in acknowledged if store.resolve_id(a) not in ids}
        assert not missing, f"acknowledged but lost: {sorted(missing)[:5]}"
        vector_ids, _ = store.load_vectors(EMBEDDER_ID)
        assert set(vector_ids) == ids, "a book was committed without its vector, or the reverse"
        return len(books)
    finally:
        store.close()


@pytest.fixture
def rng() -> random.Random:
    seed = int(os.environ.get("SMARTLIB_CRASH_SEED", str(time.time_ns() % 10**6)))
    print(f"crash seed {seed}")  # shown on failure: rerun with SMARTLIB_CRASH_SEED to repeat
    return random.Random(seed)


# -- ingestion ------------------------------------------------------------------------------
def test_kill_during_ingest(tmp_path, rng):
    csv = tmp_path / "books.csv"
    with open(starter_catalog_path(), encoding="utf-8") as source:
        lines = source.read().splitlines(keepends=True)
    csv.write_text("".join(lines[: INGEST_ROWS + 1]), encoding="utf-8")  # header + rows, no multi-line fields
    home = tmp_path / "home"
    db = home / "catalog.sqlite3"
    command = [sys.executable, "-c", INGEST, "ingest", "--json", str(csv)]
    for round_ in range(ROUNDS):
        proc = subprocess.Popen(command, env=_env(home), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        before = _count(db, "books")
        if round_ == 0:
            time.sleep(rng.uniform(0.2, 3.0))  # anywhere in start-up, model load or the first batch
        else:  # just after a random later commit, plus jitter that lands inside the next batch
            target = before + rng.randint(1, 3)
            deadline = time.monotonic() + 300
            while _count(db, "books") < target and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.01)
            time.sleep(rng.uniform(0, 0.5))
        _kill(proc)
        if db.exists():
            assert _assert_whole(db) >= before  # nothing committed earlier was lost
    done = subprocess.run(command, env=_env(home), capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    books = _assert_whole(db)
    again = json.loads(subprocess.run(command, env=_env(home), capture_output=True, text=True, timeout=900).stdout.splitlines()[-1])
    assert again["embedded"] == 0 and again["imported"] == 0  # the crashed runs left nothing half-done
    assert books == again["unchanged"]


# -- UpsertBooks on a served process ------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(home: Path, log: Path) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "smartlib_server", "serve"], env=_env(home, SMARTLIB_GRPC_PORT=str(port)),
        stdout=log.open("a"), stderr=subprocess.STDOUT,
    )
    address = f"127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    with grpc.insecure_channel(address) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < deadline:
            assert proc.poll() is None, log.read_text()[-2000:]
            try:
                if health.Check(health_pb2.HealthCheckRequest(), timeout=1).status == health_pb2.HealthCheckResponse.SERVING:
                    return proc, address
            except grpc.RpcError:
                pass
            time.sleep(0.2)
    _kill(proc)
    raise AssertionError("server did not become SERVING\n" + log.read_text()[-2000:])


def _write_until_refused(address: str, round_: int, acknowledged: set[str], stop: threading.Event,
                         first_ack: threading.Event) -> None:
    with grpc.insecure_channel(address) as channel:
        catalog = catalog_service_pb2_grpc.CatalogServiceStub(channel)
        n = 0
        while not stop.is_set():
            books = [
                books_pb2.Book(title=f"Crash Chronicle {round_}-{n}-{j}", authors=["Kill Nine"],
                               description=f"Volume {n}.{j} of a story written while the server is killed.", genres=["Fiction"])
                for j in range(2)
            ]
            try:
                reply = catalog.UpsertBooks(cs.UpsertBooksRequest(books=books), timeout=60)
            except grpc.RpcError:
                return  # the process died under us: this write was never acknowledged
            acknowledged.update(reply.ids)
            first_ack.set()
            n += 1


def test_kill_during_upserts(tmp_path, starter_sqlite, rng, seed_compiled):
    home = seed_compiled(tmp_path / "home")  # the kills are after the first write: no export to die in
    db = home / "catalog.sqlite3"
    shutil.copy(starter_sqlite, db)
    log = tmp_path / "serve.log"
    acknowledged: set[str] = set()
    for round_ in range(ROUNDS):
        proc, address = _serve(home, log)  # a restart after the previous kill must load
        stop, first_ack = threading.Event(), threading.Event()
        writer = threading.Thread(target=_write_until_refused, args=(address, round_, acknowledged, stop, first_ack))
        writer.start()
        first_ack.wait(timeout=120)  # the first upsert pays for warming the embedder; kill after it
        time.sleep(rng.uniform(0.0, 3.0))
        _kill(proc)
        stop.set()
        writer.join(timeout=120)
        _assert_whole(db, acknowledged)
    assert acknowledged, "no write was acknowledged before the kills; the test proved nothing"
    proc, address = _serve(home, log)
    try:
        with grpc.insecure_channel(address) as channel:
            catalog = catalog_service_pb2_grpc.CatalogServiceStub(channel)
            for book_id in sorted(acknowledged):  # visible through the API after the last restart
                assert catalog.GetBook(cs.GetBookRequest(id=book_id), timeout=30).id == book_id
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)


# -- knowledge-base builds ----------------------------------------------------------------------
def test_kill_during_knowledge_base_writes(tmp_path, starter_sqlite, rng):
    kb = pytest.importorskip("smartlib_server.artifacts.knowledge_base")
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(starter_sqlite, home / "catalog.sqlite3")
    root = home / "kb"
    built: list[str] = []
    for _ in range(ROUNDS):
        out = tmp_path / "kb.out"
        with out.open("w") as sink:
            proc = subprocess.Popen([sys.executable, "-c", KB_LOOP, str(home)], env=_env(home), stdout=sink, stderr=subprocess.DEVNULL)
            time.sleep(rng.uniform(1.0, 6.0))
            _kill(proc)
        printed = out.read_text().split("\n")[:-1]  # a line cut by the kill is not an acknowledgement
        built += [line.split()[1] for line in printed if line.startswith("built ")]
        listed = {info.version for info in kb.list_kbs(root)}
        assert set(built) <= listed, "a version reported as built is gone"
        for version in listed:  # every version a reader can find loads whole
            assert len(kb.load_kb(root, version).ids) == 300
        for leftover in root.iterdir() if root.exists() else ():
            assert leftover.name.startswith(".tmp-") or leftover.name in listed or leftover.name.startswith("current"), leftover
        active = kb.current_version(root)
        if active is not None:
            assert active in listed and len(kb.load_kb(root).ids) == 300
    # A build after all the kills completes, and crash leftovers do not confuse it.
    final = kb.build_kb(open_store("", home / "catalog.sqlite3"), EMBEDDER_ID, root, keep=1000)
    kb.activate(root, final.name)
    assert kb.load_kb(root).version == final.name


def test_kill_while_logging_exposures_loses_no_handed_out_id(tmp_path, rng):
    """Exposures commit without an fsync; a crash of the process must still lose none whose id was
    handed out (they are in the WAL file, which the kernel holds for the next open)."""
    home = tmp_path / "home"
    home.mkdir()
    acknowledged: set[str] = set()
    for _ in range(ROUNDS):
        proc = subprocess.Popen([sys.executable, "-c", EXPOSURE_LOOP, str(home)], env=_env(home),
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        want = rng.randint(20, 200)
        got = 0
        try:
            for line in proc.stdout:
                acknowledged.add(line.strip())
                got += 1
                if got >= want:
                    break
        finally:
            _kill(proc)
        assert got >= want, "the exposure loop stopped early"
        conn = sqlite3.connect(home / "catalog.sqlite3")
        try:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            stored = {r[0] for r in conn.execute("SELECT recommendation_id FROM exposures")}
        finally:
            conn.close()
        assert acknowledged <= stored

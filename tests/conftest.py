"""Shared fixtures: settings, a session-wide embedder, the embedded starter catalog, real
PostgreSQL schemas and an in-process gRPC server on port 0."""
from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from smartlib_core.embedding import MiniLMTextEncoder
from smartlib_server.adapters.inference import LocalInference
from smartlib_server.app import build_services, starter_catalog_path
from smartlib_server.background import BackgroundServer
from smartlib_server.config import Settings
from smartlib_server.services.ingest import ingest_csv

REPO = Path(__file__).resolve().parents[1]
POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
REDIS_URL = "redis://127.0.0.1:6379/0"


def dataset_path() -> Path:
    """The 10k Goodreads CSV, read by path and never copied into the project."""
    folder = Path(os.environ.get("SMARTLIB_DATA_DIR", REPO.parent / "shared" / "data"))
    return folder / "goodreads_best_books_10k.csv"


@pytest.fixture(scope="session", autouse=True)
def _offline() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # set before any model load; never reach a hub
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="session")
def text_encoder() -> MiniLMTextEncoder:
    """One loaded all-MiniLM-L6-v2 for the whole run (loading costs seconds)."""
    return MiniLMTextEncoder()


@pytest.fixture(scope="session")
def reference_minilm():
    """sentence-transformers' own load of all-MiniLM-L6-v2, the reference for our embedder."""
    from smartlib_core.minilm import reference_model

    return reference_model()


@pytest.fixture(scope="session")
def inference(text_encoder) -> LocalInference:
    return LocalInference(text_encoder)


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(home=tmp_path / "home", grpc_port=0, model_store=tmp_path / "model_store")


@pytest.fixture(scope="session")
def starter_sqlite(tmp_path_factory, inference) -> Path:
    """A SQLite catalog with the starter books embedded once; tests copy it."""
    home = tmp_path_factory.mktemp("starter")
    services = build_services(Settings(home=home), inference=inference)
    try:
        ingest_csv(services.catalog, starter_catalog_path(), progress=False)
    finally:
        services.close()
    return home / "catalog.sqlite3"


def _needs_10k(item) -> bool:
    return "catalog_10k" in getattr(item, "fixturenames", ())


def pytest_collection_modifyitems(session, config, items):
    """The tests on the 10k catalog run last, so the background ingest (`_ingest_10k`) has the
    whole rest of the run to finish beside it; they keep their order among themselves."""
    items.sort(key=_needs_10k)  # stable


class _BackgroundIngest:
    """`smartlib ingest` of the 10k CSV in a child process at nice 10, started with the run.

    The suite is mostly one Python process on one core, waiting as often as computing; the ingest
    (minutes of MiniLM on 2 cores) fills the idle core instead of running alone in the middle of
    the run. Nice 10 yields the CPU to the tests whenever they want it. A child, not a thread: no
    GIL shared with the in-process servers the other tests time."""

    def __init__(self, home: Path, csv: Path) -> None:
        self.home, self.csv = home, csv
        env = {k: v for k, v in os.environ.items() if not k.startswith("SMARTLIB_")}  # the defaults, as a deployed ingest
        env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
        self.log = open(home.parent / "ingest_10k.log", "w+")  # noqa: SIM115 (closed in wait/stop)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "smartlib_server", "ingest", "--home", str(home), "--json", str(csv)],
            env=env, stdout=subprocess.PIPE, stderr=self.log, text=True)
        os.setpriority(os.PRIO_PROCESS, self.proc.pid, 10)  # before its threads start: they inherit it
        self.result: Path | str | None = None

    def wait(self) -> Path:
        """The ingested catalog, or pytest.fail with the child's output when the ingest failed."""
        if self.result is None:
            out, _ = self.proc.communicate()
            self.log.seek(0)
            err = self.log.read()[-3000:]
            self.log.close()
            summary = json.loads(out.strip().splitlines()[-1]) if self.proc.returncode == 0 and out.strip() else None
            if summary is None or not summary["embedded"]:
                self.result = f"`smartlib ingest` of {self.csv} failed (exit {self.proc.returncode}): {out[-1000:]}{err}"
            else:
                self.result = self.home / "catalog.sqlite3"
        if isinstance(self.result, str):
            pytest.fail(self.result)
        return self.result

    def stop(self) -> None:
        if self.proc.poll() is None:  # the run ended (or stopped early) before any 10k test waited
            self.proc.kill()
            self.proc.wait()
        if not self.log.closed:
            self.log.close()


@pytest.fixture(scope="session", autouse=True)
def _ingest_10k(request, tmp_path_factory) -> Iterator[_BackgroundIngest | None]:
    """Starts the 10k ingest with the run when a selected test needs `catalog_10k`, the CSV is
    there and SMARTLIB_10K_HOME does not name an ingested home."""
    csv = dataset_path()
    if os.environ.get("SMARTLIB_10K_HOME") or not csv.is_file() or not any(map(_needs_10k, request.session.items)):
        yield None
        return
    ingest = _BackgroundIngest(tmp_path_factory.mktemp("catalog_10k") / "home", csv)
    try:
        yield ingest
    finally:
        ingest.stop()


@pytest.fixture(scope="session")
def catalog_10k(tmp_path_factory, _ingest_10k) -> Path:
    """A SQLite catalog with the 10k CSV ingested and embedded once per run (minutes on 2 cores,
    in the background from the run's start: `_ingest_10k`); tests copy it. SMARTLIB_10K_HOME may
    name a home where that was already done, to skip the ingest locally. Skips only when the CSV
    is absent, so CI (which has ../shared) runs it."""
    ingested = os.environ.get("SMARTLIB_10K_HOME", "")
    if ingested:
        home = tmp_path_factory.mktemp("catalog_10k")
        source = Path(ingested) / "catalog.sqlite3"
        if not source.is_file():
            pytest.fail(f"SMARTLIB_10K_HOME={ingested} holds no catalog.sqlite3")
        with sqlite3.connect(f"file:{source}?mode=ro", uri=True) as src, sqlite3.connect(home / "catalog.sqlite3") as dst:
            src.backup(dst)  # a consistent copy even with a write-ahead log beside it
        return home / "catalog.sqlite3"
    path = dataset_path()
    if not path.is_file():
        pytest.skip(f"the 10k CSV is not at {path}; put ../shared/data beside the repo or set SMARTLIB_DATA_DIR")
    # Ingested by `smartlib ingest` itself, with the default runtime (OpenVINO, bf16 where the CPU
    # has it natively), not the session's fp32 torch embedder: the same vectors a deployed 10k
    # home holds, in a fraction of the time.
    return _ingest_10k.wait()


@pytest.fixture(scope="session")
def _compiled_minilm(tmp_path_factory) -> Path:
    """A home's `compiled/` after the default runtime exported and compiled MiniLM in it, once per
    run (about 9 s of CPU on the 2-core AVX2 host, torch's import included)."""
    from smartlib_core import runtime

    settings = Settings(home=tmp_path_factory.mktemp("compiled_minilm"))  # the defaults a started server uses
    encoder = runtime.text_encoder(settings.runtime, settings.home / "compiled", batch_size=settings.embed_batch_size,
                                   bf16=settings.embed_bf16, threads=settings.runtime_threads)
    encoder(["warm-up"])
    return settings.home / "compiled"


@pytest.fixture
def seed_compiled(_compiled_minilm):
    """seed_compiled(home) -> home: gives a fresh home the run's MiniLM export (hard links; the
    cache replaces an entry, never writes into its files), so a server started there loads it
    instead of exporting it again. Only for tests about something else than a cold start
    (test_start_imports.py and test_server_process.py start cold on purpose)."""
    def seed(home: Path) -> Path:
        home.mkdir(parents=True, exist_ok=True)
        shutil.copytree(_compiled_minilm, home / "compiled", copy_function=_link_or_copy, dirs_exist_ok=True)
        return home
    return seed


def _link_or_copy(source: str, target: str) -> None:
    try:
        os.link(source, target)
    except OSError:  # another file system
        shutil.copy2(source, target)


def _starter_books_and_vectors(starter_sqlite: Path) -> tuple[list, object]:
    from smartlib_core.embedding import EMBEDDER_ID
    from smartlib_server.adapters.catalog_store import sqlite_store

    store = sqlite_store(starter_sqlite)
    books = {b.id: b for b in store.all_books()}
    ids, vectors = store.load_vectors(EMBEDDER_ID)
    store.close()
    return [books[i] for i in ids], vectors


@pytest.fixture(scope="session")
def ranked_store(tmp_path_factory, starter_sqlite) -> tuple[Path, str]:
    """(model store, version) of one encoder trained on the starter catalog with the built-in
    reader ranker (no behaviour file matches the starter books): 2 epochs, seconds."""
    from smartlib_training.pipeline import run_train
    from smartlib_training.train import TrainParams

    books, vectors = _starter_books_and_vectors(starter_sqlite)
    root = tmp_path_factory.mktemp("model_store")
    version = run_train(books, vectors, root, TrainParams(epochs=2, threads=1, batch_size=64), progress=False).name
    return root, version


@pytest.fixture(scope="session")
def _two_encoders_trained(tmp_path_factory, starter_sqlite) -> tuple[Path, list[str]]:
    from smartlib_training.pipeline import run_train
    from smartlib_training.train import TrainParams

    books, vectors = _starter_books_and_vectors(starter_sqlite)
    root = tmp_path_factory.mktemp("two_encoders")
    versions = [run_train(books, vectors, root, TrainParams(epochs=2, seed=seed, threads=1, batch_size=64, reader_ranker=False),
                          progress=False).name for seed in (1, 2)]
    return root, versions


@pytest.fixture(scope="module")
def two_encoders(tmp_path_factory, _two_encoders_trained) -> tuple[Path, list[str]]:
    """(model store, [seed 1, seed 2]): two encoders without a reader ranker, trained on the
    starter catalog once per run; each module gets a copy of the store, since a test may add a
    version to it (a corrupt copy)."""
    source, versions = _two_encoders_trained
    root = tmp_path_factory.mktemp("model_store")
    shutil.copytree(source / "encoder", root / "encoder")
    return root, versions


@pytest.fixture
def starter_settings(settings, starter_sqlite) -> Settings:
    settings.home.mkdir(parents=True, exist_ok=True)
    shutil.copy(starter_sqlite, settings.sqlite_path)
    return settings


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh schema in the real PostgreSQL; dropped afterwards."""
    psycopg = pytest.importorskip("psycopg")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg.connect(POSTGRES_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL must run on 127.0.0.1:5432 for this test: {exc}")
    admin.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
    finally:
        admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
        admin.close()


RunningServer = BackgroundServer  # the name tests use


@pytest.fixture
def make_server(inference):
    """Factory: make_server(settings, load=True) -> RunningServer, stopped after the test.

    The session's loaded embedder is shared unless `inference_override` names another one."""
    started: list[RunningServer] = []

    def make(settings: Settings, load: bool = True, interceptors: list | None = None, inference_override=None) -> RunningServer:
        services = build_services(settings, inference=inference_override or inference)
        server = RunningServer(settings, services, interceptors)
        started.append(server)
        if load:
            server.load()
        return server

    yield make
    for server in started:
        server.stop()


@pytest.fixture
def server(make_server, starter_settings) -> RunningServer:
    """A loaded server over the embedded starter catalog (SQLite)."""
    return make_server(starter_settings)


@pytest.fixture
def channel(server):
    with server.channel() as ch:
        yield ch

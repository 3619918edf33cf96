"""PYTHONPATH=bench python -m smartlib_bench.chat_suite [--home DIR] [--failures] [--json] [--only PREFIX]

Without --home the starter catalog is embedded into a temporary home first. With --home the
catalog there is used as it is (e.g. a copy of an ingested 10k home), with the encoder in its
model_store/ when it has one; nothing is written to it except what loading a home always writes.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from smartlib_bench.chat_suite import runner
from smartlib_core.domain import BookFilter
from smartlib_server.adapters.memory.in_process import InProcessConversationMemory
from smartlib_server.services.chat.agent import ChatAgent


def open_services(home: Path | None, scratch: Path):
    """Services over `home`, or over the starter catalog embedded into `scratch`."""
    from smartlib_server.app import build_services, starter_catalog_path
    from smartlib_server.config import Settings
    from smartlib_server.services.ingest import ingest_csv

    if home is None:
        services = build_services(Settings(home=scratch))
        ingest_csv(services.catalog, starter_catalog_path(), progress=False)
    else:
        if not (home / "catalog.sqlite3").is_file():
            raise SystemExit(f"error: {home} holds no catalog.sqlite3; ingest a catalog there first")
        # The home's own model_store (a copied 10k home carries its trained encoder), as
        # bench/heldout/run.py does; without one, SMARTLIB_MODEL_STORE or the default.
        store = home / "model_store"
        services = build_services(Settings.from_env(home=home, model_store=store if store.is_dir() else None))
    services.load()
    return services


def catalog_kind(books: dict) -> str:
    return "10k" if len(books) >= 5000 else "starter"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="smartlib chat-eval", description="Run the chat conversation suite")
    parser.add_argument("--home", type=Path, help="SMARTLIB_HOME with an ingested catalog (default: the starter catalog)")
    parser.add_argument("--failures", action="store_true", help="print every failed expectation")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("--only", default="", help="run only conversations whose id starts with this")
    args = parser.parse_args(argv)
    conversations = [c for c in runner.load() if c.id.startswith(args.only)]
    with tempfile.TemporaryDirectory(prefix="smartlib-chat-eval-") as scratch:
        services = open_services(args.home, Path(scratch))
        try:
            agent = ChatAgent(services.recommend, InProcessConversationMemory())
            kind = catalog_kind(agent.books)
            services.recommend.search_by_text("warm up", 1, None, BookFilter())  # loads the text encoder, untimed
            outcomes = runner.run(agent, conversations, kind)
        finally:
            services.close()
    if args.json:
        print(json.dumps({
            "catalog": kind, "pass_rate": runner.pass_rate(outcomes), "latency": runner.latency(outcomes),
            "failed": {o.conversation.id: o.failures for o in outcomes if not o.passed},
        }, indent=2))
        return 0
    print(f"catalog: {kind} ({len(outcomes)} conversations)\n")
    print(runner.table(outcomes))
    print(f"\nturn latency (agent only): {runner.latency(outcomes)}")
    if args.failures:
        for outcome in outcomes:
            for failure in outcome.failures:
                print(f"- {outcome.conversation.id}: {failure}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

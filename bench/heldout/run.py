"""Runs one held-out conversation batch once against the agent of this checkout.

usage: PYTHONPATH=bench .venv/bin/python bench/heldout/run.py bench/heldout/<batch>.yaml.gz HOME OUT_PREFIX
HOME is a copy of an ingested 10k home (catalog.sqlite3, and model_store/ with its encoder).
Writes OUT_PREFIX.json (pass rates by category and language) and OUT_PREFIX.txt (the failures).
The batch is decompressed into a temporary file only for the run.
"""
import gzip
import json
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from smartlib_bench.chat_suite import runner
from smartlib_server.adapters.memory.in_process import InProcessConversationMemory
from smartlib_server.app import build_services
from smartlib_server.config import Settings
from smartlib_server.services.chat.agent import ChatAgent

batch, home, out = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
with tempfile.NamedTemporaryFile("wb", suffix=".yaml") as plain:
    plain.write(gzip.decompress(batch.read_bytes()) if batch.suffix == ".gz" else batch.read_bytes())
    plain.flush()
    conversations = runner.load([Path(plain.name)])
services = build_services(Settings(home=home, model_store=home / "model_store"))
services.load()
try:
    agent = ChatAgent(services.recommend, InProcessConversationMemory())
    started = time.time()
    outcomes = runner.run(agent, conversations, "10k")
finally:
    services.close()
by_cat = defaultdict(lambda: [0, 0])
by_lang = defaultdict(lambda: [0, 0])
lines = []
for o in outcomes:
    c = o.conversation
    by_cat[c.category][0] += o.passed
    by_cat[c.category][1] += 1
    by_lang[c.language][0] += o.passed
    by_lang[c.language][1] += 1
    if not o.passed:
        lines.append(f"FAIL {c.id}: {'; '.join(o.failures)[:400]}")
total = sum(o.passed for o in outcomes)
summary = {"batch": str(batch), "passed": total, "total": len(outcomes), "rate": round(total / len(outcomes), 3),
           "by_category": {k: v for k, v in sorted(by_cat.items())}, "by_language": dict(by_lang),
           "seconds": round(time.time() - started, 1)}
Path(out + ".json").write_text(json.dumps(summary, indent=1))
Path(out + ".txt").write_text("\n".join(lines) + "\n")
print(json.dumps(summary, indent=1))

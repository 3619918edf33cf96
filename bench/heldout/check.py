"""Checks that a held-out batch loads through the suite's loader, without running the agent.

usage: PYTHONPATH=bench .venv/bin/python bench/heldout/check.py bench/heldout/<batch>.yaml.gz
Prints the count per language and category, and fails on a batch the runner would reject: a
conversation without an id, a known category or a language, a turn without 'say', a duplicate id,
or an expectation checks.py does not know. It prints no sentence of the batch, so running it
does not unblind anyone.
"""
import gzip
import sys
import tempfile
from collections import Counter
from pathlib import Path

from smartlib_bench.chat_suite import checks, runner

batch = Path(sys.argv[1])
with tempfile.NamedTemporaryFile("wb", suffix=".yaml") as plain:
    plain.write(gzip.decompress(batch.read_bytes()) if batch.suffix == ".gz" else batch.read_bytes())
    plain.flush()
    conversations = runner.load([Path(plain.name)])
unknown = sorted({(c.id, name) for c in conversations for session in c.sessions for turn in session
                  for name in (turn.get("expect") or {}) if name not in checks.CHECKS})
if unknown:
    sys.exit(f"{batch}: unknown expectations: {unknown}")
print(f"{batch}: {len(conversations)} conversations load")
print("by language:", dict(sorted(Counter(c.language for c in conversations).items())))
print("by category:", dict(sorted(Counter(c.category for c in conversations).items())))
print("by catalog:", dict(Counter(c.catalog for c in conversations)))

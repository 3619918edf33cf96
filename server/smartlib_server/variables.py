"""Every SMARTLIB_* environment variable the project reads, by the component that reads it.

The server's own variables are the fields of `config.Settings` (one each, `SMARTLIB_<FIELD>`).
The rest belong to other components; the server accepts them in its environment and ignores
them, so one shell can run the server, the client, the bench and the tests alike.
tests/unit/test_variables.py greps the tree and fails on a SMARTLIB_ name missing here.
"""
from __future__ import annotations

import dataclasses

SERVER, CLIENT, BENCH, TESTS, FUZZ_CRASH = "server", "client", "bench", "tests", "fuzz/crash runs"
TRAINING = "smartlib train/eval"


@dataclasses.dataclass(frozen=True)
class Variable:
    name: str
    components: tuple[str, ...]
    purpose: str


# Read outside the server (the server ignores them).
OTHERS: tuple[Variable, ...] = (
    Variable("SMARTLIB_ADDRESS", (CLIENT,), "host:port the quickstart notebook connects to"),
    Variable("SMARTLIB_TOKEN", (CLIENT,), "bearer token the quickstart notebook sends"),
    Variable("SMARTLIB_DATA_DIR", (BENCH, TESTS, TRAINING),
             "folder holding goodreads_best_books_10k.csv and goodreads_similar_dev.jsonl (default ../shared/data)"),
    Variable("SMARTLIB_10K_HOME", (TESTS,),
             "a home where the 10k CSV is already ingested: the tests' 10k fixture copies its catalog instead of ingesting (local runs)"),
    Variable("SMARTLIB_FUZZ_EXAMPLES", (FUZZ_CRASH,), "Hypothesis examples per method in test_fuzz.py"),
    Variable("SMARTLIB_CRASH_ROUNDS", (FUZZ_CRASH,), "kill -9 rounds per scenario in test_crash_safety.py"),
    Variable("SMARTLIB_CRASH_SEED", (FUZZ_CRASH,), "repeats a crash-safety run with this seed"),
)
NOT_SERVER = frozenset(v.name for v in OTHERS)


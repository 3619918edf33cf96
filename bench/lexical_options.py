"""Issue 26's lexical index options, measured side by side on the 10k catalog: the in-process
BM25 the server keeps (core/smartlib_core/lexical.py), SQLite FTS5 and PostgreSQL full-text search.

    PYTHONPATH=bench nice .venv/bin/python bench/lexical_options.py [--data-dir ../shared/data]
        [--postgres postgresql://postgres@127.0.0.1:5432/test | --postgres '']

Every option indexes the same text, the lexical index's *text* field (title, series, authors,
description: lexical.book_fields), and answers the same asks: `smartlib eval`'s 300 known-item
queries, the first sentence (<= 25 words) of a book's description
(smartlib_training.quality.known_item_queries), each a hit when the book is in the top 10.
The query is its indexed words (lexical.words: folded, stopwords out), any of them matching:

- **in-process BM25**: LexicalIndex.search, as SearchByText asks it.
- **SQLite FTS5**: `tokenize = 'unicode61 remove_diacritics 2'`, `MATCH "w1" OR "w2" ...`, ordered
  by `bm25()`.
- **PostgreSQL**: a GIN-indexed tsvector in a temporary table, `to_tsquery('w1 | w2 | ...')`,
  ordered by `ts_rank_cd`; 'simple' over the folded words (what `unaccent` + 'simple' gives), and
  'english' (its stemmer and stopwords) over the same words.

CPU per query is time.process_time over the 300 asks (best of --repeats passes), plus, for
PostgreSQL, the CPU its backend process spent meanwhile (utime + stime from /proc, same host).
All in one run, so compare the ratios; absolute times depend on the machine's load. Without the
CSV the probe says so and exits 0; without PostgreSQL it measures the other two.
"""
from __future__ import annotations

import argparse
import os
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

from smartlib_core.lexical import LexicalIndex, book_fields, words
from smartlib_server.csv_source import load_file
from smartlib_training.behaviour import estimate
from smartlib_training.quality import known_item_queries

K = 10
CSV = "goodreads_best_books_10k.csv"
Search = Callable[[str], list[str]]  # query -> the top K book ids


def in_process(books) -> Search:
    index = LexicalIndex()
    index.upsert(books)
    return lambda query: [i for i, _ in index.search(query, K)]


def fts5(books) -> Search:
    db = sqlite3.connect(":memory:")
    db.execute("CREATE VIRTUAL TABLE docs USING fts5(body, tokenize = 'unicode61 remove_diacritics 2')")
    db.executemany("INSERT INTO docs(rowid, body) VALUES (?, ?)", [(n, book_fields(b)[0]) for n, b in enumerate(books)])
    ids = [b.id for b in books]

    def search(query: str) -> list[str]:
        terms = sorted(set(words(query)))
        if not terms:
            return []
        match = " OR ".join(f'"{t}"' for t in terms)
        rows = db.execute("SELECT rowid FROM docs WHERE docs MATCH ? ORDER BY bm25(docs) LIMIT ?", (match, K))
        return [ids[r] for (r,) in rows]
    return search


def postgres(books, url: str, config: str):
    """(search, the backend's CPU seconds so far), or None when PostgreSQL cannot be reached."""
    import psycopg

    try:
        conn = psycopg.connect(url, autocommit=True, connect_timeout=5)
    except psycopg.Error as exc:
        print(f"PostgreSQL at {url} unreachable, skipped: {exc}")
        return None
    conn.execute("CREATE TEMP TABLE lexical_probe (n int PRIMARY KEY, doc tsvector)")  # gone with the session
    with conn.cursor() as cur:
        cur.executemany(f"INSERT INTO lexical_probe VALUES (%s, to_tsvector('{config}', %s))",
                        [(n, " ".join(words(book_fields(b)[0]))) for n, b in enumerate(books)])
    conn.execute("CREATE INDEX ON lexical_probe USING gin (doc)")
    conn.execute("ANALYZE lexical_probe")
    ids = [b.id for b in books]
    backend = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
    sql = (f"SELECT n FROM lexical_probe, to_tsquery('{config}', %s) q WHERE doc @@ q "
           "ORDER BY ts_rank_cd(doc, q) DESC LIMIT %s")

    def search(query: str) -> list[str]:
        terms = sorted(set(words(query)))
        if not terms:
            return []
        return [ids[n] for (n,) in conn.execute(sql, (" | ".join(terms), K))]

    def backend_cpu() -> float:
        fields = Path(f"/proc/{backend}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime
    return search, backend_cpu


def measure(search: Search, asks: list[tuple[str, str]], repeats: int, other_cpu: Callable[[], float] | None = None):
    """(hit@10 estimate, CPU ms per query: best pass, wall ms per query of that pass)."""
    hits = [float(book_id in search(text)) for book_id, text in asks]
    best = (float("inf"), 0.0)
    for _ in range(repeats):
        cpu0, wall0, other0 = time.process_time(), time.perf_counter(), other_cpu() if other_cpu else 0.0
        for _, text in asks:
            search(text)
        cpu = time.process_time() - cpu0 + ((other_cpu() - other0) if other_cpu else 0.0)
        best = min(best, (cpu, time.perf_counter() - wall0))
    return estimate(hits), best[0] * 1000 / len(asks), best[1] * 1000 / len(asks)


def main() -> None:
    here = Path(__file__).resolve().parents[1]
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default=os.environ.get("SMARTLIB_DATA_DIR", str(here.parent / "shared" / "data")))
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test",
                        help="PostgreSQL URL for its full-text search ('' skips it)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    path = Path(args.data_dir) / CSV
    if not path.is_file():
        print(f"skipped: {path} not found (--data-dir or SMARTLIB_DATA_DIR)")
        return
    books = [b for _, b in load_file(path)[0]]
    asks = known_item_queries(books)
    print(f"{len(books)} books, {len(asks)} known-item asks")
    options: list[tuple[str, Callable[[], tuple[Search, Callable[[], float] | None] | None]]] = [
        ("in-process BM25 (served)", lambda: (in_process(books), None)),
        ("SQLite FTS5, bm25(), unicode61 remove_diacritics 2", lambda: (fts5(books), None)),
    ]
    if args.postgres:
        for config in ("simple", "english"):
            options.append((f"PostgreSQL tsvector '{config}', ts_rank_cd",
                            lambda config=config: postgres(books, args.postgres, config)))
    rows, reference = [], None
    for name, build in options:
        start = time.perf_counter()
        built = build()
        if built is None:
            continue
        build_s = time.perf_counter() - start
        hit, cpu_ms, wall_ms = measure(built[0], asks, args.repeats, built[1])
        reference = reference or cpu_ms
        rows.append(f"| {name} | {hit.mean:.3f} [{hit.low:.3f}, {hit.high:.3f}] | {cpu_ms:.3f} | "
                    f"{cpu_ms / reference:.1f}x | {wall_ms:.3f} | {build_s:.1f} |")
        print(rows[-1], flush=True)
    print("\n| option | known-item hit@10 [95 % CI] | CPU ms/query | CPU vs in-process | wall ms/query | build s |")
    print("|---|---:|---:|---:|---:|---:|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()

"""Catalog exports: the books as a table, written atomically, on demand or on a schedule.

Columns are the Book fields. In CSV the list fields (authors, genres, characters) are JSON
arrays, so names containing commas survive a round trip; Parquet stores them as lists.
"""
from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from smartlib_core import atomic
from smartlib_core.domain import Book
from smartlib_core.manifest import utc_now
from smartlib_server.adapters.catalog_store import CatalogStore
from smartlib_server.periodic import PeriodicWorker

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

COLUMNS = tuple(f.name for f in dataclasses.fields(Book))
LIST_COLUMNS = ("authors", "genres", "characters")


def catalog_frame(books: Sequence[Book]) -> pd.DataFrame:
    import pandas as pd  # here, not at the top: `smartlib serve` imports this module and never needs it

    frame = pd.DataFrame([dataclasses.astuple(b) for b in books], columns=list(COLUMNS))
    for column in LIST_COLUMNS:
        frame[column] = frame[column].map(list)
    return frame


def write_csv(frame: pd.DataFrame, target: Path) -> None:
    text = frame.copy()
    for column in LIST_COLUMNS:
        text[column] = text[column].map(lambda v: json.dumps(list(v), ensure_ascii=False))
    with atomic.atomic_path(target) as temp:
        text.to_csv(temp, index=False)


def write_parquet(frame: pd.DataFrame, target: Path) -> None:
    with atomic.atomic_path(target) as temp:
        frame.to_parquet(temp, index=False, engine="pyarrow")


def read_csv(path: Path) -> list[Book]:
    """Reads an export back into Books (the inverse of write_csv)."""
    import pandas as pd

    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    books = []
    for row in frame.itertuples(index=False):
        values = row._asdict()
        for column in LIST_COLUMNS:
            values[column] = tuple(json.loads(values[column]))
        values["avg_rating"] = float(values["avg_rating"])
        values["num_ratings"] = int(values["num_ratings"])
        values["list_rank"] = int(values["list_rank"])
        books.append(Book(**values))
    return books


def export_catalog_csv(store: CatalogStore, out_dir: Path, keep: int = 10) -> Path:
    """Writes `catalog-<utc time>.csv` into `out_dir` and keeps the newest `keep` exports."""
    stamp = utc_now().replace("-", "").replace(":", "").replace(".", "")  # 20261126T162350123456Z
    target = Path(out_dir) / f"catalog-{stamp}.csv"
    write_csv(catalog_frame(store.all_books()), target)
    for old in sorted(Path(out_dir).glob("catalog-*.csv"))[:-keep]:
        old.unlink(missing_ok=True)
    log.info("exported the catalog to %s", target)
    return target


class ExportScheduler(PeriodicWorker):
    """Runs `job` every `interval_s` seconds on a daemon thread until stop().

    A failing run is logged and the schedule continues: one bad export must not end the
    schedule. stop() waits for a run in progress to finish.
    """

    def __init__(self, job: Callable[[], object], interval_s: float, name: str = "catalog-export"):
        super().__init__(job, interval_s, name, failed="scheduled export failed", level=logging.ERROR)


def scheduled_export(store: CatalogStore, out_dir: Path, interval_s: float, keep: int = 10) -> ExportScheduler:
    """Starts exporting the catalog to CSV every `interval_s` seconds; call stop() to end it."""
    return ExportScheduler(lambda: export_catalog_csv(store, out_dir, keep), interval_s).start()

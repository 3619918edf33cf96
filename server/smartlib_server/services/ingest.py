"""`smartlib ingest`: a Goodreads CSV into the catalog, in durable batches, with a full account."""
from __future__ import annotations

import dataclasses
import logging
import sys
from pathlib import Path

from tqdm import tqdm

from smartlib_server.csv_source import RowError, load_file
from smartlib_server.services.catalog import CatalogService

log = logging.getLogger(__name__)
BATCH = 256  # books per transaction: a crash loses at most the batch in flight, never half of one


@dataclasses.dataclass
class IngestReport:
    read: int = 0
    imported: int = 0
    updated: int = 0
    unchanged: int = 0
    duplicates_merged: int = 0
    rejected: int = 0
    embedded: int = 0
    errors: list[RowError] = dataclasses.field(default_factory=list)

    def summary(self) -> dict[str, int]:
        return {k: v for k, v in dataclasses.asdict(self).items() if k != "errors"}


def ingest_csv(catalog: CatalogService, path: Path, progress: bool | None = None, metrics=None) -> IngestReport:
    """Reads, merges editions, and writes the file batch by batch.

    Every row read ends up in exactly one of imported, updated, unchanged, duplicates_merged or
    rejected. A second run over the same file writes and embeds nothing.
    """
    parsed, errors, read, merged = load_file(path)
    report = IngestReport(read=read, duplicates_merged=merged, rejected=len(errors), errors=errors)
    for error in errors:
        log.warning("%s line %d rejected: %s", path.name, error.line, error.reason)
    books = [book for _, book in parsed]
    show = sys.stderr.isatty() if progress is None else progress
    with tqdm(total=len(books), unit="book", desc=f"ingest {path.name}", disable=not show) as bar:
        for start in range(0, len(books), BATCH):
            batch = books[start : start + BATCH]
            result = catalog.write(batch)
            report.imported += len(result.outcome.created)
            report.updated += len(result.outcome.updated)
            report.unchanged += len(result.outcome.unchanged)
            report.embedded += result.embedded
            bar.update(len(batch))
    catalog.on_change()
    if metrics is not None:  # smartlib_server.metrics.ServerMetrics
        for outcome in ("imported", "updated", "unchanged", "duplicates_merged", "rejected"):
            metrics.ingest_rows.labels(outcome=outcome).inc(getattr(report, outcome))
    return report

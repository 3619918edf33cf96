"""Versioned encoder artifacts: model_store/encoder/<version>/ with weights, manifest and report.

The manifest lists the sha256 of every file in the version directory and a hash of itself, so a
version whose files were changed or truncated after training is refused as a whole.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from smartlib_core import manifest as mf
from smartlib_core.domain import Book
from smartlib_core.encoder_model import WEIGHTS_FILE, BookEncoder, save_weights
from smartlib_core.encoder_versions import (  # noqa: F401  (the read side, re-exported for training's callers)
    ENCODER_DIR,
    MANIFEST_FILE,
    encoder_root,
    latest_version,
    list_versions,
    load_verified,
    read_manifest,
    verify,
)

# One manifest module, integrity error and file hash for every artifact kind (encoders, KBs, archives).
from smartlib_core.manifest import (
    ArtifactIntegrityError as ArtifactIntegrityError,  # re-exported: training's callers catch artifacts.ArtifactIntegrityError
    sha256_file as file_sha256,
)

FORMAT = 1




def training_data_hash(books: Sequence[Book], vectors: np.ndarray) -> str:
    """Changes whenever any book's stored fields, the order of books, or any vector changes."""
    digest = hashlib.sha256()
    for book in books:
        digest.update(book.id.encode() + b"\x1f" + book.content_hash().encode() + b"\x1e")
    digest.update(np.ascontiguousarray(vectors, dtype=np.float32).tobytes())
    return digest.hexdigest()


def git_commit(start: Path | None = None) -> str:
    """The checked-out commit of the code that trained the model, or "unknown" outside a checkout."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=start or Path(__file__).resolve().parent,
            capture_output=True, text=True, timeout=5, check=True,
        )
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _new_version(root: Path, now: dt.datetime) -> str:
    base = now.strftime("%Y%m%dT%H%M%SZ")
    version, n = base, 1
    while (root / version).exists():
        n += 1
        version = f"{base}-{n}"
    return version


def write_version(model_store: Path, model: BookEncoder, manifest_fields: dict, extra_files: Sequence[Path] = (),
                  now: dt.datetime | None = None) -> Path:
    """Writes a complete version directory and returns it.

    The files are written to a hidden staging directory that is renamed into place at the end,
    so `latest_version` never sees a half-written version.

    Args:
        manifest_fields: hyper_parameters, metrics, training_data_sha256 and anything else to record.
        extra_files: report files to copy in next to the weights (plain names, no folders).
    """
    now = now or dt.datetime.now(dt.timezone.utc)
    root = encoder_root(model_store)
    root.mkdir(parents=True, exist_ok=True)
    version = _new_version(root, now)
    staging = root / f".{version}.partial"
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir()
    try:
        save_weights(model, staging)
        for path in extra_files:
            shutil.copy2(path, staging / Path(path).name)
        files = {p.name: file_sha256(p) for p in sorted(staging.iterdir()) if p.is_file()}
        manifest = {
            "format": FORMAT,
            "version": version,
            "created_at": now.isoformat(timespec="seconds"),
            "git_commit": git_commit(),
            "weights_file": WEIGHTS_FILE,
            **manifest_fields,
            "files": files,
        }
        manifest["manifest_sha256"] = mf.self_digest(manifest)
        (staging / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2, sort_keys=False, ensure_ascii=False) + "\n")
        os.replace(staging, root / version)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return root / version

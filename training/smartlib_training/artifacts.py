"""Versioned encoder artifacts: model_store/encoder/<version>/ with weights, manifest and report.

The manifest lists the sha256 of every file in the version directory and a hash of itself, so a
version whose files were changed or truncated after training is refused as a whole.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

import numpy as np

# One manifest module, integrity error and file hash for every artifact kind (encoders, KBs, archives).
from smartlib_core import manifest as mf
from smartlib_core.manifest import ArtifactIntegrityError
from smartlib_core.manifest import sha256_file as file_sha256
from smartlib_core.domain import Book
from smartlib_core.encoder_model import WEIGHTS_FILE, BookEncoder, load_weights, save_weights

MANIFEST_FILE = "manifest.json"
ENCODER_DIR = "encoder"
FORMAT = 1
_VERSION = re.compile(r"^\d{8}T\d{6}Z(-\d+)?$")




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


def encoder_root(model_store: Path) -> Path:
    return Path(model_store) / ENCODER_DIR


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


def read_manifest(version_dir: Path) -> dict:
    return mf.read(Path(version_dir))


def verify(version_dir: Path) -> dict:
    """Checks the manifest's own hash and every listed file (smartlib_core.manifest); returns it.

    Raises:
        ArtifactIntegrityError: naming what is missing, modified or does not match.
    """
    version_dir = Path(version_dir)
    manifest = mf.read(version_dir)
    if "manifest_sha256" not in manifest:
        raise ArtifactIntegrityError(f"{version_dir}: the manifest carries no hash of itself")
    if manifest.get("weights_file", WEIGHTS_FILE) not in manifest["files"]:
        raise ArtifactIntegrityError(f"{version_dir}: the manifest does not list the weights file")
    return mf.verify(version_dir, manifest)


def load_verified(version_dir: Path) -> tuple[BookEncoder, dict]:
    """Verifies a version directory, then loads its encoder in eval mode.

    Raises:
        ArtifactIntegrityError: the manifest or any file fails verification, or the weights do
            not fit the encoder architecture.
    """
    manifest = verify(version_dir)
    try:
        model = load_weights(Path(version_dir) / manifest.get("weights_file", WEIGHTS_FILE))
    except (RuntimeError, ValueError, OSError) as exc:  # safetensors header or shape mismatch
        raise ArtifactIntegrityError(f"{version_dir}: weights do not load: {exc}") from None
    return model, manifest


def list_versions(model_store: Path) -> list[str]:
    """Complete versions (those with a manifest), oldest first; names sort by creation time."""
    root = encoder_root(model_store)
    if not root.is_dir():
        return []
    names = [p.name for p in root.iterdir() if p.is_dir() and _VERSION.match(p.name) and (p / MANIFEST_FILE).is_file()]
    return sorted(names, key=lambda n: (n.split("-")[0], int(n.split("-")[1]) if "-" in n else 1))


def latest_version(model_store: Path) -> str | None:
    versions = list_versions(model_store)
    return versions[-1] if versions else None

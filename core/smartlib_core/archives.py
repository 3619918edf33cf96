"""Where a version's TorchServe archives live and how they are checked before use.

    model_store/torchserve/<version>/smartlib_embedder.mar
    model_store/torchserve/<version>/smartlib_encoder.mar
    model_store/torchserve/<version>/archives.json   version, embedder id, sha256 of each .mar

Training writes the archives (smartlib_training.mar_export); the server's TorchServe adapter,
the artifact CLI and the TorchServe launcher verify them here, with the file hash and the
integrity error every artifact kind shares (smartlib_core.manifest).
"""
from __future__ import annotations

import json
from pathlib import Path

from smartlib_core.manifest import ArtifactIntegrityError, sha256_file

ARCHIVES_MANIFEST = "archives.json"
TORCHSERVE_DIR = "torchserve"


class ArchiveError(Exception):
    """An archive cannot be built or used: missing inputs, a failed archiver, a bad checksum."""


class ArchiveIntegrityError(ArchiveError, ArtifactIntegrityError):
    """An archive is missing or does not match archives.json; it is refused, never served."""


def archive_dir(model_store: Path, version: str) -> Path:
    return Path(model_store) / TORCHSERVE_DIR / version


def verify_archives(directory: Path) -> dict[str, Path]:
    """Checks every archive in a version folder against its manifest.

    Returns:
        model name -> archive path, for the archives whose sha256 matches.

    Raises:
        ArchiveIntegrityError: no manifest, an archive is missing, or a checksum differs.
    """
    directory = Path(directory)
    manifest_path = directory / ARCHIVES_MANIFEST
    try:
        manifest = json.loads(manifest_path.read_text())
        entries = manifest["archives"]
    except (OSError, ValueError, KeyError) as exc:
        raise ArchiveIntegrityError(f"cannot read {manifest_path}: {exc}") from None
    verified = {}
    for name, entry in entries.items():
        path = directory / Path(entry["file"]).name  # never follow a path out of the folder
        if not path.is_file():
            raise ArchiveIntegrityError(f"archive {path} listed in {manifest_path} is missing")
        actual = sha256_file(path)
        if actual != entry["sha256"]:
            raise ArchiveIntegrityError(f"refusing {path}: sha256 {actual} does not match the manifest's {entry['sha256']}")
        verified[name] = path
    return verified


def newest_version(model_store: Path) -> str:
    """The most recently exported version folder that has a manifest; "" when there is none."""
    root = Path(model_store) / TORCHSERVE_DIR
    candidates = [d for d in root.iterdir() if (d / ARCHIVES_MANIFEST).is_file()] if root.is_dir() else []
    if not candidates:
        return ""
    return max(candidates, key=lambda d: (d / ARCHIVES_MANIFEST).stat().st_mtime).name

"""Encoder versions on disk: model_store/encoder/<version>/ with weights, manifest and report.

Training writes them (smartlib_training.artifacts); the server lists, verifies and loads them
here. A version's manifest lists the sha256 of every file and a hash of itself, so a version
whose files or manifest changed after training is refused as a whole. The server reads the
weights as numpy arrays (`verified_weights`): this module does not import torch.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from smartlib_core import manifest as mf
from smartlib_core.encoder_layout import WEIGHTS_FILE
from smartlib_core.encoder_weights import EncoderWeights, read_weights
from smartlib_core.manifest import ArtifactIntegrityError

if TYPE_CHECKING:
    from smartlib_core.encoder_model import BookEncoder

MANIFEST_FILE = mf.MANIFEST
ENCODER_DIR = "encoder"
_VERSION = re.compile(r"^\d{8}T\d{6}Z(-\d+)?$")


def encoder_root(model_store: Path) -> Path:
    return Path(model_store) / ENCODER_DIR


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


def verified_weights(version_dir: Path) -> tuple[EncoderWeights, dict]:
    """Verifies a version directory, then reads its weights (numpy; no torch).

    Raises:
        ArtifactIntegrityError: the manifest or any file fails verification, or the weights do
            not fit the encoder architecture.
    """
    manifest = verify(version_dir)
    try:
        weights = read_weights(Path(version_dir) / manifest.get("weights_file", WEIGHTS_FILE))
    except (ValueError, OSError) as exc:  # safetensors header or shape mismatch
        raise ArtifactIntegrityError(f"{version_dir}: weights do not load: {exc}") from None
    return weights, manifest


def load_verified(version_dir: Path) -> tuple["BookEncoder", dict]:
    """`verified_weights` as the torch BookEncoder, in eval mode (training and evaluation).

    Raises:
        ArtifactIntegrityError: as verified_weights.
    """
    weights, manifest = verified_weights(version_dir)
    return weights.module(), manifest


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

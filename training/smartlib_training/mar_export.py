"""Packages the TorchServe archives (.mar) for one encoder version and checks them before use.

Layout, one folder per encoder version so versions sit side by side:

    model_store/torchserve/<version>/smartlib_embedder.mar
    model_store/torchserve/<version>/smartlib_encoder.mar
    model_store/torchserve/<version>/archives.json   version, embedder id, sha256 of each .mar

The .mar version equals the encoder version. The embedder archive carries the same version so a
version folder is always a matching pair. smartlib_core.archives verifies them before use.
"""
from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from smartlib_core.archives import (  # noqa: F401  (verification re-exported for training's callers)
    ARCHIVES_MANIFEST,
    TORCHSERVE_DIR,
    ArchiveError,
    archive_dir,
    newest_version,
    verify_archives,
)
from smartlib_core.embedding import EMBEDDER_ID
from smartlib_core.encoder_model import WEIGHTS_FILE
from smartlib_core.manifest import sha256_file as sha256_of  # one file hash for every artifact kind
from smartlib_core.torchserve_payload import EMBEDDER_MODEL, ENCODER_MODEL

_VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def handlers_dir() -> Path:
    """The handler files to package, found without importing them (training runs no handler code)."""
    spec = importlib.util.find_spec("smartlib_handlers")
    if spec is None or not spec.submodule_search_locations:
        raise ArchiveError("the smartlib_handlers package is not installed; it holds the TorchServe handlers to package")
    return Path(list(spec.submodule_search_locations)[0])


def export_mars(model_store: Path, encoder_version_dir: Path, config_dir: Path | None = None) -> list[Path]:
    """Builds both archives for the encoder in encoder_version_dir and records their sha256.

    Args:
        model_store: the model store root; archives go to model_store/torchserve/<version>/.
        encoder_version_dir: a folder holding encoder.safetensors; its name is the version.
        config_dir: TorchServe model configs (<model>.yaml); default model_store/config.

    Returns:
        The paths of the embedder and encoder archives.

    Raises:
        ArchiveError: the weights or a model config is missing, or the version name is unsafe.
    """
    encoder_version_dir = Path(encoder_version_dir)
    version = encoder_version_dir.name
    if not _VERSION.match(version):
        raise ArchiveError(f"encoder version {version!r} is not a safe archive version")
    weights = encoder_version_dir / WEIGHTS_FILE
    config_dir = Path(config_dir) if config_dir else Path(model_store) / "config"
    for needed in (weights, config_dir / f"{EMBEDDER_MODEL}.yaml", config_dir / f"{ENCODER_MODEL}.yaml"):
        if not needed.is_file():
            raise ArchiveError(f"missing {needed}")
    out = archive_dir(model_store, version)
    out.mkdir(parents=True, exist_ok=True)
    handlers = handlers_dir()
    with tempfile.TemporaryDirectory() as tmp:
        info = Path(tmp) / "embedder.json"
        info.write_text(json.dumps({"embedder_id": EMBEDDER_ID}))
        paths = [
            _archive(out, EMBEDDER_MODEL, version, handlers / "smartlib_embedding_handler.py",
                     config_dir / f"{EMBEDDER_MODEL}.yaml", extra=[info]),
            _archive(out, ENCODER_MODEL, version, handlers / "smartlib_encoder_handler.py",
                     config_dir / f"{ENCODER_MODEL}.yaml", serialized=weights),
        ]
    manifest = {
        "version": version,
        "embedder_id": EMBEDDER_ID,
        "encoder_weights_sha256": sha256_of(weights),
        "archives": {p.stem: {"file": p.name, "sha256": sha256_of(p)} for p in paths},
    }
    tmp_manifest = out / (ARCHIVES_MANIFEST + ".tmp")
    tmp_manifest.write_text(json.dumps(manifest, indent=2) + "\n")
    tmp_manifest.replace(out / ARCHIVES_MANIFEST)  # readers never see a half-written manifest
    return paths


def _archive(out: Path, name: str, version: str, handler: Path, config: Path,
             serialized: Path | None = None, extra: list[Path] = ()) -> Path:
    cmd = [
        sys.executable, "-m", "model_archiver.model_packaging",
        "--model-name", name, "--version", version, "--handler", str(handler),
        "--config-file", str(config), "--export-path", str(out), "--force",
    ]
    if serialized is not None:
        cmd += ["--serialized-file", str(serialized)]
    if extra:
        cmd += ["--extra-files", ",".join(str(p) for p in extra)]
    # a fresh process: the archiver parses sys.argv and may sys.exit on bad input
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    path = out / f"{name}.mar"
    if result.returncode != 0 or not path.is_file():
        raise ArchiveError(f"torch-model-archiver failed for {name}: {result.stderr.strip()[-2000:]}")
    return path

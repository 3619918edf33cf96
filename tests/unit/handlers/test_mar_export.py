import json
import zipfile
from pathlib import Path

import pytest
import torch

pytest.importorskip("model_archiver", reason="torch-model-archiver==0.12.0 is not installed")

from smartlib_core.embedding import EMBEDDER_ID  # noqa: E402
from smartlib_core.encoder_model import BookEncoder, save_weights  # noqa: E402
from smartlib_training import mar_export  # noqa: E402

CONFIG_DIR = Path(__file__).resolve().parents[3] / "model_store" / "config"


@pytest.fixture
def version_dir(tmp_path):
    torch.manual_seed(0)
    folder = tmp_path / "encoders" / "enc-20261126-abc"
    folder.mkdir(parents=True)
    save_weights(BookEncoder(), folder)
    return folder


@pytest.fixture
def exported(tmp_path, version_dir):
    return mar_export.export_mars(tmp_path / "store", version_dir, config_dir=CONFIG_DIR)


def test_archives_carry_the_encoder_version_and_their_checksums(tmp_path, exported, version_dir):
    embedder, encoder = exported
    folder = tmp_path / "store" / "torchserve" / "enc-20261126-abc"
    assert embedder.parent == folder and encoder.parent == folder
    for path, handler in ((embedder, "smartlib_embedding_handler.py"), (encoder, "smartlib_encoder_handler.py")):
        with zipfile.ZipFile(path) as archive:
            manifest = json.loads(archive.read("MAR-INF/MANIFEST.json"))
            assert manifest["model"]["modelVersion"] == "enc-20261126-abc"
            assert manifest["model"]["handler"] == handler
    with zipfile.ZipFile(encoder) as archive:
        assert archive.read("encoder.safetensors") == (version_dir / "encoder.safetensors").read_bytes()
    with zipfile.ZipFile(embedder) as archive:
        assert json.loads(archive.read("embedder.json")) == {"embedder_id": EMBEDDER_ID}
    manifest = json.loads((folder / "archives.json").read_text())
    assert manifest["version"] == "enc-20261126-abc"
    assert manifest["archives"]["smartlib_encoder"]["sha256"] == mar_export.sha256_of(encoder)
    assert mar_export.verify_archives(folder) == {"smartlib_embedder": embedder, "smartlib_encoder": encoder}
    assert mar_export.newest_version(tmp_path / "store") == "enc-20261126-abc"


def test_a_tampered_archive_is_refused(exported):
    encoder = exported[1]
    with open(encoder, "ab") as f:
        f.write(b"\0")
    with pytest.raises(mar_export.ArchiveError, match="does not match"):
        mar_export.verify_archives(encoder.parent)


def test_a_missing_archive_or_manifest_is_refused(exported):
    exported[0].unlink()
    with pytest.raises(mar_export.ArchiveError, match="missing"):
        mar_export.verify_archives(exported[0].parent)
    (exported[0].parent / "archives.json").unlink()
    with pytest.raises(mar_export.ArchiveError, match="cannot read"):
        mar_export.verify_archives(exported[0].parent)


def test_unsafe_version_names_and_missing_weights_are_refused(tmp_path):
    for name in ("..", "-rf", "a b"):
        folder = tmp_path / "x" / name
        with pytest.raises(mar_export.ArchiveError):
            mar_export.export_mars(tmp_path / "store", folder, config_dir=CONFIG_DIR)
    empty = tmp_path / "v1"
    empty.mkdir()
    with pytest.raises(mar_export.ArchiveError, match="missing"):
        mar_export.export_mars(tmp_path / "store", empty, config_dir=CONFIG_DIR)

"""`smartlib kb ...` and `smartlib artifact ...` handlers, driven through their argparse parsers."""
from __future__ import annotations

import argparse
import json
import shutil

import pytest

from smartlib_core import manifest as mf
from smartlib_core.errors import FailedPrecondition
from smartlib_server.artifacts import cli, knowledge_base as kb


def run(settings, *argv: str) -> int:
    parser = argparse.ArgumentParser(prog="smartlib")
    cli.add_kb_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.handler(settings, args)


def test_build_list_push_pull_activate_rollback(artifact_settings, capsys):
    s = artifact_settings
    root = cli.kb_root(s)
    assert run(s, "kb", "build", "--encoder", "none", "--activate") == 0
    first = kb.current_version(root)
    assert run(s, "kb", "build", "--encoder", "none") == 0
    second = kb.list_kbs(root)[-1].version
    out = capsys.readouterr().out
    assert f"built {first}" in out and f"activated {first}" in out and "'vectors_2688': 5" in out

    run(s, "kb", "list")
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"* {first}") and lines[1].startswith(f"  {second}")

    run(s, "kb", "push")  # the active version by default
    run(s, "kb", "push", second)
    run(s, "kb", "list", "--remote")
    remote = capsys.readouterr().out
    assert first in remote and second in remote

    shutil.rmtree(root / second)
    run(s, "kb", "pull", "latest", "--activate")
    assert kb.current_version(root) == second and mf.verify(root / second)
    run(s, "kb", "rollback")
    assert kb.current_version(root) == first
    run(s, "kb", "activate", second)
    assert kb.current_version(root) == second


def test_push_with_nothing_active_names_the_fix(artifact_settings):
    with pytest.raises(FailedPrecondition, match="name the version"):
        run(artifact_settings, "kb", "push")


def test_export_on_demand(artifact_settings, capsys):
    run(artifact_settings, "kb", "export", "--keep", "1")
    files = list(cli.exports_dir(artifact_settings).glob("catalog-*.csv"))
    assert len(files) == 1 and str(files[0]) in capsys.readouterr().out


@pytest.fixture
def encoder_version(artifact_settings):
    """A real (untrained) BookEncoder saved and sealed the way training publishes versions."""
    from smartlib_core.encoder_model import BookEncoder, save_weights

    directory = cli.local_root(artifact_settings, "encoder") / "enc-2026-11-26"
    directory.mkdir(parents=True)
    save_weights(BookEncoder(), directory)
    mf.seal(directory, "encoder", directory.name)
    return directory


def test_build_uses_the_newest_encoder_version(artifact_settings, encoder_version):
    run(artifact_settings, "kb", "build")
    root = cli.kb_root(artifact_settings)
    manifest = mf.read(root / kb.list_kbs(root)[-1].version)
    assert manifest["encoder_version"] == "enc-2026-11-26"
    assert manifest["counts"]["vectors_256"] == 5


def test_build_refuses_tampered_encoder_weights(artifact_settings, encoder_version):
    weights = next(encoder_version.glob("*.safetensors"))
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(mf.ArtifactIntegrityError, match="does not match"):
        run(artifact_settings, "kb", "build")
    assert kb.list_kbs(cli.kb_root(artifact_settings)) == []


def test_mar_archives_are_checked_sealed_pushed_and_pulled(artifact_settings, capsys):
    from smartlib_core.archives import verify_archives

    directory = cli.local_root(artifact_settings, "mar") / "enc-2026-11-26"
    directory.mkdir(parents=True)
    archives = {}
    for name in ("smartlib_embedder", "smartlib_encoder"):
        (directory / f"{name}.mar").write_bytes(name.encode() * 100)
        archives[name] = {"file": f"{name}.mar", "sha256": mf.sha256_file(directory / f"{name}.mar")}
    (directory / "archives.json").write_text(json.dumps({"version": directory.name, "archives": archives}))

    run(artifact_settings, "artifact", "push", "mar", directory.name)
    assert "pushed mar enc-2026-11-26: 3 files" in capsys.readouterr().out
    shutil.rmtree(directory)
    run(artifact_settings, "artifact", "pull", "mar", "latest")
    assert set(verify_archives(directory)) == {"smartlib_embedder", "smartlib_encoder"}
    run(artifact_settings, "artifact", "push", "mar", directory.name)  # a pulled folder pushes as is
    assert "pushed mar enc-2026-11-26: 3 files" in capsys.readouterr().out


def test_a_mar_folder_failing_its_archives_json_is_not_pushed(artifact_settings):
    directory = cli.local_root(artifact_settings, "mar") / "v1"
    directory.mkdir(parents=True)
    (directory / "smartlib_encoder.mar").write_bytes(b"x")
    entry = {"file": "smartlib_encoder.mar", "sha256": "0" * 64}
    (directory / "archives.json").write_text(json.dumps({"archives": {"smartlib_encoder": entry}}))
    with pytest.raises(mf.ArtifactIntegrityError, match="refusing"):
        run(artifact_settings, "artifact", "push", "mar", "v1")
    assert not (directory / mf.MANIFEST).exists()

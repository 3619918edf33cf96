"""`smartlib train` end to end on the starter catalog, into a model store without TorchServe configs."""
from __future__ import annotations

import shutil

from smartlib_server import cli


def test_train_saves_the_encoder_and_says_why_archives_are_missing(tmp_path, starter_sqlite, monkeypatch, capsys):
    home, store = tmp_path / "home", tmp_path / "store"
    home.mkdir()
    shutil.copy(starter_sqlite, home / "catalog.sqlite3")
    monkeypatch.setenv("SMARTLIB_MODEL_STORE", str(store))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")

    assert cli.main(["train", "--home", str(home), "--epochs", "1"]) == 1
    err = capsys.readouterr().err
    assert "config/smartlib_embedder.yaml" in err and "--no-mar" in err and "Traceback" not in err
    versions = list((store / "encoder").iterdir())
    assert len(versions) == 1 and (versions[0] / "report.md").is_file()  # the encoder itself was kept

    assert cli.main(["train", "--home", str(home), "--epochs", "1", "--no-mar"]) == 0
    assert len(list((store / "encoder").iterdir())) == 2

"""Runs clients/notebooks/quickstart.ipynb top to bottom in a real kernel against a live server,
with both the synchronous and the asyncio client."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

NOTEBOOK = Path(__file__).resolve().parents[2] / "clients" / "notebooks" / "quickstart.ipynb"


def test_quickstart_notebook_runs_against_the_server(server, monkeypatch, tmp_path):
    # The kernel is a child process: it inherits this environment, and reads the address from it.
    monkeypatch.setenv("SMARTLIB_ADDRESS", server.address)
    monkeypatch.delenv("SMARTLIB_TOKEN", raising=False)
    monkeypatch.delenv("MPLBACKEND", raising=False)  # keep the inline backend, which renders PNGs
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(
        notebook, kernel_name="python3", timeout=180, resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute(env=dict(os.environ))  # raises CellExecutionError on the first failing cell
    nbformat.write(notebook, tmp_path / "quickstart.executed.ipynb")  # kept for debugging

    code_cells = [c for c in notebook.cells if c.cell_type == "code"]
    assert all(c.execution_count for c in code_cells), "every code cell ran"
    outputs = [o for c in code_cells for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]

    # Stream chunks are concatenated as they are: ipykernel flushes on a timer, so one print()
    # can arrive split across two outputs (CI once saw "async similar:" apart from its list).
    text = "".join(o.get("text", "") for o in outputs) + "\n".join(
        str(o.get("data", {}).get("text/plain", "")) for o in outputs
    )
    assert "The Hobbit" in text  # the lookup found it
    books = len(server.services.index.books)
    assert f"{books} books in {-(-books // 100)} pages" in text  # page_iter went through the catalog
    assert "async similar: [" in text and "async search: [" in text  # the asyncio client's cell ran
    assert f"async pages: {books} books" in text
    assert server.address in text  # the kernel used the address the test gave it
    assert any("image/png" in o.get("data", {}) for o in outputs), "the neighbourhood plot rendered"

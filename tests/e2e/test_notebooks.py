"""The three notebooks run headless (nbclient, kernel ``python3``) at their small default size.

Each notebook asserts its own claims in its cells (the expander mixes and the baselines do
not; every expander path count lies in its mixing-lemma band; the trained model's graph has
the certificate's fingerprints), so a notebook that runs is a notebook whose story holds.
"""

from __future__ import annotations

from pathlib import Path

import nbclient
import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
NAMES = ["01_log_step_mixing.ipynb", "02_path_counts.ipynb", "03_compile_and_train.ipynb"]


def test_the_three_notebooks_exist():
    assert [p.name for p in NOTEBOOKS] == NAMES


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_one_parameter_cell_selecting_the_size(path):
    nb = nbformat.read(path, as_version=4)
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1
    assert tagged[0].cell_type == "code" and tagged[0].source.startswith("FULL = False")
    # committed small: no outputs, no execution counts
    for c in nb.cells:
        if c.cell_type == "code":
            assert c.outputs == [] and c.execution_count is None


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path, tmp_path):
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        nb,
        kernel_name="python3",
        # a hung kernel fails the test instead of hanging CI: one cell of the small
        # configuration takes seconds, so 15 minutes is a real limit, not a benchmark
        timeout=900,
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()  # raises CellExecutionError, with the cell, on any failure
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors
    images = [o for c in nb.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    assert images, "every notebook draws at least one figure"

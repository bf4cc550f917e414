"""The main job (``python3 -m compiler.demo``), end to end, against independent computations."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from compiler import demo
from compiler.spec import load_layered
from expandergraph import BipartiteGraph

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "compiler" / "specs" / "demo_digits.yaml"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """One real run of the module entry point, 2 epochs, JSON summary on stdout."""
    out = tmp_path_factory.mktemp("demo") / "run"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "compiler.demo",
            "--epochs",
            "2",
            "--limit",
            "600",
            "--out",
            str(out),
            "--json",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    return proc, out


def _reach_bruteforce(lg) -> list[float]:
    """Reach fractions by dense boolean matrix products (independent of the bitset code)."""
    reach = np.eye(lg.widths[0], dtype=bool)
    out = []
    for layer in lg:
        b = layer.biadjacency().toarray() > 0  # (right, left)
        reach = (b.astype(np.int64) @ reach.astype(np.int64)) > 0
        out.append(float(reach.mean()))
    return out


def test_default_spec_is_shipped_and_chains():
    assert demo.DEFAULT_SPEC == SPEC and SPEC.is_file()
    lg = load_layered(SPEC)
    assert lg.widths == [64, 256, 256, 256, 10]
    assert [layer.degree for layer in lg] == [16, 16, 16, 256]


def test_module_entry_point_succeeds(run):
    proc, out = run
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["ok"] is True and summary["certified"] is True
    assert summary["fingerprints_match"] is True
    for name in ("reach_fraction.png", "curves.png", "best.pt", "certificate.json", "demo.json"):
        path = out / name
        assert path.is_file() and path.stat().st_size > 0, name
    for name in ("reach_fraction.png", "curves.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (
        json.loads((out / "demo.json").read_text())["layered_fingerprint"]
        == (summary["layered_fingerprint"])
    )
    assert len((out / "metrics.csv").read_text().strip().splitlines()) == 1 + 2


def test_fingerprints_equal_an_independent_rebuild(run):
    proc, out = run
    summary = json.loads(proc.stdout)
    lg = load_layered(SPEC)  # the spec's seed is 0, the demo's default seed
    expected = lg.fingerprints
    for source, fps in summary["fingerprints"].items():
        assert fps == expected, source
    assert summary["layered_fingerprint"] == lg.fingerprint
    # the checkpoint's raw index tables, decoded here without compiler code
    ck = torch.load(out / "best.pt", map_location="cpu", weights_only=True)
    keys = sorted(
        (k for k in ck["model"] if k.endswith(".index")), key=lambda k: int(k.split(".")[1])
    )
    assert len(keys) == len(lg)
    for key, layer in zip(keys, lg):
        table = ck["model"][key].numpy()  # block 1: rows are the input nodes of each output
        g = BipartiteGraph.from_ell(layer.left, table)
        assert g.fingerprint == layer.fingerprint


def test_guarantees_match_bruteforce(run):
    summary = json.loads(run[0].stdout)
    lg = load_layered(SPEC)
    fractions = _reach_bruteforce(lg)
    np.testing.assert_allclose(summary["reach_fraction"], fractions)
    depth = next(k + 1 for k, f in enumerate(fractions) if f == 1.0)
    assert summary["reach_depth"] == depth
    assert summary["bound_depth"] >= depth  # a valid bound is never below the measurement
    ex = summary["path_example"]
    i, j = ex["from_layer"], ex["to_layer"]
    x = np.zeros(lg.widths[i], dtype=object)
    x[: ex["sources"]] = 1  # the demo uses the first |S| inputs and the first |T| targets
    for layer in list(lg)[i:j]:
        x = layer.biadjacency().toarray().astype(object) @ x
    assert ex["count"] == int(x[: ex["targets"]].sum())
    # D^t |S||T| / n for the in-regular chain: |S||T| * prod |E_l| / (n_l n_{l+1}) * prod n_l
    pred = ex["sources"] * ex["targets"]
    for l in range(i, j):
        pred *= lg[l].num_edges / (lg.widths[l] * lg.widths[l + 1])
    for l in range(i + 1, j):
        pred *= lg.widths[l]
    assert ex["predicted"] == pytest.approx(pred)
    assert ex["within_bound"] is (abs(ex["count"] - pred) <= ex["error_bound"])


def test_test_accuracy_is_that_of_the_checkpoint(run):
    from compiler import compile
    from compiler.data import load_dataset

    proc, out = run
    summary = json.loads(proc.stdout)
    net = compile(SPEC)
    ck = torch.load(out / "best.pt", map_location="cpu", weights_only=True)
    net.load_state_dict(ck["model"])
    net.eval()
    test = load_dataset("digits", split="test")
    with torch.no_grad():
        acc = (net(test.images).argmax(1) == test.labels).float().mean().item()
    assert summary["test_acc"] == pytest.approx(acc, abs=1e-6)


def test_fingerprint_mismatch_exits_nonzero(tmp_path, monkeypatch):
    """A trained model whose graph differs from the certificate must fail the job."""
    import compiler.network as network

    real = network.extract_layered

    def tampered(model):
        lg = real(model)
        first = lg[0]
        ell = first.ell().copy()
        ell[0, 0] = next(v for v in range(first.left) if v not in set(ell[0].tolist()))
        bad = BipartiteGraph.from_ell(first.left, np.sort(ell, axis=1))
        return type(lg)([bad, *list(lg)[1:]], lg.names)

    monkeypatch.setattr(network, "extract_layered", tampered)
    r = demo.run_demo(
        epochs=1, limit=100, out=tmp_path / "t", stream=io.StringIO(), quiet=True, samples=8
    )
    assert r["fingerprints_match"] is False and r["ok"] is False
    assert r["fingerprints"]["trained model"][0] != r["fingerprints"]["certificate"][0]
    assert r["fingerprints"]["checkpoint index tables"] == r["fingerprints"]["certificate"]


def test_failing_certificate_exits_1(tmp_path, capsys):
    spec = tmp_path / "grouped.yaml"
    spec.write_text(
        "input: [1, 8, 8]\nlayers:\n  - kind: flatten\n"
        "  - {out: 64, graph: grouped, degree: 16}\n  - {out: 64, graph: grouped, degree: 16}\n"
        "  - {out: 10, graph: local, degree: 16}\n"
    )
    rc = demo.main(["--spec", str(spec), "--out", str(tmp_path / "o"), "-q"])
    text = capsys.readouterr().out
    assert rc == 1
    assert "certificate FAILED" in text and "reach_depth" in text
    assert not (tmp_path / "o" / "best.pt").exists()  # nothing was compiled or trained


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["--epochs", "0"], "epochs: 0 must be an integer >= 1"),
        (["--lr", "-1"], "lr: -1.0 must be a finite number > 0"),
        (["--lr", "nan"], "lr: nan must be a finite number > 0"),
        (["--batch-size", "0"], "batch_size: 0 must be an integer >= 1"),
        (["--seed", "-3"], "seed: -3 must be an integer >= 0"),
        (["--samples", "0"], "samples: 0 must be an integer >= 1"),
        (["--limit", "5"], "limit: 5 must be an integer >= 20"),
        (["--spec", "no/such/spec.yaml"], "spec: no/such/spec.yaml: no such file"),
        (["--spec", "README.md"], "must end in .yaml, .yml or .json"),
    ],
)
def test_bad_input_is_one_line_status_2(argv, needle, capsys, tmp_path):
    rc = demo.main([*argv, "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert rc == 2
    assert err.startswith("xnet demo: error: ") and needle in err
    assert err.count("\n") == 1


def test_out_must_be_a_directory(tmp_path, capsys):
    f = tmp_path / "file"
    f.write_text("x")
    assert demo.main(["--out", str(f)]) == 2
    assert "out: " in capsys.readouterr().err


def test_spec_that_does_not_chain_is_refused(tmp_path, capsys):
    spec = tmp_path / "conv.yaml"
    spec.write_text(
        "input: [1, 8, 8]\nlayers:\n  - {kind: conv, out: 8, degree: 1, kernel_size: 3}\n"
        "  - kind: flatten\n  - {out: 10, graph: dense}\n"
    )
    assert demo.main(["--spec", str(spec), "--out", str(tmp_path / "o")]) == 2
    assert "does not chain" in capsys.readouterr().err

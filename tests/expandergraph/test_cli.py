"""The expandergraph command line: build, certify, and its error handling."""

import json
import math

import pytest

from expandergraph.cli import main


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_certify_paley_json(capsys):
    code, out, err = run(capsys, "certify", "paley:q=13", "--json")
    assert code == 0, err
    d = json.loads(out)
    for key in (
        "n", "edges", "degree", "bipartite", "connected", "lambda_2", "lambda_min", "lambda",
        "ramanujan_bound", "ramanujan", "diameter", "vertex_expansion", "edge_expansion",
        "fingerprint",
    ):  # fmt: skip
        assert key in d, key
    assert d["n"] == 13 and d["degree"] == 6 and d["edges"] == 39
    assert d["lambda_2"] == pytest.approx((-1 + math.sqrt(13)) / 2, abs=1e-9)
    assert d["lambda_min"] == pytest.approx((-1 - math.sqrt(13)) / 2, abs=1e-9)
    assert d["lambda"] == pytest.approx((1 + math.sqrt(13)) / 2, abs=1e-9)
    assert d["ramanujan_bound"] == pytest.approx(2 * math.sqrt(5))
    assert d["ramanujan"] is True and d["connected"] is True and d["bipartite"] is False
    assert d["diameter"] == 2
    ve = d["vertex_expansion"]
    assert ve["lower"] <= ve["exact"] <= ve["upper"]


def test_build_then_certify_file(tmp_path, capsys):
    path = tmp_path / "g.txt"
    code, _, err = run(capsys, "build", "random-regular:n=60,d=4,seed=5", "-o", str(path))
    assert code == 0, err
    _, out_file, _ = run(capsys, "certify", str(path), "--json", "--checks", "degrees,spectrum")
    _, out_cons, _ = run(
        capsys,
        "certify",
        "random-regular:n=60,d=4,seed=5",
        "--json",
        "--checks",
        "degrees,spectrum",
    )
    a, b = json.loads(out_file), json.loads(out_cons)
    assert a["fingerprint"] == b["fingerprint"] and a["degree"] == 4
    assert a["lambda"] == pytest.approx(b["lambda"])


def test_readable_report(capsys):
    code, out, _ = run(capsys, "certify", "margulis:m=5")
    assert code == 0
    assert "fingerprint" in out and "verdict" in out and "lambda" in out


def test_disconnected_graph_json(tmp_path, capsys):
    path = tmp_path / "two_triangles.txt"
    path.write_text("0 1\n1 2\n2 0\n3 4\n4 5\n5 3\n")
    code, out, _ = run(capsys, "certify", str(path), "--json")
    d = json.loads(out)
    assert d["connected"] is False and d["diameter"] is None and d["lambda"] == pytest.approx(2)
    assert run(capsys, "certify", str(path), "--strict")[0] == 1


@pytest.mark.parametrize(
    "content, argv_extra, needle",
    [
        (None, ["certify", "{missing}"], "no such file"),
        ("0 1\n1\n", ["certify", "{path}"], "malformed line"),
        ("0 -3\n", ["certify", "{path}"], "negative"),
        ("0 1.5\n", ["certify", "{path}"], "not a non-negative integer"),
        ("# nothing\n", ["certify", "{path}"], "empty graph"),
        (None, ["certify", "hexagon:n=6"], "unknown construction 'hexagon'"),
        (None, ["certify", "paley:q=9"], "q"),
        (None, ["certify", "random-regular:n=5,d=3,seed=0"], "even"),
        (None, ["certify", "random-regular:n=10,d=3,sed=1"], "unknown parameter 'sed'"),
        (None, ["certify", "paley:q=13", "--checks", "spectrum,nope"], "nope"),
        (None, ["build", "lps:p=5,q=5", "-o", "{path}"], "p"),
    ],
)
def test_bad_input_one_line(tmp_path, capsys, content, argv_extra, needle):
    path = tmp_path / "in.txt"
    if content is not None:
        path.write_text(content)
    argv = [a.format(path=path, missing=tmp_path / "missing.txt") for a in argv_extra]
    code, out, err = run(capsys, *argv)
    assert code == 2
    lines = err.strip().splitlines()
    assert 1 <= len(lines) <= 3 and lines[-1].startswith("expandergraph: error:")
    assert needle in err
    assert "Traceback" not in err

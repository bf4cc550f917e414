"""``xnet compile``: summaries that match an independent count, and one-line errors."""

import json
from importlib import resources

import pytest

from compiler import compile
from compiler.cli import main
from compiler.counting import count

pytestmark = pytest.mark.usefixtures("one_thread")


def spec_path(name: str) -> str:
    return str(resources.files("compiler") / "specs" / name)


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_summary_table(capsys):
    path = spec_path("tiny-mlp.yaml")
    code, out, err = run(capsys, "compile", path, "--summary")
    assert code == 0 and err == ""
    spec = compile(path).spec  # the spec as the compiler reads it
    lines = out.splitlines()
    rows = [l for l in lines if l[:3].strip().isdigit()]
    assert len(rows) == len(spec.layers)
    for layer, row in zip(spec.layers, rows):
        fields = row.split()
        assert fields[0] == str(layer.index) and fields[1] == layer.kind
        if layer.has_graph:
            # "in -> out degree block density params flops pass"
            assert fields[2:5] == [str(layer.in_width), "->", str(layer.out)]
            assert fields[5:7] == [str(layer.degree), str(layer.block)]
            assert fields[-1] == "pass"
            flops = layer.out * layer.degree  # MACs of non-zero weights, per sample
            assert fields[-2] == f"{flops:,}"
            params = layer.out * layer.degree + layer.out
            assert fields[-3] == f"{params:,}"
    c = count(compile(path))
    total = next(l for l in lines if l.startswith("total:"))
    assert f"params {c['params']:,} (dense {c['dense_params']:,}" in total
    assert f"FLOPs {c['flops']:,} (dense {c['dense_flops']:,}" in total


def test_json_summary(capsys):
    path = spec_path("tiny-cnn.yaml")
    code, out, _ = run(capsys, "compile", path, "--summary", "--json")
    assert code == 0
    data = json.loads(out)
    spec = compile(path).spec  # the spec as the compiler reads it
    assert data["name"] == "tiny-cnn" and data["input"] == [1, 28, 28]
    assert [r["kind"] for r in data["layers"]] == [l.kind for l in spec.layers]
    for layer, r in zip(spec.layers, data["layers"]):
        assert tuple(r["out_shape"]) == layer.out_shape
        if layer.has_graph:
            assert (r["degree"], r["block"]) == (layer.degree, layer.block)
            assert r["certificate"]["passed"] is True
    c = count(compile(path))
    assert data["totals"] == {k: c[k] for k in ("params", "flops", "dense_params", "dense_flops")}
    assert data["override"] is None


def test_default_output_and_input_option(capsys):
    code, out, _ = run(capsys, "compile", spec_path("tiny-cnn.yaml"), "--input", "1x32x32")
    assert code == 0 and out.count("\n") == 1 and "certified" in out
    code, out, _ = run(
        capsys, "compile", spec_path("tiny-cnn.yaml"), "--json", "--input", "1x32x32"
    )
    assert json.loads(out)["layers"][0]["out_shape"] == [16, 32, 32]


def test_uncertified_spec(capsys, tmp_path):
    p = tmp_path / "grouped.yaml"
    p.write_text("input: 16\nlayers:\n  - out: 16\n    graph: grouped\n    degree: 4\n")
    code, out, err = run(capsys, "compile", str(p), "--summary")
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and "layers[0] failed" in err and "spectral_expansion" in err
    code, out, err = run(capsys, "compile", str(p), "--summary", "--allow-uncertified")
    row = next(l for l in out.splitlines() if l.strip().startswith("0 "))
    assert code == 0 and "FAIL: " in row and "spectral_expansion" in row
    assert row.endswith("(overridden)")
    assert "override: allow_uncertified=True: layers[0] failed" in out


BAD = [
    ("input: 16\nlayers:\n  - out: 8\n    degre: 4\n", "layers[0]: unknown key 'degre'"),
    ("input: 16\nlayers:\n  - out: 8\n    degree: 600\n", "layers[0].degree"),
    ("input: 16\nlayers:\n  - out: 8\n    degree: 4\n    block: 3\n", "layers[0].block"),
    ("input: 16\nlayers: [\n  - out: 8\n", "malformed YAML"),
    ("input: 16\nlayers:\n  - kind: conv\n    out: 8\n    degree: 4\n", "layers[0]"),
]


@pytest.mark.parametrize("text,match", BAD)
def test_bad_specs_give_one_line(capsys, tmp_path, text, match):
    p = tmp_path / "bad.yaml"
    p.write_text(text)
    code, out, err = run(capsys, "compile", str(p), "--summary")
    assert code == 2 and out == ""
    assert err.startswith("xnet: error: ") and err.count("\n") == 1
    assert match in err


@pytest.mark.parametrize(
    "argv,match",
    [
        (["compile", "missing.yaml"], "no such file"),
        (["compile", "spec.txt"], "must end in .yaml"),
        (["compile", "x.yaml", "--input", "3x0x2"], "--input"),
        (["compile", "x.yaml", "--backend", "cuda"], "invalid choice"),
        ([], "required"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_bad_arguments(capsys, argv, match):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert err.startswith("xnet: error: ") and err.count("\n") == 1 and match in err

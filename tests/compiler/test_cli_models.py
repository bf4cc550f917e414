"""``xnet compile`` and ``xnet certify`` take model names as well as spec files."""

from __future__ import annotations

import json

import pytest

from compiler.cli import main


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_compile_accepts_a_model_name(capsys):
    code, out, _ = run(capsys, "compile", "x-resnet-20", "--json")
    s = json.loads(out)
    assert code == 0 and s["name"] == "x-resnet-20"
    assert s["certificates"]["layers_passed"] is True
    # the same model as compiler.models.build
    from compiler import models

    m = models.build("x-resnet-20")
    assert s["totals"]["params"] == sum(p.numel() for p in m.parameters() if p.requires_grad)


def test_certify_a_model_name_and_its_exit_status(capsys):
    code, out, _ = run(capsys, "certify", "x-resnet-20", "--json")
    res = json.loads(out)
    assert code == 0 and res["status"] == "passed"
    assert res["certificates"]  # all() of nothing would pass
    assert all(c["status"] == "passed" for c in res["certificates"].values())
    code, out, _ = run(capsys, "certify", "grouped-resnet-20")
    assert code == 1 and "overall: failed" in out and "spectral_expansion" in out


@pytest.mark.parametrize("name", ["x-nosuch-3", "resnet-20", "nope.yaml"])
def test_unknown_names_are_one_line_errors(capsys, name):
    code, out, err = run(capsys, "certify", name)
    assert code == 2 and out == "" and err.count("\n") == 1 and err.startswith("xnet: error:")


def test_mixing_and_paths_on_a_models_network(capsys):
    from compiler import models
    from compiler.cli import network_of
    from expandergraph.network import path_count
    from expandergraph.spec import load_spec

    code, out, _ = run(capsys, "mixing", "x-resnet-20", "--json")
    res = json.loads(out)
    net = network_of("x-resnet-20")
    assert code == 0 and res["fingerprint"] == net.fingerprint
    assert res["fingerprint"] == models.build("x-resnet-20").certificates["network"].fingerprint
    assert res["reach_fraction"]["output"] == 1.0 and res["mixing_depth"] >= 1
    code, out, _ = run(
        capsys,
        "paths",
        "x-resnet-20",
        "--sources",
        "0-1",
        "--target",
        "layers[3]",
        "--targets",
        "0-7",
        "--json",
    )
    res = json.loads(out)
    assert code == 0 and res["count"] == path_count(net, "input", [0, 1], "layers[3]", range(8))
    # a chain spec: the mixing depth from the input is the layered reach depth
    from expandergraph.mixing import reach_depth
    from expandergraph.spec import build_layered

    code, out, _ = run(capsys, "mixing", "expandergraph/specs/mlp.yaml", "--json")
    assert json.loads(out)["mixing_depth"] == reach_depth(
        build_layered(load_spec("expandergraph/specs/mlp.yaml"))
    )
    code, _, err = run(
        capsys, "paths", "x-resnet-20", "--sources", "0", "--target", "nope", "--targets", "0"
    )
    assert code == 2 and "--target: no tensor 'nope'" in err

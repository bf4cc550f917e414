"""FLOPs (MACs of non-zero weights): the paper's X-DenseNet-BC-40 table, and ``xnet flops``."""

import json

import pytest

from compiler import models
from compiler.cli import flops, main
from compiler.counting import count

pytestmark = pytest.mark.usefixtures("one_thread")


def hand_densenet_bc_40(k: int, c: int = 2) -> int:
    """Independent MAC count of X-DenseNet-BC-40-k on 32x32 (D = cin // c per expander conv)."""
    macs = 2 * k * 3 * 9 * 32 * 32  # dense 3x3 stem 3 -> 2k
    cin, hw = 2 * k, 32
    for block in range(3):
        for _ in range(6):
            macs += 4 * k * (cin // c) * hw * hw  # 1x1 cin -> 4k
            macs += k * (4 * k // c) * 9 * hw * hw  # 3x3 4k -> k
            cin += k
        if block < 2:
            macs += (cin // 2) * (cin // c) * hw * hw  # transition 1x1 cin -> cin/2
            cin, hw = cin // 2, hw // 2
    return macs + 10 * cin  # dense classifier


PAPER = {24: 1.44e8, 36: 3.24e8, 48: 5.75e8, 60: 8.98e8}


@pytest.mark.parametrize("k", sorted(PAPER))
def test_x_densenet_bc_40_reproduces_the_paper_flops(k):
    # counted from the compiled modules by shape propagation (not by the hand formula)
    c = count(models.build(f"x-densenet-bc-40-{k}", backend="masked"))
    assert c["flops"] == hand_densenet_bc_40(k)
    assert abs(c["flops"] / PAPER[k] - 1) < 0.01
    assert c["dense_flops"] > 1.9 * c["flops"]


def test_lead_hand_numbers():
    got = [round(hand_densenet_bc_40(k) / 1e8, 3) for k in sorted(PAPER)]
    assert got == [1.447, 3.246, 5.763, 8.996]


def test_xnet_flops_json_and_text(capsys):
    assert main(["flops", "x-densenet-bc-40-24", "--input", "3x32x32", "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert {"flops", "params", "dense_flops"} <= set(r)
    assert r["flops"] == hand_densenet_bc_40(24)
    assert main(["flops", "grouped-mobilenet-small", "--groups", "4", "--input", "1x8x8"]) == 0
    text = capsys.readouterr().out
    same = flops("grouped-mobilenet-small", [1, 8, 8], density="1/4")
    assert f"{same['flops']:,} MACs" in text
    assert (
        main(["flops", "x-mobilenet-small", "--density", "1/4", "--input", "1x8x8", "--json"]) == 0
    )
    assert json.loads(capsys.readouterr().out)["flops"] == same["flops"]  # equal density


def test_xnet_flops_on_a_spec_file(tmp_path, capsys):
    spec = tmp_path / "s.json"
    spec.write_text(
        json.dumps(
            {
                "input": [4, 5, 5],
                "layers": [
                    {"kind": "conv", "out": 6, "degree": 2, "kernel_size": 3},
                    {"kind": "residual", "body": [{"kind": "conv", "out": 6, "degree": 3}]},
                    {"kind": "flatten"},
                    {"out": 3, "degree": 9},
                ],
            }
        )
    )
    assert main(["flops", str(spec), "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    # conv: 6 * 2 * 9 * 3*3; residual 1x1: 6 * 3 * 3*3; linear 3 * 9
    assert r["flops"] == 6 * 2 * 9 * 9 + 6 * 3 * 9 + 3 * 9
    assert r["dense_flops"] == 6 * 4 * 9 * 9 + 6 * 6 * 9 + 3 * 54
    assert r["params"] == 6 * 2 * 9 + 6 + 6 * 3 + 6 + 3 * 9 + 3


@pytest.mark.parametrize(
    "argv, message",
    [
        (["flops", "y-net"], "name: 'y-net' is not a model name"),
        (["flops", "x-resnet-20", "--density", "2"], "density: must lie in (0, 1]"),
        (["flops", "x-resnet-20", "--input", "3x0x4"], "--input"),
        (["flops", "x-resnet-20", "--input", "12"], "input: model 'x-resnet-20' needs CxHxW"),
        (["flops", "no-such.yaml"], "no such file"),
        (["flops", "x-resnet-20", "--groups", "2", "--density", "1/2"], "not allowed with"),
    ],
)
def test_xnet_flops_errors(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("xnet: error:") and message in err and len(err.splitlines()) == 1


def test_density_option_is_refused_for_spec_files(tmp_path, capsys):
    spec = tmp_path / "s.yaml"
    spec.write_text("input: 8\nlayers:\n  - out: 4\n    degree: 2\n")
    assert main(["flops", str(spec), "--density", "1/2"]) == 2
    assert "density: applies to model names only" in capsys.readouterr().err


@pytest.mark.parametrize(
    "name, macs, params",
    [
        # published: torchvision ResNet-18 (1.814 GMACs, 11,689,512 parameters);
        # MobileNet v1 1.0-224 (Howard et al. 2017, Table 8: 569M MACs, 4.2M parameters)
        ("dense-resnet-18", 1_814_073_344, 11_689_512),
        ("dense-mobilenet-1.0", 568_740_352, 4_231_976),
    ],
)
def test_dense_imagenet_originals_match_published_counts(name, macs, params):
    r = flops(name)
    assert (r["input"], r["flops"], r["params"]) == ([3, 224, 224], macs, params)
    assert (
        abs(r["flops"] / {"dense-resnet-18": 1.814e9, "dense-mobilenet-1.0": 5.69e8}[name] - 1)
        < 0.01
    )

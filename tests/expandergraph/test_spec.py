"""The layer-graph spec: validation, width/shape resolution, building layered graphs."""

import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import expandergraph
from compiler.spec import load_layered, load_spec
from expandergraph import LayeredGraph
from expandergraph.construct import build
from expandergraph.spec import build_layered, layer_graph

SPECS = Path(expandergraph.__file__).parent / "specs"


def lin(out, **kw):
    return {"out": out, **kw}


def spec(*layers, input=64, **top):
    return {"input": input, "layers": list(layers), **top}


def test_widths_degrees_seeds_and_defaults():
    s = load_spec(
        spec(
            lin(32, degree=8),
            {"kind": "activation"},
            lin(16, density=0.25, graph="biregular"),
            {"kind": "dropout"},
            lin(8, compression=3, seed=7),
            input=64,
            seed=10,
        )
    )
    got = [(l.kind, l.in_width, l.out, l.degree, l.seed, l.graph) for l in s.layers]
    assert got == [
        ("linear", 64, 32, 8, 10, "random-bipartite"),
        ("activation", 32, 32, None, 11, None),
        ("linear", 32, 16, 8, 12, "biregular"),  # floor(0.25 * 32)
        ("dropout", 16, 16, None, 13, None),
        ("linear", 16, 8, 5, 7, "random-bipartite"),  # floor(16 / 3), the reference rule
    ]
    assert s.layers[0].options == {"bias": True}
    assert s.layers[1].options == {"fn": "relu"}
    assert s.layers[3].options == {"p": 0.5}
    assert s.input == (64,) and s.seed == 10 and [l.index for l in s.layers] == list(range(5))


def test_dense_degree_is_input_width():
    s = load_spec(spec(lin(10, graph="dense"), lin(4, graph="dense", density=1.0), input=12))
    assert [l.degree for l in s.layers] == [12, 10]


def _window_count(size, k, s, p, d):
    """Brute force: count the window positions of a dilated kernel on the padded axis."""
    span = d * (k - 1) + 1
    return sum(1 for start in range(0, size + 2 * p, s) if start + span <= size + 2 * p)


@settings(max_examples=40, deadline=None)
@given(
    st.integers(1, 20),
    st.integers(1, 5),
    st.integers(1, 3),
    st.integers(0, 2),
    st.integers(1, 2),
)
def test_conv_shape_matches_brute_force(h, k, s, p, d):
    raw = spec(
        {
            "kind": "conv",
            "out": 4,
            "degree": 2,
            "kernel_size": k,
            "stride": s,
            "padding": p,
            "dilation": d,
        },
        input=[3, h, h + 1],
    )
    expect = (_window_count(h, k, s, p, d), _window_count(h + 1, k, s, p, d))
    if min(expect) < 1:
        with pytest.raises(ValueError, match=r"layers\[0\]: output spatial size"):
            load_spec(raw)
        return
    layer = load_spec(raw).layers[0]
    assert layer.in_shape == (3, h, h + 1) and layer.out_shape == (4, *expect)
    assert layer.in_width == 3 and layer.out == 4


def test_conv_net_shapes_pool_flatten():
    s = load_spec(
        {
            "input": [3, 32, 32],
            "layers": [
                {"kind": "conv", "out": 16, "graph": "dense", "kernel_size": 3, "padding": 1},
                {"kind": "norm"},
                {"kind": "pool", "pool": "max", "size": 2},
                {"kind": "depthwise", "kernel_size": 3, "stride": 2, "padding": 1},
                {"kind": "conv", "out": 32, "degree": 8, "kernel_size": [1, 1], "padding": "same"},
                {"kind": "pool", "pool": "adaptive_avg", "size": 2},
                {"kind": "flatten"},
                {"out": 10, "degree": 16},
            ],
        }
    )
    shapes = [l.out_shape for l in s.layers]
    assert shapes == [
        (16, 32, 32),
        (16, 32, 32),
        (16, 16, 16),
        (16, 8, 8),
        (32, 8, 8),
        (32, 2, 2),
        (128,),
        (10,),
    ]
    assert s.layers[2].options == {"pool": "max", "size": 2, "stride": 2, "padding": 0}
    assert s.layers[4].options["kernel_size"] == (1, 1)
    assert s.layers[7].in_width == 128
    # the conv layers' graphs are on channels; the flatten breaks the chain of widths
    assert (layer_graph(s.layers[4]).left, layer_graph(s.layers[4]).right) == (16, 32)
    with pytest.raises(ValueError, match=r"layers\[7\]: input width 128 does not chain"):
        build_layered(s)


def test_build_layered_graphs_are_reproducible_constructions():
    s = load_spec(
        spec(
            lin(32, degree=8, seed=3),
            {"kind": "activation", "fn": "gelu"},
            lin(32, graph="biregular", degree=4),
            lin(32, graph="grouped", degree=8),
            lin(32, graph="local", degree=5),
            lin(16, degree=8, block=4),
            input=64,
        )
    )
    lg = build_layered(s)
    assert lg.widths == [64, 32, 32, 32, 32, 16]
    assert lg.names == ["layers[0]", "layers[2]", "layers[3]", "layers[4]", "layers[5]"]
    assert [l.degree for l in lg] == [8, 4, 8, 5, 8]
    assert lg[4].block == 4 and lg[4].block_ell().shape == (4, 2)
    for layer in lg:
        assert build(layer.name).fingerprint == layer.fingerprint
    assert build_layered(load_spec(s.raw)).fingerprint == lg.fingerprint
    # distinct default seeds per layer: same construction, different layer index
    two = build_layered(load_spec(spec(lin(64, degree=8), lin(64, degree=8))))
    assert two[0].fingerprint != two[1].fingerprint
    assert lg[2].ell()[0].tolist() == list(range(8))  # grouped: group 0 reads 0..7


def test_files_yaml_json_npz(tmp_path):
    raw = spec(lin(16, degree=4), {"kind": "activation"}, lin(8, degree=4), input=16)
    y = tmp_path / "s.yaml"
    import yaml

    y.write_text(yaml.safe_dump(raw))
    j = tmp_path / "s.json"
    j.write_text(json.dumps(raw))
    a, b = load_layered(y), load_layered(j)
    assert a.fingerprint == b.fingerprint == load_layered(raw).fingerprint
    npz = tmp_path / "g.npz"
    a.save(npz)
    c = load_layered(npz)
    assert isinstance(c, LayeredGraph) and c.fingerprint == a.fingerprint and c.names == a.names
    assert load_spec(y).raw == raw


@pytest.mark.parametrize("name", ["mlp", "deep_expander", "deep_grouped", "deep_local"])
def test_packaged_specs(name):
    lg = load_layered(SPECS / f"{name}.yaml")
    if name == "mlp":
        assert lg.widths == [784, 512, 512, 10]
        assert [l.degree for l in lg] == [16, 16, 512]  # dense classifier
    else:
        assert lg.widths == [1024] * 9 and all(l.degree == 16 for l in lg)


BAD = [
    (spec(lin(32, degre=4)), r"^layers\[0\]: unknown key 'degre'$"),
    (
        spec(lin(600, degree=8), lin(8, degree=601)),
        r"^layers\[1\]\.degree: 601 exceeds the "
        r"layer's input width 600$",
    ),
    (
        spec(lin(8, degree=4), lin(8, degree=4), lin(8, degree=600)),
        r"^layers\[2\]\.degree: 600 exceeds the layer's input width 8$",
    ),
    (spec(lin(0, degree=4)), r"^layers\[0\]\.out: must be positive, got 0$"),
    (spec(lin(-5, degree=4)), r"^layers\[0\]\.out: must be positive, got -5$"),
    (spec(lin(8, degree=4), input=0), r"^input: must be a positive integer or \[C, H, W\]"),
    (spec(lin(8, degree=4), input=[3, 0, 4]), r"^input: must be a positive integer"),
    (spec(lin(8, degree=4), input="big"), r"^input: must be a positive integer"),
    (
        spec(lin(8, degree=4), lin(8, degree=4, **{"in": 16})),
        r"^layers\[1\]\.in: 16 does not chain: the previous layer's width is 8$",
    ),
    (
        spec(lin(8, graph="hexagon", degree=4)),
        r"^layers\[0\]\.graph: unknown construction "
        r"'hexagon'",
    ),
    (spec({"kind": "lin", "out": 8}), r"^layers\[0\]\.kind: unknown kind 'lin'"),
    (
        spec({"kind": "activation", "out": 8}),
        r"^layers\[0\]: graph key 'out' is not allowed "
        r"on a 'activation' layer",
    ),
    (spec({"kind": "norm", "degree": 8}), r"^layers\[0\]: graph key 'degree' is not allowed"),
    (
        spec(lin(8, degree=4, fn="relu")),
        r"^layers\[0\]: key 'fn' does not apply to kind "
        r"'linear'$",
    ),
    (
        spec(lin(8, degree=4, density=0.5)),
        r"^layers\[0\]: give exactly one of degree, "
        r"density, compression",
    ),
    (spec(lin(8)), r"^layers\[0\]: give one of degree, density, compression$"),
    (spec(lin(8, density=1.5)), r"^layers\[0\]\.density: must be in \(0, 1\]"),
    (
        spec(lin(8, compression=100)),
        r"^layers\[0\]\.compression: 100 leaves degree 0 for "
        r"input width 64$",
    ),
    (spec(lin(8, compression=0.5)), r"^layers\[0\]\.compression: must be >= 1"),
    (spec(lin(8, degree=True)), r"^layers\[0\]\.degree: must be an integer, got True$"),
    (spec(lin(8, degree=4.5)), r"^layers\[0\]\.degree: must be an integer, got 4\.5$"),
    (
        spec(lin(10, degree=4, block=4)),
        r"^layers\[0\]\.block: 4 must divide the input width "
        r"64 and out 10$",
    ),
    (
        spec(lin(8, degree=6, block=4)),
        r"^layers\[0\]\.degree: degree 6 \(in nodes\) must be a "
        r"multiple of block 4$",
    ),
    (
        spec(lin(8, graph="grouped", degree=6)),
        r"^layers\[0\]\.degree: grouped needs the "
        r"degree 6 to divide the input width 64",
    ),
    (
        spec(lin(12, graph="grouped", degree=8)),
        r"^layers\[0\]\.out: grouped has 8 groups, "
        r"which must divide the output width 12$",
    ),
    (
        spec(lin(10, graph="biregular", degree=4)),
        r"^layers\[0\]\.degree: biregular needs "
        r"out \* degree = 10\*4 divisible by the input width 64$",
    ),
    (
        spec(lin(32, graph="lps-bipartite", degree=6)),
        r"^layers\[0\]\.out: lps-bipartite "
        r"needs out = in",
    ),
    (spec({"kind": "activation", "fn": "swish"}), r"^layers\[0\]\.fn: must be one of relu"),
    (spec({"kind": "dropout", "p": 1.0}), r"^layers\[0\]\.p: must be in \[0, 1\)"),
    (
        spec({"kind": "conv", "out": 8, "degree": 4}),
        r"^layers\[0\]: kind 'conv' needs a "
        r"\[C, H, W\] input, got width 64$",
    ),
    (
        spec(lin(8, degree=2), input=[3, 8, 8]),
        r"^layers\[0\]: kind 'linear' needs a flat "
        r"input, got shape \[3, 8, 8\]; add a 'flatten' layer$",
    ),
    (
        spec({"kind": "pool", "pool": "median"}, input=[3, 8, 8]),
        r"^layers\[0\]\.pool: must "
        r"be one of max, avg, adaptive_avg",
    ),
    (
        spec(
            {
                "kind": "conv",
                "out": 4,
                "degree": 1,
                "kernel_size": 3,
                "stride": 2,
                "padding": "same",
            },
            input=[3, 8, 8],
        ),
        r"^layers\[0\]\.padding: 'same' needs "
        r"stride 1",
    ),
    (
        spec({"kind": "conv", "out": 4, "degree": 1, "kernel_size": 9}, input=[3, 8, 8]),
        r"^layers\[0\]: output spatial size 0x0 is empty",
    ),
    (
        spec({"kind": "depthwise"}, input=[3, 8, 8]),
        r"^layers\[0\]\.kernel_size: required on "
        r"a depthwise layer$",
    ),
    (spec(lin(8, degree=4, bias="yes")), r"^layers\[0\]\.bias: must be true or false"),
    (
        spec(lin(8, degree=4, backend="cuda")),
        r"^layers\[0\]\.backend: must be one of auto, "
        r"masked, gather, triton",
    ),
    (spec(lin(8, degree=4, seed=-1)), r"^layers\[0\]\.seed: must be >= 0, got -1$"),
    (spec(lin(8, degree=4), certify="spectrum"), r"^certify: must be a list of check names"),
    (spec(lin(8, degree=4), depth=3), r"^spec: unknown key 'depth'"),
    ({"layers": [lin(8, degree=4)]}, r"^input: required"),
    (spec(), r"^layers: must be a non-empty list of layers$"),
    (spec("linear"), r"^layers\[0\]: must be a mapping, got str$"),
]


@pytest.mark.parametrize("raw,match", BAD)
def test_bad_specs(raw, match):
    with pytest.raises(ValueError, match=match):
        load_spec(raw)


def test_bad_construction_parameters_name_the_layer():
    # lps-bipartite needs q(q^2-1)/2 nodes and degree p + 1
    with pytest.raises(ValueError, match=r"^layers\[0\]: lps_bipartite: left=64"):
        build_layered(load_spec(spec(lin(64, graph="lps-bipartite", degree=6))))
    with pytest.raises(ValueError, match=r"^layers: the spec has no graph-bearing"):
        build_layered(load_spec(spec({"kind": "activation"})))


@pytest.mark.parametrize(
    "name,text,match",
    [
        ("s.yaml", "input: 8\nlayers:\n  - out: [8\n", r"^.*s\.yaml: malformed YAML \(line \d+: "),
        (
            "s.yaml",
            "input: 8\ninput: 9\nlayers: []\n",
            r"s\.yaml: malformed YAML \(line 2: "
            r"duplicate key 'input'\)$",
        ),
        ("s.yaml", "- 1\n- 2\n", r"s\.yaml: the top level must be a mapping"),
        ("s.json", '{"input": 8, "layers": [}', r"s\.json: malformed JSON \(line 1: "),
        ("s.json", '{"input": 8, "input": 8}', r"s\.json: malformed JSON \(duplicate key"),
        ("s.toml", "input = 8", r"s\.toml: a spec file must end in \.yaml, \.yml or \.json$"),
    ],
)
def test_bad_files(tmp_path, name, text, match):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(ValueError, match=match) as info:
        load_spec(path)
    assert "\n" not in str(info.value)


def test_missing_files(tmp_path):
    with pytest.raises(ValueError, match=r"nope\.yaml: no such file"):
        load_spec(tmp_path / "nope.yaml")
    with pytest.raises(ValueError, match=r"nope\.npz: no such file"):
        load_layered(tmp_path / "nope.npz")
    with pytest.raises(ValueError, match=r"expected a spec \(\.yaml, \.yml, \.json\) or a saved"):
        load_layered(tmp_path / "g.txt")


def test_density_and_compression_floor():
    for width, density, expect in [(512, 0.1, 51), (784, 0.125, 98), (100, 0.07, 7)]:
        s = load_spec(spec(lin(8, density=density), input=width))
        assert s.layers[0].degree == expect == math.floor(density * width + 1e-9)
    s = load_spec(spec(lin(8, compression=2.5), input=100))
    assert s.layers[0].degree == 40
    assert np.isclose(load_spec(spec(lin(8, compression=1), input=9)).layers[0].degree, 9)

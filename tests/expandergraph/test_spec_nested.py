"""Nested spec kinds: residual, concat, shuffle (shapes, seeds, locations, errors)."""

import pytest

from compiler.spec import load_spec
from expandergraph.spec import build_layered, iter_layers, layer_graph, layer_graphs


def conv(out, degree=None, **kw):
    layer = {"kind": "conv", "out": out, **kw}
    if degree is None:
        layer["graph"] = "dense"
    else:
        layer["degree"] = degree
    return layer


NESTED = {
    "input": [8, 6, 6],
    "seed": 5,
    "layers": [
        conv(8, 4, kernel_size=3, padding=1),
        {
            "kind": "residual",
            "body": [conv(16, 4, stride=2), {"kind": "norm"}, {"kind": "shuffle", "groups": 4}],
            "shortcut": [conv(16, 2, stride=2)],
        },
        {"kind": "residual", "body": [conv(16, 8), {"kind": "activation"}]},
        {"kind": "concat", "body": [{"kind": "norm"}, conv(4, 8, kernel_size=3, padding=1)]},
        {"kind": "pool", "pool": "adaptive_avg"},
        {"kind": "flatten"},
        {"out": 10, "graph": "dense"},
    ],
}


def test_shapes_and_locations():
    s = load_spec(NESTED)
    got = [(l.where, l.kind, l.out_shape) for l in iter_layers(s)]
    assert got == [
        ("layers[0]", "conv", (8, 6, 6)),
        ("layers[1]", "residual", (16, 3, 3)),
        ("layers[1].body[0]", "conv", (16, 3, 3)),
        ("layers[1].body[1]", "norm", (16, 3, 3)),
        ("layers[1].body[2]", "shuffle", (16, 3, 3)),
        ("layers[1].shortcut[0]", "conv", (16, 3, 3)),
        ("layers[2]", "residual", (16, 3, 3)),
        ("layers[2].body[0]", "conv", (16, 3, 3)),
        ("layers[2].body[1]", "activation", (16, 3, 3)),
        ("layers[3]", "concat", (20, 3, 3)),  # 16 + 4 channels
        ("layers[3].body[0]", "norm", (16, 3, 3)),
        ("layers[3].body[1]", "conv", (4, 3, 3)),
        ("layers[4]", "pool", (20, 1, 1)),
        ("layers[5]", "flatten", (20,)),
        ("layers[6]", "linear", (10,)),
    ]
    assert s.nested and s.layers[1].is_nested and not s.layers[0].is_nested
    assert s.layers[1].body[2].options == {"groups": 4}
    assert s.layers[2].shortcut == ()


def test_seeds_follow_the_stated_rule_and_are_distinct():
    s = load_spec(NESTED)
    n = len(NESTED["layers"])
    # top level: seed + index; nested: seed + len(layers) + depth-first number
    nested = [l for l in iter_layers(s) if "." in l.where]
    assert [l.seed for l in nested] == [5 + n + k for k in range(len(nested))]
    assert s.layers[0].seed == 5 and s.layers[6].seed == 5 + 6
    graph_seeds = [l.seed for l in s.graph_layers]
    assert len(set(graph_seeds)) == len(graph_seeds)


def test_layer_graphs_in_traversal_order_and_reproducible():
    s = load_spec(NESTED)
    graphs = layer_graphs(s)
    assert [n for n, _ in graphs] == [
        "layers[0]",
        "layers[1].body[0]",
        "layers[1].shortcut[0]",
        "layers[2].body[0]",
        "layers[3].body[1]",
        "layers[6]",
    ]
    assert [(g.left, g.right, g.degree) for _, g in graphs] == [
        (8, 8, 4),
        (8, 16, 4),
        (8, 16, 2),
        (16, 16, 8),
        (16, 4, 8),
        (20, 10, 20),
    ]
    again = layer_graphs(load_spec(NESTED))
    for (_, a), (_, b) in zip(graphs, again):
        assert a.fingerprint == b.fingerprint
    # an explicit seed on a nested layer is honoured
    raw = {**NESTED, "layers": [dict(l) for l in NESTED["layers"]]}
    raw["layers"][2] = {"kind": "residual", "body": [conv(16, 8, seed=5 + 7 + 4)]}
    assert layer_graph(load_spec(raw).layers[2].body[0]).fingerprint == graphs[3][1].fingerprint


def test_build_layered_refuses_nested_specs():
    with pytest.raises(ValueError, match=r"^layers\[1\]: a 'residual' layer .*layer_graphs"):
        build_layered(load_spec(NESTED))


def test_flat_concat_and_identity_residual():
    s = load_spec(
        {
            "input": 6,
            "layers": [
                {"kind": "concat", "body": [{"out": 3, "degree": 2}]},
                {"kind": "residual", "body": [{"out": 9, "degree": 3}], "shortcut": []},
            ],
        }
    )
    assert [l.out_shape for l in s.layers] == [(9,), (9,)]
    g = layer_graph(s.layers[1].body[0])
    assert (g.left, g.right, g.degree) == (9, 9, 3)


@pytest.mark.parametrize(
    "layer, message",
    [
        ({"kind": "residual"}, r"^layers\[1\]\.body: required on a 'residual' layer"),
        ({"kind": "concat", "body": []}, r"^layers\[1\]\.body: must be a non-empty list"),
        ({"kind": "concat", "body": {"out": 2}}, r"^layers\[1\]\.body: must be a non-empty list"),
        (
            {"kind": "residual", "body": [conv(8, 2)], "shortcut": "x"},
            r"^layers\[1\]\.shortcut: must be a list of layers",
        ),
        (
            {"kind": "residual", "body": [conv(8, 2), conv(4, 20)]},
            r"^layers\[1\]\.body\[1\]\.degree: 20 exceeds the layer's input width 8",
        ),
        (
            {"kind": "residual", "body": [conv(4, 2)]},
            r"^layers\[1\]: body output \[4, 6, 6\] does not match the shortcut output \[8, 6, 6\]",
        ),
        (
            {"kind": "residual", "body": [conv(4, 2)], "shortcut": [conv(4, 2, stride=2)]},
            r"^layers\[1\]: body output \[4, 6, 6\] does not match the shortcut output \[4, 3, 3\]",
        ),
        (
            {"kind": "concat", "body": [conv(4, 2, stride=2)]},
            r"^layers\[1\]: body output \[4, 3, 3\] cannot be concatenated",
        ),
        ({"kind": "shuffle"}, r"^layers\[1\]\.groups: required on a 'shuffle' layer"),
        (
            {"kind": "shuffle", "groups": 3},
            r"^layers\[1\]\.groups: 3 must divide the channel count 8",
        ),
        ({"kind": "shuffle", "groups": 0}, r"^layers\[1\]\.groups: must be positive"),
        (
            {"kind": "shuffle", "groups": 2, "body": []},
            r"key 'body' does not apply to kind 'shuffle'",
        ),
        ({"kind": "concat", "body": [conv(8, 2)], "shortcut": []}, r"'shortcut' does not apply"),
        (
            {"kind": "residual", "body": [{"kind": "concat", "body": [{"kind": "bogus"}]}]},
            r"^layers\[1\]\.body\[0\]\.body\[0\]\.kind: unknown kind 'bogus'",
        ),
        (
            {"kind": "residual", "body": [{"kind": "conv", "out": 8, "degree": 2, "in": 4}]},
            r"^layers\[1\]\.body\[0\]\.in: 4 does not chain",
        ),
    ],
)
def test_nested_errors_name_the_location(layer, message):
    raw = {"input": [8, 6, 6], "layers": [conv(8, 4), layer]}
    with pytest.raises(ValueError, match=message):
        load_spec(raw)

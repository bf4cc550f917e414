"""The graph spec (expandergraph) and the network spec (compiler): one reader, two vocabularies."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compiler import compile as compile_spec
from compiler.spec import NETWORK, layer_backend
from compiler.spec import load_layered as load_network_layered
from compiler.spec import load_spec as load_network_spec
from expandergraph.network import NetworkGraph, mixing_depth, reach_fraction
from expandergraph.spec import GRAPH_VOCABULARY, ROLES, build_layered, load_layered, load_spec


def test_graph_vocabulary_is_structure_only():
    assert set(GRAPH_VOCABULARY.kinds) == {"linear", "shuffle", "residual", "concat"}
    assert not GRAPH_VOCABULARY.spatial and GRAPH_VOCABULARY.top_keys == ()
    # the network vocabulary reuses the graph spec's topology kinds, and adds its own
    for k in ("shuffle", "residual", "concat"):
        assert NETWORK.kinds[k] is GRAPH_VOCABULARY.kinds[k]
    assert {"conv", "activation", "pool", "dropout", "norm", "flatten", "depthwise"} <= set(
        NETWORK.kinds
    )
    assert {k.role for k in NETWORK.kinds.values()} == set(ROLES)


@pytest.mark.parametrize(
    "raw, pattern",
    [
        (
            {"input": 8, "layers": [{"out": 8, "degree": 2}, {"kind": "activation"}]},
            r"^layers\[1\]\.kind: unknown kind 'activation' \(known: linear, shuffle, residual, "
            r"concat\); .*compiler\.spec\.load_spec",
        ),
        (
            {"input": [1, 4, 4], "layers": [{"kind": "flatten"}]},
            r"^input: \[1, 4, 4\] is a \[C, H, W\] shape, which a graph spec does not have",
        ),
        (
            {"input": 8, "backend": "gather", "layers": [{"out": 8, "degree": 2}]},
            r"^spec: unknown key 'backend' .*; .*xnet certify FILE",
        ),
        (
            {"input": 8, "layers": [{"out": 8, "degree": 2, "bias": False}]},
            r"^layers\[0\]: unknown key 'bias'",
        ),
    ],
)
def test_graph_spec_refuses_network_vocabulary(raw, pattern):
    with pytest.raises(ValueError, match=pattern) as info:
        load_spec(raw)
    assert "\n" not in str(info.value)
    load_network_spec(raw)  # the same mapping is a valid network spec


def test_shipped_graph_and_network_specs_give_the_same_graphs():
    net = load_network_layered("compiler/specs/demo_digits.yaml")
    graph = load_layered("expandergraph/specs/demo_digits_graph.yaml")
    assert net.fingerprint == graph.fingerprint
    assert [g.fingerprint for g in net.layers] == [g.fingerprint for g in graph.layers]


_CHANNELWISE = st.sampled_from(
    [{"kind": "activation", "fn": "relu"}, {"kind": "norm"}, {"kind": "dropout", "p": 0.1}]
)


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from([8, 12, 16]), st.integers(1, 4), st.integers(0, 99)),
        min_size=1,
        max_size=4,
    ),
    st.data(),
)
def test_network_vocabulary_never_changes_the_graph_structure(layers, data):
    """A network spec = its graph spec + channelwise layers: same graphs, same mixing."""
    width = 8
    graph_layers = []
    for out, d, seed in layers:
        graph_layers.append({"out": out, "degree": min(d, width), "seed": seed})
        width = out
    net_layers = []
    for layer in graph_layers:
        net_layers.append(dict(layer, bias=data.draw(st.booleans())))
        net_layers.extend(data.draw(st.lists(_CHANNELWISE, max_size=2)))
    g_spec = load_spec({"input": 8, "layers": graph_layers})
    n_spec = load_network_spec({"input": 8, "backend": "masked", "layers": net_layers})
    assert build_layered(g_spec).fingerprint == build_layered(n_spec).fingerprint
    g_net, n_net = NetworkGraph.from_spec(g_spec), NetworkGraph.from_spec(n_spec)
    assert reach_fraction(g_net, "input", "output") == reach_fraction(n_net, "input", "output")
    assert mixing_depth(g_net).depth == mixing_depth(n_net).depth


def test_backend_precedence_layer_argument_spec_default():
    raw = {
        "input": 16,
        "backend": "masked",
        "layers": [
            {"out": 16, "degree": 4, "backend": "gather"},
            {"kind": "residual", "body": [{"out": 16, "degree": 4}]},
            {"out": 8, "degree": 4},
        ],
    }
    spec = load_network_spec(raw)
    own, nested, plain = spec.layers[0], spec.layers[1].body[0], spec.layers[2]
    assert spec.options == {"backend": "masked"}
    assert "backend" not in plain.options  # the spec-wide key is not merged into layers
    assert [layer_backend(x, spec) for x in (own, nested, plain)] == ["gather", "masked", "masked"]
    assert layer_backend(plain, spec, "gather") == "gather"
    assert layer_backend(own, spec, "masked") == "gather"
    assert layer_backend(plain) == "gather"  # the stated default
    model = compile_spec(raw, allow_uncertified=True)
    assert [m.backend for _, m in model.expander_layers()] == ["gather", "masked", "masked"]
    model = compile_spec(raw, backend="gather", allow_uncertified=True)
    assert [m.backend for _, m in model.expander_layers()] == ["gather", "gather", "gather"]


def test_input_override_rereads_shapes_once():
    raw = {
        "input": [1, 8, 8],
        "layers": [{"kind": "conv", "out": 4, "degree": 1, "kernel_size": 3}, {"kind": "flatten"}],
    }
    spec = load_network_spec(raw)
    assert spec.layers[1].out_shape == (4 * 6 * 6,)
    other = spec.with_input((1, 10, 10), NETWORK)
    assert other.layers[1].out_shape == (4 * 8 * 8,) and other.input == (1, 10, 10)
    assert spec.with_input((1, 8, 8), NETWORK) is spec


def test_a_loaded_spec_keeps_its_own_copy():
    raw = {"input": 8, "certify": ["degrees"], "layers": [{"out": 8, "degree": 2}]}
    spec = load_spec(raw)
    raw["certify"].append("spectrum")
    raw["layers"][0]["degree"] = 4
    assert spec.certify == ("degrees",) and spec.raw["layers"][0]["degree"] == 2
    assert spec.layers[0].degree == 2

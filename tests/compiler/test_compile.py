"""compile(): spec -> certified graphs -> modules; extract_graph; overrides; training."""

import io
import os
from importlib import resources

import numpy as np
import pytest
import torch
from torch import nn

from compiler import XConv2d, XLinear, compile, extract_graph, extract_layered
from compiler.compile import CertificateError
from compiler.counting import count
from compiler.spec import load_spec
from expandergraph.spec import build_layered, layer_graph

pytestmark = pytest.mark.usefixtures("one_thread")


SPEC = {
    "name": "t",
    "input": 32,
    "seed": 0,
    "layers": [
        {"out": 32, "degree": 8},
        {"kind": "activation"},
        {"out": 32, "density": 0.25, "block": 4},
        {"kind": "activation", "fn": "tanh"},
        {"out": 4, "graph": "dense"},
    ],
}
GROUPED = {"input": 16, "layers": [{"out": 16, "graph": "grouped", "degree": 4}]}


def roundtrip(state: dict) -> dict:
    buf = io.BytesIO()
    torch.save(state, buf)
    buf.seek(0)
    return torch.load(buf, weights_only=True)


def package_spec(name: str) -> str:
    return str(resources.files("compiler") / "specs" / name)


def test_compile_uses_the_spec_graphs():
    net = compile(SPEC)
    spec = load_spec(SPEC)
    assert [type(m) for m in net.layers] == [XLinear, nn.ReLU, XLinear, nn.Tanh, XLinear]
    for layer in spec.graph_layers:
        g = layer_graph(layer)  # rebuilt independently from the spec
        m = net.layers[layer.index]
        assert m.fingerprint == g.fingerprint == net.certificates[layer.where].fingerprint
        assert (m.in_features, m.out_features, m.degree, m.block) == (
            layer.in_width,
            layer.out,
            layer.degree,
            layer.block,
        )
    assert net.certified and net.override is None
    from expandergraph.network import NetworkGraph

    assert net.certificates["network"].kind == "network"
    assert net.certificates["network"].fingerprint == NetworkGraph.from_spec(spec).fingerprint
    assert net.spec.name == "t" and net.input_shape == (32,)


def test_extract_graph_round_trips_through_training_and_reload():
    torch.manual_seed(0)
    net = compile(SPEC)
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    for _ in range(3):
        opt.zero_grad()
        net(torch.randn(8, 32)).square().mean().backward()
        opt.step()
    fresh = compile(SPEC)
    fresh.load_state_dict(roundtrip(net.state_dict()))
    x = torch.randn(5, 32)
    assert torch.equal(net(x), fresh(x))
    for model in (net, fresh):
        lg = extract_layered(model)
        assert lg.names == ["layers[0]", "layers[2]", "layers[4]"]
        assert lg.fingerprints == [net.certificates[n].fingerprint for n in lg.names]
        assert extract_graph(model).fingerprint == net.certificates["network"].fingerprint
        assert extract_graph(model).to_layered().fingerprint == lg.fingerprint


def test_cnn_spec_compiles_counts_and_extracts():
    path = package_spec("tiny-cnn.yaml")
    net = compile(path)
    spec = load_spec(path)
    x = torch.randn(2, *spec.input)
    assert net(x).shape == (2, 10)
    assert [n for n, _ in net.expander_layers()] == [l.where for l in spec.graph_layers]
    lg = extract_layered(net)
    assert lg.fingerprints == [net.certificates[n].fingerprint for n in lg.names]
    assert extract_graph(net).fingerprint == net.certificates["network"].fingerprint
    # FLOPs by hand: out * D * k*k * H_out*W_out for every graph layer (MACs of non-zero weights)
    c = {r["name"]: r for r in count(net)["layers"]}
    total = 0
    for layer in spec.graph_layers:
        k = 9 if layer.kind == "conv" else 1
        hw = int(np.prod(layer.out_shape[1:])) if layer.kind == "conv" else 1
        flops = layer.out * layer.degree * k * hw
        assert c[layer.where]["flops"] == flops
        assert c[layer.where]["dense_flops"] == layer.out * layer.in_width * k * hw
        total += flops
    assert count(net)["flops"] == total
    assert isinstance(net.layers[3], XConv2d) and net.layers[3].stride == (2, 2)


@pytest.mark.parametrize("name", ["tiny-mlp.yaml", "tiny-cnn.yaml"])
def test_example_specs_compile_certified(name):
    net = compile(package_spec(name))
    assert net.certified and net.override is None
    x = torch.randn(2, *net.input_shape)
    assert net(x).shape == (2, 10)


def test_uncertified_spec_is_refused_then_recorded():
    # grouped with 4 groups is disconnected: its top two singular values are equal
    g = layer_graph(load_spec(GROUPED).layers[0])
    s = np.linalg.svd(g.biadjacency().toarray().astype(float), compute_uv=False)
    assert s[0] == pytest.approx(s[1])
    with pytest.raises(CertificateError, match=r"layers\[0\] failed: .*spectral_expansion"):
        compile(GROUPED)
    net = compile(GROUPED, allow_uncertified=True)
    assert not net.certified
    assert "allow_uncertified" in net.override and "layers[0]" in net.override
    assert net.certificates["layers[0]"].override == net.override
    state = roundtrip(net.state_dict())
    assert state["_extra_state"]["override"] == net.override
    other = compile(GROUPED, allow_uncertified=True)
    other.override = None
    other.load_state_dict(state)
    assert other.override == net.override


def test_layered_graph_input():
    layers = [
        {"out": 16, "degree": 4, "seed": 1, "graph": "biregular"},
        {"out": 8, "degree": 16, "seed": 1},
    ]
    spec = load_spec({"input": 16, "layers": layers})
    lg = build_layered(spec)
    net = compile(lg)
    assert [type(m) for m in net.layers] == [XLinear, nn.ReLU, XLinear]
    assert extract_layered(net).fingerprint == lg.fingerprint
    assert extract_graph(net).fingerprint == net.certificates["network"].fingerprint
    assert extract_graph(net).to_layered().fingerprint == lg.fingerprint
    assert net(torch.randn(3, 16)).shape == (3, 8)
    with pytest.raises(ValueError, match="input_shape"):
        compile(lg, input_shape=(15,))


def test_backend_selection():
    net = compile(SPEC, backend="masked")
    assert {m.backend for _, m in net.expander_layers()} == {"masked"}
    spec = dict(SPEC, backend="masked")
    spec["layers"] = [dict(SPEC["layers"][0], backend="gather")] + SPEC["layers"][1:]
    net = compile(spec)
    assert [m.backend for _, m in net.expander_layers()] == ["gather", "masked", "masked"]
    net = compile(spec, backend="gather")  # the argument beats the spec's top level only
    assert [m.backend for _, m in net.expander_layers()] == ["gather", "gather", "gather"]


def test_input_shape_override():
    net = compile(package_spec("tiny-cnn.yaml"), input_shape=(1, 32, 32))
    assert net.input_shape == (1, 32, 32)
    assert net(torch.randn(1, 1, 32, 32)).shape == (1, 10)
    with pytest.raises(ValueError, match="input"):
        compile(package_spec("tiny-cnn.yaml"), input_shape=(1, 0, 32))


@pytest.mark.parametrize(
    "spec,match",
    [
        ({"input": 16, "layers": [{"out": 8, "degre": 4}]}, r"layers\[0\]: unknown key 'degre'"),
        ({"input": 16, "layers": [{"out": 8, "degree": 600}]}, r"layers\[0\]\.degree"),
        ({"input": 16, "layers": [{"kind": "activation", "out": 3}]}, r"layers\[0\]"),
        ({"input": 16, "layers": [{"out": 8, "degree": 4}], "certify": ["nope"]}, "certify"),
        ({"layers": [{"out": 8, "degree": 4}]}, "input"),
    ],
)
def test_spec_errors_name_layer_and_field(spec, match):
    with pytest.raises(ValueError, match=match):
        compile(spec)


def test_bad_arguments():
    with pytest.raises(ValueError, match="backend"):
        compile(SPEC, backend="cuda")
    with pytest.raises(ValueError, match="allow_uncertified"):
        compile(SPEC, allow_uncertified="yes")
    with pytest.raises(ValueError, match="spec_or_layered_graph"):
        compile(42)


def test_spec_can_require_layered_checks():
    spec = dict(SPEC, certify=["degrees", "spectrum", "reach_depth", "path_uniformity"])
    net = compile(spec)
    assert "mixing_depth" in net.certificates["network"].checks
    assert net.certificates["network"].status == "passed"
    # dropping a required mixing check is not a pass: the network certificate is incomplete
    dropped = dict(SPEC, certify=["degrees", "spectrum"])
    with pytest.raises(CertificateError, match=r"network incomplete: mixing_depth \(not run\)"):
        compile(dropped)
    net = compile(dropped, allow_uncertified=True)
    assert net.certificates["network"].status == "incomplete" and not net.certified
    # one sparse layer cannot connect every input to every output: refused
    one = {"input": 32, "certify": ["reach_depth"], "layers": [{"out": 8, "degree": 4}]}
    with pytest.raises(CertificateError, match="network failed: .*mixing_depth"):
        compile(one)


def test_tiny_network_trains_and_backends_train_alike():
    """Loss falls on a fixed synthetic task; gather and masked follow the same trajectory."""
    gen = torch.Generator().manual_seed(0)
    centers = torch.randn(4, 32, generator=gen) * 2
    labels = torch.randint(0, 4, (256,), generator=gen)
    x = centers[labels] + torch.randn(256, 32, generator=gen)
    losses = {}
    for backend in ("gather", "masked"):
        torch.manual_seed(0)
        net = compile(SPEC, backend=backend)
        opt = torch.optim.Adam(net.parameters(), lr=0.01)
        hist = []
        for _ in range(60):
            opt.zero_grad()
            loss = nn.functional.cross_entropy(net(x), labels)
            loss.backward()
            opt.step()
            hist.append(loss.item())
        losses[backend] = hist
    hist = losses["gather"]
    assert hist[-1] < 0.25 * hist[0]
    assert (net(x).argmax(1) == labels).float().mean() > 0.9
    np.testing.assert_allclose(losses["gather"], losses["masked"], rtol=1e-3, atol=1e-4)


def test_torch_compile_gather():
    """Dynamo + AOTAutograd capture of the gather functions (aot_eager: no C++ build)."""
    net = _tiny_net()
    x = torch.randn(2, 4, 4, 4, requires_grad=True)
    y0 = net(x)
    g0 = torch.autograd.grad(y0.sum(), [x, *net.parameters()])
    compiled = torch.compile(net, backend="aot_eager", fullgraph=True)
    y = compiled(x)
    g = torch.autograd.grad(y.sum(), [x, *net.parameters()])
    torch.testing.assert_close(y, y0)
    for a, b in zip(g, g0):
        torch.testing.assert_close(a, b)


def _tiny_net():
    torch.manual_seed(0)
    return nn.Sequential(
        XConv2d(4, 8, 3, padding=1, degree=2, block=2),
        nn.ReLU(),
        nn.Flatten(),
        XLinear(8 * 4 * 4, 12, degree=16, block=4),
    )


def test_torch_export_gather():
    net = _tiny_net().eval()
    x = torch.randn(2, 4, 4, 4)
    ep = torch.export.export(net, (x,), strict=False)
    targets = {str(n.target) for n in ep.graph.nodes if n.op == "call_function"}
    # plain aten gathers and batched matmuls (the functional or the out= variant)
    assert any(t.startswith("aten.index_select.") for t in targets), targets
    assert any(t.startswith("aten.bmm.") for t in targets), targets
    x2 = torch.randn(2, 4, 4, 4)
    torch.testing.assert_close(ep.module()(x2), net(x2))


@pytest.mark.skipif(
    os.environ.get("XNETS_TEST_INDUCTOR") != "1",
    reason="inductor compiles C++ (about a minute on 2 cores); set XNETS_TEST_INDUCTOR=1",
)
def test_torch_compile_inductor_gather():
    net = _tiny_net()
    x = torch.randn(2, 4, 4, 4, requires_grad=True)
    y0 = net(x)
    g0 = torch.autograd.grad(y0.sum(), [x, *net.parameters()])
    y = torch.compile(net, fullgraph=True)(x)
    g = torch.autograd.grad(y.sum(), [x, *net.parameters()])
    torch.testing.assert_close(y, y0)
    for a, b in zip(g, g0):
        torch.testing.assert_close(a, b)

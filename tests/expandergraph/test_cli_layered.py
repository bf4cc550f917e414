"""``expandergraph mixing|paths|certify SOURCE`` (chains and networks): values and bad input."""

import json
import re
from pathlib import Path

import numpy as np
import pytest
import yaml

import expandergraph
from expandergraph import LayeredGraph
from expandergraph.cli import main
from expandergraph.generators.baselines import grouped
from expandergraph.guarantees import certify_layered
from expandergraph.nodesets import parse_node_set
from expandergraph.spec import load_layered

SPECS = Path(expandergraph.__file__).parent / "specs"


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def write_spec(tmp_path, raw, name="s.yaml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(raw) if name.endswith((".yaml", ".yml")) else json.dumps(raw))
    return path


SMALL = {
    "input": 96,
    "seed": 1,
    "layers": [{"out": 96, "degree": 8}] * 5,
}


def brute_counts(lg, i, j):
    p = np.eye(lg.widths[i], dtype=object)
    for layer in list(lg)[i:j]:
        p = layer.biadjacency().toarray().astype(object).dot(p)
    return p


def test_mixing_json(tmp_path, capsys):
    path = write_spec(tmp_path, SMALL)
    code, out, err = run(capsys, "mixing", path, "--json", "--from-layer", 1)
    assert code == 0
    res = json.loads(out)
    lg = load_layered(path)
    # independent: boolean products of the biadjacency matrices
    fractions, depth = [], None
    reach = np.eye(96, dtype=bool)
    for k, layer in enumerate(list(lg)[1:]):
        reach = (layer.biadjacency().toarray() @ reach.astype(int)) > 0
        fractions.append(reach.mean())
        if depth is None and reach.all():
            depth = k + 1
    assert res["reach_depth"] == depth and res["reach_fraction"] == pytest.approx(fractions)
    assert {"bound_depth", "widths", "mu", "log_D_n", "connected_pairs"} <= set(res)
    assert res["from_layer"] == 1 and res["widths"] == [96] * 6


def test_mixing_compare_plot_and_text(tmp_path, capsys):
    path = write_spec(tmp_path, SMALL)
    png = tmp_path / "reach.png"
    code, out, _ = run(capsys, "mixing", path, "--compare", "--plot", png, "--json")
    res = json.loads(out)
    assert code == 0 and png.stat().st_size > 1000
    assert res["baselines"]["grouped"]["reach_depth"] is None
    assert res["baselines"]["grouped"]["reach_fraction"] == [8 / 96] * 5
    assert res["reach_depth"] is not None
    code, out, _ = run(capsys, "mixing", path, "--sample", 10)
    assert code == 0 and "reach_depth" in out and "sampled" in out


def test_paths_json_exact_count(tmp_path, capsys):
    path = write_spec(tmp_path, SMALL, "s.json")
    png = tmp_path / "ratio.png"
    code, out, _ = run(
        capsys,
        "paths",
        path,
        "--from-layer",
        0,
        "--sources",
        "0,3,10-19",
        "--to-layer",
        4,
        "--targets",
        "5-9",
        "--json",
        "--plot",
        png,
    )
    assert code == 0 and png.stat().st_size > 1000
    res = json.loads(out)
    lg = load_layered(path)
    s = [0, 3, *range(10, 20)]
    t = list(range(5, 10))
    assert isinstance(res["count"], int)
    assert res["count"] == int(brute_counts(lg, 0, 4)[np.ix_(t, s)].sum())
    assert res["predicted"] == pytest.approx(8**4 * len(s) * len(t) / 96)
    assert res["within_bound"] is True and res["error_bound"] > 0
    assert abs(res["count"] - res["predicted"]) <= res["error_bound"]


def test_paths_huge_count_is_an_exact_json_number(tmp_path, capsys):
    raw = {"input": 64, "layers": [{"out": 64, "graph": "dense"}] * 12}
    path = write_spec(tmp_path, raw)
    code, out, _ = run(
        capsys,
        "paths",
        path,
        "--from-layer",
        0,
        "--sources",
        "0-63",
        "--to-layer",
        12,
        "--targets",
        "0",
        "--json",
    )
    assert code == 0
    assert '"count": ' + str(64**12) in out  # 2^72, no float rounding
    assert json.loads(out)["count"] == 64**12


def test_certify_spec(tmp_path, capsys):
    path = write_spec(tmp_path, SMALL)
    code, out, _ = run(capsys, "certify", path, "--json")
    res = json.loads(out)
    # degree-8 random layers of width 96: busy inputs carry ~45% more paths, so the
    # default claim (sets of >= 25% within +-50%) fails; sets of >= 50% pass
    assert code == 1 and res["kind"] == "layered" and res["status"] == "failed"
    assert res["checks"]["path_uniformity"]["status"] == "failed"
    assert res["params"]["sigma"] == 0.25 and res["params"]["eps_max"] == 0.5
    code, out, _ = run(capsys, "certify", path, "--json", "--sigma", "0.5")
    res = json.loads(out)
    assert code == 0 and res["passed"] is True and res["params"]["sigma"] == 0.5
    assert len(res["parts"]) == 5
    assert set(res["checks"]) == {
        "layer_certificates",
        "reach_depth",
        "bound_depth",
        "path_uniformity",
        "path_mixing",
    }
    assert res["checks"]["reach_depth"]["passed"] is True
    assert res["fingerprint"] == load_layered(path).fingerprint
    # a spec's certify list selects the checks
    raw = dict(SMALL, certify=["degrees", "reach_depth"])
    code, out, _ = run(capsys, "certify", write_spec(tmp_path, raw, "c.yaml"), "--json")
    res = json.loads(out)
    assert set(res["checks"]) == {"reach_depth", "layer_certificates"}
    assert "lambda" not in res["parts"][0]["checks"]
    assert code == 3 and res["status"] == "incomplete"  # spectrum and path_uniformity not run


def test_certify_grouped_fails_and_mlp_passes(tmp_path, capsys):
    lg = LayeredGraph([grouped(64, 64, 16)] * 3)
    cert = certify_layered(lg, layer_checks=("degrees",))
    assert not cert.passed and "reach_depth" in cert.failures()
    assert cert["bound_depth"].value is None
    npz = tmp_path / "g.npz"
    lg.save(npz)
    code, out, _ = run(capsys, "certify", npz)
    assert code == 1 and "FAIL" in out
    code, out, _ = run(capsys, "certify", SPECS / "mlp.yaml")
    assert code == 0 and "verdict: PASS" in out


def test_parse_node_set():
    assert parse_node_set("0,3,10-12", 13).tolist() == [0, 3, 10, 11, 12]
    assert parse_node_set(" 4 - 6 ", 7).tolist() == [4, 5, 6]
    for text, match in [
        ("", "empty node set"),
        ("1,,2", "malformed item ''"),
        ("a-3", "malformed item 'a-3'"),
        ("-3", "malformed item '-3'"),
        ("10-5", r"range '10-5' is reversed \(write 5-10\)"),
        ("3,40", r"node 40 out of range 0\.\.19"),
        ("1-4,3", "node 3 is listed twice"),
    ]:
        with pytest.raises(ValueError, match=match):
            parse_node_set(text, 20)


BAD_SPECS = [
    (
        {"input": 8, "layers": [{"out": 8, "degree": 4}, {"in": 16, "out": 8, "degree": 4}]},
        r"layers\[1\]\.in: 16 does not chain",
    ),
    (
        {"input": 8, "layers": [{"out": 8, "degree": 9}]},
        r"layers\[0\]\.degree: 9 exceeds the layer's input width 8",
    ),
    ({"input": 0, "layers": [{"out": 8, "degree": 4}]}, "input: must be a positive integer"),
    ({"input": 8, "layers": [{"out": -8, "degree": 4}]}, r"layers\[0\]\.out: must be positive"),
    (
        {"input": 8, "layers": [{"out": 8, "degree": 4, "graph": "petersen"}]},
        "unknown construction 'petersen'",
    ),
    ({"input": 8, "layers": [{"out": 8, "degre": 4}]}, r"layers\[0\]: unknown key 'degre'"),
]


@pytest.mark.parametrize("raw,match", BAD_SPECS)
@pytest.mark.parametrize("command", ["mixing", "certify"])
def test_bad_specs_one_line_exit_2(tmp_path, capsys, raw, match, command):
    path = write_spec(tmp_path, raw)
    code, out, err = run(capsys, command, path)
    assert code == 2 and out == ""
    assert err.startswith("expandergraph: error: ") and err.count("\n") == 1
    assert re.search(match, err)


@pytest.mark.parametrize(
    "args,match",
    [
        (["--sources", "0-200", "--targets", "1"], r"--sources: node 200 out of range 0\.\.95"),
        (["--sources", "9-3", "--targets", "1"], r"--sources: range '9-3' is reversed"),
        (["--sources", "1", "--targets", "96"], r"--targets: node 96 out of range"),
        (
            ["--sources", "1", "--targets", "1", "--to-layer", "0"],
            r"--to-layer: 0 must be after --from-layer 1",
        ),
        (
            ["--sources", "1", "--targets", "1", "--to-layer", "9"],
            r"--to-layer: level 9 out of range 2\.\.5",
        ),
        (
            ["--sources", "1", "--targets", "1", "--from-layer", "7"],
            r"--from-layer: level 7 out of range 0\.\.4",
        ),
    ],
)
def test_bad_paths_arguments(tmp_path, capsys, args, match):
    path = write_spec(tmp_path, SMALL)
    argv = ["paths", path, "--from-layer", "1", "--to-layer", "3", *args]
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == "" and err.count("\n") == 1
    assert re.search(match, err), err


@pytest.mark.parametrize(
    "name,text,match",
    [
        ("bad.yaml", "input: 8\nlayers: [\n", r"bad\.yaml: malformed YAML \(line \d+"),
        ("bad.json", '{"input": 8,}', r"bad\.json: malformed JSON \(line 1"),
        ("missing.yaml", None, r"missing\.yaml: no such file"),
        ("junk.npz", "not a zip", r"junk\.npz: cannot read layered graph"),
    ],
)
def test_bad_files_one_line(tmp_path, capsys, name, text, match):
    path = tmp_path / name
    if text is not None:
        path.write_text(text)
    for argv in (["mixing", path], ["certify", path]):
        code, out, err = run(capsys, *argv)
        assert code == 2 and err.count("\n") == 1
        assert re.search(match, err), err


def test_certify_layered_roundtrip_and_bad_checks():
    from expandergraph.certificate import Certificate

    lg = load_layered(SMALL)
    cert = certify_layered(lg, samples=10, layer_checks=("degrees",))
    assert Certificate.from_json(cert.to_json()) == cert
    mix = cert["path_mixing"]
    assert mix.status == "info" and mix.detail["samples"] == 10
    assert 0 <= mix.value <= cert["path_uniformity"].value  # exact counts obey the proven bound
    assert cert["reach_depth"].detail["reach_fraction"][-1] == 1.0
    with pytest.raises(ValueError, match="checks: unknown layered check 'bogus'"):
        certify_layered(lg, checks=["bogus"])
    with pytest.raises(ValueError, match="lg: expected a LayeredGraph"):
        certify_layered([1, 2])


def test_plot_functions(tmp_path):
    from expandergraph.plots import plot_count_ratio, plot_reach_fraction

    lg = load_layered(SMALL)
    out = plot_reach_fraction(
        {"x": lg, "g": LayeredGraph([grouped(96, 96, 8)] * 3)}, tmp_path / "r.svg"
    )
    assert out.read_text().startswith("<?xml")
    with pytest.raises(ValueError, match="counts: must be a non-empty 2-d array"):
        plot_count_ratio(np.arange(3), 1.0, tmp_path / "c.png")
    with pytest.raises(ValueError, match="predicted: must be positive"):
        plot_count_ratio(np.ones((2, 2)), 0.0, tmp_path / "c.png")
    with pytest.raises(ValueError, match="curves: give at least one"):
        plot_reach_fraction({}, tmp_path / "r.png")
    with pytest.raises(ValueError, match="give the plot file an extension"):
        plot_reach_fraction({"x": lg}, tmp_path / "noext")


# -- network sources: a network file (NetworkGraph.save) or a spec with residual/concat ---------

NETWORK = {
    "input": 16,
    "seed": 3,
    "layers": [
        {"out": 16, "degree": 4},
        {"kind": "residual", "body": [{"out": 16, "degree": 4}, {"out": 16, "degree": 4}]},
        {"kind": "concat", "body": [{"out": 16, "degree": 4}]},
        {"out": 16, "degree": 8},
    ],
}


@pytest.fixture
def network_file(tmp_path):
    from expandergraph.network import NetworkGraph
    from expandergraph.spec import load_spec

    net = NetworkGraph.from_spec(load_spec(NETWORK))
    path = tmp_path / "net.npz"
    net.save(path)
    return path, net


def brute_network_counts(net, source):
    """Path-count matrices ``P[t][v, u]`` (paths from channel u of ``source`` to v of t)."""
    import networkx as nx

    dag = nx.DiGraph((e.source, e.target) for e in net.edges)
    counts = {source: np.eye(net.widths[source], dtype=np.int64)}
    for t in nx.topological_sort(dag):
        inc = [e for e in net.edges if e.target == t and e.source in counts]
        if t != source and inc:
            counts[t] = sum(e.matrix().toarray().astype(np.int64) @ counts[e.source] for e in inc)
    return counts


def test_network_file_mixing_json(network_file, capsys):
    from expandergraph.network import mixing_depth, reach_fraction

    path, net = network_file
    code, out, err = run(capsys, "mixing", path, "--json")
    assert code == 0 and err == ""
    res = json.loads(out)
    assert res["fingerprint"] == net.fingerprint and res["start"] == "input"
    assert set(res["reach_fraction"]) == set(net.widths)
    for t, f in res["reach_fraction"].items():
        assert f == pytest.approx(reach_fraction(net, "input", t))
    assert res["mixing_depth"] == mixing_depth(net, "input").depth
    # independent: the fraction of (input, output) channel pairs joined by a path
    brute = brute_network_counts(net, "input")
    assert res["reach_fraction"]["output"] == pytest.approx((brute["output"] > 0).mean())
    code, out, _ = run(capsys, "mixing", path, "--from", "layers[0]")
    assert code == 0 and out.startswith(f"{path}: network {net.fingerprint[:16]}, from layers[0]")
    assert "mixing depth" in out or "never mixes" in out


def test_network_file_paths_json(network_file, capsys):
    from expandergraph.network import path_count

    path, net = network_file
    s, t = [0, 3, *range(5, 9)], list(range(2, 7))
    code, out, err = run(
        capsys, "paths", path, "--sources", "0,3,5-8", "--targets", "2-6", "--json"
    )
    assert code == 0 and err == ""
    res = json.loads(out)
    assert res["count"] == path_count(net, "input", s, "output", t)
    brute = brute_network_counts(net, "input")
    assert res["count"] == int(brute["output"][np.ix_(t, s)].sum()) > 0
    assert (res["source"], res["target"], res["sources"], res["targets"]) == (
        "input",
        "output",
        6,
        5,
    )
    argv = ["paths", path, "--source", "layers[0]", "--target", "layers[2]"]
    code, out, _ = run(capsys, *argv, "--sources", "1", "--targets", "0-31", "--json")
    assert code == 0
    mid = brute_network_counts(net, "layers[0]")
    assert json.loads(out)["count"] == int(mid["layers[2]"][:, [1]].sum())


def untimed(x):
    """``x`` without its ``seconds`` entries (wall-clock times differ between runs)."""
    if isinstance(x, dict):
        return {k: untimed(v) for k, v in x.items() if k != "seconds"}
    if isinstance(x, list):
        return [untimed(v) for v in x]
    return x


def test_network_file_certify(network_file, capsys):
    from expandergraph.certificate import EXIT_CODES
    from expandergraph.network import certify_network

    path, net = network_file
    code, out, err = run(capsys, "certify", path, "--json", "--kappa", "3")
    direct = certify_network(net, kappa=3, subject=str(path))
    assert code == EXIT_CODES[direct.status] and err == ""
    res = json.loads(out)
    assert untimed(res) == untimed(json.loads(direct.to_json()))
    assert res["kind"] == "network" and res["fingerprint"] == net.fingerprint
    code, out, _ = run(capsys, "certify", path)
    assert code == EXIT_CODES[direct.status]
    assert out.startswith(f"network certificate for {path}")
    assert "mixing_depth" in out and "verdict:" in out.splitlines()[-1]


def test_network_spec_matches_the_network_file(network_file, tmp_path, capsys):
    path, net = network_file
    spec = write_spec(tmp_path, NETWORK)
    for argv in (["mixing", "--json"], ["paths", "--sources", "0-3", "--targets", "1", "--json"]):
        code_f, out_f, _ = run(capsys, argv[0], path, *argv[1:])
        code_s, out_s, _ = run(capsys, argv[0], spec, *argv[1:])
        assert code_f == code_s == 0 and json.loads(out_f) == json.loads(out_s)


def test_tampered_network_file_is_one_line_exit_2(network_file, capsys):
    path, _ = network_file
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    for argv in (
        ["certify", path, "--json"],
        ["mixing", path],
        ["paths", path, "--sources", "0", "--targets", "0"],
    ):
        code, out, err = run(capsys, *argv)
        assert code == 2 and out == "" and err.count("\n") == 1
        assert re.fullmatch(r"expandergraph: error: .*net\.npz: integrity check failed.*\n", err)


@pytest.mark.parametrize(
    "argv,match",
    [
        (["mixing", "--compare"], "--compare: applies to layered sources only"),
        (["mixing", "--from-layer", "0"], "--from-layer: applies to layered sources only"),
        (["mixing", "--from", "nope"], "--from: no tensor 'nope' in the network"),
        (["paths", "--sources", "0", "--targets", "99"], r"--targets: node 99 out of range"),
        (
            ["paths", "--sources", "0", "--targets", "0", "--to-layer", "2"],
            "--to-layer: applies to layered sources only",
        ),
    ],
)
def test_bad_network_arguments(network_file, capsys, argv, match):
    path, _ = network_file
    code, out, err = run(capsys, argv[0], path, *argv[1:])
    assert code == 2 and out == "" and err.count("\n") == 1
    assert re.search(match, err), err


def test_chain_sources_refuse_network_options(tmp_path, capsys):
    path = write_spec(tmp_path, SMALL)
    code, _, err = run(capsys, "mixing", path, "--from", "input")
    assert code == 2 and "--from: applies to network sources only" in err
    code, _, err = run(capsys, "paths", path, "--sources", "0", "--targets", "0")
    assert code == 2 and "--from-layer: required for a layered source" in err

"""Hostile input (issue 13): one test per class of failure, each against an independent check."""

from __future__ import annotations

import io
import json
import math
import pickle
import time
from fractions import Fraction
from math import isqrt

import numpy as np
import pytest

from compiler.spec import load_spec
from expandergraph.bounds import degree_sides as _layer_sides
from expandergraph.bounds import tanner_depth
from expandergraph.bounds import tanner_grow as _grow
from expandergraph.construct import build
from expandergraph.edgelist import parse_edgelist
from expandergraph.generators.algebraic import _is_prime, paley
from expandergraph.generators.baselines import grouped
from expandergraph.generators.random import random_bipartite
from expandergraph.graph import BipartiteGraph
from expandergraph.layered import LayeredGraph
from expandergraph.limits import SizeLimitError
from expandergraph.paths import mixing_prediction, path_count, path_mixing
from expandergraph.singular import layer_spectrum
from expandergraph.spec import MAX_DEPTH, read_spec

# -- primality -------------------------------------------------------------------------


def _trial(x: int) -> bool:
    return x > 1 and all(x % f for f in range(2, isqrt(x) + 1))


def test_miller_rabin_matches_trial_division_and_strong_pseudoprimes():
    assert [x for x in range(20000) if _is_prime(x)] == [x for x in range(20000) if _trial(x)]
    # strong pseudoprimes to many small bases (Arnault; OEIS A014233) are composite
    for spsp in (2047, 1373653, 25326001, 3215031751, 2152302898747, 3474749660383,
                 341550071728321, 3825123056546413051, 318665857834031151167461):  # fmt: skip
        assert not _is_prime(spsp)
    assert _is_prime(2**61 - 1) and _is_prime(2**89 - 1) and not _is_prime(2**67 - 1)


def test_paley_with_21_digit_prime_is_refused_at_once():
    q = 10**20 + 1
    while not (_is_prime(q) and q % 4 == 1):
        q += 4
    assert pow(2, q - 1, q) == 1 and pow(3, q - 1, q) == 1  # Fermat: independent check
    t0 = time.process_time()
    for text in (f"paley:q={q}", f"lps:p=5,q={q}"):
        with pytest.raises(SizeLimitError, match=r"q=\d+ needs about .* GiB"):
            build(text)
    with pytest.raises(ValueError, match="must be a prime"):
        build(f"lps:p=5,q={q + 2}")  # q + 2 is composite: 3 | q + 2 or MR says so
    assert time.process_time() - t0 < 5  # trial division took hours; MR takes microseconds
    assert paley(13).n == 13


# -- size caps ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, name",
    [
        ("random-regular:n=1000000000000,d=4", "n="),
        ("random-regular:n=100000000000000000000000,d=4", "n="),
        ("margulis:m=1000000", "m="),
        ("random-bipartite:left=1000000000000,right=8,d=2", "left="),
        ("random-bipartite:left=8,right=1000000000000,d=2", "right="),
        ("dense:left=10000000,right=10000000", "left="),
    ],
)
def test_construction_size_caps(text, name):
    with pytest.raises(SizeLimitError, match=rf"{name}\d+.* needs about [\d.e+]+ GiB"):
        build(text)


def test_size_cap_follows_env(monkeypatch):
    monkeypatch.setenv("XNETS_MAX_BYTES", "1000")
    with pytest.raises(SizeLimitError, match="limit 0.0 MiB"):
        build("random-regular:n=100,d=4")
    monkeypatch.delenv("XNETS_MAX_BYTES")
    assert build("random-regular:n=100,d=4").n == 100


@pytest.mark.parametrize("text", ["# n=1000000000000\n0 1\n", "0 1000000000000\n"])
def test_edgelist_size_caps(text):
    with pytest.raises(SizeLimitError, match=r"n=\d+ needs about"):
        parse_edgelist(io.StringIO(text))


def test_edgelist_huge_tokens_one_line():
    for text in ("0 " + "9" * 5000 + "\n", "# n=" + "9" * 5000 + "\n0 1\n"):
        with pytest.raises(ValueError) as e:
            parse_edgelist(io.StringIO(text))
        assert len(str(e.value)) < 200 and "\n" not in str(e.value)


def test_spec_width_layer_count_and_nesting_caps(tmp_path):
    with pytest.raises(SizeLimitError, match=r"layers\[0\]: out=1000000000, degree=16 needs"):
        load_spec({"input": 10**9, "layers": [{"out": 10**9, "degree": 16}]})
    with pytest.raises(SizeLimitError, match="exceed the limit"):
        load_spec({"input": 8, "layers": [{"kind": "activation"}] * 200_001})
    layer = {"kind": "activation"}
    for _ in range(400):
        layer = {"kind": "residual", "body": [layer]}
    with pytest.raises(ValueError, match=f"nesting deeper than {MAX_DEPTH}"):
        load_spec({"input": 8, "layers": [layer]})
    (tmp_path / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(ValueError, match="nesting too deep"):
        read_spec(tmp_path / "deep.json")
    big = tmp_path / "big.yaml"
    big.write_text("#" * (17 << 20))
    with pytest.raises(SizeLimitError, match="exceeds the 16 MiB limit"):
        read_spec(big)


# -- one spec reader ----------------------------------------------------------------------


def test_train_uses_the_duplicate_refusing_spec_reader(tmp_path):
    from compiler.train import build_model

    p = tmp_path / "UPPER.YAML"
    p.write_text(
        "input: 16\nlayers:\n  - {out: 4, degree: 2}\n  - {kind: activation, fn: relu, fn: tanh}\n"
    )
    with pytest.raises(ValueError, match="duplicate key 'fn'"):
        build_model(str(p))
    j = tmp_path / "s.json"
    j.write_text('{"input": 16, "input": 8, "layers": []}')
    with pytest.raises(ValueError, match="duplicate key 'input'"):
        build_model(str(j))
    p.write_text("input: 16\nlayers:\n  - {out: 4, degree: 2}\n")
    model, _ = build_model(
        str(p), allow_uncertified=True
    )  # the upper-case suffix is a spec, not an edge list
    assert sum(1 for _ in model.parameters()) > 0


# -- .npz integrity -------------------------------------------------------------------------


def _lg():
    return LayeredGraph([random_bipartite(8, 8, 2, seed=k) for k in range(3)])


def _rewrite(src, dst, edit):
    with np.load(src) as z:
        arrays = {k: z[k] for k in z.files}
    edit(arrays)
    np.savez(dst, **arrays)


def test_npz_header_listing_fewer_layers_is_refused(tmp_path):
    path = tmp_path / "lg.npz"
    _lg().save(path)
    assert LayeredGraph.load(path).fingerprint == _lg().fingerprint

    def drop_layer(a):
        h = json.loads(bytes(a["header"]).decode())
        h["layers"] = h["layers"][:2]
        a["header"] = np.frombuffer(json.dumps(h).encode(), np.uint8)

    _rewrite(path, tmp_path / "short.npz", drop_layer)
    with pytest.raises(ValueError, match="header lists 2 layers but the archive also holds"):
        LayeredGraph.load(tmp_path / "short.npz")

    def flip(a):
        a["indices_1"] = a["indices_1"][::-1].copy()

    _rewrite(path, tmp_path / "flip.npz", flip)
    with pytest.raises(ValueError, match="digest mismatch"):
        LayeredGraph.load(tmp_path / "flip.npz")


def test_npz_unreadable_files_give_one_line(tmp_path):
    path = tmp_path / "lg.npz"
    _lg().save(path)
    data = path.read_bytes()
    cases = {
        "trunc.npz": data[: len(data) // 2],
        "notzip.npz": b"hello, not a zip file at all",
        "empty.npz": b"",
    }
    for name, content in cases.items():
        (tmp_path / name).write_bytes(content)

    def bad_layers(a):
        a["header"] = np.frombuffer(b'{"format": "xnets.layered/2", "layers": [1, 2]}', np.uint8)

    def missing_field(a):
        h = json.loads(bytes(a["header"]).decode())
        del h["layers"][0]["fingerprint"]
        a["header"] = np.frombuffer(json.dumps(h).encode(), np.uint8)

    _rewrite(path, tmp_path / "badlayers.npz", bad_layers)
    _rewrite(path, tmp_path / "missing.npz", missing_field)
    for name in [*cases, "badlayers.npz", "missing.npz"]:
        with pytest.raises(ValueError) as e:
            LayeredGraph.load(tmp_path / name)
        msg = str(e.value)
        assert msg.startswith(str(tmp_path / name)) and "\n" not in msg
    with pytest.raises(ValueError, match="layers\\[0\\] is not a record"):
        LayeredGraph.load(tmp_path / "badlayers.npz")
    with pytest.raises(ValueError, match="missing the field 'fingerprint'"):
        LayeredGraph.load(tmp_path / "missing.npz")


# -- deep chains ----------------------------------------------------------------------------


def test_deep_chain_mixing_has_no_overflow_and_exact_verdict():
    layers = [random_bipartite(16, 16, 8, seed=k) for k in range(420)]
    lg = LayeredGraph(layers)
    s, t = [0, 1, 2], [5, 6]
    r = path_mixing(lg, s, t)
    # independent exact count: dense integer matrix products with Python ints
    x = [1 if v in s else 0 for v in range(16)]
    for layer in layers:
        x = [
            sum(x[u] for u in layer.indices[layer.indptr[v] : layer.indptr[v + 1]])
            for v in range(16)
        ]
    assert r.count == sum(x[v] for v in t) == path_count(lg, s, t)
    pred = mixing_prediction(lg, 3, 2)
    assert pred == Fraction(3 * 2 * 8**420, 16)
    assert r.log10_predicted == pytest.approx(math.log10(6) + 420 * math.log10(8) - math.log10(16))
    assert math.isinf(r.predicted)  # beyond the float range: saturates, no OverflowError
    assert r.within_bound is True and r.log10_error_bound is not None
    dev = abs(Fraction(r.count) - pred)
    assert math.log10(dev.numerator) - math.log10(dev.denominator) <= r.log10_error_bound + 1e-9


def _tanner_quadratic(lg, spectra):
    """The former O(layers²) search: every t, every split (the independent oracle)."""
    layers, widths = list(lg), lg.widths
    mus = [min(1.0, s.mu + s.error) for s in spectra]
    sides = [_layer_sides(l) for l in layers]
    fwd = [1]
    for k in range(len(layers)):
        fwd.append(_grow(fwd[-1], sides[k][0], sides[k][1], mus[k]))
    for t in range(1, len(layers) + 1):
        back = {t: 1}
        for r in range(1, t + 1):
            k = t - r
            back[k] = _grow(back[k + 1], sides[k][1], sides[k][0], mus[k])
        if any(fwd[s] + back[s] > widths[s] for s in range(t + 1)):
            return t
    return None


def test_tanner_depth_linear_pass_equals_quadratic_search():
    rng = np.random.default_rng(0)
    found = 0
    for trial in range(120):
        depth = int(rng.integers(1, 10))
        w = [int(rng.integers(2, 30)) for _ in range(depth + 1)]
        layers = []
        for k in range(depth):
            if rng.random() < 0.3:  # arbitrary multigraph layer, degrees may be 0
                e = int(rng.integers(1, w[k] * w[k + 1] // 2 + 2))
                layers.append(
                    BipartiteGraph.from_edges(
                        w[k], w[k + 1], rng.integers(0, w[k], e), rng.integers(0, w[k + 1], e)
                    )
                )
            else:
                d = int(rng.integers(1, w[k] + 1))
                layers.append(random_bipartite(w[k], w[k + 1], d, seed=trial * 100 + k))
        lg = LayeredGraph(layers)
        spectra = [layer_spectrum(l) for l in lg]
        got = tanner_depth(lg, spectra=spectra)["bound_depth"]
        assert got == _tanner_quadratic(lg, spectra)
        found += got is not None
    assert 20 < found < 120  # both outcomes are exercised


def test_tanner_depth_is_linear_on_a_non_mixing_chain():
    lg = LayeredGraph([grouped(32, 32, 4)] * 2000)  # mu = 1: never proven
    t0 = time.process_time()
    assert tanner_depth(lg)["bound_depth"] is None
    assert time.process_time() - t0 < 20  # the quadratic search made ~2e6 growth steps


# -- data files ----------------------------------------------------------------------------


def test_cifar_pickle_with_bad_codec_is_one_line(tmp_path):
    from compiler.data import _load_pickle

    p = tmp_path / "data_batch_1"
    p.write_bytes(b"c_codecs\nencode\n(Vx\nVno-such-codec\ntR.")
    with pytest.raises(ValueError, match="truncated or corrupt"):
        _load_pickle(p, "cifar10")
    evil = tmp_path / "evil"
    evil.write_bytes(pickle.dumps(eval))  # noqa: S301 - the restricted unpickler refuses it
    with pytest.raises(ValueError, match="refusing to load global builtins.eval"):
        _load_pickle(evil, "cifar10")


def test_idx_header_overflow_names_the_file(tmp_path):
    from compiler.data import _parse_idx

    p = tmp_path / "train-images-idx3-ubyte"
    # 2^32-1 each: the int64 product overflows; the exact one does not
    data = (0x803).to_bytes(4, "big") + b"\xff\xff\xff\xff" * 3 + b"\x00" * 16
    with pytest.raises(ValueError, match=str(p).replace("\\", "\\\\") + " is truncated"):
        _parse_idx(data, p, "mnist", 0x803)


# -- model factories and checkpoints -----------------------------------------------------


@pytest.mark.parametrize("factory", ["builtins:exec", "builtins:eval", "os:getcwd"])
def test_non_model_factories_are_refused(factory):
    from compiler.train import build_model

    with pytest.raises(ValueError, match="is not a model builder"):
        build_model(factory)


def test_module_class_without_shape_arguments_is_one_line():
    from compiler.train import build_model

    with pytest.raises(ValueError, match="could not build a model for input shape"):
        build_model("torch.nn:Embedding")


def test_malicious_checkpoint_message(tmp_path):
    import torch

    from compiler.train import load_checkpoint

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    p = tmp_path / "evil.pt"
    torch.save({"x": Evil()}, p)
    with pytest.raises(ValueError, match="holds objects that weights-only loading refuses"):
        load_checkpoint(p)


# -- command lines ---------------------------------------------------------------------------


def test_cli_seed_is_named_and_upper_case_spec_suffix(tmp_path, capsys):
    from expandergraph.cli import main

    with pytest.raises(SystemExit) as e:
        main(["mixing", "x.yaml", "--seed", "-1"])
    assert e.value.code == 2 and "argument --seed: must be >= 0, got -1" in capsys.readouterr().err
    spec = tmp_path / "UPPER.YAML"
    spec.write_text("input: 8\nlayers:\n  - {out: 8, graph: dense}\n")
    main(["certify", str(spec), "--json"])
    out = capsys.readouterr()
    assert "edge list" not in out.err and "layers[0]" in out.out


def test_cli_unexpected_error_is_one_line_unless_debug(monkeypatch, capsys, tmp_path):
    import expandergraph.cli as ecli

    def boom(*args, **kw):
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr(ecli, "load_graph", boom)
    out = str(tmp_path / "g.txt")
    assert ecli.main(["build", "paley:q=13", "-o", out]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "internal error: RuntimeError: boom" in err and "--debug" in err
    with pytest.raises(RuntimeError):
        ecli.main(["--debug", "build", "paley:q=13", "-o", out])
    monkeypatch.undo()
    assert ecli.main(["build", "paley:q=1000000000000000000000000000001", "-o", out]) == 2
    assert "paley: q=" in capsys.readouterr().err


# -- training runs: outputs, leftovers, stale summaries ---------------------------------------


def _mlp():
    import torch.nn as nn

    return nn.Sequential(nn.Flatten(), nn.Linear(64, 16), nn.ReLU(), nn.Linear(16, 10))


def _cfg(out, **kw):
    from compiler.train import TrainConfig

    base = dict(epochs=1, batch_size=32, lr=0.1, limit=200, quiet=True, out=str(out))
    base.update(kw)
    return TrainConfig(**base)


def test_out_dir_not_a_run_is_refused_and_untouched(tmp_path):
    from compiler.train import fit

    out = tmp_path / "mine"
    out.mkdir()
    (out / "metrics.csv").write_text("my own data\n")
    with pytest.raises(ValueError, match="is not empty and holds no run; nothing was touched"):
        fit(_mlp, "digits", _cfg(out))
    assert [f.name for f in out.iterdir()] == ["metrics.csv"]
    assert (out / "metrics.csv").read_text() == "my own data\n"
    fit(_mlp, "digits", _cfg(out, overwrite=True))  # explicit consent
    assert (out / "summary.json").is_file()


def test_leftover_temp_files_are_cleaned_on_start(tmp_path):
    from compiler.train import fit

    out = tmp_path / "run"
    fit(_mlp, "digits", _cfg(out))
    dead = 2**22 + 12345  # above the default pid_max: no such process
    stale = out / f".best.pt.{dead}.0123456789ab.tmp"
    stale.write_bytes(b"partial")
    fit(_mlp, "digits", _cfg(out, epochs=2, resume=True))
    assert not stale.exists()
    assert not [f for f in out.iterdir() if f.name.endswith(".tmp")]


def test_resume_rewrites_a_stale_summary(tmp_path):
    from compiler.train import fit

    out = tmp_path / "run"
    first = fit(_mlp, "digits", _cfg(out, epochs=2))
    stale = dict(first, epochs=1, history=first["history"][:1], test_acc=-1.0)
    (out / "summary.json").write_text(json.dumps(stale))
    again = fit(_mlp, "digits", _cfg(out, epochs=2, resume=True))
    on_disk = json.loads((out / "summary.json").read_text())
    assert on_disk["epochs"] == 2 and on_disk["test_acc"] == again["test_acc"] != -1.0
    assert again["test_acc"] == pytest.approx(first["test_acc"])  # same best weights
    (out / "summary.json").unlink()  # a crash before the summary: resume writes it
    fit(_mlp, "digits", _cfg(out, epochs=2, resume=True))
    assert json.loads((out / "summary.json").read_text())["epochs"] == 2


def test_demo_refuses_a_non_empty_out(tmp_path):
    import argparse

    from compiler.demo import DemoError, demo_main, run_demo

    out = tmp_path / "d"
    out.mkdir()
    (out / "best.pt").write_bytes(b"precious")
    with pytest.raises(DemoError, match="is not empty; nothing was touched"):
        run_demo(None, out, epochs=1)
    args = argparse.Namespace(spec=None, out=str(out), epochs=1, lr=0.05, batch_size=64,
                              seed=0, samples=8, json=False, quiet=True)  # fmt: skip
    assert demo_main(args) == 2
    assert [f.name for f in out.iterdir()] == ["best.pt"]
    assert (out / "best.pt").read_bytes() == b"precious"


def test_disk_full_keeps_previous_checkpoint_and_no_temp(tmp_path, monkeypatch, capsys):
    import errno
    import os

    import torch

    import compiler.train as tr

    p = tmp_path / "last.pt"
    tr.save_checkpoint(p, {"epoch": 1, "w": torch.ones(2)})
    before = p.read_bytes()

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(tr.os, "fsync", full)
    with pytest.raises(OSError, match="No space left"):
        tr.save_checkpoint(p, {"epoch": 2, "w": torch.zeros(2)})
    monkeypatch.undo()
    assert p.read_bytes() == before and os.listdir(tmp_path) == ["last.pt"]
    assert tr.load_checkpoint(p)["epoch"] == 1
    # through the command line: one line, status 2, no temp file left behind
    spec = tmp_path / "m.yaml"
    spec.write_text("input: 64\nlayers:\n  - {out: 10, graph: dense}\n")
    out = tmp_path / "run"
    monkeypatch.setattr(tr.os, "fsync", full)
    argv = [str(spec), "--data", "digits", "--epochs", "1", "--limit", "100", "--quiet"]
    rc = tr.main([*argv, "--out", str(out), "--allow-uncertified"])
    monkeypatch.undo()
    err = capsys.readouterr().err.strip()
    assert rc == 2 and "No space left on device" in err and err.count("\n") == 0
    assert not [f for f in out.iterdir() if f.name.endswith(".tmp")]


def test_train_out_under_a_file_is_one_line(tmp_path, capsys):
    """An --out that cannot be created (a path below a regular file) gives one line, exit 2."""
    from compiler.train import main as train_main

    blocker = tmp_path / "file"
    blocker.write_text("x")
    code = train_main(
        [
            "compiler/specs/tiny-mlp.yaml",
            "--data",
            "digits",
            "--epochs",
            "1",
            "--limit",
            "60",
            "-q",
            "--out",
            str(blocker / "sub"),
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "Not a directory" in err
    assert blocker.read_text() == "x"

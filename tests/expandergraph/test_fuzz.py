"""Fuzz every reader: the only outcomes are a result or a one-line ``ValueError``.

Readers: construction strings, edge lists, specs (mappings and files), layered
``.npz`` files, IDX files, CIFAR pickles and checkpoints.  Examples are bounded
(``max_examples``) so the file runs in seconds.
"""

from __future__ import annotations

import io
import json
import pickle

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compiler.spec import load_spec
from expandergraph.construct import CONSTRUCTIONS, build
from expandergraph.edgelist import parse_edgelist
from expandergraph.generators.random import random_bipartite
from expandergraph.layered import LayeredGraph

FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def _outcome(func, *args):
    """Run ``func``; a raised exception must be a one-line ``ValueError``."""
    try:
        return func(*args)
    except ValueError as exc:
        msg = str(exc)
        assert msg and "\n" not in msg, repr(msg)
        assert len(msg) < 600, msg[:200]
        return exc


_SMALL = st.integers(-3, 40) | st.sampled_from([10**12, 10**23, 2**63, -(2**63)])
_VALUE = _SMALL.map(str) | st.sampled_from(["", "x", "1.5", "nan", "true", "1e9", "=", "/"])
_KEYS = st.sampled_from(["n", "d", "m", "q", "p", "left", "right", "dl", "dr", "seed", "block"])


@st.composite
def _construction(draw):
    parts = []
    for _ in range(draw(st.integers(1, 2))):
        name = draw(st.sampled_from(sorted(CONSTRUCTIONS)) | st.text(max_size=6))
        params = draw(st.lists(st.tuples(_KEYS, _VALUE), max_size=4))
        parts.append(name + ":" + ",".join(f"{k}={v}" for k, v in params))
    return "/".join(parts)


@FUZZ
@given(_construction())
def test_fuzz_construction_strings(text):
    _outcome(build, text)


@FUZZ
@given(st.text(alphabet="0123456789 #n=\n-x\t", max_size=80))
def test_fuzz_edgelists(text):
    _outcome(parse_edgelist, io.StringIO(text))


_LEAF = (
    st.integers(-2, 64)
    | st.sampled_from([10**9, 10**30, True, None, 0.5, "relu", "dense", "grouped", "conv"])
    | st.text(max_size=4)
)
_LAYER_KEYS = st.sampled_from(
    [
        "kind",
        "out",
        "degree",
        "graph",
        "density",
        "block",
        "fn",
        "body",
        "shortcut",
        "size",
        "kernel_size",
        "groups",
        "p",
        "in",
        "seed",
        "stride",
    ]  # fmt: skip
)
_KINDS = st.sampled_from(["linear", "conv", "activation", "residual", "concat", "pool", "flatten"])


def _layer(children):
    return st.fixed_dictionaries({"kind": _KINDS}, optional={"out": _LEAF}).flatmap(
        lambda base: st.dictionaries(_LAYER_KEYS, _LEAF | children, max_size=3).map(
            lambda extra: {**base, **extra}
        )
    )


_LAYERS = st.recursive(
    st.lists(_LEAF, max_size=2), lambda c: st.lists(_layer(c), max_size=3), max_leaves=8
)


@FUZZ
@given(
    st.fixed_dictionaries(
        {"input": _LEAF | st.lists(st.integers(-1, 9), max_size=4), "layers": _LAYERS},
        optional={"seed": _LEAF, "backend": _LEAF, "name": _LEAF},
    )
)
def test_fuzz_spec_mappings(raw):
    _outcome(load_spec, raw)


@FUZZ
@given(st.text(max_size=120), st.sampled_from(["s.yaml", "s.json", "S.YML"]))
def test_fuzz_spec_files(tmp_path_factory, text, name):
    path = tmp_path_factory.mktemp("spec") / name
    path.write_text(text, encoding="utf-8")
    _outcome(load_spec, path)


def _npz_bytes() -> bytes:
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "g.npz"
        LayeredGraph([random_bipartite(6, 6, 2, seed=k) for k in range(2)]).save(path)
        return path.read_bytes()


_NPZ = _npz_bytes()


@FUZZ
@given(st.data())
def test_fuzz_npz(tmp_path_factory, data):
    raw = bytearray(_NPZ)
    for _ in range(data.draw(st.integers(1, 6))):
        i = data.draw(st.integers(0, len(raw) - 1))
        raw[i] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(raw)))
    path = tmp_path_factory.mktemp("npz") / "g.npz"
    path.write_bytes(bytes(raw[:cut] if data.draw(st.booleans()) else raw))
    _outcome(LayeredGraph.load, path)


@FUZZ
@given(st.lists(st.tuples(st.sampled_from(["header", "indptr_0", "indices_0", "indptr_1"]),
                          st.lists(st.integers(-5, 2**40), max_size=6)), max_size=4),
       st.booleans())  # fmt: skip
def test_fuzz_npz_structure(tmp_path_factory, entries, json_header):
    arrays = {k: np.asarray(v, dtype=np.int64) for k, v in entries}
    if json_header:
        head = {"format": "xnets.layered/2", "layers": [{"left": 3, "right": 2}]}
        arrays["header"] = np.frombuffer(json.dumps(head).encode(), dtype=np.uint8)
    path = tmp_path_factory.mktemp("npzs") / "g.npz"
    np.savez(path, **arrays)
    _outcome(LayeredGraph.load, path)


@FUZZ
@given(st.binary(max_size=64), st.sampled_from([0x801, 0x803]))
def test_fuzz_idx(tmp_path_factory, payload, magic):
    from compiler.data import _parse_idx

    data = magic.to_bytes(4, "big") + payload
    _outcome(_parse_idx, data, tmp_path_factory.mktemp("idx") / "f", "mnist", magic)


_PICKLES = [
    pickle.dumps({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0, 1]}, protocol=2),
    b"c_codecs\nencode\n(Vx\nVlatin1\ntR.",
    pickle.dumps([1, 2, 3]),
]


@FUZZ
@given(st.sampled_from(_PICKLES), st.data())
def test_fuzz_cifar_pickles(tmp_path_factory, base, data):
    from compiler.data import _cifar_batch

    raw = bytearray(base)
    for _ in range(data.draw(st.integers(0, 4))):
        i = data.draw(st.integers(0, len(raw) - 1))
        raw[i] = data.draw(st.integers(0, 255))
    path = tmp_path_factory.mktemp("cifar") / "data_batch_1"
    path.write_bytes(bytes(raw[: data.draw(st.integers(1, len(raw)))]))
    _outcome(_cifar_batch, path, "cifar10", "labels")


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.data())
def test_fuzz_checkpoints(tmp_path_factory, data):
    import torch

    from compiler.train import load_checkpoint, save_checkpoint

    d = tmp_path_factory.mktemp("ck")
    good = d / "good.pt"
    save_checkpoint(good, {"model": {"w": torch.zeros(3)}, "epoch": 1})
    raw = bytearray(good.read_bytes())
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(raw) - 1))
        raw[i] = data.draw(st.integers(0, 255))
    bad = d / "bad.pt"
    bad.write_bytes(bytes(raw[: data.draw(st.integers(0, len(raw)))]))
    _outcome(load_checkpoint, bad)

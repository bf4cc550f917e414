"""Hostile inputs to both spec readers: each gives one located one-line ``ValueError``."""

from __future__ import annotations

import json
import math
from fractions import Fraction

import pytest

from compiler import compile as compile_spec
from compiler.spec import NETWORK
from compiler.spec import load_spec as load_network_spec
from expandergraph.fields import as_number, shown
from expandergraph.limits import SizeLimitError
from expandergraph.spec import load_spec
from expandergraph.specfile import read_spec

HUGE = 10**5000  # more digits than Python prints (4300), and beyond the float range


def _raises(fn, exc, pattern):
    with pytest.raises(exc, match=pattern) as info:
        fn()
    assert type(info.value) in (ValueError, SizeLimitError)
    assert "\n" not in str(info.value)
    assert len(str(info.value)) < 400
    return info.value


def lin(**k):
    return {"input": 16, "layers": [{"out": 8, "degree": 4, **k}]}


def one(layer, **top):
    return {"input": 16, "layers": [layer], **top}


GRAPH_BAD = [
    # numbers beyond the float range (were OverflowError)
    (
        one({"out": 8, "density": 10**400}),
        r"^layers\[0\]\.density: must be a finite number, got "
        r"an integer too large for a float$",
    ),
    (
        one({"out": 8, "compression": 10**400}),
        r"^layers\[0\]\.compression: must be a finite "
        r"number, got an integer too large for a float$",
    ),
    # integers too long to print (were an unlocated 'Exceeds the limit (4300 digits)')
    (
        {"input": HUGE, "layers": [{"out": 8, "degree": 4}]},
        r"^input: must be a positive integer .*got an integer of 16610 bits$",
    ),
    (
        {"input": [HUGE], "layers": [{"out": 8, "degree": 4}]},
        r"^input: must be a positive integer .*got a list holding an integer too large to print$",
    ),
    (
        one({"out": HUGE, "degree": 4}),
        r"^layers\[0\]\.out: must be below 2\*\*256, got an "
        r"integer of 16610 bits$",
    ),
    (one({"out": 8, "degree": HUGE}), r"^layers\[0\]\.degree: must be below 2\*\*256"),
    (one({"kind": "shuffle", "groups": HUGE}), r"^layers\[0\]\.groups: must be below 2\*\*256"),
    (lin(block=HUGE), r"^layers\[0\]\.block: must be below 2\*\*256"),
    (lin(**{"in": HUGE}), r"^layers\[0\]\.in: must be below 2\*\*256"),
    (lin(seed=HUGE), r"^layers\[0\]\.seed: must be below 2\*\*256"),
    ({"input": 16, "seed": HUGE, "layers": [{"out": 8, "degree": 4}]}, r"^seed: must be below"),
    (one({"out": 8, "degree": 4, HUGE: 1}), r"^layers\[0\]: unknown key an integer of 16610 bits$"),
    (one({"kind": [HUGE]}), r"^layers\[0\]\.kind: unknown kind a list holding an integer too"),
    (
        one({"kind": list(range(1000))}),
        r"^layers\[0\]\.kind: unknown kind \[0, 1, 2, .*\.\.\. "
        r"\(known: linear",
    ),
    # certify parameters: NaN, inf and out-of-range values were accepted at load
    (
        lin() | {"certify": {"alpha_max": math.nan}},
        r"^certify\.alpha_max: must be in \(0, 1\), "
        r"got nan$",
    ),
    (lin() | {"certify": {"alpha_max": math.inf}}, r"^certify\.alpha_max: must be in \(0, 1\)"),
    (lin() | {"certify": {"rho": -1}}, r"^certify\.rho: must be in \(0, 1\], got -1$"),
    (lin() | {"certify": {"delta": 1.0}}, r"^certify\.delta: must be in \(0, 1\)"),
    (lin() | {"certify": {"kappa": 0.5}}, r"^certify\.kappa: must be a finite number >= 1"),
    (lin() | {"certify": {"kappa": math.inf}}, r"^certify\.kappa: must be a finite number >= 1"),
    (lin() | {"certify": {"sigma": 2}}, r"^certify\.sigma: must be in \(0, 1\]"),
    (lin() | {"certify": {"eps_max": 0}}, r"^certify\.eps_max: must be a positive finite number"),
    (lin() | {"certify": {"rho": HUGE}}, r"^certify\.rho: must be in \(0, 1\], got an integer of"),
    # unknown certify keys of mixed types (was TypeError from sorting them)
    (lin() | {"certify": {1: 2, "a": 3}}, r"^certify\.1: unknown key \(known: checks, alpha_max"),
    (lin() | {"certify": {"a b": 3}}, r"^certify\.'a b': unknown key"),
]


@pytest.mark.parametrize("raw, pattern", GRAPH_BAD)
def test_graph_spec_bad_inputs(raw, pattern):
    _raises(lambda: load_spec(raw), ValueError, pattern)


@pytest.mark.parametrize("raw, pattern", GRAPH_BAD[:2] + GRAPH_BAD[4:])
def test_network_spec_bad_inputs_shared(raw, pattern):
    # the same rules hold in the network vocabulary (its input message differs)
    _raises(lambda: load_network_spec(raw), ValueError, pattern)


@pytest.mark.parametrize(
    "value, degree",
    [("1/8", 2), (" 3/16 ", 3), ("0.25", 4), (Fraction(1, 2), 8), ("1", 16)],
)
def test_density_fraction_strings_are_exact(value, degree):
    # degree_for's rule D = floor(x * in), x read exactly; YAML `density: 1/8` is a string
    assert load_spec(one({"out": 8, "density": value})).layers[0].degree == degree
    assert load_spec(one({"out": 8, "graph": "dense", "density": "1"})).layers[0].degree == 16


@pytest.mark.parametrize("value, degree", [("8", 2), ("16/3", 3), (Fraction(4), 4)])
def test_compression_fraction_strings_are_exact(value, degree):
    # D = floor(in / c) = floor(16 / c)
    assert load_spec(one({"out": 8, "compression": value})).layers[0].degree == degree


@pytest.mark.parametrize(
    "key, value, pattern",
    [
        ("density", "1/0", r"^layers\[0\]\.density: not a number or fraction: '1/0'$"),
        ("density", "nan", r"^layers\[0\]\.density: not a number or fraction: 'nan'$"),
        ("density", "3/2", r"^layers\[0\]\.density: must be in \(0, 1\], got 3/2$"),
        ("density", "1/100", r"^layers\[0\]\.density: 1/100 leaves degree 0 for input width 16$"),
        ("compression", "x\ny", r"^layers\[0\]\.compression: not a number or fraction: 'x\\ny'$"),
        ("compression", "1/2", r"^layers\[0\]\.compression: must be >= 1, got 1/2$"),
    ],
)
def test_bad_fraction_strings(key, value, pattern):
    _raises(lambda: load_spec(one({"out": 8, key: value})), ValueError, pattern)


def conv(**k):
    return {"input": [1, 8, 8], "layers": [{"kind": "conv", "out": 4, "degree": 1, **k}]}


@pytest.mark.parametrize(
    "raw, pattern",
    [
        # an even (dilated) kernel has no symmetric 'same' padding: refused at load now,
        # not only when compile builds the module
        (
            conv(kernel_size=2, padding="same"),
            r"^layers\[0\]\.padding: 'same' needs an odd \(dilated\) kernel, got kernel_size 2$",
        ),
        (
            conv(kernel_size=[3, 4], padding="same"),
            r"^layers\[0\]\.padding: 'same' needs an odd \(dilated\) kernel, got kernel_size "
            r"\(3, 4\)$",
        ),
        (
            {
                "input": [2, 8, 8],
                "layers": [{"kind": "depthwise", "kernel_size": 2, "padding": "same"}],
            },
            r"^layers\[0\]\.padding: 'same' needs an odd",
        ),
        (
            {"input": [1, 8, 8], "layers": [{"kind": "dropout", "p": 10**400}]},
            r"^layers\[0\]\.p: must be a finite number, got an integer too large for a float$",
        ),
    ],
)
def test_network_spec_bad_inputs(raw, pattern):
    _raises(lambda: load_network_spec(raw), ValueError, pattern)


def test_same_padding_with_even_dilated_kernel_is_fine():
    # dilation 2 makes d * (k - 1) = 2 even: 'same' keeps 8x8
    s = load_network_spec(conv(kernel_size=2, dilation=2, padding="same"))
    assert s.layers[0].out_shape == (4, 8, 8)


def test_dropout_negative_zero_is_stored_as_zero():
    p = load_network_spec({"input": 4, "layers": [{"kind": "dropout", "p": -0.0}]})
    assert math.copysign(1.0, p.layers[0].options["p"]) == 1.0


SPEC = {"input": [1, 8, 8], "layers": [{"kind": "conv", "out": 4, "degree": 1}]}


@pytest.mark.parametrize(
    "shape, pattern",
    [
        (True, r"^input: must be a positive integer or \[C, H, W\], got True$"),  # TypeError
        (2.5, r"^input: must be a positive integer or \[C, H, W\], got 2\.5$"),  # TypeError
        (
            [[8]],
            r"^input: must be a positive integer or \[C, H, W\], got \[\[8\]\]$",
        ),  # was width 8
        ((1, 8), r"^input: must be a positive integer or \[C, H, W\], got \[1, 8\]$"),
        (0, r"^input: must be a positive integer or \[C, H, W\], got 0$"),
        ("x", r"^input: must be a positive integer or \[C, H, W\], got 'x'$"),
    ],
)
def test_bad_input_shape(shape, pattern):
    _raises(lambda: load_network_spec(SPEC, input_shape=shape), ValueError, pattern)


def test_nested_input_shape_is_not_unwrapped():
    flat = {"input": 16, "layers": [{"out": 8, "degree": 4}]}
    _raises(lambda: load_network_spec(flat, input_shape=[[16]]), ValueError, r"^input: ")
    assert load_network_spec(flat, input_shape=[32]).input == (32,)
    assert load_network_spec(flat, input_shape=32).layers[0].in_width == 32


def test_graph_spec_object_is_read_again_as_a_network_spec():
    raw = {
        "input": 16,
        "layers": [
            {"out": 8, "degree": 4},
            {"kind": "shuffle", "groups": 2},
            {"kind": "residual", "body": [{"out": 8, "degree": 2}]},
        ],
    }
    g = load_spec(raw)
    assert g.vocabulary == "graph spec" and g.layers[0].options == {}
    s = load_network_spec(g)
    assert s.vocabulary == NETWORK.name
    assert s.layers[0].options == load_network_spec(raw).layers[0].options == {"bias": True}
    assert load_network_spec(s) is s
    import torch

    torch.manual_seed(0)
    a = compile_spec(g, allow_uncertified=True)
    torch.manual_seed(0)
    b = compile_spec(raw, allow_uncertified=True)
    assert a.spec.vocabulary == NETWORK.name
    x = torch.randn(3, 16)
    assert torch.equal(a(x), b(x))


def test_json_integer_too_long_names_the_file(tmp_path):
    p = tmp_path / "s.json"
    p.write_text('{"input": 1' + "0" * 5000 + ', "layers": []}')
    _raises(lambda: read_spec(p), ValueError, r"^.*s\.json: malformed JSON \(Exceeds the limit")
    p.write_text('{"input": 4, "input": 8}')
    _raises(
        lambda: read_spec(p), ValueError, r"^.*s\.json: malformed JSON \(duplicate key 'input'\)$"
    )


def test_yaml_fraction_density_file(tmp_path):
    p = tmp_path / "s.yaml"
    p.write_text("input: 16\nlayers:\n  - {out: 8, density: 1/8}\n")
    assert read_spec(p)["layers"][0]["density"] == "1/8"
    assert load_spec(p).layers[0].degree == 2
    assert json.dumps(load_spec(p).raw)  # still plain data


def test_shown_and_as_number():
    assert shown(HUGE) == "an integer of 16610 bits"
    assert shown("a\nb") == "'a\\nb'"
    assert len(shown(list(range(1000)))) <= 80
    assert as_number(3, "x") == 3.0
    _raises(lambda: as_number(HUGE, "x"), ValueError, r"^x: must be a finite number, got an int")

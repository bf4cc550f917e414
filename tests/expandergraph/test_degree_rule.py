"""One density-to-degree rule (expandergraph.degree.degree_for), used by specs, modules, models."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import expandergraph.degree as degree_mod
from compiler import XConv2d, XLinear
from compiler.models.blocks import degree_for as model_degree
from expandergraph.construct import layer_graph
from expandergraph.degree import as_fraction, degree_for
from expandergraph.spec import layer_graph as spec_layer_graph
from expandergraph.spec import load_spec


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 4096), st.integers(1, 64), st.integers(1, 64))
def test_density_rule_is_the_exact_floor(width, num, den):
    x = Fraction(min(num, den), max(num, den))
    want = (x.numerator * width) // x.denominator
    if want < 1:
        with pytest.raises(ValueError, match="leaves degree 0"):
            degree_for(width, density=x)
        assert degree_for(width, density=x, clamp=True) == 1
    else:
        assert degree_for(width, density=x) == want
        assert degree_for(width, compression=1 / x) == want


def test_floats_are_read_exactly():
    # 0.29 * 100 is 28.999999999999996 in binary floating point; the rule reads 29/100
    assert math.floor(0.29 * 100) == 28 and degree_for(100, density=0.29) == 29
    assert as_fraction(0.1) == Fraction(1, 10)


def test_the_issue_example_agrees_everywhere():
    spec = load_spec({"input": 16, "layers": [{"out": 16, "density": 0.3}]})
    assert spec.layers[0].degree == 4
    assert XLinear(16, 16, density=0.3).degree == 4
    assert model_degree(16, Fraction(3, 10)) == 4


def test_every_caller_goes_through_the_rule(monkeypatch):
    calls = []
    real = degree_mod.degree_for

    def spy(width, **kw):
        calls.append((width, kw.get("density"), kw.get("compression")))
        return real(width, **kw)

    monkeypatch.setattr(degree_mod, "degree_for", spy)
    load_spec({"input": 32, "layers": [{"out": 8, "density": 0.25}]})
    assert calls[-1][:2] == (32, 0.25)
    XLinear(24, 8, density=0.5)
    assert calls[-1][:2] == (24, 0.5)
    model_degree(40, Fraction(1, 8))
    assert calls[-1][:2] == (40, Fraction(1, 8))
    load_spec({"input": 64, "layers": [{"out": 8, "compression": 4}]})
    assert calls[-1] == (64, None, 4)


@pytest.mark.parametrize(
    "kw, match",
    [
        ({}, "exactly one of"),
        ({"degree": 2, "density": 0.5}, "exactly one of"),
        ({"density": 0}, r"layer\.density: must be in \(0, 1\]"),
        ({"density": 1.5}, r"layer\.density: must be in \(0, 1\]"),
        ({"density": float("nan")}, "finite"),
        ({"density": "x/y"}, "not a number"),
        ({"density": True}, "must be a number"),
        ({"compression": 0.5}, "must be >= 1"),
        ({"degree": 2.5}, "must be an integer"),
        ({"degree": 0}, "leaves degree 0"),
        ({"degree": 9}, "exceeds"),
    ],
)
def test_bad_inputs(kw, match):
    with pytest.raises(ValueError, match=match):
        degree_for(8, **kw)
    with pytest.raises(ValueError, match="input width"):
        degree_for(0, degree=1)


@pytest.mark.parametrize(
    "inp, out, density, block, seed",
    [(16, 16, 0.3, 1, 0), (64, 32, 0.25, 4, 3), (32, 64, 0.5, 8, 1), (48, 24, 0.125, 2, 7)],
)
def test_modules_given_a_density_build_the_spec_graph(inp, out, density, block, seed):
    d = degree_for(inp, density=density)
    want = layer_graph("random-bipartite", inp, out, d, seed=seed, block=block)
    spec = load_spec(
        {
            "input": inp,
            "layers": [{"out": out, "density": density, "block": block, "seed": seed}],
        }
    )
    from_spec = spec_layer_graph(spec.layers[0])
    lin = XLinear(inp, out, density=density, block=block, seed=seed)
    conv = XConv2d(inp, out, 3, padding=1, density=density, block=block, seed=seed)
    by_degree = XLinear(inp, out, degree=d, block=block, seed=seed)
    for g in (from_spec, lin.graph, conv.graph, by_degree.graph):
        assert (g.left, g.right, g.degree, g.block) == (inp, out, d, block)
        assert np.array_equal(g.indptr, want.indptr)
        assert np.array_equal(g.indices, want.indices)
        assert g.fingerprint == want.fingerprint
    for layer in (lin, conv, by_degree):
        assert np.array_equal(layer.index.numpy(), want.block_ell())

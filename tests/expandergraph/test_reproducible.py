"""Seeded constructions give the same graph in every process; construction strings reach them."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

import expandergraph
from expandergraph.construct import CONSTRUCTIONS
from expandergraph.generators.algebraic import lps, lps_bipartite, margulis, paley
from expandergraph.generators.baselines import dense, grouped, local
from expandergraph.generators.derived import block_expander, double_cover, two_lift
from expandergraph.generators.random import biregular, random_bipartite, random_regular

#: seeded constructions, as expressions evaluated both here and in fresh interpreters
SEEDED = {
    "rr": "random_regular(500, 6, seed={s})",
    "rr_dense": "random_regular(21, 14, seed={s})",
    "rb": "random_bipartite(300, 200, 7, seed={s})",
    "rb_dense": "random_bipartite(20, 30, 15, seed={s})",
    "br": "biregular(120, 80, dr=6, seed={s})",
    "lift": "two_lift(margulis(6), seed={s})",
    "lift_b": "two_lift(random_bipartite(10, 10, 3, seed=1), seed={s})",
}

_PRELUDE = (
    "from expandergraph.generators.random import random_regular, random_bipartite, biregular\n"
    "from expandergraph.generators.derived import two_lift\n"
    "from expandergraph.generators.algebraic import margulis\n"
)


def _fingerprints(seeds) -> dict:
    out = {}
    for key, expr in SEEDED.items():
        for s in seeds:
            out[f"{key}:{s}"] = eval(expr.format(s=s)).fingerprint  # noqa: S307 - fixed strings
    return out


def _fingerprints_in_subprocess(seeds, hashseed: str) -> dict:
    code = (
        _PRELUDE
        + "import json\n"
        + f"SEEDED = {SEEDED!r}\n"
        + "out = {}\n"
        + f"for key, expr in SEEDED.items():\n    for s in {list(seeds)!r}:\n"
        + "        out[f'{key}:{s}'] = eval(expr.format(s=s)).fingerprint\n"
        + "print(json.dumps(out))\n"
    )
    env = dict(os.environ, PYTHONHASHSEED=hashseed)
    res = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    return json.loads(res.stdout)


def test_same_seed_same_graph_across_processes():
    seeds = [0, 3]
    here = _fingerprints(seeds)
    assert _fingerprints_in_subprocess(seeds, "1") == here
    assert _fingerprints_in_subprocess(seeds, "12345") == here


def test_different_seeds_differ():
    fp = _fingerprints([0, 1, 2])
    for key in SEEDED:
        assert len({fp[f"{key}:{s}"] for s in (0, 1, 2)}) == 3, key


def test_repeat_call_is_identical():
    for expr in SEEDED.values():
        a, b = eval(expr.format(s=7)), eval(expr.format(s=7))  # noqa: S307
        assert a.fingerprint == b.fingerprint
        assert (a.indptr == b.indptr).all() and (a.indices == b.indices).all()


#: one example per registry entry, with the direct call it must equal
EXAMPLES = {
    "random-regular": ("random-regular:n=100,d=4,seed=3", lambda: random_regular(100, 4, 3)),
    "random-bipartite": (
        "random-bipartite:left=64,right=32,d=8,seed=2",
        lambda: random_bipartite(64, 32, 8, seed=2),
    ),
    "biregular": (
        "biregular:left=40,right=20,dr=6,seed=1",
        lambda: biregular(40, 20, dr=6, seed=1),
    ),
    "margulis": ("margulis:m=7", lambda: margulis(7)),
    "lps": ("lps:p=5,q=13", lambda: lps(5, 13)),
    "paley": ("paley:q=13", lambda: paley(13)),
    "lps-bipartite": ("lps-bipartite:left=60,right=60,p=13", lambda: lps_bipartite(60, 60, 13)),
    "grouped": ("grouped:left=16,right=8,d=4", lambda: grouped(16, 8, 4)),
    "local": ("local:left=16,right=8,d=3", lambda: local(16, 8, 3)),
    "dense": ("dense:left=5,right=3", lambda: dense(5, 3)),
    "double-cover": ("double-cover/paley:q=13", lambda: double_cover(paley(13))),
    "two-lift": ("two-lift:seed=1/margulis:m=5", lambda: two_lift(margulis(5), seed=1)),
    "block": (
        "block:block=4/random-bipartite:left=16,right=16,d=2",
        lambda: block_expander(random_bipartite(16, 16, 2), 4),
    ),
}


def test_every_registry_entry_has_an_example():
    assert sorted(EXAMPLES) == sorted(CONSTRUCTIONS)


@pytest.mark.parametrize("key", sorted(EXAMPLES))
def test_build_through_construction_string(key):
    text, direct = EXAMPLES[key]
    g = expandergraph.build(text)
    want = direct()
    assert type(g) is type(want)
    assert g.fingerprint == want.fingerprint
    assert g.name == text
    if isinstance(want, expandergraph.BipartiteGraph):
        assert g.block == want.block


def test_block_string_gives_block_ell():
    g = expandergraph.build("block:block=4/random-bipartite:left=16,right=16,d=2,seed=5")
    assert g.block == 4
    assert (g.block_ell() == random_bipartite(16, 16, 2, seed=5).ell()).all()


@pytest.mark.parametrize(
    "text,match",
    [
        ("paley:q=9", r"paley: q=9 must be a prime ≡ 1 \(mod 4\)"),
        ("random-regular:n=10,d=3.5", r"random_regular: d=3\.5 must be an integer"),
        ("random-regular:n=11,d=3", r"n\*d=33 must be even"),
        ("lps:p=5,q=5", r"lps: p=5 and q=5 must be distinct"),
        ("margulis:m=true", r"margulis: m=True must be an integer"),
        ("grouped:left=6,right=4,d=2", r"groups=left/d=3 must divide right=4"),
        ("two-lift:seed=-1/paley:q=5", r"two_lift: seed=-1 must be >= 0"),
    ],
)
def test_build_bad_parameters(text, match):
    with pytest.raises(ValueError, match=match):
        expandergraph.build(text)

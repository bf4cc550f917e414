"""A run has an identity (spec, data, recipe); resume and the best checkpoint must match it."""

from __future__ import annotations

import shutil

import pytest

from compiler import compile
from compiler.train import TrainConfig, fit, load_checkpoint, run_identity

SPEC = {
    "input": [1, 8, 8],
    "seed": 0,
    "layers": [
        {"kind": "flatten"},
        {"out": 32, "degree": 32},
        {"kind": "activation", "fn": "relu"},
        {"out": 10, "graph": "dense"},
    ],
}


def spec_with(fn: str) -> dict:
    layers = [dict(layer) for layer in SPEC["layers"]]
    layers[2]["fn"] = fn
    return dict(SPEC, layers=layers)


def cfg(tmp_path, name="run", **kw):
    base = dict(epochs=2, batch_size=50, lr=0.05, limit=200, quiet=True, out=str(tmp_path / name))
    base.update(kw)
    return TrainConfig(**base)


def test_identity_hashes_every_spec_field_and_the_recipe():
    a = run_identity(compile(spec_with("relu")), TrainConfig(), "digits")
    b = run_identity(compile(spec_with("tanh")), TrainConfig(), "digits")
    c = run_identity(compile(spec_with("relu")), TrainConfig(lr=0.2), "digits")
    d = run_identity(compile(spec_with("relu")), TrainConfig(epochs=99), "digits")
    e = run_identity(compile(spec_with("relu")), TrainConfig(), "fashion-mnist")
    assert a["id"] != b["id"] and a["model"] != b["model"] and a["network"] == b["network"]
    assert a["id"] != c["id"] and a["id"] != e["id"]
    assert a["id"] == d["id"]  # more epochs continue the same run


def test_every_checkpoint_carries_the_identity(tmp_path):
    model = compile(spec_with("relu"))
    fit(model, "digits", cfg(tmp_path))
    want = run_identity(compile(spec_with("relu")), cfg(tmp_path), "digits")
    for name in ("last.pt", "best.pt"):
        assert load_checkpoint(tmp_path / "run" / name)["identity"]["id"] == want["id"]


def test_resume_refuses_another_spec(tmp_path):
    fit(compile(spec_with("relu")), "digits", cfg(tmp_path, stop_after=1))
    with pytest.raises(ValueError, match=r"belongs to another run: the spec differs"):
        fit(compile(spec_with("tanh")), "digits", cfg(tmp_path, resume=True))
    with pytest.raises(ValueError, match=r"belongs to another run: lr differs"):
        fit(compile(spec_with("relu")), "digits", cfg(tmp_path, resume=True, lr=0.5))


def test_resume_refuses_a_foreign_best_checkpoint(tmp_path):
    fit(compile(spec_with("relu")), "digits", cfg(tmp_path, "mine", stop_after=1))
    fit(compile(spec_with("relu")), "digits", cfg(tmp_path, "other", lr=0.2, stop_after=1))
    shutil.copy(tmp_path / "other" / "best.pt", tmp_path / "mine" / "best.pt")
    with pytest.raises(ValueError, match=r"best\.pt belongs to another run: lr differs"):
        fit(compile(spec_with("relu")), "digits", cfg(tmp_path, "mine", resume=True))

"""Training engine: outputs, exact resume, checkpoints, schedules, bad inputs, CLI."""

from __future__ import annotations

import argparse
import csv
import json
import os
import textwrap

import numpy as np
import pytest
import torch
import torch.nn as nn

from compiler.data import Dataset, load_dataset, stratified_split, validation_split
from compiler.train import (
    FORMAT,
    TrainConfig,
    add_train_command,
    build_model,
    fit,
    load_checkpoint,
    lr_at,
    main,
    model_fingerprints,
    save_checkpoint,
)
from compiler.train.rng import augment
from expandergraph import Certificate

TIMING = ("throughput", "time")
TINY = textwrap.dedent(
    """
    import torch.nn as nn

    def mlp(num_classes=10, hidden=24):
        return nn.Sequential(
            nn.Flatten(), nn.Linear(64, hidden), nn.ReLU(), nn.Dropout(0.25),
            nn.Linear(hidden, num_classes),
        )
    """
)


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models run fastest on one thread, above all on a busy 2-core machine."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def mlp(num_classes=10, hidden=24):
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(64, hidden),
        nn.ReLU(),
        nn.Dropout(0.25),
        nn.Linear(hidden, num_classes),
    )


def cfg(tmp_path, name="run", **kw) -> TrainConfig:
    base = dict(epochs=3, batch_size=32, lr=0.1, limit=300, quiet=True, schedule="cosine")
    base.update(kw)
    return TrainConfig(out=str(tmp_path / name), **base)


def deterministic(history):
    return [{k: v for k, v in row.items() if k not in TIMING} for row in history]


@pytest.fixture
def tiny_module(tmp_path, monkeypatch):
    (tmp_path / "tiny_models_t.py").write_text(TINY)
    monkeypatch.syspath_prepend(str(tmp_path))
    return "tiny_models_t:mlp"


# -- a full run ---------------------------------------------------------------------
def test_fit_outputs_and_single_test_evaluation(tmp_path):
    c = cfg(tmp_path, epochs=3, label_smoothing=0.1)
    res = fit(mlp, "digits", c)
    run = tmp_path / "run"
    for f in ("last.pt", "best.pt", "metrics.csv", "metrics.json", "curves.png", "summary.json"):
        assert (run / f).is_file(), f
    assert not [p for p in os.listdir(run) if p.endswith(".tmp")]
    hist = json.loads((run / "metrics.json").read_text())
    with open(run / "metrics.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert len(hist) == len(rows) == 3
    for h, r in zip(hist, rows):
        for k, v in h.items():
            assert float(r[k]) == pytest.approx(v, rel=1e-12)
    assert [h["lr"] for h in hist] == [lr_at(e, c) for e in range(3)]
    assert (run / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # model selection on validation: first epoch with the highest val accuracy
    accs = [h["val_acc"] for h in hist]
    assert res["best_epoch"] == 1 + int(np.argmax(accs)) and res["best_val_acc"] == max(accs)
    assert res["params"] == 64 * 24 + 24 + 24 * 10 + 10 and res["seed"] == 0
    summary = json.loads((run / "summary.json").read_text())
    assert summary["test_acc"] == res["test_acc"] and summary["best_epoch"] == res["best_epoch"]
    assert summary["train_samples"] + summary["val_samples"] == 300
    assert res["best_val_acc"] > 0.5  # it learned (chance is 0.1)

    # independent check: best.pt's weights give the reported test accuracy and loss
    net = mlp()
    ck = load_checkpoint(run / "best.pt", net)
    assert ck["epoch"] == res["best_epoch"]
    net.eval()
    test = load_dataset("digits", split="test")
    with torch.no_grad():
        out = net(test.images)
    acc = (out.argmax(1) == test.labels).double().mean().item()
    loss = nn.functional.cross_entropy(out.double(), test.labels).item()
    assert res["test_acc"] == pytest.approx(acc, abs=1e-12)
    assert res["test_loss"] == pytest.approx(loss, rel=1e-5)


def test_validation_split_is_carved_from_limited_train(tmp_path):
    """train/val sizes follow the documented limit -> stratified split pipeline."""
    res = fit(mlp, "digits", cfg(tmp_path, epochs=1, limit=200, val_fraction=0.25))
    full = load_dataset("digits")
    _, keep = stratified_split(full.labels.numpy(), 200 / len(full), 0)
    train, val = validation_split(full.subset(keep), 0.25, 0)
    assert (res["train_samples"], res["val_samples"]) == (len(train), len(val)) == (150, 50)


# -- exact resume -------------------------------------------------------------------
def test_resume_is_bitwise_identical(tmp_path):
    kw = dict(epochs=3, augment=True, label_smoothing=0.1, schedule="step", milestones=[2])
    full = fit(mlp, "digits", cfg(tmp_path, "a", **kw))
    part = fit(mlp, "digits", cfg(tmp_path, "b", stop_after=1, **kw))
    assert part.get("stopped") and len(part["history"]) == 1 and "test_acc" not in part
    assert not (tmp_path / "b" / "summary.json").exists()
    ck = load_checkpoint(tmp_path / "b" / "last.pt")
    assert ck["epoch"] == 1 and ck["best"]["epoch"] == 1
    resumed = fit(mlp, "digits", cfg(tmp_path, "b", resume=True, **kw))
    assert deterministic(resumed["history"]) == deterministic(full["history"])
    assert resumed["test_acc"] == full["test_acc"] and resumed["test_loss"] == full["test_loss"]
    assert resumed["best_epoch"] == full["best_epoch"]
    a = load_checkpoint(tmp_path / "a" / "last.pt")
    b = load_checkpoint(tmp_path / "b" / "last.pt")
    for k in a["model"]:
        assert torch.equal(a["model"][k], b["model"][k]), k
    for k, v in a["optimizer"]["state"].items():
        assert torch.equal(v["momentum_buffer"], b["optimizer"]["state"][k]["momentum_buffer"])
    assert torch.equal(a["rng"]["torch"], b["rng"]["torch"])
    # seeds matter: another seed gives another trajectory
    other = fit(mlp, "digits", cfg(tmp_path, "c", seed=1, stop_after=1, **kw))
    assert other["history"][0]["train_loss"] != full["history"][0]["train_loss"]


def test_cli_resume_with_more_epochs(tmp_path, tiny_module, capsys):
    common = [tiny_module, "--data", "digits", "--limit", "240", "--batch-size", "32", "-q"]
    common += ["--schedule", "cosine", "--lr", "0.1", "--seed", "3"]
    a, b = str(tmp_path / "a"), str(tmp_path / "b")
    assert main([*common, "--epochs", "3", "--out", a]) == 0
    assert main([*common, "--epochs", "1", "--out", b]) == 0
    assert json.loads((tmp_path / "b" / "summary.json").read_text())["epochs"] == 1
    # without --resume an existing run is refused
    assert main([*common, "--epochs", "3", "--out", b]) == 2
    assert "already holds a run; pass --resume" in capsys.readouterr().err
    assert main([*common, "--epochs", "3", "--out", b, "--resume"]) == 0
    ha = json.loads((tmp_path / "a" / "metrics.json").read_text())
    hb = json.loads((tmp_path / "b" / "metrics.json").read_text())
    assert deterministic(ha) == deterministic(hb) and len(ha) == 3
    sa = json.loads((tmp_path / "a" / "summary.json").read_text())
    sb = json.loads((tmp_path / "b" / "summary.json").read_text())
    assert sa["test_acc"] == sb["test_acc"] and sa["seed"] == sb["seed"] == 3
    # resuming a finished run neither trains nor evaluates the test set again
    assert main([*common, "--epochs", "3", "--out", b, "--resume"]) == 0
    assert json.loads((tmp_path / "b" / "summary.json").read_text()) == sb
    # a changed seed on resume is refused
    assert main([*common[:-1], "4", "--epochs", "4", "--out", b, "--resume"]) == 2
    assert "was trained with seed=3, this run has seed=4" in capsys.readouterr().err


# -- checkpoints ----------------------------------------------------------------------
def test_checkpoint_contents_load_with_weights_only(tmp_path):
    fit(mlp, "digits", cfg(tmp_path, epochs=1))
    raw = torch.load(tmp_path / "run" / "last.pt", weights_only=True)
    assert raw["format"] == FORMAT and raw["epoch"] == 1
    for key in ("model", "optimizer", "scheduler", "rng", "best", "history", "config"):
        assert key in raw
    assert set(raw["rng"]) >= {"torch", "numpy", "python"}
    assert raw["best"]["epoch"] == 1 and raw["fingerprints"] == []
    assert raw["config"]["seed"] == 0 and raw["scheduler"]["schedule"] == "cosine"


def test_checkpoint_errors(tmp_path):
    net = mlp()
    p = tmp_path / "c.pt"
    save_checkpoint(p, {"epoch": 1, "model": net.state_dict(), "w": torch.full((256,), 1.25)})
    assert load_checkpoint(p, mlp())["epoch"] == 1
    data = p.read_bytes()
    with pytest.raises(ValueError, match=r"payload\['a'\]\[1\] is a float64; only tensors"):
        save_checkpoint(tmp_path / "np.pt", {"a": [1, np.float64(2.0)]})
    assert not (tmp_path / "np.pt").exists()
    with pytest.raises(ValueError, match=r"checkpoint: .*nope.pt does not exist"):
        load_checkpoint(tmp_path / "nope.pt")
    (tmp_path / "trunc.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"trunc.pt is corrupt or not a torch file \("):
        load_checkpoint(tmp_path / "trunc.pt")
    flipped = bytearray(data)
    i = flipped.find(torch.full((4,), 1.25).numpy().tobytes())
    flipped[i + 200] ^= 0x10
    (tmp_path / "flip.pt").write_bytes(bytes(flipped))
    with pytest.raises(ValueError, match=r"flip.pt is corrupt \(content digest mismatch\)$"):
        load_checkpoint(tmp_path / "flip.pt")
    torch.save({"state_dict": net.state_dict()}, tmp_path / "foreign.pt")
    with pytest.raises(ValueError, match=r"foreign.pt is not an xnets checkpoint"):
        load_checkpoint(tmp_path / "foreign.pt")
    torch.save(torch.ones(3), tmp_path / "tensor.pt")
    with pytest.raises(ValueError, match=r"tensor.pt is not an xnets checkpoint"):
        load_checkpoint(tmp_path / "tensor.pt")
    torch.save({"x": argparse.Namespace(a=1)}, tmp_path / "code.pt")
    with pytest.raises(ValueError, match=r"needs the global argparse.Namespace, which"):
        load_checkpoint(tmp_path / "code.pt")
    (tmp_path / "text.pt").write_text("hello")
    with pytest.raises(ValueError, match=r"text.pt is corrupt or not a torch file"):
        load_checkpoint(tmp_path / "text.pt")
    with pytest.raises(ValueError, match=r"different model \('1.weight' has shape \[24, 64\]"):
        load_checkpoint(p, mlp(hidden=16))
    with pytest.raises(ValueError, match=r"different model \(it lacks '5.weight'\)"):
        load_checkpoint(p, nn.Sequential(*mlp(), nn.Linear(10, 10)))


class _Fingerprinted(nn.Module):
    def __init__(self, fps):
        super().__init__()
        self.lin = nn.Linear(2, 2)
        parts = [Certificate(f"layer{i}", "bipartite", fp) for i, fp in enumerate(fps)]
        self.certificates = Certificate("net", "layered", "top", parts=parts)


def test_checkpoint_refuses_other_graphs(tmp_path):
    a = _Fingerprinted(["aa", "bb", "cc"])
    assert model_fingerprints(a) == ["aa", "bb", "cc"]
    p = tmp_path / "g.pt"
    save_checkpoint(p, {"model": a.state_dict(), "fingerprints": model_fingerprints(a)})
    load_checkpoint(p, _Fingerprinted(["aa", "bb", "cc"]))
    with pytest.raises(ValueError, match=r"different model \(graph fingerprint 1 differs\)"):
        load_checkpoint(p, _Fingerprinted(["aa", "bx", "cc"]))


def test_atomic_write_keeps_old_file_on_failure(tmp_path, monkeypatch):
    p = tmp_path / "c.pt"
    save_checkpoint(p, {"epoch": 1})
    before = p.read_bytes()

    def boom(obj, f, *a, **k):
        f.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", boom)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(p, {"epoch": 2})
    assert p.read_bytes() == before and os.listdir(tmp_path) == ["c.pt"]
    monkeypatch.undo()
    assert load_checkpoint(p)["epoch"] == 1


def test_resume_refuses_different_model(tmp_path):
    fit(mlp, "digits", cfg(tmp_path, epochs=1))
    with pytest.raises(ValueError, match=r"different model \('1.weight' has shape"):
        fit(lambda: mlp(hidden=8), "digits", cfg(tmp_path, epochs=2, resume=True))
    with pytest.raises(ValueError, match=r"resume: no checkpoint at .*empty.last.pt"):
        fit(mlp, "digits", cfg(tmp_path, "empty", resume=True))
    with pytest.raises(ValueError, match=r"resume: needs an output directory"):
        fit(mlp, "digits", TrainConfig(resume=True))
    (tmp_path / "run" / "last.pt").write_bytes(b"garbage")
    with pytest.raises(ValueError, match=r"last.pt is corrupt or not a torch file"):
        fit(mlp, "digits", cfg(tmp_path, epochs=2, resume=True))


# -- schedules, augmentation ---------------------------------------------------------------
@pytest.mark.parametrize("schedule", ["step", "cosine"])
def test_lr_schedule_matches_torch(schedule):
    c = TrainConfig(epochs=12, lr=0.2, gamma=0.5, schedule=schedule, milestones=[3, 7, 8])
    opt = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=0.2)
    if schedule == "step":
        sched = torch.optim.lr_scheduler.MultiStepLR(opt, [3, 7, 8], gamma=0.5)
    else:
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=12)
    for e in range(12):
        assert lr_at(e, c) == pytest.approx(opt.param_groups[0]["lr"], rel=1e-9, abs=1e-15)
        opt.step()
        sched.step()


def test_default_milestones():
    assert TrainConfig(epochs=300).default_milestones() == [150, 225]
    assert TrainConfig(epochs=1).default_milestones() == []
    assert TrainConfig(epochs=4).default_milestones() == [2, 3]
    assert lr_at(0, TrainConfig(epochs=1, lr=0.3)) == 0.3


def test_augment_is_a_padded_crop_or_its_mirror():
    x = torch.arange(2 * 3 * 8 * 8, dtype=torch.float32).reshape(2, 3, 8, 8) + 1
    gen = torch.Generator().manual_seed(0)
    for _ in range(10):
        y = augment(x, gen)
        xp = nn.functional.pad(x, (1, 1, 1, 1))
        for b in range(2):
            crops = [xp[b, :, i : i + 8, j : j + 8] for i in range(3) for j in range(3)]
            crops += [c.flip(2) for c in crops]
            assert any(torch.equal(y[b], c) for c in crops)


# -- bad inputs ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "kw,msg",
    [
        (dict(epochs=0), r"^epochs: 0 must be an integer >= 1$"),
        (dict(epochs=2.5), r"^epochs: 2.5 must be an integer"),
        (dict(batch_size=0), r"^batch_size: 0 must be"),
        (dict(eval_batch_size=-1), r"^eval_batch_size: -1 must be"),
        (dict(seed=-1), r"^seed: -1 must be an integer >= 0"),
        (dict(limit=0), r"^limit: 0 must be an integer >= 1"),
        (dict(stop_after=0), r"^stop_after: 0 must be"),
        (dict(lr=0), r"^lr: 0 must be a finite number > 0"),
        (dict(lr=float("nan")), r"^lr: nan must be"),
        (dict(momentum=1.0), r"^momentum: 1.0 must lie in \[0, 1\)"),
        (dict(momentum=0.0), r"^momentum: Nesterov momentum needs momentum > 0"),
        (dict(weight_decay=-1e-4), r"^weight_decay: -0.0001 must be"),
        (dict(schedule="linear"), r"^schedule: 'linear' must be one of step, cosine"),
        (dict(milestones=[5, 3]), r"^milestones: \[5, 3\] must be strictly increasing"),
        (dict(milestones=[0]), r"^milestones: \[0\] must be strictly increasing"),
        (dict(gamma=0), r"^gamma: 0 must lie in \(0, 1\]"),
        (dict(label_smoothing=1.0), r"^label_smoothing: 1.0 must lie in \[0, 1\)"),
        (dict(val_fraction=0.0), r"^val_fraction: 0.0 must lie in \(0, 1\)"),
        (dict(backend="cuda"), r"^backend: 'cuda' must be one of auto, masked, gather, triton"),
        (dict(device="tpu"), r"^device: 'tpu' must be one of cpu, cuda, auto"),
    ],
)
def test_config_rejects(kw, msg):
    with pytest.raises(ValueError, match=msg):
        TrainConfig(**kw).validate()


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU-only refusals")
def test_gpu_only_options_on_cpu():
    with pytest.raises(ValueError, match=r"^device: 'cuda' requested but"):
        TrainConfig(device="cuda").validate()
    with pytest.raises(ValueError, match=r"^amp: mixed precision runs on the GPU only"):
        TrainConfig(amp=True).validate()


def test_fit_rejects_bad_models_and_data(tmp_path):
    c = TrainConfig(epochs=1, limit=100, quiet=True)
    with pytest.raises(ValueError, match=r"model: output has shape \[2, 7\], expected \(N, 10\)"):
        fit(lambda: mlp(num_classes=7), "digits", c)
    with pytest.raises(ValueError, match=r"model: forward pass on digits:train images of shape"):
        fit(lambda: nn.Linear(10, 10), "digits", c)
    with pytest.raises(ValueError, match=r"model: the factory returned a int"):
        fit(lambda: 3, "digits", c)
    with pytest.raises(ValueError, match=r"^val_fraction: 0.1 of 4 training samples leaves an"):
        fit(mlp, "digits", TrainConfig(limit=4, quiet=True))
    with pytest.raises(ValueError, match=r"unknown dataset 'nope'"):
        fit(mlp, "nope", c)
    with pytest.raises(ValueError, match=r"^data: expected a dataset name"):
        fit(mlp, 42, c)
    with pytest.raises(ValueError, match=r"model: unknown model 'no-such-net'"):
        fit("no-such-net", "digits", c)
    with pytest.raises(ValueError, match=r"model: cannot import 'no_such_mod:f'"):
        fit("no_such_mod:f", "digits", c)
    with pytest.raises(ValueError, match=r"model: spec file .*missing.yaml' does not exist"):
        fit(str(tmp_path / "missing.yaml"), "digits", c)
    bad = tmp_path / "bad.yaml"
    bad.write_text("input: [1, 2\n")
    with pytest.raises(ValueError, match=r"model: cannot parse spec .*bad.yaml"):
        build_model(str(bad))
    spec = tmp_path / "wide.json"
    spec.write_text(json.dumps({"input": 100, "layers": [{"out": 10, "degree": 4}]}))
    digits = load_dataset("digits", split="test")
    with pytest.raises(
        ValueError, match=r"input 100 does not match digits:test images of shape 1x8"
    ):
        build_model(str(spec), data=digits)
    spec.write_text(json.dumps({"input": [3, 8, 8], "layers": []}))
    with pytest.raises(ValueError, match=r"input \[3, 8, 8\] does not match digits:test images"):
        build_model(str(spec), data=digits)


def test_fit_accepts_datasets_and_modules(tmp_path):
    full = load_dataset("digits")
    train = full.subset(np.arange(200))
    test = Dataset("toy-test", full.images[:50], full.labels[:50], 10)
    res = fit(mlp(), (train, test), TrainConfig(epochs=1, quiet=True))
    assert res["test_samples"] == 50 and res["train_samples"] == 180
    res = fit(mlp(), train, TrainConfig(epochs=1, quiet=True))
    assert "test_acc" not in res and res["data"] == train.name


# -- command line -------------------------------------------------------------------------
def test_add_train_command_and_errors(tmp_path, capsys):
    parser = argparse.ArgumentParser(prog="xnet")
    sub = parser.add_subparsers(dest="command")
    add_train_command(sub)
    args = parser.parse_args(
        ["train", "m.yaml", "--data", "nope", "--epochs", "2", "--milestones", "1", "-O", "k=8"]
    )
    assert args.milestones == [1] and args.model_option == [("k", 8)]
    assert args.func(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("xnet train: error: ") and err.count("\n") == 1
    assert main(["m", "--data", "digits", "--epochs", "0", "--out", str(tmp_path / "x")]) == 2
    assert "epochs: 0 must be an integer >= 1" in capsys.readouterr().err


def test_batch_size_must_split_over_processes(monkeypatch, tmp_path):
    import compiler.train.loop as loop
    from compiler.train.distributed import Dist

    monkeypatch.setattr(loop, "init_dist", lambda device_type: Dist(rank=0, world=3))
    with pytest.raises(ValueError, match=r"^batch_size: 32 must be divisible by the 3 processes"):
        fit(mlp, "digits", TrainConfig(batch_size=32, quiet=True))
    (tmp_path / "file").write_text("x")
    monkeypatch.undo()
    with pytest.raises(ValueError, match=r"^out: .*file exists and is not a directory$"):
        fit(mlp, "digits", TrainConfig(out=str(tmp_path / "file"), quiet=True))


# -- a compiled expander spec ----------------------------------------------------------------
SPEC = """
input: 64
seed: 0
layers:
  - out: 64
    degree: 16
  - kind: activation
  - out: 64
    degree: 16
    block: 4
  - kind: activation
  - out: 10
    graph: dense
"""


def test_compiled_spec_trains_and_checkpoints_its_graphs(tmp_path):
    import yaml

    from compiler import compile, extract_layered

    spec = tmp_path / "xmlp.yaml"
    spec.write_text(SPEC)
    res = fit(str(spec), "digits", cfg(tmp_path, epochs=2, seed=7))
    path = tmp_path / "run" / "best.pt"
    ck = load_checkpoint(path)
    assert ck["flatten"] is True and res["best_val_acc"] > 0.3
    # an independent compile of the spec with the run seed has the same graphs
    raw = yaml.safe_load(SPEC)
    raw["seed"] = 7
    net = compile(raw)
    fps = extract_layered(net).fingerprints
    assert len(fps) == 3 and ck["fingerprints"] == fps == res["fingerprints"]
    certs = json.loads(ck["certificates"])
    assert [certs[f"layers[{i}]"]["fingerprint"] for i in (0, 2, 4)] == fps
    index_keys = [k for k in ck["model"] if k.endswith(".index")]
    assert len(index_keys) == 3
    for k in index_keys:
        assert torch.equal(ck["model"][k], net.state_dict()[k]), k
    # the trained weights load (fingerprint-checked) and the graph reads back unchanged
    load_checkpoint(path, net)
    assert extract_layered(net).fingerprints == fps
    test = load_dataset("digits", split="test")
    net.eval()
    with torch.no_grad():
        acc = (net(test.images.flatten(1)).argmax(1) == test.labels).double().mean().item()
    assert acc == pytest.approx(res["test_acc"], abs=1e-12)
    # another seed builds other graphs: the checkpoint is refused for that model
    raw["seed"] = 8
    with pytest.raises(ValueError, match=r"different model \(graph fingerprint 0 differs\)"):
        load_checkpoint(path, compile(raw))
    # resume of a compiled model is exact too
    part = fit(str(spec), "digits", cfg(tmp_path, "p", epochs=2, seed=7, stop_after=1))
    full = fit(str(spec), "digits", cfg(tmp_path, "p", epochs=2, seed=7, resume=True))
    assert part["stopped"] and deterministic(full["history"]) == deterministic(res["history"])


def test_checkpoint_records_and_checks_the_network_fingerprint(tmp_path):
    """The record holds the network certificate's fingerprint; a tampered record is refused."""
    import yaml

    from compiler import compile, extract_graph

    spec = tmp_path / "xmlp.yaml"
    spec.write_text(SPEC)
    fit(str(spec), "digits", cfg(tmp_path, epochs=1, seed=3))
    raw = yaml.safe_load(SPEC)
    raw["seed"] = 3
    net = compile(raw)
    # the certificate's fingerprint is computed from the spec's graphs at compile time,
    # independently of the index buffers that extract_graph reads back
    want = net.certificates["network"].fingerprint
    path = tmp_path / "run" / "last.pt"
    ck = load_checkpoint(path)
    assert ck["network_fingerprint"] == want == extract_graph(net).fingerprint
    assert ck["identity"]["network"] == want
    # a normal round trip passes and loads the weights
    load_checkpoint(path, net)
    for k, v in ck["model"].items():
        if isinstance(v, torch.Tensor):
            assert torch.equal(net.state_dict()[k], v), k
    # an altered record (digest recomputed, so only the fingerprint differs) is refused
    bad = {k: v for k, v in ck.items() if k not in ("format", "digest")}
    bad["network_fingerprint"] = "0" * 64
    save_checkpoint(tmp_path / "bad.pt", bad)
    fresh = compile(raw)
    before = {k: v.clone() for k, v in fresh.state_dict().items() if isinstance(v, torch.Tensor)}
    msg = (
        rf"^checkpoint: \S*bad.pt is for a different network \(network fingerprint "
        rf"000000000000 recorded, {want[:12]} in the model\)$"
    )
    with pytest.raises(ValueError, match=msg):
        load_checkpoint(tmp_path / "bad.pt", fresh)
    assert all(torch.equal(fresh.state_dict()[k], v) for k, v in before.items())
    # resume from it is refused the same way, before anything runs
    save_checkpoint(path, bad)
    with pytest.raises(ValueError, match=r"last.pt is for a different network"):
        fit(str(spec), "digits", cfg(tmp_path, epochs=2, seed=3, resume=True))


def test_cpu_run_leaves_cublas_and_determinism_settings_alone(tmp_path, monkeypatch):
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    before = torch.are_deterministic_algorithms_enabled()
    fit(mlp, "digits", TrainConfig(epochs=1, limit=100, quiet=True))
    assert "CUBLAS_WORKSPACE_CONFIG" not in os.environ
    assert torch.are_deterministic_algorithms_enabled() == before


def test_refused_certificate_exits_1(tmp_path, capsys):
    spec = tmp_path / "weak.yaml"
    spec.write_text(
        "input: 64\nlayers:\n  - out: 32\n    degree: 2\n  - out: 10\n    graph: dense\n"
    )
    args = [str(spec), "--data", "digits", "--epochs", "1", "--out", str(tmp_path / "r"), "-q"]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert err.startswith("xnet train: error: layers[0] failed") and err.count("\n") == 1
    assert not (tmp_path / "r").exists()
    assert main([*args, "--allow-uncertified", "--limit", "200"]) == 0
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary["certified"] is False and "allow_uncertified=True" in summary["override"]

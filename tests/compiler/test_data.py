"""Dataset loaders: IDX, CIFAR pickles, digits; splits; every malformed input."""

from __future__ import annotations

import gzip
import os
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from compiler.data import (
    DATASETS,
    Dataset,
    load_dataset,
    stratified_split,
    validation_split,
)

FASHION = Path("/usr/share/datasets/fashion-mnist")


# -- writers for the exact on-disk formats (independent of the loader) ---------------
def idx_bytes(arr: np.ndarray, magic: int | None = None) -> bytes:
    arr = np.asarray(arr, dtype=np.uint8)
    if magic is None:
        magic = 0x0800 | arr.ndim
    return struct.pack(">I", magic) + struct.pack(f">{arr.ndim}I", *arr.shape) + arr.tobytes()


def write_idx(path: Path, arr, gz: bool, magic: int | None = None) -> Path:
    data = idx_bytes(arr, magic)
    if gz:
        path = path.with_name(path.name + ".gz")
        with gzip.open(path, "wb") as fh:
            fh.write(data)
    else:
        path.write_bytes(data)
    return path


def make_mnist(root: Path, n_train=12, n_test=5, gz=True, seed=0):
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    out = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        imgs = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labs = rng.integers(0, 10, size=n, dtype=np.uint8)
        write_idx(root / f"{prefix}-images-idx3-ubyte", imgs, gz)
        write_idx(root / f"{prefix}-labels-idx1-ubyte", labs, gz)
        out[prefix] = (imgs, labs)
    return out


def write_cifar_batch(path: Path, n: int, rng, label_key=b"labels", k=10, protocol=2):
    data = rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)
    labels = [int(v) for v in rng.integers(0, k, size=n)]
    d = {b"batch_label": b"synthetic", label_key: labels, b"data": data, b"filenames": [b"x"] * n}
    with open(path, "wb") as fh:
        pickle.dump(d, fh, protocol=protocol)
    return data, labels


def make_cifar10(root: Path, per_batch=4, n_test=3, protocol=2):
    base = root / "cifar-10-batches-py"
    base.mkdir(parents=True)
    rng = np.random.default_rng(1)
    parts = [
        write_cifar_batch(base / f"data_batch_{i}", per_batch, rng, protocol=protocol)
        for i in range(1, 6)
    ]
    test = write_cifar_batch(base / "test_batch", n_test, rng, protocol=protocol)
    return parts, test


# -- MNIST / Fashion-MNIST ------------------------------------------------------------
@pytest.mark.parametrize("gz", [True, False])
def test_idx_round_trip(tmp_path, gz):
    ref = make_mnist(tmp_path, gz=gz)
    for split, prefix in (("train", "train"), ("test", "t10k")):
        ds = load_dataset("mnist", tmp_path, split=split)
        imgs, labs = ref[prefix]
        assert ds.images.dtype == torch.float32 and ds.labels.dtype == torch.int64
        assert ds.images.shape == (len(labs), 1, 28, 28) and ds.shape == (1, 28, 28)
        np.testing.assert_array_equal(ds.images.numpy()[:, 0] * 255.0, imgs.astype(np.float32))
        np.testing.assert_array_equal(ds.labels.numpy(), labs.astype(np.int64))
        assert ds.num_classes == 10 and len(ds) == len(labs)


def test_idx_torchvision_layout_and_dot_names(tmp_path):
    raw = tmp_path / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    imgs = np.arange(2 * 28 * 28, dtype=np.int64).reshape(2, 28, 28) % 256
    write_idx(raw / "t10k-images.idx3-ubyte", imgs, gz=False)
    write_idx(raw / "t10k-labels.idx1-ubyte", np.array([3, 9]), gz=False)
    ds = load_dataset("fashion-mnist", tmp_path, split="test")
    assert ds.labels.tolist() == [3, 9]
    assert float(ds.images[1, 0, 27, 27]) == pytest.approx(((2 * 784 - 1) % 256) / 255)


def test_missing_directory(tmp_path):
    with pytest.raises(ValueError, match=r"^data_dir: directory .*nope.* does not exist$"):
        load_dataset("mnist", tmp_path / "nope")


def test_missing_file(tmp_path):
    make_mnist(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(ValueError, match=r"mnist: no t10k-labels-idx1-ubyte\[\.gz\] in"):
        load_dataset("mnist", tmp_path, split="test")
    load_dataset("mnist", tmp_path, split="train")  # the other split still loads


def test_no_default_directory(monkeypatch):
    monkeypatch.delenv("XNETS_DATA_DIR", raising=False)
    with pytest.raises(ValueError, match=r"data_dir: mnist needs a data directory"):
        load_dataset("mnist")


def test_env_default_directory(tmp_path, monkeypatch):
    make_mnist(tmp_path / "mnist", n_test=4)
    monkeypatch.setenv("XNETS_DATA_DIR", str(tmp_path))
    assert len(load_dataset("mnist", split="test")) == 4


def test_truncated_gzip(tmp_path):
    make_mnist(tmp_path)
    p = tmp_path / "train-images-idx3-ubyte.gz"
    p.write_bytes(p.read_bytes()[:-40])
    with pytest.raises(ValueError, match=r"mnist: .*train-images-idx3-ubyte\.gz is truncated or"):
        load_dataset("mnist", tmp_path)


def test_corrupt_gzip(tmp_path):
    make_mnist(tmp_path)
    p = tmp_path / "train-labels-idx1-ubyte.gz"
    p.write_bytes(b"this is not gzip data at all")
    with pytest.raises(ValueError, match=r"train-labels-idx1-ubyte\.gz is truncated or corrupt"):
        load_dataset("mnist", tmp_path)


def test_truncated_idx_payload(tmp_path):
    make_mnist(tmp_path, gz=False)
    p = tmp_path / "train-images-idx3-ubyte"
    p.write_bytes(p.read_bytes()[:-1])
    with pytest.raises(ValueError, match=r"is truncated \(header 12x28x28 needs 9408 bytes"):
        load_dataset("mnist", tmp_path)


def test_truncated_idx_header(tmp_path):
    make_mnist(tmp_path, gz=False)
    p = tmp_path / "train-images-idx3-ubyte"
    p.write_bytes(p.read_bytes()[:10])
    with pytest.raises(ValueError, match=r"truncated \(IDX header needs 16 bytes\)"):
        load_dataset("mnist", tmp_path)


def test_idx_trailing_bytes(tmp_path):
    make_mnist(tmp_path, gz=False)
    p = tmp_path / "train-labels-idx1-ubyte"
    p.write_bytes(p.read_bytes() + b"\x00")
    with pytest.raises(ValueError, match=r"longer than its header says"):
        load_dataset("mnist", tmp_path)


@pytest.mark.parametrize(
    "which,magic",
    [("train-images-idx3-ubyte", 0x00000801), ("train-labels-idx1-ubyte", 0x00000803)],
)
def test_wrong_magic(tmp_path, which, magic):
    make_mnist(tmp_path)
    arr = np.zeros((12, 28, 28) if "images" in which else (12,), dtype=np.uint8)
    write_idx(tmp_path / which, arr, gz=True, magic=magic)
    want = 0x803 if "images" in which else 0x801
    with pytest.raises(ValueError, match=rf"has magic number 0x{magic:08x}, expected 0x{want:08x}"):
        load_dataset("mnist", tmp_path)


def test_count_mismatch(tmp_path):
    make_mnist(tmp_path)
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros(11, np.uint8), gz=True)
    with pytest.raises(ValueError, match=r"holds 12 images but .* holds 11 labels"):
        load_dataset("mnist", tmp_path)


def test_label_out_of_range(tmp_path):
    make_mnist(tmp_path)
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.full(12, 10, np.uint8), gz=True)
    with pytest.raises(ValueError, match=r"has label 10 outside 0\.\.9"):
        load_dataset("mnist", tmp_path)


def test_unknown_name_and_split():
    with pytest.raises(ValueError, match=r"unknown dataset 'imagenet' \(known: digits, mnist"):
        load_dataset("imagenet")
    with pytest.raises(ValueError, match=r"split: 'val' must be 'train' or 'test'"):
        load_dataset("digits", split="val")


@pytest.mark.skipif(not FASHION.is_dir(), reason="dataset-fashion-mnist is not installed")
def test_fashion_mnist_default_dir():
    ds = load_dataset("fashion-mnist", split="test")
    assert ds.images.shape == (10000, 1, 28, 28)
    # the official Fashion-MNIST test set has exactly 1000 images per class
    assert torch.bincount(ds.labels).tolist() == [1000] * 10
    with gzip.open(FASHION / "t10k-images-idx3-ubyte.gz", "rb") as fh:
        raw = np.frombuffer(fh.read(), dtype=np.uint8, offset=16).reshape(-1, 28, 28)
    np.testing.assert_array_equal((ds.images[:50, 0] * 255).round().numpy(), raw[:50])


# -- CIFAR ------------------------------------------------------------------------------
@pytest.mark.parametrize("protocol", [2, 5])
def test_cifar10_layout(tmp_path, protocol):
    parts, (tdata, tlabels) = make_cifar10(tmp_path, protocol=protocol)
    train = load_dataset("cifar10", tmp_path)
    assert train.images.shape == (20, 3, 32, 32) and train.num_classes == 10
    data = np.concatenate([p[0] for p in parts])
    labels = sum((p[1] for p in parts), [])
    assert train.labels.tolist() == labels
    # row layout: 1024 red, 1024 green, 1024 blue values, each row-major 32x32
    n, c, h, w = 7, 2, 5, 30
    assert float(train.images[n, c, h, w]) == pytest.approx(data[n, c * 1024 + h * 32 + w] / 255)
    np.testing.assert_allclose(train.images.numpy().reshape(20, -1) * 255, data, atol=1e-4)
    test = load_dataset("cifar10", tmp_path / "cifar-10-batches-py", split="test")
    assert test.labels.tolist() == tlabels and len(test) == 3


def test_cifar100_fine_labels(tmp_path):
    base = tmp_path / "cifar-100-python"
    base.mkdir()
    rng = np.random.default_rng(2)
    _, labels = write_cifar_batch(base / "train", 6, rng, label_key=b"fine_labels", k=100)
    write_cifar_batch(base / "test", 2, rng, label_key=b"fine_labels", k=100)
    ds = load_dataset("cifar100", tmp_path)
    assert ds.num_classes == 100 and ds.labels.tolist() == labels


class _Evil:
    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return (os.mkdir, (self.target,))


def test_cifar_refuses_code(tmp_path):
    make_cifar10(tmp_path)
    target = str(tmp_path / "pwned")
    with open(tmp_path / "cifar-10-batches-py" / "data_batch_3", "wb") as fh:
        pickle.dump({b"data": _Evil(target), b"labels": []}, fh, protocol=2)
    with pytest.raises(ValueError, match=r"data_batch_3 is truncated or corrupt \(refusing .*mkd"):
        load_dataset("cifar10", tmp_path)
    assert not os.path.exists(target)


def test_cifar_truncated(tmp_path):
    make_cifar10(tmp_path)
    p = tmp_path / "cifar-10-batches-py" / "data_batch_2"
    p.write_bytes(p.read_bytes()[:500])
    with pytest.raises(ValueError, match=r"cifar10: .*data_batch_2 is truncated or corrupt"):
        load_dataset("cifar10", tmp_path)


@pytest.mark.parametrize(
    "obj,msg",
    [
        ([1, 2, 3], r"must hold a dict, found list"),
        ({b"data": np.zeros((2, 3072), np.uint8)}, r"must have keys 'data' and 'labels'"),
        ({b"data": np.zeros((2, 3072), np.float32), b"labels": [0, 1]}, r"uint8 array"),
        ({b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]}, r"shape \(N, 3072\)"),
        ({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0]}, r"2 images but 1 labels"),
        ({b"data": np.zeros((2, 3072), np.uint8), b"labels": ["a", "b"]}, r"list of integers"),
        ({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0, 12]}, r"label 12 outside 0..9"),
    ],
)
def test_cifar_bad_structure(tmp_path, obj, msg):
    make_cifar10(tmp_path)
    with open(tmp_path / "cifar-10-batches-py" / "test_batch", "wb") as fh:
        pickle.dump(obj, fh, protocol=2)
    with pytest.raises(ValueError, match=msg):
        load_dataset("cifar10", tmp_path, split="test")


def test_cifar_missing_batch(tmp_path):
    make_cifar10(tmp_path)
    (tmp_path / "cifar-10-batches-py" / "data_batch_5").unlink()
    with pytest.raises(ValueError, match=r"cifar10: no data_batch_5 in"):
        load_dataset("cifar10", tmp_path)


# -- digits and splits ------------------------------------------------------------------
def test_digits_matches_sklearn():
    from sklearn.datasets import load_digits

    ref = load_digits()
    train, test = load_dataset("digits"), load_dataset("digits", split="test")
    assert len(train) + len(test) == 1797 and len(test) == round(0.2 * 1797)
    assert train.shape == (1, 8, 8) and float(train.images.max()) == 1.0
    # every sample appears exactly once over the two splits, with its label
    flat = ref.images.reshape(1797, 64)
    both = torch.cat([train.images, test.images]).reshape(-1, 64).numpy() * 16
    key = {tuple(r): [] for r in flat}
    for i, r in enumerate(flat):
        key[tuple(r)].append(int(ref.target[i]))
    labels = torch.cat([train.labels, test.labels]).tolist()
    for r, y in zip(both, labels):
        assert y in key[tuple(np.round(r, 4))]
    np.testing.assert_array_equal(
        np.bincount(labels, minlength=10), np.bincount(ref.target, minlength=10)
    )
    # stratified: each class's test share is within one sample of 20%
    counts = np.bincount(ref.target)
    tcounts = np.bincount(test.labels.numpy(), minlength=10)
    assert np.all(np.abs(tcounts - 0.2 * counts) <= 1)
    # fixed: a second load is identical
    assert torch.equal(load_dataset("digits", split="test").images, test.images)


@settings(max_examples=40, deadline=None)
@given(
    labels=st.lists(st.integers(0, 4), min_size=3, max_size=200),
    fraction=st.floats(0.05, 0.95),
    seed=st.integers(0, 2**31),
)
def test_stratified_split_properties(labels, fraction, seed):
    y = np.array(labels)
    n, n_out = len(y), int(round(fraction * len(y)))
    if n_out < 1 or n_out > n - 1:
        with pytest.raises(ValueError, match=r"fraction: .* leaves an empty part"):
            stratified_split(y, fraction, seed)
        return
    keep, out = stratified_split(y, fraction, seed)
    assert len(out) == n_out
    np.testing.assert_array_equal(np.sort(np.concatenate([keep, out])), np.arange(n))
    counts = np.bincount(y, minlength=5)
    got = np.bincount(y[out], minlength=5)
    assert np.all(np.abs(got - counts * n_out / n) < 1)  # largest remainder: within 1
    k2, o2 = stratified_split(y, fraction, seed)
    assert np.array_equal(o2, out) and np.array_equal(k2, keep)


@pytest.mark.parametrize("fraction", [0, 1, -0.1, 1.5, float("nan")])
def test_stratified_split_bad_fraction(fraction):
    with pytest.raises(ValueError, match=r"fraction: .* must lie strictly between 0 and 1"):
        stratified_split([0, 1, 0, 1], fraction)


def test_validation_split():
    ds = load_dataset("digits")
    train, val = validation_split(ds, 0.1, seed=0)
    assert len(val) == round(0.1 * len(ds)) and len(train) + len(val) == len(ds)
    rows = {tuple(r) for r in ds.images.reshape(len(ds), -1).numpy().round(4).tolist()}
    assert {tuple(r) for r in val.images.reshape(len(val), -1).numpy().round(4).tolist()} <= rows
    _, val2 = validation_split(ds, 0.1, seed=0)
    _, val3 = validation_split(ds, 0.1, seed=1)
    assert torch.equal(val.images, val2.images) and not torch.equal(val.images, val3.images)


def test_dataset_checks():
    with pytest.raises(ValueError, match=r"toy: 2 images but 3 labels"):
        Dataset("toy", torch.zeros(2, 1, 2, 2), torch.zeros(3, dtype=torch.int64), 2)
    with pytest.raises(ValueError, match=r"toy: labels must lie in 0\.\.1"):
        Dataset("toy", torch.zeros(2, 1, 2, 2), torch.tensor([0, 2]), 2)
    with pytest.raises(ValueError, match=r"toy: images must be a 4-d tensor"):
        Dataset("toy", torch.zeros(2, 4), torch.tensor([0, 1]), 2)
    assert set(DATASETS) == {"digits", "mnist", "fashion-mnist", "cifar10", "cifar100"}

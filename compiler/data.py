"""Dataset loaders for the standard on-disk formats, and the validation split.

Conventions
-----------
* :func:`load_dataset` returns a :class:`Dataset` whose ``images`` are a
  float32 tensor ``(N, C, H, W)`` with values in ``[0, 1]`` (raw pixel value
  divided by its maximum: 255 for the image formats, 16 for ``digits``; no
  mean/std normalisation) and whose ``labels`` are an int64 tensor ``(N,)``
  with values in ``0 .. num_classes - 1``.
* Formats:

  ========================  ==============================================================
  ``mnist``,                IDX files ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
  ``fashion-mnist``         ``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte``, raw or
                            with ``.gz`` (also looked up in ``raw/``, ``MNIST/raw/`` and
                            ``FashionMNIST/raw/`` under ``data_dir``).  The big-endian
                            header is parsed here: magic ``0x00000803`` (ubyte, 3 dims) for
                            images and ``0x00000801`` (ubyte, 1 dim) for labels.
  ``cifar10``               python pickle batches ``data_batch_1`` .. ``data_batch_5`` and
                            ``test_batch`` in ``data_dir`` or ``data_dir/cifar-10-batches-py``.
  ``cifar100``              pickles ``train`` and ``test`` (``fine_labels``, 100 classes) in
                            ``data_dir`` or ``data_dir/cifar-100-python``.
  ``digits``                scikit-learn's ``load_digits`` (1797 images 1x8x8, shipped in its
                            wheel; no ``data_dir``).  It has no official test split: a fixed
                            stratified 20% (359 images) is the test set, chosen by
                            :func:`stratified_split` with seed 0.
  ========================  ==============================================================

* Default directories (``data_dir=None``): ``$XNETS_DATA_DIR/<name>`` when the
  environment variable is set; otherwise ``fashion-mnist`` uses
  ``/usr/share/datasets/fashion-mnist`` (Debian package ``dataset-fashion-mnist``)
  and the others need an explicit ``data_dir``.
* CIFAR pickles are read with a restricted unpickler that only resolves the
  numpy array-reconstruction functions and ``_codecs.encode``; any other
  global is refused, so a malicious pickle cannot run code.  The result must be
  the expected dict of arrays, or a ``ValueError`` is raised.
* Model selection uses :func:`validation_split` on the training set (a fixed,
  stratified 10% by default); the test set is meant to be evaluated once.

Every malformed input (missing directory or file, truncated or corrupt file,
wrong magic number, count mismatch, unknown name) raises a one-line
``ValueError`` that names the file and the rule.

Reference: Y. LeCun et al., the MNIST database (IDX format,
http://yann.lecun.com/exdb/mnist/); H. Xiao et al., Fashion-MNIST (2017);
A. Krizhevsky, *Learning Multiple Layers of Features from Tiny Images* (2009).

Example
-------
>>> ds = load_dataset("digits", split="test")
>>> ds.images.shape, ds.num_classes
(torch.Size([359, 1, 8, 8]), 10)
"""

from __future__ import annotations

import gzip
import math
import os
import pickle
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from expandergraph.report import first_line

__all__ = ["Dataset", "DATASETS", "load_dataset", "stratified_split", "validation_split"]

#: known dataset names -> number of classes
DATASETS: dict[str, int] = {
    "digits": 10,
    "mnist": 10,
    "fashion-mnist": 10,
    "cifar10": 10,
    "cifar100": 100,
}

_DEFAULT_DIRS = {"fashion-mnist": "/usr/share/datasets/fashion-mnist"}
_DIGITS_TEST_FRACTION = 0.2
_DIGITS_SEED = 0
_IDX_IMAGES = 0x00000803
_IDX_LABELS = 0x00000801


@dataclass(frozen=True, eq=False)
class Dataset:
    """Images and labels of one split of one dataset.

    Attributes
    ----------
    name:        dataset name (``"digits"``, ``"mnist"``, ...), with the split.
    images:      float32 tensor ``(N, C, H, W)``, values in ``[0, 1]``.
    labels:      int64 tensor ``(N,)``, values in ``0 .. num_classes - 1``.
    num_classes: number of classes.

    Example
    -------
    >>> ds = Dataset("toy", torch.zeros(4, 1, 2, 2), torch.tensor([0, 1, 0, 1]), 2)
    >>> len(ds), ds.shape
    (4, (1, 2, 2))
    """

    name: str
    images: torch.Tensor
    labels: torch.Tensor
    num_classes: int

    def __post_init__(self):
        if not isinstance(self.images, torch.Tensor) or self.images.ndim != 4:
            raise ValueError(f"{self.name}: images must be a 4-d tensor (N, C, H, W)")
        if not isinstance(self.labels, torch.Tensor) or self.labels.ndim != 1:
            raise ValueError(f"{self.name}: labels must be a 1-d tensor (N,)")
        if self.images.shape[0] != self.labels.shape[0]:
            raise ValueError(
                f"{self.name}: {self.images.shape[0]} images but {self.labels.shape[0]} labels"
            )
        if self.labels.numel() and (
            int(self.labels.min()) < 0 or int(self.labels.max()) >= self.num_classes
        ):
            raise ValueError(f"{self.name}: labels must lie in 0..{self.num_classes - 1}")

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    @property
    def shape(self) -> tuple[int, int, int]:
        """Shape ``(C, H, W)`` of one image."""
        return tuple(int(s) for s in self.images.shape[1:])

    def subset(self, index, name: str | None = None) -> Dataset:
        """The samples at ``index`` (an int64 array or tensor), as a new :class:`Dataset`."""
        index = torch.as_tensor(np.asarray(index, dtype=np.int64))
        return Dataset(name or self.name, self.images[index], self.labels[index], self.num_classes)


# -- splits --------------------------------------------------------------------
def stratified_split(labels, fraction: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Split sample indices into ``(keep, held_out)`` with ``held_out`` stratified by label.

    ``held_out`` has exactly ``round(fraction * N)`` samples; each class gets its
    share by the largest-remainder rule, and the samples of each class are
    drawn by a ``numpy.random.default_rng(seed)`` permutation.  Both index
    arrays are sorted ascending and together partition ``0 .. N-1``.

    Reference: the stratified hold-out of Kohavi (1995), *A study of
    cross-validation and bootstrap for accuracy estimation*.

    Example
    -------
    >>> keep, out = stratified_split([0, 0, 0, 0, 1, 1, 1, 1], 0.5, seed=0)
    >>> len(keep), len(out), sorted(np.asarray([0, 0, 0, 0, 1, 1, 1, 1])[out].tolist())
    (4, 4, [0, 0, 1, 1])
    """
    y = np.asarray(labels).astype(np.int64).ravel()
    if not 0.0 < float(fraction) < 1.0:
        raise ValueError(f"fraction: {fraction} must lie strictly between 0 and 1")
    n = y.shape[0]
    n_out = int(round(float(fraction) * n))
    if n_out < 1 or n_out > n - 1:
        raise ValueError(
            f"fraction: {fraction} of {n} samples leaves an empty part; use more samples"
        )
    classes, counts = np.unique(y, return_counts=True)
    quota = counts * n_out / n
    take = np.floor(quota).astype(np.int64)
    rest = n_out - int(take.sum())
    if rest:
        order = np.lexsort((classes, -(quota - take)))  # largest remainder, ties by class
        take[order[:rest]] += 1
    rng = np.random.default_rng(seed)
    held = []
    for c, k in zip(classes, take):
        idx = np.flatnonzero(y == c)
        held.append(idx[rng.permutation(idx.shape[0])[:k]])
    held_out = np.sort(np.concatenate(held)) if held else np.zeros(0, np.int64)
    mask = np.ones(n, dtype=bool)
    mask[held_out] = False
    return np.flatnonzero(mask), held_out


def validation_split(
    dataset: Dataset, fraction: float = 0.1, seed: int = 0
) -> tuple[Dataset, Dataset]:
    """Carve a stratified validation set out of a training set: ``(train, val)``.

    ``val`` holds exactly ``round(fraction * len(dataset))`` samples chosen by
    :func:`stratified_split` with ``seed``; ``train`` holds the rest, in their
    original order.  Use ``val`` for model selection and keep the test set for
    one final evaluation.

    Example
    -------
    >>> train, val = validation_split(load_dataset("digits"), 0.1)
    >>> len(train), len(val)
    (1294, 144)
    """
    keep, held = stratified_split(dataset.labels.numpy(), fraction, seed)
    base = dataset.name.split(":")[0]
    return dataset.subset(keep), dataset.subset(held, f"{base}:val")


# -- IDX -------------------------------------------------------------------------
def _read_bytes(path: Path, what: str) -> bytes:
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as fh:
                return fh.read()
        return path.read_bytes()
    except (EOFError, OSError, zlib.error) as exc:
        raise ValueError(f"{what}: {path} is truncated or corrupt ({first_line(exc)})") from None


def _parse_idx(data: bytes, path: Path, what: str, magic: int) -> np.ndarray:
    if len(data) < 4:
        raise ValueError(f"{what}: {path} is truncated (no IDX header)")
    got = int.from_bytes(data[:4], "big")
    if got != magic:
        raise ValueError(f"{what}: {path} has magic number 0x{got:08x}, expected 0x{magic:08x}")
    ndim = magic & 0xFF
    head = 4 + 4 * ndim
    if len(data) < head:
        raise ValueError(f"{what}: {path} is truncated (IDX header needs {head} bytes)")
    dims = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    size = math.prod(dims)  # exact: an int64 product can overflow for hostile headers
    if len(data) - head != size:
        state = "truncated" if len(data) - head < size else "longer than its header says"
        raise ValueError(
            f"{what}: {path} is {state} (header {'x'.join(map(str, dims))} needs "
            f"{size} bytes of data, found {len(data) - head})"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=head).reshape(dims)


def _find_file(root: Path, stem: str, what: str) -> Path:
    subdirs = ("", "raw", "MNIST/raw", "FashionMNIST/raw")
    stems = (stem, stem.replace("-idx", ".idx"))
    for sub in subdirs:
        for s in stems:
            for suffix in ("", ".gz"):
                p = root / sub / (s + suffix)
                if p.is_file():
                    return p
    raise ValueError(f"{what}: no {stem}[.gz] in {root}")


def _load_idx(name: str, root: Path, split: str) -> Dataset:
    prefix = "train" if split == "train" else "t10k"
    ip = _find_file(root, f"{prefix}-images-idx3-ubyte", name)
    lp = _find_file(root, f"{prefix}-labels-idx1-ubyte", name)
    images = _parse_idx(_read_bytes(ip, name), ip, name, _IDX_IMAGES)
    labels = _parse_idx(_read_bytes(lp, name), lp, name, _IDX_LABELS)
    if images.shape[0] != labels.shape[0]:
        raise ValueError(
            f"{name}: {ip.name} holds {images.shape[0]} images but {lp.name} holds "
            f"{labels.shape[0]} labels"
        )
    return _make(name, split, images[:, None, :, :], 255.0, labels, lp)


def _make(name, split, images_u8, scale, labels, label_path) -> Dataset:
    k = DATASETS[name]
    labels = np.asarray(labels, dtype=np.int64)
    if labels.size and (labels.min() < 0 or labels.max() >= k):
        raise ValueError(
            f"{name}: {label_path} has label {int(labels.max())} outside 0..{k - 1} (corrupt file)"
        )
    images = torch.from_numpy(np.asarray(images_u8, dtype=np.float32) / np.float32(scale))
    return Dataset(f"{name}:{split}", images.contiguous(), torch.from_numpy(labels.copy()), k)


# -- CIFAR -------------------------------------------------------------------------
def _numpy_core(sub: str):
    import importlib

    try:
        return importlib.import_module(f"numpy._core.{sub}")
    except ImportError:  # numpy < 2
        return importlib.import_module(f"numpy.core.{sub}")


class _SafeUnpickler(pickle.Unpickler):
    """Resolves only numpy's array reconstruction helpers and ``_codecs.encode``."""

    def find_class(self, module: str, name: str):
        import codecs

        if module in ("numpy.core.multiarray", "numpy._core.multiarray") and name in (
            "_reconstruct",
            "scalar",
        ):
            return getattr(_numpy_core("multiarray"), name)
        if module in ("numpy.core.numeric", "numpy._core.numeric") and name == "_frombuffer":
            return _numpy_core("numeric")._frombuffer
        if module == "numpy" and name in ("ndarray", "dtype"):
            return getattr(np, name)
        if module == "_codecs" and name == "encode":
            return codecs.encode
        raise pickle.UnpicklingError(f"refusing to load global {module}.{name}")


def _load_pickle(path: Path, what: str) -> dict:
    try:
        with open(path, "rb") as fh:
            obj = _SafeUnpickler(fh, encoding="bytes").load()
    except (pickle.UnpicklingError, EOFError, OSError, ValueError, TypeError, AttributeError,
            IndexError, KeyError, MemoryError, LookupError, UnicodeError, OverflowError,
            RecursionError) as exc:  # fmt: skip
        raise ValueError(f"{what}: {path} is truncated or corrupt ({first_line(exc)})") from None
    if not isinstance(obj, dict):
        raise ValueError(f"{what}: {path} must hold a dict, found {type(obj).__name__}")
    return {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in obj.items()}


def _cifar_batch(path: Path, what: str, label_key: str) -> tuple[np.ndarray, np.ndarray]:
    d = _load_pickle(path, what)
    if "data" not in d or label_key not in d:
        raise ValueError(f"{what}: {path} must have keys 'data' and {label_key!r}")
    data = d["data"]
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8:
        raise ValueError(f"{what}: {path} 'data' must be a uint8 array")
    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise ValueError(f"{what}: {path} 'data' must have shape (N, 3072), got {data.shape}")
    labels = d[label_key]
    if not isinstance(labels, (list, np.ndarray)):
        raise ValueError(f"{what}: {path} {label_key!r} must be a list of integers")
    try:
        labels = np.asarray(labels)
    except (TypeError, ValueError):
        raise ValueError(f"{what}: {path} {label_key!r} must be a list of integers") from None
    if labels.ndim != 1 or (labels.size and labels.dtype.kind not in "iu"):
        raise ValueError(f"{what}: {path} {label_key!r} must be a list of integers")
    if labels.shape[0] != data.shape[0]:
        raise ValueError(
            f"{what}: {path} holds {data.shape[0]} images but {labels.shape[0]} labels"
        )
    return data.reshape(-1, 3, 32, 32), labels


def _load_cifar(name: str, root: Path, split: str) -> Dataset:
    if name == "cifar10":
        sub, key = "cifar-10-batches-py", "labels"
        files = [f"data_batch_{i}" for i in range(1, 6)] if split == "train" else ["test_batch"]
    else:
        sub, key, files = "cifar-100-python", "fine_labels", [split]
    base = root / sub if (root / sub).is_dir() else root
    for f in files:
        if not (base / f).is_file():
            raise ValueError(f"{name}: no {f} in {base}")
    parts = [_cifar_batch(base / f, name, key) for f in files]
    images = np.concatenate([p[0] for p in parts])
    labels = np.concatenate([p[1] for p in parts])
    return _make(name, split, images, 255.0, labels, base / files[-1])


# -- digits ------------------------------------------------------------------------
def _digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    """``(images (1797, 8, 8), labels)`` from scikit-learn's bundled ``digits.csv.gz``.

    The file is read directly (what ``load_digits`` does) because importing
    ``sklearn.datasets`` takes seconds; ``load_digits`` is the fallback.
    """
    import importlib.util

    spec = importlib.util.find_spec("sklearn")
    if spec is None or not spec.origin:
        raise ValueError("digits: scikit-learn is not installed (pip install scikit-learn)")
    path = Path(spec.origin).parent / "datasets" / "data" / "digits.csv.gz"
    if path.is_file():
        table = np.loadtxt(path, delimiter=",", dtype=np.float64)
        return table[:, :-1].reshape(-1, 8, 8), table[:, -1].astype(np.int64)
    from sklearn.datasets import load_digits  # pragma: no cover - other sklearn layouts

    d = load_digits()  # pragma: no cover
    return np.asarray(d.images), np.asarray(d.target, dtype=np.int64)  # pragma: no cover


def _load_digits(split: str) -> Dataset:
    raw, labels = _digits_arrays()
    images = raw.astype(np.float32)[:, None, :, :]
    train, test = stratified_split(labels, _DIGITS_TEST_FRACTION, _DIGITS_SEED)
    idx = train if split == "train" else test
    return _make("digits", split, images[idx], 16.0, labels[idx], "load_digits")


# -- entry point -------------------------------------------------------------------
def _resolve_dir(name: str, data_dir) -> Path:
    if data_dir is None:
        env = os.environ.get("XNETS_DATA_DIR")
        if env:
            data_dir = Path(env) / name
        elif name in _DEFAULT_DIRS:
            data_dir = _DEFAULT_DIRS[name]
        else:
            raise ValueError(f"data_dir: {name} needs a data directory (no default location)")
    root = Path(data_dir).expanduser()
    if not root.is_dir():
        raise ValueError(f"data_dir: directory {str(root)!r} does not exist")
    return root


def load_dataset(name: str, data_dir: str | os.PathLike | None = None, *, split: str = "train"):
    """Load one split of a dataset from its standard on-disk format.

    Parameters
    ----------
    name:     one of :data:`DATASETS` (``digits``, ``mnist``, ``fashion-mnist``,
              ``cifar10``, ``cifar100``).
    data_dir: directory holding the files (see the module doc for the file
              names and the default locations); ignored for ``digits``.
    split:    ``"train"`` or ``"test"``.

    Returns a :class:`Dataset`: float32 images ``(N, C, H, W)`` in ``[0, 1]``
    and int64 labels ``(N,)``.

    Reference: the format documentation of MNIST (LeCun et al.) and CIFAR
    (Krizhevsky, 2009).

    Example
    -------
    >>> ds = load_dataset("digits")
    >>> len(ds), ds.shape, float(ds.images.max())
    (1438, (1, 8, 8), 1.0)
    """
    if name not in DATASETS:
        raise ValueError(f"dataset: unknown dataset {name!r} (known: {', '.join(DATASETS)})")
    if split not in ("train", "test"):
        raise ValueError(f"split: {split!r} must be 'train' or 'test'")
    if name == "digits":
        return _load_digits(split)
    root = _resolve_dir(name, data_dir)
    if name in ("mnist", "fashion-mnist"):
        return _load_idx(name, root, split)
    return _load_cifar(name, root, split)

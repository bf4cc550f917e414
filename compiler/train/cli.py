"""The ``train`` command: ``xnet train`` and ``python3 -m compiler.train`` (and under torchrun).

Conventions: every :class:`~compiler.train.config.TrainConfig` field is an option
(``--batch-size`` for ``batch_size``); ``-O KEY=VALUE`` passes options to a model
builder.  Exit status 0 on success; on bad input a one-line ``xnet train: error: ...``
on stderr and status 2, or 1 when a spec's certificate is refused (as ``xnet compile``).

Example
-------
>>> main(["m.yaml", "--data", "digits", "--epochs", "0"])
2
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import fields
from pathlib import Path
from typing import Any

from compiler.compile import CertificateError

from ..data import DATASETS
from .config import BACKENDS, DEVICES, SCHEDULES, TrainConfig, first_line
from .factory import SPEC_SUFFIXES
from .loop import fit

__all__ = ["DESCRIPTION", "add_train_arguments", "add_train_command", "train_main", "main"]

#: one-line description of the command (``--help``)
DESCRIPTION = "Training engine: SGD with Nesterov momentum, atomic checkpoints, exact resume, DDP."


def _parse_option(text: str) -> tuple[str, Any]:
    key, eq, val = text.partition("=")
    if not eq or not key.strip():
        raise argparse.ArgumentTypeError(f"{text!r} must be KEY=VALUE")
    val = val.strip()
    for conv in (int, float):
        try:
            return key.strip(), conv(val)
        except ValueError:
            pass
    if val.lower() in ("true", "false"):
        return key.strip(), val.lower() == "true"
    return key.strip(), val


def add_train_arguments(p: argparse.ArgumentParser) -> None:
    """Add the ``train`` options to ``p`` (for ``compiler.cli.register_command``).

    Example
    -------
    >>> p = argparse.ArgumentParser()
    >>> add_train_arguments(p)
    >>> p.parse_args(["spec.yaml", "--data", "digits", "--lr", "0.05"]).lr
    0.05
    """
    d = TrainConfig()
    p.add_argument("model", help="spec file (.yaml/.yml/.json), model name, or module:function")
    p.add_argument("--data", required=True, help=f"dataset: {', '.join(DATASETS)}")
    p.add_argument("--data-dir", default=None, help="directory with the dataset files")
    p.add_argument("--epochs", type=int, default=d.epochs)
    p.add_argument("--batch-size", type=int, default=d.batch_size, help="global batch size")
    p.add_argument("--lr", type=float, default=d.lr)
    p.add_argument("--momentum", type=float, default=d.momentum)
    p.add_argument("--nesterov", action=argparse.BooleanOptionalAction, default=d.nesterov)
    p.add_argument("--weight-decay", type=float, default=d.weight_decay)
    p.add_argument("--schedule", choices=SCHEDULES, default=d.schedule)
    p.add_argument(
        "--milestones",
        type=int,
        nargs="*",
        default=None,
        help="epochs at which step multiplies lr by gamma (default: 50%%, 75%%)",
    )
    p.add_argument("--gamma", type=float, default=d.gamma)
    p.add_argument("--label-smoothing", type=float, default=d.label_smoothing)
    p.add_argument("--amp", action="store_true", help="mixed precision (GPU only)")
    p.add_argument("--augment", action="store_true", help="random crop (pad H/8) and flip")
    p.add_argument("--seed", type=int, default=d.seed, help="fixes graphs and training")
    p.add_argument("--out", default=None, help="run directory (default runs/MODEL-DATA-sSEED)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out")
    p.add_argument("--overwrite", action="store_true", help="start over in an existing --out")
    p.add_argument(
        "--backend",
        choices=BACKENDS,
        default=None,
        help="expander-layer backend (default: the spec's, else gather)",
    )
    p.add_argument("--device", choices=DEVICES, default=d.device)
    p.add_argument("--limit", type=int, default=None, help="use only N training samples")
    p.add_argument("--val-fraction", type=float, default=d.val_fraction)
    p.add_argument("--eval-batch-size", type=int, default=d.eval_batch_size)
    p.add_argument(
        "--stop-after",
        type=int,
        default=None,
        help="stop after N epochs in this call, as if interrupted",
    )
    p.add_argument(
        "--allow-uncertified",
        action="store_true",
        help="compile a spec whose certificate fails (recorded)",
    )
    p.add_argument(
        "-O",
        "--model-option",
        action="append",
        type=_parse_option,
        default=[],
        metavar="KEY=VALUE",
        help="option for compiler.models.build (repeatable)",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars or log lines")


def add_train_command(subparsers) -> argparse.ArgumentParser:
    """Register ``train`` on an ``argparse`` subparsers object; its handler is :func:`train_main`.

    Example
    -------
    >>> parser = argparse.ArgumentParser(prog="xnet")
    >>> _ = add_train_command(parser.add_subparsers(dest="command"))
    >>> args = parser.parse_args(["train", "m.yaml", "--data", "digits"])
    >>> args.func is train_main, args.epochs
    (True, 10)
    """
    p = subparsers.add_parser(
        "train",
        help="train a model on a dataset",
        description="Train a model (spec, name or module:function).",
    )
    add_train_arguments(p)
    p.set_defaults(func=train_main)
    return p


def _default_out(model: str, data: str, seed: int) -> str:
    stem = Path(model).stem if model.lower().endswith(SPEC_SUFFIXES) else model
    stem = re.sub(r"[^\w.-]+", "_", stem)
    return str(Path("runs") / f"{stem}-{data}-s{seed}")


def train_main(args: argparse.Namespace) -> int:
    """Run :func:`compiler.train.fit` from parsed arguments; return the exit status.

    0 on success; on bad input a one-line ``xnet train: error: ...`` on stderr
    and status 2 (1 when a spec's certificate is refused).

    Example
    -------
    >>> train_main(argparse.Namespace(model="m.yaml", data="digits", epochs=0))
    2
    """
    names = {f.name for f in fields(TrainConfig)}
    kwargs = {k: v for k, v in vars(args).items() if k in names}
    prog = "xnet train"
    try:
        cfg = TrainConfig(**kwargs)
        if cfg.out is None:
            cfg.out = _default_out(str(args.model), str(args.data), cfg.seed)
        options = dict(getattr(args, "model_option", None) or [])
        fit(args.model, args.data, cfg, model_options=options)
    except (ValueError, FloatingPointError, OSError) as exc:
        print(f"{prog}: error: {first_line(exc)}", file=sys.stderr)
        # a refused certificate exits 1, as ``xnet compile`` does; bad input exits 2
        return 1 if isinstance(exc, CertificateError) else 2
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python3 -m compiler.train ...`` (also under ``torchrun``); returns the exit status."""
    parser = argparse.ArgumentParser(prog="python3 -m compiler.train", description=DESCRIPTION)
    add_train_arguments(parser)
    return train_main(parser.parse_args(argv))

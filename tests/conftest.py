"""Test configuration shared by every test module."""

import os

# Busy-waiting OpenMP threads cost 3-10x on small ops when cores are shared.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

# Triton kernels run on CPU tensors through the interpreter when no GPU exists.
# This must be set before anything imports triton.
try:
    import torch

    _cuda = torch.cuda.is_available()
except ImportError:  # pragma: no cover
    _cuda = False
if not _cuda:
    os.environ.setdefault("TRITON_INTERPRET", "1")

os.environ.setdefault("MPLBACKEND", "Agg")

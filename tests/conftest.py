"""Test configuration shared by every test module.

Layout: ``tests/expandergraph`` and ``tests/compiler`` test the modules of those packages,
``tests/e2e`` holds the end-to-end tests (marked ``e2e``; ``-m "not e2e"`` leaves the fast unit
suite), and the repository-wide contracts (dependencies, doctests) sit here at the top. Every
folder is a package, so that ``tests/expandergraph`` never shadows the real ``expandergraph``.
"""

import os

import pytest

# Busy-waiting OpenMP threads cost 3-10x on small ops when cores are shared.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

# Triton kernels run on CPU tensors through the interpreter when no GPU exists.
# This must be set before anything imports triton.
try:
    import torch

    _cuda = torch.cuda.is_available()
except ImportError:  # pragma: no cover
    torch = None
    _cuda = False
if not _cuda:
    os.environ.setdefault("TRITON_INTERPRET", "1")

os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture
def one_thread():
    """One intra-op torch thread: tiny tensors avoid OpenMP spin-waits on a loaded machine.

    Use it in a module with ``pytestmark = pytest.mark.usefixtures("one_thread")``.
    """
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


_E2E = os.path.join(os.path.dirname(os.path.abspath(__file__)), "e2e") + os.sep


def pytest_collection_modifyitems(config, items):
    """Mark every test under ``tests/e2e`` with ``e2e``."""
    for item in items:
        if str(item.path).startswith(_E2E):
            item.add_marker(pytest.mark.e2e)

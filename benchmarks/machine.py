"""``machine_info``: the description of the machine every benchmark records with its results.

Usage from a benchmark script (``benchmarks/`` is on ``sys.path`` when a script runs)::

    from machine import machine_info
    results["machine"] = machine_info(threads=2)
"""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path

__all__ = ["machine_info", "cpu_name"]


def cpu_name() -> str:
    """The CPU model from ``/proc/cpuinfo`` (Linux), else :func:`platform.processor`.

    Examples
    --------
    >>> isinstance(cpu_name(), str)
    True
    """
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info(threads: int | None = None) -> dict:
    """The machine, the library versions and the load, JSON-ready.

    Keys: ``cpu``, ``logical_cpus``, ``platform``, ``node``, ``python``,
    ``numpy``, ``scipy``, ``omp_wait_policy``, ``load_average_at_start``
    (1, 5 and 15 minutes); ``threads`` when given; ``torch`` and
    ``cpu_capability`` when torch is already imported (this module imports
    no torch itself).

    Examples
    --------
    >>> info = machine_info(threads=2)
    >>> info["threads"], info["logical_cpus"] == os.cpu_count()
    (2, True)
    """
    import numpy
    import scipy

    info: dict = {
        "cpu": cpu_name(),
        "logical_cpus": os.cpu_count(),
        "platform": platform.platform(),
        "node": platform.node(),
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "scipy": scipy.__version__,
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }
    if threads is not None:
        info["threads"] = threads
    torch = sys.modules.get("torch")
    if torch is not None:
        info["torch"] = torch.__version__
        info["cpu_capability"] = torch.backends.cpu.get_cpu_capability()
    return info

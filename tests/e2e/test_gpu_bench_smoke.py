"""The prepared GPU benchmark runs end to end on the CPU (Triton interpreter, tiny shapes).

A GPU session has minutes of device time; a script that breaks on an import or a renamed
helper would waste them.  This runs ``benchmarks/gpu_bench.py --smoke`` and checks that every
kernel result agrees with its reference.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_gpu_bench_smoke_is_correct(tmp_path):
    out = tmp_path / "gpu.json"
    env = dict(os.environ, TRITON_INTERPRET="1", OMP_WAIT_POLICY="PASSIVE")
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "gpu_bench.py"), "--smoke", "--out", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    record = json.loads(out.read_text())
    assert record["meta"]["mode"] == "smoke" and record["meta"]["interpreter"] is True
    cases = record["linear"] + record["conv"]
    assert cases and all(c["correct"] for c in cases), [c["rel_err"] for c in cases]
    assert "0 incorrect case(s)" in proc.stdout

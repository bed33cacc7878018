"""The one-shot GPU suite runs end to end in its small CPU mode (so it is ready when a GPU is lent)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_the_gpu_suite_runs_in_its_small_cpu_mode(tmp_path):
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "gpu_suite.py"), "all", "--out", str(tmp_path),
                           "--platform", "CPU", "--small", "--seconds", "0.3"],
                          capture_output=True, text=True, timeout=900, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    results = json.loads((tmp_path / "gpu_suite.json").read_text())
    assert "CPU" in results["environment"]["platforms"]
    assert {(r["box"], r["dt_fs"]) for r in results["speeds"]} == {
        (b, dt) for b in ("he-dme", "lifsi-dme", "li2zncl4-9h2o", "water") for dt in (4.0, 2.0)}
    assert all(r["ns_per_day"] > 0 for r in results["speeds"])
    assert results["hese_vs_bare"]["ratio"] > 0
    assert [r["box"] for r in results["lj_cost"]] == ["he-dme", "lifsi-dme"]
    assert [r["processes"] for r in results["concurrency"]] == [1, 2]
    report = (tmp_path / "gpu_suite.md").read_text()
    assert "hese's production loop against a bare OpenMM loop" in report and "| 2 | no |" in report

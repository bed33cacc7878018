"""The HE-DME GPU comparison runs end to end in its small CPU mode (ready for a lent GPU)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_the_he_dme_comparison_runs_in_its_small_cpu_mode(tmp_path):
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "gpu_he_dme.py"), "all", "--out", str(tmp_path),
                           "--platform", "CPU", "--small"], capture_output=True, text=True, timeout=1200, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    results = json.loads((tmp_path / "he_dme.json").read_text())
    assert results["simulate_status"] == {name: 0 for name in ("mix", "LiFSI", "LiTFSI", "LiDFOB", "LiNO3", "dme",
                                                               "lifsi-1m")}
    rows = {r["system"]: r for r in results["systems"]}
    assert all(r["density_g_cm3"] > 0 and r["d_li_m2_s"] > 0 for name, r in rows.items() if name != "dme")
    assert rows["mix"]["s_shell_li_r"] >= 0 and len(rows["mix"]["s_shell_li_ci_r"]) == 2
    assert "Pure DME:" in (tmp_path / "he_dme.md").read_text()

"""Tiny boxes and very short settings for the simulation tests (CPU platform)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from hese import build

#: Stages of a few ps: a whole run takes seconds on the CPU platform. The density converges at the
#: first judgement by construction, never by luck: a drift bound of 100 % of the density is always
#: met, and any series holds at least one uncorrelated sample (the statistical inefficiency g ≤ n).
QUICK = {
    "platform": "CPU",
    "heating_ps": 0.4,
    "equilibration_ps": 2.0,
    "equilibration_extend_ps": 1.0,
    "max_equilibration_ps": 10.0,
    "min_uncorrelated_samples": 1,
    "density_tolerance": 1.0,
    "production_ps": 2.0,
    "save_every_ps": 0.2,
    "thermo_every_ps": 0.1,
    "minimize_max_iterations": 50,
    "seed": 7,
    "log_every_s": 1.0,
}


def water_box(folder: Path, n: int = 216) -> Path:
    """Build a box of ``n`` SPC/E waters (648 atoms, 1.86 nm, cutoff 0.8 nm) into ``folder``."""
    definition = build.SystemDefinition.from_dict(
        {"name": "water", "composition": {"counts": {"water": n}}, "force_field": {"family": "aqueous", "cutoff_nm": 0.8}}
    )
    build.build(definition, folder, seed=1)
    return folder


def cli_args(settings: dict) -> list[str]:
    """Settings as ``hese simulate`` options."""
    args = []
    for key, value in settings.items():
        if isinstance(value, bool):
            args.append(f"--{'' if value else 'no-'}{key.replace('_', '-')}")
        else:
            args += [f"--{key.replace('_', '-')}", str(value)]
    return args


def start(build_dir: Path, out: Path, settings: dict, **popen) -> subprocess.Popen:
    """Start ``hese simulate`` in a child process (stderr to ``out``/../stderr-<n>.txt)."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    cmd = [sys.executable, "-m", "hese.cli", "simulate", str(build_dir), "--out", str(out), *cli_args(settings)]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen)


def wait_for(predicate, timeout_s: float = 120, poll_s: float = 0.05, proc: subprocess.Popen | None = None) -> None:
    """Poll until ``predicate()`` is true; fail if the child ended first or the time is up."""
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if predicate():
            return
        if proc is not None and proc.poll() is not None:
            out, err = proc.communicate()
            raise AssertionError(f"the child ended (status {proc.returncode}) before the condition:\n{err[-3000:]}")
        time.sleep(poll_s)
    raise AssertionError("timed out")

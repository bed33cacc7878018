"""hese's solvation analysis against SolvationAnalysis (PyPI ``solvation-analysis``), whole processes.

The trajectory is SolvationAnalysis' own test system ``bn_fec`` (49 Li⁺, 49 PF₆⁻, 363
butyronitrile, 237 FEC; 7118 atoms; LAMMPS data + DCD from its wheel), its 10 frames repeated
to ``--frames`` (≥ 2000) in one DCD. Both tools analyse the same frames with the same partners:
Li⁺ (``type 22``) solvated by whole PF₆, BN and FEC molecules (a molecule is in the shell when
any of its atoms is within the cutoff, SolvationAnalysis' definition).

Two modes, each tool in its own process, timed from launch to exit (imports, reading the
topology, the analysis, writing its results):

- fixed: the cutoffs of SolvationAnalysis' tests (PF₆ 2.8, BN 2.61468, FEC 2.43158 Å).
  SolvationAnalysis runs with ``skip_rdf=True`` (no RDFs at all, its fastest setting); hese still
  computes its RDFs (default range 0.6 nm) and writes every table.
- auto: each tool computes its RDFs (SolvationAnalysis: one ``InterRDF`` pass per solvent,
  0–7.5 Å in 75 bins; hese: one pass for all partners with ``--rdf-range-nm 0.75 --rdf-bin-nm
  0.01``, the same bins) and finds the cutoffs in them. So that both use the *same* cutoffs,
  SolvationAnalysis gets hese's cutoff finder as its ``rdf_kernel`` (applied to its own RDF;
  the finder is scale-invariant, so SolvationAnalysis' density normalisation does not matter).

The coordination numbers (mean molecules per Li) of the two tools must agree to 1e-6. A third
process, the floor, only imports MDAnalysis and reads every frame. Wall-clock times make the
ratios (the issue's target: SolvationAnalysis / hese ≥ 10 in both modes); CPU times of each
process are printed beside them, since a shared machine slows wall times unevenly, and so are
frames per second (frames / wall time of the whole process) of the floor and of both tools: with
``--frames 20000`` start-up (imports, the topology) no longer matters and they compare the
reading and the analysis themselves. With ``--repeat N`` every process runs N times back to back
and the fastest round counts.

usage: python benchmarks/solvation_vs_solvationanalysis.py [--frames 2000] [--modes fixed auto]
       [--hese-workers 1] [--repeat 1] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

CATION = "type 22"
SOLVENTS = {"PF6": "byres type 20", "BN": "byres type 5", "FEC": "byres type 19"}
FIXED_ANGSTROM = {"PF6": 2.8, "BN": 2.61468, "FEC": 2.43158}
RDF_RANGE_ANGSTROM, RDF_BINS = 7.5, 75
TOLERANCE = 1e-6


def bn_fec() -> tuple[str, str]:
    """SolvationAnalysis' test topology (LAMMPS data) and wrapped 10-frame DCD."""
    from solvation_analysis.tests import datafiles

    return datafiles.bn_fec_data, datafiles.bn_fec_dcd_wrap


def write_repeated(folder: Path, n_frames: int) -> tuple[Path, int]:
    """The bn_fec DCD repeated to at least ``n_frames`` frames, in one file."""
    import MDAnalysis as mda

    topology, dcd = bn_fec()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        u = mda.Universe(topology, dcd)
        repeats = math.ceil(n_frames / u.trajectory.n_frames)
        path = folder / f"bn_fec_x{repeats}.dcd"
        with mda.Writer(str(path), u.atoms.n_atoms) as writer:
            for _ in range(repeats):
                for _ in u.trajectory:
                    writer.write(u.atoms)
    return path, repeats * u.trajectory.n_frames


def hese_command(trajectory: Path, mode: str, out: Path, workers: int) -> list[str]:
    """The ``hese analyze solvation`` command line of one mode."""
    topology, _ = bn_fec()
    cmd = [sys.executable, "-m", "hese.cli", "analyze", "solvation", "--topology", topology,
           "--trajectory", str(trajectory), "--cation", f"Li={CATION}", "--anion", f"PF6={SOLVENTS['PF6']}",
           "--solvent", f"BN={SOLVENTS['BN']}", "--solvent", f"FEC={SOLVENTS['FEC']}", "--out", str(out),
           "--json", "--workers", str(workers)]
    if mode == "fixed":
        cmd += [arg for name, a in FIXED_ANGSTROM.items() for arg in ("--cutoff", f"{name}={a / 10}")]
    else:
        cmd += ["--rdf-range-nm", str(RDF_RANGE_ANGSTROM / 10), "--rdf-bin-nm", str(RDF_RANGE_ANGSTROM / 10 / RDF_BINS)]
    return cmd


def hese_cutoff_kernel(bins, data, n_frames: int):
    """hese's cutoff finder on SolvationAnalysis' RDF (Å, ``density`` normalisation): cutoff in Å or None.

    ``data`` = counts / (F × shell volume), so counts per unit of ``data`` are F × shell volume,
    which gives the finder its noise estimate; its criteria are relative, so the scale of
    ``data`` does not change the result.
    """
    import numpy as np

    from hese.analysis.rdf import find_cutoff

    width = bins[1] - bins[0]
    edges = np.append(bins - width / 2, bins[-1] + width / 2)
    norm = n_frames * 4 / 3 * np.pi * np.diff(edges ** 3)
    found = find_cutoff(np.asarray(bins) / 10, np.asarray(data), norm)
    return None if found.cutoff_nm is None else found.cutoff_nm * 10


def run_solvation_analysis(trajectory: str, mode: str) -> dict:
    """The child process: SolvationAnalysis on the trajectory; coordination numbers and radii as JSON."""
    import MDAnalysis as mda
    from solvation_analysis.solute import Solute

    topology, _ = bn_fec()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        u = mda.Universe(topology, trajectory)
        li = u.select_atoms(CATION)
        solvents = {name: u.select_atoms(sel) for name, sel in SOLVENTS.items()}
        if mode == "fixed":
            solute = Solute.from_atoms(li, solvents, radii=dict(FIXED_ANGSTROM), skip_rdf=True)
        else:
            solute = Solute.from_atoms(li, solvents, rdf_kernel=hese_cutoff_kernel,
                                       kernel_kwargs={"n_frames": u.trajectory.n_frames},
                                       rdf_init_kwargs={"range": (0.0, RDF_RANGE_ANGSTROM), "nbins": RDF_BINS})
        solute.run()
    return {"cn": {k: float(v) for k, v in solute.coordination.coordination_numbers.items()},
            "cutoffs_nm": {k: float(v) / 10 for k, v in solute.radii.items()}, "n_frames": int(solute.n_frames)}


def read_floor(trajectory: str) -> dict:
    """The child process of the floor: import MDAnalysis and read every frame."""
    import MDAnalysis as mda

    topology, _ = bn_fec()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        u = mda.Universe(topology, trajectory)
        n = sum(1 for _ in u.trajectory)
    return {"n_frames": n}


def timed(cmd: list[str]) -> tuple[float, float, str]:
    """Wall and CPU seconds (user + system of the child) of a command, and its standard output."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:6])} … failed ({done.returncode}):\n{done.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, done.stdout


def fastest(cmd: list[str], repeat: int) -> tuple[float, float, str]:
    """The fastest (wall) of ``repeat`` runs."""
    return min((timed(cmd) for _ in range(repeat)), key=lambda r: r[0])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--frames", type=int, default=2000, help="frames after repeating bn_fec (default 2000)")
    p.add_argument("--modes", nargs="+", choices=("fixed", "auto"), default=["fixed", "auto"])
    p.add_argument("--hese-workers", type=int, default=1, help="hese --workers (default 1)")
    p.add_argument("--repeat", type=int, default=1, help="runs per process; the fastest counts (default 1)")
    p.add_argument("--workdir", type=Path, help="keep the repeated trajectory and outputs here")
    p.add_argument("--child", choices=("fixed", "auto", "floor"), help=argparse.SUPPRESS)
    p.add_argument("--trajectory", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        if args.child == "floor":
            print(json.dumps(read_floor(args.trajectory)))
        else:
            print(json.dumps(run_solvation_analysis(args.trajectory, args.child)))
        return
    folder = args.workdir or Path(tempfile.mkdtemp(prefix="hese-solvation-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        trajectory, n_frames = write_repeated(folder, args.frames)
        print(f"bn_fec repeated to {n_frames} frames of 7118 atoms ({trajectory.stat().st_size / 2**20:.0f} MiB); "
              f"{os.cpu_count()} CPUs; hese --workers {args.hese_workers}; fastest of {args.repeat} run(s)")
        me = [sys.executable, str(Path(__file__).resolve())]
        wall, cpu, _ = fastest([*me, "--child", "floor", "--trajectory", str(trajectory)], args.repeat)
        floor = wall
        print(f"floor (import MDAnalysis, read every frame): {wall:.1f} s wall, {cpu:.1f} s CPU, "
              f"{n_frames / wall:.0f} frames/s")
        failed = False
        for mode in args.modes:
            h_wall, h_cpu, h_out = fastest(hese_command(trajectory, mode, folder / f"hese-{mode}", args.hese_workers),
                                           args.repeat)
            s_wall, s_cpu, s_out = fastest([*me, "--child", mode, "--trajectory", str(trajectory)], args.repeat)
            summary, sa = json.loads(h_out), json.loads(s_out.strip().splitlines()[-1])
            assert summary["n_frames"] == sa["n_frames"] == n_frames
            print(f"\n{mode} cutoffs:")
            head = ("partner", "cutoff hese", "cutoff SA", "CN hese", "CN SA", "|diff|")
            print("  {:8s} {:>12s} {:>10s} {:>12s} {:>12s} {:>9s}".format(*head))
            for name in SOLVENTS:
                cut = summary["cutoffs"]["Li"][name]["cutoff_nm"]
                cn = summary["coordination"]["Li"][name]["cn_molecules"]
                diff = abs(cn - sa["cn"][name])
                failed |= not diff <= TOLERANCE
                print(f"  {name:8s} {cut:12.6f} {sa['cutoffs_nm'][name]:10.6f} {cn:12.8f} {sa['cn'][name]:12.8f} "
                      f"{diff:9.1e}{'' if diff <= TOLERANCE else '  DIFFERS'}")
            print(f"  hese:              {h_wall:7.1f} s wall, {h_cpu:7.1f} s CPU, {n_frames / h_wall:7.0f} frames/s"
                  f"  (hese / floor {h_wall / floor:.2f})")
            print(f"  SolvationAnalysis: {s_wall:7.1f} s wall, {s_cpu:7.1f} s CPU, {n_frames / s_wall:7.0f} frames/s")
            print(f"  SolvationAnalysis / hese: {s_wall / h_wall:.1f}× wall, {s_cpu / h_cpu:.1f}× CPU (target ≥ 10)")
        if failed:
            raise SystemExit(f"coordination numbers differ by more than {TOLERANCE}")
    finally:
        if args.workdir is None:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()

"""Speed of hese's water analysis: tetrahedral order q (and hydrogen bonds) per water and frame.

Writes a box of water molecules at liquid number density (random oxygens, hydrogens 0.1 nm away
in random directions; independent frames) and times, in one process:

- floor: a bare MDAnalysis loop that only reads the trajectory once;
- hese: ``analyze_water`` (reading, periodic KD-tree per frame, four nearest oxygens, q, P(q),
  tetrahedral entropy, hydrogen bonds, time blocks), printed as waters·frames per second of wall
  time and of CPU time (frames run on the CPUs the process may use, at most ``OMP_NUM_THREADS``);
- scaling: the same analysis for several numbers of waters at a fixed number of frames, with the
  exponent of time ∝ N^k from a log–log fit (k ≈ 1: linear in the number of waters).

usage: python benchmarks/tetrahedral.py [--small] [--waters 4000] [--frames 500] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from pathlib import Path

import MDAnalysis as mda
import numpy as np
from MDAnalysis.coordinates.memory import MemoryReader

from hese.analysis.inputs import file_source
from hese.analysis.threads import usable_threads
from hese.analysis.water import analyze_water

WATERS_PER_NM3 = 33.4
OH_NM = 0.1


def write_water(folder: Path, n_waters: int, n_frames: int, seed: int = 0) -> tuple[Path, Path]:
    """Topology and XTC of ``n_waters`` randomly placed water molecules over ``n_frames`` frames."""
    rng = np.random.default_rng(seed)
    edge = (n_waters / WATERS_PER_NM3) ** (1 / 3)
    oxygens = rng.uniform(0, edge, (n_frames, n_waters, 1, 3))
    bonds = rng.normal(size=(n_frames, n_waters, 2, 3))
    hydrogens = oxygens + OH_NM * bonds / np.linalg.norm(bonds, axis=-1, keepdims=True)
    positions = np.concatenate([oxygens, hydrogens], axis=2).reshape(n_frames, 3 * n_waters, 3)
    u = mda.Universe.empty(3 * n_waters, n_residues=n_waters, atom_resindex=np.repeat(np.arange(n_waters), 3),
                           trajectory=True)
    u.add_TopologyAttr("names", ["O1", "H1", "H2"] * n_waters)
    u.add_TopologyAttr("elements", ["O", "H", "H"] * n_waters)
    u.add_TopologyAttr("resnames", ["HOH"] * n_waters)
    u.add_TopologyAttr("resids", np.arange(1, n_waters + 1))
    dims = np.tile([edge * 10.0] * 3 + [90.0] * 3, (n_frames, 1))
    u.load_new((positions * 10.0).astype(np.float32), format=MemoryReader, dimensions=dims, dt=1.0)
    top, xtc = folder / f"water{n_waters}.pdb", folder / f"water{n_waters}.xtc"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        u.atoms.write(str(top))
        with mda.Writer(str(xtc), u.atoms.n_atoms) as writer:
            for _ in u.trajectory:
                writer.write(u.atoms)
    return top, xtc


def timed_analysis(top: Path, xtc: Path) -> tuple[float, float]:
    """Wall and CPU seconds (all threads) of the whole water analysis of one trajectory."""
    wall, cpu = time.perf_counter(), time.process_time()
    analyze_water(file_source(top, [xtc], ["water=resname HOH"]))
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--small", action="store_true", help="1000 waters × 50 frames, a quick check")
    p.add_argument("--waters", type=int, default=4000)
    p.add_argument("--frames", type=int, default=500)
    p.add_argument("--workdir", type=Path, help="where to write the trajectories (default: a temporary folder)")
    args = p.parse_args()
    n_waters, n_frames = (1000, 50) if args.small else (args.waters, args.frames)
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        top, xtc = write_water(Path(tmp), n_waters, n_frames)
        for _ in mda.Universe(str(top), str(xtc)).trajectory:  # XTC offsets and file cache, untimed
            pass
        t = time.perf_counter()
        for _ in mda.Universe(str(top), str(xtc)).trajectory:
            pass
        floor = time.perf_counter() - t
        wall, cpu = timed_analysis(top, xtc)
        print(f"{n_waters} waters × {n_frames} frames on {usable_threads()} thread(s): hese {wall:.2f} s "
              f"(CPU {cpu:.2f} s) = {n_waters * n_frames / wall:,.0f} waters·frames/s "
              f"({n_waters * n_frames / cpu:,.0f} per CPU second; reading alone, bare MDAnalysis loop: {floor:.2f} s)")

        scaling_frames = max(10, n_frames // 10)
        sizes = [n_waters // 4, n_waters // 2, n_waters, 2 * n_waters]
        seconds, cpu_seconds = [], []
        for n in sizes:
            files = write_water(Path(tmp), n, scaling_frames, seed=n)
            timed_analysis(*files)  # warm-up: offsets, caches
            wall, cpu = min(timed_analysis(*files) for _ in range(2))
            seconds.append(wall)
            cpu_seconds.append(cpu)
            print(f"  {n:6d} waters × {scaling_frames} frames: {wall:.3f} s (CPU {cpu:.3f} s), "
                  f"{wall / (n * scaling_frames) * 1e6:.2f} µs per water·frame = {n * scaling_frames / wall:,.0f} "
                  f"waters·frames/s")
        k = np.polyfit(np.log(sizes), np.log(seconds), 1)[0]
        k_cpu = np.polyfit(np.log(sizes), np.log(cpu_seconds), 1)[0]
        print(f"time ∝ N^{k:.2f} (CPU time ∝ N^{k_cpu:.2f}) over {sizes[0]}–{sizes[-1]} waters (1 = linear)")


if __name__ == "__main__":
    main()

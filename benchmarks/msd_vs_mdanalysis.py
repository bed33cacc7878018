"""hese's transport analysis against MDAnalysis EinsteinMSD(fft=True), whole process.

Writes a trajectory of random walks (half Li⁺, half Cl⁻, one atom per molecule, on XTC's
0.001 nm grid so that the wrapped and the unwrapped file hold exactly the same walk), then times
in one process:

- floor: a bare MDAnalysis loop that only reads the wrapped trajectory once;
- hese: ``analyze_transport`` on the wrapped trajectory (reading, centres of mass, frame-to-frame
  unwrapping, MSD per species by FFT, window detection, fits, time blocks, conductivity);
- MDAnalysis: ``EinsteinMSD(select="all", fft=True)`` on the pre-unwrapped trajectory (its
  reading included) and a linear fit.

It checks that both MSDs agree and prints the times and ratios (targets: MDAnalysis / hese ≥ 4,
hese / floor ≤ 1.5). Wall-clock times make the ratios; CPU times (all threads) are printed beside
them, since a shared machine slows wall times unevenly. hese's FFTs use the CPUs the process may
run on (at most ``OMP_NUM_THREADS``); ``OMP_NUM_THREADS=1`` times it on one core. With
``--repeat N`` the three are timed back to back N times and the fastest round of each counts.
Needs ``tidynamics`` (EinsteinMSD's FFT).

usage: python benchmarks/msd_vs_mdanalysis.py [--small] [--molecules 2000] [--frames 10000] [--repeat 1]
       [--workdir DIR]
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from pathlib import Path

import MDAnalysis as mda
import numpy as np
from MDAnalysis.analysis.msd import EinsteinMSD
from MDAnalysis.coordinates.memory import MemoryReader

from hese.analysis import columns as col
from hese.analysis.inputs import file_source
from hese.analysis.threads import usable_threads
from hese.analysis.transport import analyze_transport

GRID = 1000  # XTC stores nm × 1000 as integers
BOX_PER_MOLECULE_NM3 = 0.03


def write_walks(folder: Path, n_molecules: int, n_frames: int, seed: int = 0) -> tuple[Path, Path, Path]:
    """Topology, wrapped and unwrapped XTC of ``n_molecules`` random walks over ``n_frames`` frames (1 ps apart)."""
    rng = np.random.default_rng(seed)
    edge = round((n_molecules * BOX_PER_MOLECULE_NM3) ** (1 / 3) * GRID)  # grid units
    walk = rng.integers(-40, 41, (n_frames, n_molecules, 3), dtype=np.int32)  # steps of up to 0.04 nm
    walk[0] = rng.integers(0, edge, (n_molecules, 3))
    np.cumsum(walk, axis=0, out=walk)
    half = n_molecules // 2
    u = mda.Universe.empty(n_molecules, n_residues=n_molecules, atom_resindex=np.arange(n_molecules), trajectory=True)
    u.add_TopologyAttr("names", ["Li1"] * half + ["Cl1"] * (n_molecules - half))
    u.add_TopologyAttr("elements", ["Li"] * half + ["Cl"] * (n_molecules - half))
    u.add_TopologyAttr("resnames", ["LI"] * half + ["CL"] * (n_molecules - half))
    u.add_TopologyAttr("resids", np.arange(1, n_molecules + 1))
    dims = np.tile([edge * 10.0 / GRID] * 3 + [90.0] * 3, (n_frames, 1))
    paths = folder / "topology.pdb", folder / "wrapped.xtc", folder / "unwrapped.xtc"
    for path, grid in ((paths[1], np.mod(walk, edge)), (paths[2], walk)):
        u.load_new(grid.astype(np.float32) * np.float32(10.0 / GRID), format=MemoryReader, dimensions=dims, dt=1.0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if path == paths[1]:
                u.atoms.write(str(paths[0]))
            with mda.Writer(str(path), n_molecules) as writer:
                for _ in u.trajectory:
                    writer.write(u.atoms)
    return paths


class Timer:
    """Wall-clock and CPU seconds (all threads) of a block; the machine may be shared, so both are printed."""

    def __enter__(self) -> Timer:
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc) -> None:
        self.wall, self.cpu = time.perf_counter() - self.wall, time.process_time() - self.cpu


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--small", action="store_true", help="200 molecules × 1000 frames, a quick check")
    p.add_argument("--molecules", type=int, default=2000)
    p.add_argument("--frames", type=int, default=10000)
    p.add_argument("--repeat", type=int, default=1, help="rounds of floor, hese, MDAnalysis; the fastest counts")
    p.add_argument("--workdir", type=Path, help="where to write the trajectories (default: a temporary folder)")
    args = p.parse_args()
    n_molecules, n_frames = (200, 1000) if args.small else (args.molecules, args.frames)
    times: dict[str, list[Timer]] = {"floor": [], "hese": [], "mda": []}
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        t = time.perf_counter()
        top, wrapped, unwrapped = write_walks(Path(tmp), n_molecules, n_frames)
        print(f"{n_molecules} molecules × {n_frames} frames written in {time.perf_counter() - t:.1f} s; "
              f"hese uses {usable_threads()} thread(s) for its FFTs", flush=True)
        for xtc in (wrapped, unwrapped):  # build MDAnalysis' XTC offsets and warm the file cache, untimed
            for _ in mda.Universe(str(top), str(xtc)).trajectory:
                pass
        for _ in range(args.repeat):  # back to back, so that all three see the same load
            with Timer() as floor:
                for _ in mda.Universe(str(top), str(wrapped)).trajectory:
                    pass
            with Timer() as ours:
                source = file_source(top, [wrapped], ["Li=resname LI", "Cl=resname CL"])
                result = analyze_transport([source], 300.0, viscosity_mpa_s=1.0)
            with Timer() as theirs:
                reference = EinsteinMSD(mda.Universe(str(top), str(unwrapped)), select="all", msd_type="xyz",
                                        fft=True).run()
                lags = np.arange(n_frames // 20, n_frames // 10)
                np.polyfit(lags, reference.results.timeseries[lags], 1)
            for name, timer in (("floor", floor), ("hese", ours), ("mda", theirs)):
                times[name].append(timer)
            print(f"  round {len(times['hese'])}: floor {floor.wall:.2f} s, hese {ours.wall:.2f} s, "
                  f"MDAnalysis {theirs.wall:.2f} s (wall)", flush=True)

    msd = result.msd.pivot(index=col.LAG_PS, columns=col.SPECIES, values=col.MSD_NM2)
    ours = (msd["Li"] * (n_molecules // 2) + msd["Cl"] * (n_molecules - n_molecules // 2)) / n_molecules
    theirs = reference.results.timeseries / 100.0
    diff = np.max(np.abs(ours.to_numpy()[1:] - theirs[1:]) / theirs[1:])
    print(f"same MSD: largest relative difference {diff:.2e} ({'ok' if diff < 1e-5 else 'DIFFERENT'})")
    best = {name: min(timers, key=lambda timer: timer.wall) for name, timers in times.items()}
    floor, ours, theirs = best["floor"], best["hese"], best["mda"]
    fastest = "" if args.repeat == 1 else f", fastest of {args.repeat}"
    print(f"                                   wall (s)   CPU (s){fastest}")
    print(f"floor (bare MDAnalysis read loop): {floor.wall:8.2f}  {floor.cpu:8.2f}")
    print(f"hese analyze_transport:            {ours.wall:8.2f}  {ours.cpu:8.2f}   "
          f"hese / floor = {ours.wall / floor.wall:.2f} (target ≤ 1.5; CPU {ours.cpu / floor.cpu:.2f})")
    print(f"MDAnalysis EinsteinMSD(fft=True):  {theirs.wall:8.2f}  {theirs.cpu:8.2f}   "
          f"MDAnalysis / hese = {theirs.wall / ours.wall:.2f} (target ≥ 4; CPU {theirs.cpu / ours.cpu:.2f})")
    print(result.diffusion[[col.SPECIES, col.D_M2_S, col.D_ERR_M2_S, col.FIT_START_PS, col.FIT_END_PS]].to_string(
        index=False))


if __name__ == "__main__":
    main()

"""Helpers of the analysis tests: small real trajectory files written with MDAnalysis, and the CLI."""

from __future__ import annotations

import argparse
import json
import re
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path

import MDAnalysis as mda
import numpy as np
from MDAnalysis.coordinates.memory import MemoryReader

from hese.analysis.cli import add_parsers
from hese.errors import HeseInputError


def run_cli(argv: Sequence[str]) -> int:
    """``hese`` with only the analysis sub-commands, handling errors as ``hese.cli.main`` does."""
    parser = argparse.ArgumentParser(prog="hese")
    add_parsers(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    try:
        args.func(args)
    except HeseInputError as err:
        print(f"hese: error: {err}", file=sys.stderr)
        return 2
    return 0


def write_trajectory(
    folder: Path,
    molecules: Sequence[tuple[str, Sequence[str], int]],
    positions_nm: np.ndarray,
    boxes_nm: np.ndarray,
    dt_ps: float = 1.0,
    topology: str = "topology.pdb",
    trajectory: str = "trajectory.xtc",
) -> tuple[Path, Path]:
    """Write ``topology`` (first frame) and ``trajectory`` (all frames) into ``folder``.

    ``molecules`` lists (residue name, atom names, count); atoms are written molecule after
    molecule, elements are the atom names without digits. ``positions_nm`` is (F, A, 3),
    ``boxes_nm`` (F, 3) or (3,) for a fixed box.
    """
    folder.mkdir(parents=True, exist_ok=True)
    names, resnames, resindex = [], [], []
    for resname, atom_names, count in molecules:
        for _ in range(count):
            resnames.append(resname)
            names.extend(atom_names)
            resindex.extend([len(resnames) - 1] * len(atom_names))
    positions_nm = np.asarray(positions_nm, dtype=float)
    n_frames = positions_nm.shape[0]
    boxes = np.broadcast_to(np.asarray(boxes_nm, dtype=float), (n_frames, 3))
    u = mda.Universe.empty(len(names), n_residues=len(resnames), atom_resindex=resindex, trajectory=True)
    u.add_TopologyAttr("names", names)
    u.add_TopologyAttr("elements", [re.sub(r"\d+$", "", n) for n in names])
    u.add_TopologyAttr("resnames", resnames)
    u.add_TopologyAttr("resids", np.arange(1, len(resnames) + 1))
    dims = np.column_stack([boxes * 10.0, np.full((n_frames, 3), 90.0)])
    u.load_new((positions_nm * 10.0).astype(np.float32), format=MemoryReader, dimensions=dims, dt=dt_ps)
    return write_universe(u, folder / topology, folder / trajectory)


def write_universe(u: mda.Universe, top: Path, traj: Path) -> tuple[Path, Path]:
    """Write the first frame of ``u`` to ``top`` and every frame to ``traj``; returns both paths."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        u.atoms.write(str(top))
        with mda.Writer(str(traj), u.atoms.n_atoms) as writer:
            for _ in u.trajectory:
                writer.write(u.atoms)
    return top, traj


def write_run(folder: Path, counts: dict[str, int], charge_scale: float, positions_nm, boxes_nm, dt_ps=1.0,
              finished: bool = True) -> Path:
    """A fake hese run folder: ``build/topology.pdb``, ``build/build.json``, ``md/trajectory.xtc`` and,
    if ``finished``, the ``md/done.json`` that marks a finished simulation.

    ``counts`` maps registry species names to molecule counts, in the atom order of ``positions_nm``.
    """
    from hese import species

    molecules = [(species.get(n).residue, species.get(n).atom_names, c) for n, c in counts.items()]
    top, traj = write_trajectory(folder / "md", molecules, positions_nm, boxes_nm, dt_ps)
    (folder / "build").mkdir(parents=True, exist_ok=True)
    top.rename(folder / "build" / "topology.pdb")
    (folder / "build" / "build.json").write_text(json.dumps({"counts": counts, "charge_scale": charge_scale}))
    if finished:
        (folder / "md" / "done.json").write_text("{}")
    return folder


def truncated_copy(path: Path, dest: Path, end: int) -> Path:
    """A copy of the file ``path`` at ``dest`` cut short: its bytes up to ``end`` (a slice end, e.g. −5)."""
    dest.write_bytes(path.read_bytes()[:end])
    return dest


def random_walk(rng: np.random.Generator, n_frames: int, n: int, step_rms_nm: float, box_nm: float) -> np.ndarray:
    """Unwrapped Gaussian random walks (F, n, 3) starting uniformly in the box; per-axis step rms ``step_rms_nm``."""
    start = rng.uniform(0, box_nm, (1, n, 3))
    steps = rng.normal(0.0, step_rms_nm, (n_frames - 1, n, 3))
    return start + np.concatenate([np.zeros((1, n, 3)), np.cumsum(steps, axis=0)])


def wrap(positions: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Positions (F, A, 3) wrapped into boxes (F, 3) or (3,)."""
    boxes = np.broadcast_to(boxes, (positions.shape[0], 3))[:, None, :]
    return positions - boxes * np.floor(positions / boxes)

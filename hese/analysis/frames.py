"""Streaming trajectory reader: chunks of frames in nm and their boxes.

Every analysis reads trajectories through this module, so MDAnalysis' Å become nm once, here.
Frames come in chunks of :data:`CHUNK_FRAMES` so memory stays bounded however long the
trajectory is. Boxes must be orthorhombic (OpenMM's are). Molecule centres of mass, unwrapped,
are read by :mod:`hese.analysis.centres`.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import MDAnalysis as mda
import numpy as np
from MDAnalysis.exceptions import SelectionError

from hese.analysis.frame_readers import direct_reader, read_generic
from hese.errors import HeseInputError

NM_PER_ANGSTROM = 0.1
CHUNK_FRAMES = 128


def open_universe(topology: str | os.PathLike, trajectories: Sequence[str | os.PathLike] = ()) -> mda.Universe:
    """An MDAnalysis Universe of a topology and trajectory files (several files are read one after another).

    Raises
    ------
    HeseInputError
        If a file is missing or unreadable, or the atom counts of topology and trajectory differ.
    """
    files = [str(topology), *map(str, trajectories)]
    for name in files:
        if not os.path.isfile(name):
            raise HeseInputError(f"{name}: no such file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # MDAnalysis' notes on guessed elements, missing dt, …
            return mda.Universe(files[0], *files[1:]) if len(files) > 1 else mda.Universe(files[0])
    except (OSError, ValueError, EOFError, TypeError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise HeseInputError(f"{', '.join(files)}: cannot read: {first}") from None


def select(universe: mda.Universe, selection: str, what: str) -> mda.AtomGroup:
    """Atoms of an MDAnalysis selection string; ``what`` names the option for the error message.

    Raises
    ------
    HeseInputError
        If the selection is invalid or matches no atom.
    """
    try:
        atoms = universe.select_atoms(selection)
    except (SelectionError, ValueError, KeyError) as err:
        raise HeseInputError(f"{what}: invalid selection {selection!r}: {err}") from None
    if atoms.n_atoms == 0:
        raise HeseInputError(f"{what}: selection {selection!r} matches no atom")
    return atoms


@dataclass(frozen=True)
class FrameChunk:
    """Consecutive analysed frames.

    Attributes
    ----------
    frames
        Trajectory frame numbers (C,).
    times_ps
        Frame times (C,), ps.
    boxes_nm
        Orthorhombic box edges (C, 3), nm.
    positions_nm
        Positions (C, A, 3) of the requested atoms, nm, float64.
    """

    frames: np.ndarray
    times_ps: np.ndarray
    boxes_nm: np.ndarray
    positions_nm: np.ndarray


def frame_numbers(universe: mda.Universe, frames: slice = slice(None)) -> np.ndarray:
    """Trajectory frame numbers selected by ``frames`` (start, stop, step)."""
    return np.arange(universe.trajectory.n_frames)[frames]


def iter_chunks(
    universe: mda.Universe,
    indices: np.ndarray,
    frames: slice = slice(None),
    chunk_frames: int = CHUNK_FRAMES,
    source: str = "trajectory",
) -> Iterator[FrameChunk]:
    """Positions of the atoms ``indices`` over the selected frames, ``chunk_frames`` frames at a time.

    XTC and DCD files are read with MDAnalysis' low-level readers straight into the chunk's array,
    without the per-frame work of a Timestep (see :mod:`hese.analysis.frame_readers`); the
    numbers are the same as those of MDAnalysis' reader, which reads every other format.

    Raises
    ------
    HeseInputError
        If a frame has no box or a non-orthorhombic one, or the file cannot be read to the end.
    """
    selected = frame_numbers(universe, frames)
    indices = np.asarray(indices)
    contiguous = len(indices) > 0 and np.array_equal(indices, np.arange(indices[0], indices[0] + len(indices)))
    atoms = slice(indices[0], indices[0] + len(indices)) if contiguous else indices
    direct = direct_reader(universe.trajectory)
    try:
        for begin in range(0, len(selected), chunk_frames):
            numbers = selected[begin : begin + chunk_frames]
            angstrom = np.empty((len(numbers), len(indices), 3), dtype=np.float32)
            times = np.empty(len(numbers))
            dims = np.empty((len(numbers), 6))
            try:
                if direct is None:
                    read_generic(universe.trajectory, numbers, atoms, angstrom, times, dims)
                else:
                    direct.read(numbers, atoms, angstrom, times, dims)
            except (OSError, EOFError, ValueError) as err:
                raise HeseInputError(f"{source}: cannot read frame {numbers[0]}–{numbers[-1]}: {err}") from None
            nm = np.multiply(angstrom, NM_PER_ANGSTROM, dtype=float)
            yield FrameChunk(numbers, times, _boxes_nm(dims, numbers, source), nm)
    finally:
        if direct is not None:
            direct.close()


def _boxes_nm(dims: np.ndarray, numbers: np.ndarray, source: str) -> np.ndarray:
    bad = ~np.all(np.isfinite(dims[:, :3]) & (dims[:, :3] > 0), axis=1)
    if bad.any():
        raise HeseInputError(f"{source}: frame {numbers[bad][0]} has no periodic box; analyses need one")
    tilted = ~np.all(np.abs(dims[:, 3:] - 90.0) < 1e-3, axis=1)
    if tilted.any():
        raise HeseInputError(
            f"{source}: frame {numbers[tilted][0]} has a triclinic box "
            f"(angles {dims[tilted][0, 3:].round(3).tolist()}); only orthorhombic boxes are supported"
        )
    return dims[:, :3] * NM_PER_ANGSTROM

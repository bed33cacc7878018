"""Centres of mass of molecules over a trajectory, read chunk by chunk and unwrapped frame to frame.

Molecules are grouped by :mod:`hese.analysis.molecules`, frames read by :mod:`hese.analysis.frames`
and unwrapped by :mod:`hese.analysis.unwrap`.

Each molecule is made whole around its first atom before averaging, so trajectories whose
molecules are broken across the box boundary are handled too (molecules must be smaller than
half the box):

.. math:: \\mathbf R = \\mathbf r_1 + \\frac{\\sum_a m_a\\, \\mathrm{mic}(\\mathbf r_a - \\mathbf r_1)}{\\sum_a m_a}
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import MDAnalysis as mda
import numpy as np

from hese.analysis.frames import CHUNK_FRAMES, frame_numbers, iter_chunks
from hese.analysis.molecules import Molecules
from hese.analysis.neighbors import minimum_image
from hese.analysis.unwrap import Unwrapper


@dataclass(frozen=True)
class CentreTrajectory:
    """Centres of mass of several species over the analysed frames.

    Attributes
    ----------
    times_ps
        Frame times (F,), ps.
    boxes_nm
        Box edges (F, 3), nm.
    positions_nm
        Species name → centres of mass (F, M, 3), nm, unwrapped unless read with ``unwrap=False``.
    """

    times_ps: np.ndarray
    boxes_nm: np.ndarray
    positions_nm: dict[str, np.ndarray]


def read_centres_of_mass(
    universe: mda.Universe,
    species: Sequence[Molecules],
    frames: slice = slice(None),
    unwrap: bool = True,
    chunk_frames: int = CHUNK_FRAMES,
    source: str = "trajectory",
    on_chunk: Callable[[int, dict[str, np.ndarray]], None] | None = None,
) -> CentreTrajectory:
    """Centres of mass of every molecule of every species, unwrapped frame to frame.

    With ``unwrap=False`` the trajectory must already be unwrapped (continuous atom positions);
    the centres of mass are then returned as they are. ``on_chunk``, if given, is called after
    every chunk with the number of frames done and the arrays (F, M, 3) being filled, whose rows
    up to that number are final (to start work on them while the rest is read).
    """
    n_frames = len(frame_numbers(universe, frames))
    all_indices = np.concatenate([m.indices for m in species])
    offsets = np.cumsum([0] + [len(m.indices) for m in species])
    out = {m.name: np.empty((n_frames, m.n_molecules, 3)) for m in species}
    unwrappers = {m.name: Unwrapper(m.name, source) for m in species}
    times, boxes = np.empty(n_frames), np.empty((n_frames, 3))
    done = 0
    for chunk in iter_chunks(universe, all_indices, frames, chunk_frames, source):
        rows = slice(done, done + len(chunk.frames))
        times[rows], boxes[rows] = chunk.times_ps, chunk.boxes_nm
        for m, lo, hi in zip(species, offsets[:-1], offsets[1:], strict=True):
            coms = centres_of_mass(chunk.positions_nm[:, lo:hi], chunk.boxes_nm, m.starts, m.masses)
            if unwrap:
                unwrappers[m.name](coms, chunk.boxes_nm, chunk.frames, out[m.name][rows])
            else:
                out[m.name][rows] = coms
        done += len(chunk.frames)
        if on_chunk is not None:
            on_chunk(done, out)
    return CentreTrajectory(times, boxes, out)


# ---------------------------------------------------------------------------------------------
# kernels


def centres_of_mass(positions: np.ndarray, boxes: np.ndarray, starts: np.ndarray, masses: np.ndarray) -> np.ndarray:
    """Centres of mass (C, M, 3) of molecules made whole around their first atom (``positions`` itself for atoms).

    Parameters
    ----------
    positions
        Atom positions (C, A, 3), molecule after molecule.
    boxes
        Box edges (C, 3).
    starts
        Index of each molecule's first atom (M,).
    masses
        Atom masses (A,).
    """
    if len(starts) == positions.shape[1]:  # one atom per molecule
        return positions
    sizes = np.diff(np.append(starts, positions.shape[1]))
    if np.all(sizes == sizes[0]):
        return _centres_of_equal_molecules(positions, boxes, sizes[0], masses, np.add.reduceat(masses, starts))
    offsets = minimum_image(positions - np.repeat(positions[:, starts], sizes, axis=1), boxes[:, None, :])
    weighted = np.add.reduceat(offsets * masses[None, :, None], starts, axis=1)
    return positions[:, starts] + weighted / np.add.reduceat(masses, starts)[None, :, None]


def _centres_of_equal_molecules(
    positions: np.ndarray, boxes: np.ndarray, size: int, masses: np.ndarray, totals: np.ndarray
) -> np.ndarray:
    """:func:`centres_of_mass` of molecules of ``size`` atoms each, the same numbers in the same order of operations.

    One axis and one atom position in the molecule at a time, over all frames and molecules at
    once: every operation runs over C × M contiguous numbers, not over 3 at a time.
    """
    n_frames, n_atoms, _ = positions.shape
    atoms = np.ascontiguousarray(positions.reshape(n_frames, n_atoms // size, size, 3).transpose(3, 2, 0, 1))
    masses = masses.reshape(-1, size)
    centres = np.empty((n_frames, n_atoms // size, 3))
    offset = np.empty(atoms.shape[2:])
    image = np.empty(atoms.shape[2:])
    for axis in range(3):
        first = atoms[axis, 0]
        box = boxes[:, axis, None]
        weighted = np.zeros(atoms.shape[2:])
        for k in range(1, size):
            np.subtract(atoms[axis, k], first, out=offset)
            np.divide(offset, box, out=image)
            np.round(image, out=image)
            image *= box
            offset -= image  # the minimum image of the offset from the first atom
            offset *= masses[:, k]
            weighted += offset
        weighted /= totals
        np.add(first, weighted, out=centres[..., axis])
    return centres

"""Streaming trajectory reader: chunks of frames in nm, boxes, molecule centres of mass, unwrapping.

Every analysis reads trajectories through this module, so MDAnalysis' Å become nm once, here.
Frames come in chunks of :data:`CHUNK_FRAMES` so memory stays bounded however long the
trajectory is. Boxes must be orthorhombic (OpenMM's are).

Molecules are grouped by :mod:`hese.analysis.molecules`.

Centres of mass
---------------
Each molecule is made whole around its first atom before averaging, so trajectories whose
molecules are broken across the box boundary are handled too (molecules must be smaller than
half the box):

.. math:: \\mathbf R = \\mathbf r_1 + \\frac{\\sum_a m_a\\, \\mathrm{mic}(\\mathbf r_a - \\mathbf r_1)}{\\sum_a m_a}

Unwrapping
----------
Centres of mass wrapped into the box, :math:`\\mathbf w_i \\in [0, \\mathbf L_i)` in frame :math:`i`,
become continuous trajectories :math:`\\mathbf u_i` frame to frame with the box
:math:`\\mathbf L_{i+1}` of the later frame (von Bülow, Bullerjahn & Hummer, J. Chem. Phys. 153,
021101 (2020)), which stays correct when the box changes under NPT, unlike schemes that count
boundary crossings:

.. math:: \\mathbf u_{i+1} = \\mathbf u_i + \\Delta_i - \\mathbf L_{i+1} \\odot
          \\operatorname{round}(\\Delta_i \\oslash \\mathbf L_{i+1}), \\qquad
          \\Delta_i = \\mathbf w_{i+1} - \\mathbf w_i

.. warning::
   A molecule that moves more than half a box edge between two frames cannot be told apart
   from one that jumps across the boundary. Safety criterion: for every species and axis α the
   root-mean-square minimum-image step between consecutive frames, in box edges,
   :math:`\\sigma_\\alpha = \\langle (\\Delta_\\alpha / L_\\alpha)^2 \\rangle^{1/2}`, must not exceed
   :data:`MAX_RMS_STEP` = 1/16, i.e. 8σ ≤ L/2: a Gaussian step then exceeds half an edge with
   probability below 10⁻¹⁵ per molecule and frame. Frames too far apart for this (their steps
   look uniform on [−L/2, L/2), σ ≈ 0.29) raise :class:`~hese.errors.HeseInputError`, checked
   after every chunk.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass

import MDAnalysis as mda
import numpy as np
from MDAnalysis.coordinates.XTC import XTCReader
from MDAnalysis.exceptions import SelectionError
from MDAnalysis.lib.formats.libmdaxdr import XTCFile
from MDAnalysis.lib.mdamath import triclinic_box

from hese.analysis.molecules import Molecules
from hese.analysis.neighbors import minimum_image, wrap
from hese.errors import HeseInputError

NM_PER_ANGSTROM = 0.1
CHUNK_FRAMES = 128
MAX_RMS_STEP = 1.0 / 16.0
MAX_THREADS = 8  # parallel jobs beyond this add memory (work arrays per thread) and little speed


def usable_threads() -> int:
    """Threads for parallel work: the CPUs this process may use, at most ``OMP_NUM_THREADS`` and :data:`MAX_THREADS`."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    try:
        limit = int(os.environ.get("OMP_NUM_THREADS", ""))
    except ValueError:
        limit = cpus
    return max(1, min(cpus, limit, MAX_THREADS))


def thread_pool() -> Executor:
    """A pool of :func:`usable_threads` threads, or, for one thread, an executor that runs each job as it is submitted.

    For work that releases the GIL (FFTs, KD-tree queries, large numpy operations).
    """
    threads = usable_threads()
    return ThreadPoolExecutor(threads) if threads > 1 else _Inline()


class _Inline(Executor):
    def submit(self, fn, /, *args, **kwargs) -> Future:
        job: Future = Future()
        try:
            job.set_result(fn(*args, **kwargs))
        except BaseException as err:  # kept for whoever asks for the result, as in a pool
            job.set_exception(err)
        return job


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

    XTC files are read with MDAnalysis' low-level reader straight into the chunk's array, without
    the per-frame work of a Timestep (see :func:`_direct_xtc`); the numbers are the same as those
    of MDAnalysis' reader, which reads every other format.

    Raises
    ------
    HeseInputError
        If a frame has no box or a non-orthorhombic one, or the file cannot be read to the end.
    """
    selected = frame_numbers(universe, frames)
    indices = np.asarray(indices)
    contiguous = len(indices) > 0 and np.array_equal(indices, np.arange(indices[0], indices[0] + len(indices)))
    atoms = slice(indices[0], indices[0] + len(indices)) if contiguous else indices
    xtc = _direct_xtc(universe.trajectory)
    read = _read_generic if xtc is None else _read_xtc
    try:
        for begin in range(0, len(selected), chunk_frames):
            numbers = selected[begin : begin + chunk_frames]
            angstrom = np.empty((len(numbers), len(indices), 3), dtype=np.float32)
            times = np.empty(len(numbers))
            dims = np.empty((len(numbers), 6))
            try:
                read(xtc or universe.trajectory, numbers, atoms, angstrom, times, dims)
            except (OSError, EOFError, ValueError) as err:
                raise HeseInputError(f"{source}: cannot read frame {numbers[0]}–{numbers[-1]}: {err}") from None
            nm = np.multiply(angstrom, NM_PER_ANGSTROM, dtype=float)
            yield FrameChunk(numbers, times, _boxes_nm(dims, numbers, source), nm)
    finally:
        if xtc is not None:
            xtc.close()


def _read_generic(reader, numbers: np.ndarray, atoms, angstrom: np.ndarray, times: np.ndarray, dims: np.ndarray):
    """Frames ``numbers`` (evenly spaced) through an MDAnalysis reader: positions (Å), times (ps), dimensions."""
    step = numbers[1] - numbers[0] if len(numbers) > 1 else 1
    for k, ts in enumerate(reader[numbers[0] : numbers[-1] + 1 : step]):
        angstrom[k] = ts.positions[atoms]
        times[k] = ts.time
        dims[k] = np.nan if ts.dimensions is None else ts.dimensions


@dataclass
class _DirectXTC:
    """An XTC file opened with MDAnalysis' low-level reader, and the time its reader adds to every frame's."""

    file: XTCFile
    time_offset: float

    def close(self) -> None:
        self.file.close()


def _direct_xtc(reader) -> _DirectXTC | None:
    """A low-level handle on the XTC file of ``reader``, or None where it would not read what the reader reads.

    That is the case for MDAnalysis' plain XTC reader without on-the-fly transformations, atom
    subsets, a ``dt`` override or disabled unit conversion; the offsets of its frames are reused.
    """
    try:
        if (type(reader) is not XTCReader or reader.transformations or reader._sub is not None
                or not reader.convert_units or reader._kwargs.get("dt") is not None):
            return None
        time_offset = float(reader.ts.data.get("time_offset", 0.0))
        handle = XTCFile(reader.filename)
        handle.set_offsets(reader._xdr.offsets)
        return _DirectXTC(handle, time_offset)
    except (AttributeError, KeyError, TypeError, OSError):  # another MDAnalysis version: its reader reads
        return None


def _read_xtc(xtc: _DirectXTC, numbers: np.ndarray, atoms, angstrom: np.ndarray, times: np.ndarray, dims: np.ndarray):
    """Frames ``numbers`` of an XTC file, converted exactly as MDAnalysis' XTC reader converts them.

    Positions nm → Å in float32 (as the reader), boxes as :func:`MDAnalysis.lib.mdamath.triclinic_box`
    gives them (vectorised where they are orthorhombic), then Å.
    """
    handle = xtc.file
    whole = isinstance(atoms, slice) and atoms.start == 0 and atoms.stop == handle.n_atoms
    buffer = None if whole else np.empty((handle.n_atoms, 3), dtype=np.float32)
    vectors = np.empty((len(numbers), 3, 3), dtype=np.float32)
    at = -1
    for k, number in enumerate(numbers):
        if number != at:
            handle.seek(number)
        frame = handle.read_direct_x(angstrom[k] if whole else buffer)
        at = number + 1
        if not whole:
            angstrom[k] = buffer[atoms]
        times[k] = frame.time
        vectors[k] = frame.box
    angstrom *= np.float32(10.0)  # nm → Å
    times += xtc.time_offset
    lengths = np.einsum("cii->ci", vectors)
    diagonal = np.all(np.abs(vectors).sum(axis=2) == np.abs(lengths), axis=1) & np.all(lengths > 0, axis=1)
    dims[diagonal, :3] = lengths[diagonal]
    dims[diagonal, 3:] = 90.0
    for k in np.flatnonzero(~diagonal):
        dims[k] = triclinic_box(*vectors[k])
    dims[:, :3] = (dims[:, :3].astype(np.float32) * np.float32(10.0)).astype(float)
    bad = np.all(dims == 0, axis=1)
    dims[bad] = np.nan  # MDAnalysis: no box


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


class Unwrapper:
    """Frame-to-frame unwrapping of one species' centres of mass, chunk after chunk (see the module notes).

    Parameters
    ----------
    name
        Species name, for the error message.
    source
        Trajectory name, for the error message.
    """

    def __init__(self, name: str, source: str) -> None:
        self.name = name
        self.source = source
        self._last_wrapped: np.ndarray | None = None
        self._last_unwrapped: np.ndarray | None = None
        self._last_box: np.ndarray | None = None
        self._sum_sq = np.zeros(3)
        self._n_steps = 0

    def __call__(
        self, wrapped: np.ndarray, boxes: np.ndarray, frames: np.ndarray, out: np.ndarray | None = None
    ) -> np.ndarray:
        """Unwrapped positions (C, M, 3) of positions (C, M, 3) in boxes (C, 3) of frames (C,).

        Where the box changes, positions are wrapped into it first, where the scheme (and a
        barostat's scaling) applies; in a constant box the steps do not depend on the image.
        ``out`` (C, M, 3, float64), if given, receives the result.

        Raises
        ------
        HeseInputError
            When the steps so far break the safety criterion :data:`MAX_RMS_STEP`.
        """
        if out is None:
            out = np.empty(wrapped.shape)
        if len(wrapped) == 0:
            return out
        if self._last_wrapped is None:  # the first frame is where the unwrapped trajectory starts
            self._last_wrapped = self._last_unwrapped = wrap(wrapped[0], boxes[0])
            self._last_box = boxes[0]
            out[0] = self._last_wrapped
            self(wrapped[1:], boxes[1:], frames[1:], out[1:])
            return out
        if np.any(boxes != self._last_box):  # a changing box: steps are only right between wrapped positions
            wrapped = wrap(wrapped, boxes[:, None, :])
            self._last_wrapped = wrap(self._last_wrapped, self._last_box)
        fraction = unwrap_fractions(self._last_wrapped, wrapped, boxes, out)
        flat = fraction.reshape(len(fraction), -1)  # (C, 3M): sums over frames run on contiguous rows
        self._sum_sq += np.einsum("cj,cj->j", flat, flat).reshape(-1, 3).sum(axis=0)
        self._n_steps += fraction.shape[0] * fraction.shape[1]
        rms = np.sqrt(self._sum_sq / self._n_steps)
        if rms.max() > MAX_RMS_STEP:
            raise HeseInputError(
                f"{self.source}: centres of mass of {self.name!r} move {rms.max():.3f} box edges (rms per axis) "
                f"between consecutive frames up to frame {frames[-1]}; frame-to-frame unwrapping needs at most "
                f"{MAX_RMS_STEP:.4f} (8 rms ≤ half a box edge): use frames saved more often (smaller --step) "
                f"or an unwrapped trajectory (--already-unwrapped)"
            )
        unwrapped = scale_axes(fraction, boxes)
        unwrapped[0] += self._last_unwrapped
        for i in range(1, len(unwrapped)):  # a cumulative sum; np.cumsum along axis 0 is several times slower
            unwrapped[i] += unwrapped[i - 1]
        self._last_wrapped, self._last_unwrapped, self._last_box = wrapped[-1].copy(), unwrapped[-1].copy(), boxes[-1]
        return unwrapped


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


def unwrap_fractions(
    last: np.ndarray, wrapped: np.ndarray, boxes: np.ndarray, out: np.ndarray | None = None
) -> np.ndarray:
    """Minimum-image steps in box edges (C, M, 3) from ``last`` (M, 3) through ``wrapped`` (C, M, 3).

    Each step is measured in the box of its later frame, :math:`\\mathbf L_{i+1}`:

    .. math:: \\mathbf f_i = \\Delta_i \\oslash \\mathbf L_{i+1}
              - \\operatorname{round}(\\Delta_i \\oslash \\mathbf L_{i+1}),
              \\qquad \\mathbf s_i = \\mathbf L_{i+1} \\odot \\mathbf f_i

    ``out`` (C, M, 3, float64, not overlapping ``wrapped``), if given, receives the result.
    """
    fraction = np.empty(wrapped.shape) if out is None else out
    np.subtract(wrapped[0], last, out=fraction[0])
    np.subtract(wrapped[1:], wrapped[:-1], out=fraction[1:])
    scale_axes(fraction, 1.0 / boxes)
    fraction -= np.round(fraction)
    return fraction


def scale_axes(vectors: np.ndarray, factors: np.ndarray) -> np.ndarray:
    """``vectors`` (C, M, 3) times per-frame, per-axis ``factors`` (C, 3), in place; returns ``vectors``.

    The same as ``vectors *= factors[:, None, :]``, whose innermost loop would run over 3 numbers
    only: a factor constant over the frames multiplies each frame's 3M numbers at once, a changing
    one each axis's M numbers.
    """
    if vectors.flags.c_contiguous and len(factors) and np.all(factors == factors[0]):
        flat = vectors.reshape(len(vectors), -1)
        flat *= np.tile(factors[0], vectors.shape[1])
    else:
        for axis in range(3):
            column = vectors[..., axis]
            column *= factors[:, axis, None]
    return vectors

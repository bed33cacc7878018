"""Reading a run of frames into arrays made for them: XTC and DCD files directly, every other format through MDAnalysis.

All fill positions (Å, float32), times (ps) and MDAnalysis' box dimensions (Å and degrees, NaN
without a box) of frames given by number; :func:`read_xtc` and :func:`read_dcd` give the very
numbers MDAnalysis' XTC and DCD readers give, without the per-frame work of a Timestep (the DCD
reader even copies one per frame). :mod:`hese.analysis.frames` picks one (:func:`direct_reader`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from MDAnalysis.coordinates.DCD import DCDReader
from MDAnalysis.coordinates.XTC import XTCReader
from MDAnalysis.lib.formats.libdcd import DCDFile
from MDAnalysis.lib.formats.libmdaxdr import XTCFile
from MDAnalysis.lib.mdamath import triclinic_box


def read_generic(reader, numbers: np.ndarray, atoms, angstrom: np.ndarray, times: np.ndarray, dims: np.ndarray):
    """Frames ``numbers`` (evenly spaced) through an MDAnalysis reader: positions (Å), times (ps), dimensions."""
    step = numbers[1] - numbers[0] if len(numbers) > 1 else 1
    for k, ts in enumerate(reader[numbers[0] : numbers[-1] + 1 : step]):
        angstrom[k] = ts.positions[atoms]
        times[k] = ts.time
        dims[k] = np.nan if ts.dimensions is None else ts.dimensions


def direct_reader(reader):
    """A reader of frame runs straight from the file of ``reader`` (its ``read`` has the signature of
    :func:`read_generic` less the reader), or None where only MDAnalysis' reader reads what it reads."""
    return direct_xtc(reader) or direct_dcd(reader)


@dataclass
class DirectXTC:
    """An XTC file opened with MDAnalysis' low-level reader, and the time its reader adds to every frame's."""

    file: XTCFile
    time_offset: float

    def close(self) -> None:
        self.file.close()

    def read(self, numbers: np.ndarray, atoms, angstrom: np.ndarray, times: np.ndarray, dims: np.ndarray):
        read_xtc(self, numbers, atoms, angstrom, times, dims)


def direct_xtc(reader) -> DirectXTC | None:
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
        return DirectXTC(handle, time_offset)
    except (AttributeError, KeyError, TypeError, OSError):  # another MDAnalysis version: its reader reads
        return None


def read_xtc(xtc: DirectXTC, numbers: np.ndarray, atoms, angstrom: np.ndarray, times: np.ndarray, dims: np.ndarray):
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


@dataclass
class DirectDCD:
    """A DCD file opened with MDAnalysis' low-level reader, and how its reader times the frames.

    Attributes
    ----------
    file
        The open file.
    dt
        Time between frames (ps), as the reader has it (``dt`` override included).
    first
        Frame number of the file's first frame in frames (the header's ISTART / NSAVC).
    time_offset
        Time the reader adds to every frame's.
    """

    file: DCDFile
    dt: float
    first: float
    time_offset: float

    def close(self) -> None:
        self.file.close()

    def read(self, numbers: np.ndarray, atoms, angstrom: np.ndarray, times: np.ndarray, dims: np.ndarray):
        read_dcd(self, numbers, atoms, angstrom, times, dims)


def direct_dcd(reader) -> DirectDCD | None:
    """A low-level handle on the DCD file of ``reader``, or None where it would not read what the reader reads.

    That is the case for MDAnalysis' plain DCD reader without on-the-fly transformations (its
    lengths are Å already, so unit conversion changes nothing).
    """
    try:
        if type(reader) is not DCDReader or reader.transformations:
            return None
        handle = DCDFile(reader.filename)
        header = handle.header
        return DirectDCD(handle, float(reader.ts.dt), header["istart"] / header["nsavc"],
                         float(reader.ts.data.get("time_offset", 0.0)))
    except (AttributeError, KeyError, TypeError, OSError, ZeroDivisionError):  # another MDAnalysis version
        return None


def read_dcd(dcd: DirectDCD, numbers: np.ndarray, atoms, angstrom: np.ndarray, times: np.ndarray, dims: np.ndarray):
    """Frames ``numbers`` of a DCD file, converted exactly as MDAnalysis' DCD reader converts them.

    Times :math:`(n + \\mathrm{ISTART}/\\mathrm{NSAVC})\\,\\Delta t`; the unit cell of each run of
    frames with the same one through :func:`dcd_dimensions`, stored in float32 as a Timestep stores it.
    """
    handle = dcd.file
    unitcells = np.empty((len(numbers), 6))
    at = -1
    for k, number in enumerate(numbers):
        if number != at:
            handle.seek(number)
        try:
            frame = handle.read()
        except StopIteration:  # the reader's iteration ends there: a file cut short
            raise EOFError(f"the file ends before frame {number}") from None
        at = number + 1
        angstrom[k] = frame.xyz[atoms]
        unitcells[k] = frame.unitcell
    times[:] = (numbers + dcd.first) * dcd.dt + dcd.time_offset
    new = np.flatnonzero(np.concatenate([[True], np.any(unitcells[1:] != unitcells[:-1], axis=1)]))
    for start, stop in zip(new, np.append(new[1:], len(numbers)), strict=True):
        dims[start:stop] = dcd_dimensions(unitcells[start]).astype(np.float32)
    dims[np.all(dims[:, :3] == 0, axis=1)] = np.nan  # MDAnalysis: no box


def dcd_dimensions(unitcell: np.ndarray) -> np.ndarray:
    """MDAnalysis' box dimensions (A, B, C, α, β, γ) of a DCD unit cell record, as its DCD reader makes them.

    The record is ``[A, γ, B, β, α, C]``: angles as cosines (CHARMM, NAMD > 2.5), as degrees (NAMD
    2.5), or box vectors (newer CHARMM, told by negative or too large values).
    """
    uc = np.take(unitcell, [0, 2, 5, 4, 3, 1])
    pi_2 = np.pi / 2
    if (-1.0 <= uc[3] <= 1.0) and (-1.0 <= uc[4] <= 1.0) and (-1.0 <= uc[5] <= 1.0):
        uc[3] = 90.0 - np.arcsin(uc[3]) * 90.0 / pi_2
        uc[4] = 90.0 - np.arcsin(uc[4]) * 90.0 / pi_2
        uc[5] = 90.0 - np.arcsin(uc[5]) * 90.0 / pi_2
    elif np.any(uc < 0.0) or np.any(uc[3:] > 180.0):
        h = unitcell.copy()
        uc = triclinic_box(h[[0, 1, 3]], h[[1, 2, 4]], h[[3, 4, 5]])
    return uc

"""Reading a run of frames into arrays made for them: XTC files directly, every other format through MDAnalysis.

Both fill positions (Å, float32), times (ps) and MDAnalysis' box dimensions (Å and degrees, NaN
without a box) of frames given by number; :func:`read_xtc` gives the very numbers MDAnalysis'
XTC reader gives, without the per-frame work of a Timestep. :mod:`hese.analysis.frames` picks one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from MDAnalysis.coordinates.XTC import XTCReader
from MDAnalysis.lib.formats.libmdaxdr import XTCFile
from MDAnalysis.lib.mdamath import triclinic_box


def read_generic(reader, numbers: np.ndarray, atoms, angstrom: np.ndarray, times: np.ndarray, dims: np.ndarray):
    """Frames ``numbers`` (evenly spaced) through an MDAnalysis reader: positions (Å), times (ps), dimensions."""
    step = numbers[1] - numbers[0] if len(numbers) > 1 else 1
    for k, ts in enumerate(reader[numbers[0] : numbers[-1] + 1 : step]):
        angstrom[k] = ts.positions[atoms]
        times[k] = ts.time
        dims[k] = np.nan if ts.dimensions is None else ts.dimensions


@dataclass
class DirectXTC:
    """An XTC file opened with MDAnalysis' low-level reader, and the time its reader adds to every frame's."""

    file: XTCFile
    time_offset: float

    def close(self) -> None:
        self.file.close()


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

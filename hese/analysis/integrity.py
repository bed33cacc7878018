"""Whether trajectory files are whole: a file that ends in the middle of a frame is refused."""

from __future__ import annotations

import os
import struct

import MDAnalysis as mda

from hese.errors import HeseInputError


def check_complete(universe: mda.Universe) -> None:
    """Raise if an XTC or DCD trajectory file ends in the middle of a frame (a truncated file).

    MDAnalysis silently drops a partial last frame; here the end of the last whole frame must be
    the end of the file. XTC: the frame's header gives its compressed size; DCD: frames have a
    fixed size after the header. Other formats are not checked.

    Raises
    ------
    HeseInputError
        Naming the file, its last whole frame and the bytes left over.
    """
    reader = universe.trajectory
    for part in getattr(reader, "readers", [reader]):
        path = getattr(part, "filename", None)
        if path is None or not os.path.isfile(path) or part.n_frames == 0:
            continue
        size = os.path.getsize(path)
        if hasattr(part, "_xdr") and str(path).lower().endswith(".xtc"):
            end = _xtc_frame_end(path, int(part._xdr.offsets[-1]))
        elif hasattr(part, "_file") and hasattr(part._file, "_framesize"):
            f = part._file
            end = f._header_size + f._firstframesize + (part.n_frames - 1) * f._framesize
        else:
            continue
        if end > size:
            raise HeseInputError(
                f"{path}: truncated: its last frame (frame {part.n_frames - 1}) is cut short by {end - size} bytes"
            )
        if end < size:
            raise HeseInputError(
                f"{path}: truncated: the file goes on for {size - end} bytes after its last whole frame "
                f"(frame {part.n_frames - 1}); a partial frame is not read"
            )


def _xtc_frame_end(path: str, offset: int) -> int:
    """Byte position after the XTC frame starting at ``offset`` (xdrfile layout: header, box, coordinates)."""
    with open(path, "rb") as fh:
        fh.seek(offset)
        head = fh.read(92)
    if len(head) < 56:
        return offset + len(head) - 1  # not even a header: never equal to the file size
    n_atoms = struct.unpack(">i", head[4:8])[0]
    if n_atoms <= 9:  # small systems are stored uncompressed
        return offset + 56 + 12 * n_atoms
    if len(head) < 92:
        return offset + len(head) - 1
    n_bytes = struct.unpack(">i", head[88:92])[0]
    return offset + 92 + (n_bytes + 3) // 4 * 4

"""Periodic neighbour search shared by all analyses (orthorhombic boxes).

Two searches, both measuring distances with the minimum-image convention of an orthorhombic box
of edges :math:`L = (L_x, L_y, L_z)`:

.. math:: d(\\mathbf r_i, \\mathbf r_j) = \\lVert \\mathbf r_j - \\mathbf r_i
          - \\mathbf L \\odot \\operatorname{round}((\\mathbf r_j - \\mathbf r_i) \\oslash \\mathbf L) \\rVert

- :class:`scipy.spatial.cKDTree` with ``boxsize``, one frame at a time (k nearest, pairs within a
  cutoff): :func:`periodic_tree`, :func:`nearest`, :func:`pairs_within`, :func:`pairs_between`;
- a cell list over many frames at once, for (centre, point) pairs within a distance:
  :func:`centre_pairs`.

Positions are in nm. Every function works on whole arrays; nothing loops over atoms in Python.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

MAX_CELLS_PER_AXIS = 40  # keeps a frame's cell index below 2**16 − 1 (radix sort; 2**16 − 1 marks "none")
CANDIDATE_BUDGET = 250_000  # candidate pairs examined at once: ~100 bytes each, small enough to stay in cache


def periodic_tree(positions: np.ndarray, box: np.ndarray) -> cKDTree:
    """A KD-tree of ``positions`` (N, 3) in the periodic box with edges ``box`` (3,)."""
    return cKDTree(wrap(positions, box), boxsize=box)


def nearest(tree: cKDTree, queries: np.ndarray, k: int, self_index: np.ndarray | None = None) -> np.ndarray:
    """Indices (into the tree's points) of the ``k`` nearest neighbours of every query point, nearest first.

    Parameters
    ----------
    tree
        From :func:`periodic_tree`; must hold at least ``k`` points (``k + 1`` with ``self_index``).
    queries
        Positions (Q, 3), nm; wrapped into the box here.
    k
        Number of neighbours.
    self_index
        For queries that are themselves tree points: their tree index (Q,), excluded from their
        own neighbours.

    Returns
    -------
    numpy.ndarray
        Integer array (Q, k).
    """
    extra = 0 if self_index is None else 1
    if tree.n < k + extra:
        raise ValueError(f"{k} neighbours asked of a tree of {tree.n} points")
    _, index = tree.query(wrap(queries, tree.boxsize), k=k + extra)
    index = index.reshape(len(queries), k + extra)
    if self_index is None:
        return index
    return drop_self(index, self_index)


def pairs_within(tree: cKDTree, cutoff_nm: float) -> np.ndarray:
    """All pairs (i, j), i < j, of the tree's points closer than ``cutoff_nm``: integer array (P, 2)."""
    return tree.query_pairs(cutoff_nm, output_type="ndarray")


def pairs_between(tree_a: cKDTree, tree_b: cKDTree, cutoff_nm: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs (i in ``tree_a``, j in ``tree_b``) closer than ``cutoff_nm`` and their distances (nm).

    Both trees must share one box. Returns three arrays of equal length: i, j, distance.
    """
    found = tree_a.sparse_distance_matrix(tree_b, cutoff_nm, output_type="ndarray")
    return found["i"], found["j"], found["v"]


def centre_pairs(
    centres: np.ndarray, points: np.ndarray, boxes: np.ndarray, r_max: float,
    budget: int = CANDIDATE_BUDGET,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Every (centre, point) pair at most ``r_max`` apart in each frame of an orthorhombic periodic box.

    A cell list over all frames at once: points are binned into cells of edge at least
    :math:`r_{max}/k` (k = 2, or 1 in small boxes), each centre looks at the cells that can hold
    points within :math:`r_{max}` of its own cell, with the periodic image of the centre that
    faces each such cell, so distances need no minimum-image rounding:

    .. math:: d = \\lVert \\mathbf w_p - (\\mathbf w_c - \\mathbf s \\odot \\mathbf L) \\rVert

    with :math:`\\mathbf w` the positions wrapped into the box and :math:`\\mathbf s \\in
    \\{-1, 0, 1\\}^3` the image of the neighbouring cell. Requires :math:`r_{max} < L/2`.

    Parameters
    ----------
    centres
        Positions (F, C, 3), nm.
    points
        Positions (F, P, 3), nm.
    boxes
        Box edges (F, 3), nm.
    r_max
        Largest distance, nm.
    budget
        Candidate pairs examined at once; frames are processed in groups that fit.

    Returns
    -------
    tuple of numpy.ndarray
        ``(frame, centre, point, distance)``, arrays of equal length: the frame (0 … F−1), centre and
        point indices and the distance (nm).
    """
    n_frames, n_centres, n_points = centres.shape[0], centres.shape[1], points.shape[1]
    empty = (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0))
    if n_frames == 0 or n_centres == 0 or n_points == 0:
        return empty
    cells, offsets = _cell_grid(boxes.min(axis=0), r_max, n_centres, n_points)
    expected = n_centres * len(offsets) * n_points / np.prod(cells)  # candidates per frame, uniform density
    group = int(max(1, min(n_frames, budget // max(expected, 1.0))))
    found = []
    for start in range(0, n_frames, group):
        part = slice(start, start + group)
        f, c, p, d = _cell_pairs(centres[part], points[part], boxes[part], r_max, cells, offsets)
        found.append((f + start, c, p, d))
    if len(found) == 1:
        return found[0]
    return tuple(np.concatenate(a) for a in zip(*found, strict=True))  # type: ignore[return-value]


def _cell_grid(box: np.ndarray, r_max: float, n_centres: int, n_points: int) -> tuple[np.ndarray, np.ndarray]:
    """Cells per axis (3,) and neighbour offsets (O, 3) of the cheapest grid with cells ≥ r_max / k, k = 1, 2, 3.

    Cost model, in units of one candidate pair (a centre and a point in a cell within its reach),
    measured: 4 per (centre, neighbour cell) entry and 0.3 per cell. A centre reaches the cells
    that overlap its sphere, about the sphere grown by half a cell diagonal.
    """
    best = None
    density = n_points / float(np.prod(box))
    for k in (1, 2, 3):
        cells = np.clip(np.floor(box / (r_max / k)), 1, MAX_CELLS_PER_AXIS).astype(np.int64)
        if k > 1 and (cells < 2 * k + 1).any():
            break
        offsets = _neighbour_offsets(k)
        width = box / cells
        reach = min(4 / 3 * np.pi * (r_max + np.linalg.norm(width) / 2) ** 3, float(np.prod((2 * k + 1) * width)))
        cost = n_centres * (4 * len(offsets) + reach * density) + 0.3 * int(np.prod(cells))
        if best is None or cost < best[0]:
            best = (cost, cells, offsets)
    return best[1], best[2]


def _neighbour_offsets(k: int) -> np.ndarray:
    """Cell offsets (O, 3) within reach of a centre when cells are at least r/k wide."""
    r = np.arange(-k, k + 1)
    o = np.stack(np.meshgrid(r, r, r, indexing="ij"), -1).reshape(-1, 3)
    gap = np.maximum(np.abs(o) - 1, 0)  # whole cells between the centre's cell and the other
    return o[(gap ** 2).sum(axis=1) <= k * k]


def _axis_cells(positions: np.ndarray, boxes: np.ndarray, cells: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per axis: the cell index (F, N) and the coordinate wrapped into the box (F, N)."""
    inverse = 1.0 / boxes
    out = []
    for axis in range(3):
        u = positions[:, :, axis] * inverse[:, axis, None]
        u -= np.floor(u)
        column = (u * cells[axis]).astype(np.int64)
        np.minimum(column, cells[axis] - 1, out=column)  # u may round up to 1
        u *= boxes[:, axis, None]
        out.append((column, u))
    return out


def _cell_pairs(centres, points, boxes, r_max, cells, offsets):
    n_frames, n_centres, n_points = centres.shape[0], centres.shape[1], points.shape[1]
    n_cells = int(np.prod(cells))
    frame_base = (np.arange(n_frames) * n_cells)[:, None]
    axes = _axis_cells(points, boxes, cells)
    point_cell = ((axes[0][0] * cells[1] + axes[1][0]) * cells[2] + axes[2][0] + frame_base).ravel()
    point_xyz = [u.ravel() for _, u in axes]
    # entries: one per (frame, centre, offset), the neighbouring cell and the centre's image facing it,
    # built per axis on (F, C, 2k + 1) arrays and combined
    k = int(np.abs(offsets).max())
    steps = np.arange(-k, k + 1)
    neighbour, image, gap2 = [], [], []
    for axis, (cell, wrapped) in enumerate(_axis_cells(centres, boxes, cells)):
        n = cell[:, :, None] + steps
        width = (boxes[:, axis] / cells[axis])[:, None, None]
        below, above = n * width - wrapped[:, :, None], wrapped[:, :, None] - (n + 1) * width
        gap2.append(np.maximum(np.maximum(below, above), 0.0) ** 2)  # centre to the neighbour cell's slab
        shift = (n >= cells[axis]).astype(np.int64) - (n < 0)  # the periodic image, −1, 0 or 1
        n -= shift * cells[axis]
        neighbour.append(n)
        image.append((wrapped[:, :, None] - shift * boxes[:, axis, None, None]).ravel())
    ox, oy, oz = (offsets + k).T
    target = (neighbour[0][:, :, ox] * cells[1] + neighbour[1][:, :, oy]) * cells[2] + neighbour[2][:, :, oz]
    target = target.reshape(n_frames, -1)  # (F, C·O): cell within the frame
    reach = (gap2[0][:, :, ox] + gap2[1][:, :, oy] + gap2[2][:, :, oz]).reshape(n_frames, -1) <= r_max * r_max
    target[~reach] = 2 ** 16 - 1  # cells out of reach sort last and are dropped
    order = np.argsort(target.astype(np.uint16), axis=1, kind="stable")  # radix sort per frame
    flat = (order + (np.arange(n_frames) * (n_centres * len(offsets)))[:, None]).ravel()
    target = np.take_along_axis(target, order, axis=1)
    kept = (target < n_cells).ravel()
    target = (target + frame_base).ravel()[kept]
    owner, o = np.divmod(flat[kept], len(offsets))  # owner: frame · C + centre
    entry_centre = owner % n_centres
    base = owner * (2 * k + 1)
    entry_xyz = [image[0][base + ox[o]], image[1][base + oy[o]], image[2][base + oz[o]]]
    cover = np.bincount(target, minlength=n_frames * n_cells)
    cover_start = np.cumsum(cover) - cover
    # candidates: every point against every entry of its cell (per axis: 1-d takes are the fastest gathers)
    count = cover[point_cell]
    has = np.flatnonzero(count)
    count = count[has]
    total = int(count.sum())
    first = np.cumsum(count) - count
    entry = np.repeat(cover_start[point_cell[has]] - first, count)
    entry += np.arange(total)
    point = np.repeat(has, count)
    d2 = np.zeros(total)
    for axis in range(3):
        diff = np.take(point_xyz[axis], point)
        diff -= np.take(entry_xyz[axis], entry)
        diff *= diff
        d2 += diff
    keep = np.flatnonzero(d2 <= r_max * r_max)
    point = point[keep]
    return point // n_points, entry_centre[entry[keep]], point % n_points, np.sqrt(d2[keep])


# ---------------------------------------------------------------------------------------------
# kernels


def wrap(positions: np.ndarray, box: np.ndarray) -> np.ndarray:
    """Positions moved into ``[0, L)`` along each axis (float64).

    .. math:: x' = x - L \\lfloor x / L \\rfloor
    """
    box = np.asarray(box, dtype=float)
    wrapped = positions - box * np.floor(positions / box)
    return np.where(wrapped >= box, 0.0, wrapped)  # x = -tiny rounds to x' = L


def minimum_image(vectors: np.ndarray, box: np.ndarray) -> np.ndarray:
    """The shortest periodic image of difference vectors (..., 3) in a box with edges ``box`` (broadcast).

    .. math:: \\mathbf d' = \\mathbf d - \\mathbf L \\odot \\operatorname{round}(\\mathbf d \\oslash \\mathbf L)
    """
    return vectors - box * np.round(vectors / box)


def drop_self(index: np.ndarray, self_index: np.ndarray) -> np.ndarray:
    """Remove each row's own index from a (Q, k + 1) neighbour array, keeping the order: (Q, k).

    The own index is normally in column 0 (distance 0); rows where it is not (another point at
    the very same place) lose their own entry wherever it is, or their last entry if it is absent.
    """
    is_self = index == np.asarray(self_index)[:, None]
    if is_self[:, 0].all():
        return index[:, 1:]
    is_self[~is_self.any(axis=1), -1] = True
    order = np.argsort(is_self, axis=1, kind="stable")[:, :-1]
    return np.take_along_axis(index, order, axis=1)

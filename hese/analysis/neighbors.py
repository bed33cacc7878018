"""Periodic neighbour search shared by all analyses (orthorhombic boxes).

Built on :class:`scipy.spatial.cKDTree` with ``boxsize``, which measures distances with the
minimum-image convention of an orthorhombic box of edges :math:`L = (L_x, L_y, L_z)`:

.. math:: d(\\mathbf r_i, \\mathbf r_j) = \\lVert \\mathbf r_j - \\mathbf r_i
          - \\mathbf L \\odot \\operatorname{round}((\\mathbf r_j - \\mathbf r_i) \\oslash \\mathbf L) \\rVert

Positions are in nm. Every function works on whole arrays; nothing loops over atoms in Python.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree


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

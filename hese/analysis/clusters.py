"""Ion clusters and Cl-bridged Zn chains: connected components of cation–anion contact graphs.

Definitions (docs/theory.md):

- Ion clusters: per frame, a graph whose nodes are the ions (every cation and every anion
  molecule) and whose edges join a cation and an anion in contact (the cation within r_c of any
  coordinating atom of the anion, the shell criterion of :mod:`hese.analysis.solvation`); its
  connected components are the clusters. A cation with no anion in contact is a cluster with
  :math:`n_\\mathrm{cation} = 1, n_\\mathrm{anion} = 0` (a free cation), an anion with no cation one
  with :math:`n_\\mathrm{cation} = 0, n_\\mathrm{anion} = 1` (a free anion). Reported: the number of
  clusters of each kind :math:`(n_\\mathrm{cation}, n_\\mathrm{anion}, q)` summed over frames, with
  :math:`q = \\sum_i z_i` the net formal charge; the number-average cluster size
  :math:`\\bar n = \\sum_c n_c / N_\\mathrm{clusters}`; the ion-weighted average
  :math:`\\bar n_w = \\sum_c n_c^2 / \\sum_c n_c` (the size of the cluster an ion picked at random
  is in); the fraction of free ions of each species.
- Cl-bridged Zn chains ([ZnCl₄₋ₘ]ₙ): the same construction on the Zn²⁺ and Cl⁻ ions alone;
  the length of a chain is its number of Zn, n ≥ 1 (n = 1: an isolated Zn–chloro complex or a
  Zn without Cl; n ≥ 2: Zn joined through shared Cl).

Graphs are sparse (:mod:`scipy.sparse.csgraph`), one block-diagonal graph for many frames at a
time; nothing loops over frames, ions or clusters in Python.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

from hese.analysis import columns as col
from hese.analysis.tables import json_number

MAX_NODES = 2_000_000  # graph nodes per batch of frames


@dataclass(frozen=True)
class IonClusters:
    """Cluster-size distribution (``table``: the ``clusters`` table) and headline numbers (``summary``)."""

    table: pd.DataFrame
    summary: dict


@dataclass(frozen=True)
class ZnChains:
    """Chain-length distribution (``table``, columns ``zn_chains``) and headline numbers."""

    table: pd.DataFrame
    summary: dict


def ion_clusters(
    frame: np.ndarray, cation: np.ndarray, anion: np.ndarray, n_frames: int,
    cation_charge: np.ndarray, anion_charge: np.ndarray,
    cation_type: np.ndarray, anion_type: np.ndarray,
    cation_names: Sequence[str] = (), anion_names: Sequence[str] = (),
) -> IonClusters:
    """Clusters of ions joined by cation–anion contacts.

    Parameters
    ----------
    frame, cation, anion
        Contacts (E,): analysed-frame index, cation index (0 … Nc−1), anion index (0 … Na−1).
    n_frames
        Number of analysed frames.
    cation_charge, anion_charge
        Formal charge of each cation (Nc,) and anion (Na,).
    cation_type, anion_type
        Species index of each cation (Nc,) and anion (Na,), naming ``cation_names``/``anion_names``.
    """
    n_cat, n_an = len(cation_charge), len(anion_charge)
    charge = np.concatenate([cation_charge, anion_charge]).astype(float)
    is_cation = np.concatenate([np.ones(n_cat), np.zeros(n_an)])
    kinds, sizes_sq, n_clusters, free = [], 0.0, 0, np.zeros(n_cat + n_an)
    for labels, n_comp, n_batch in _components(frame, cation, anion, n_frames, n_cat, n_an):
        comp_cat = np.bincount(labels, weights=np.tile(is_cation, n_batch), minlength=n_comp)
        comp_an = np.bincount(labels, weights=np.tile(1 - is_cation, n_batch), minlength=n_comp)
        comp_q = np.bincount(labels, weights=np.tile(charge, n_batch), minlength=n_comp)
        rows = np.rint(np.stack([comp_cat, comp_an, comp_q], axis=1)).astype(np.int64)
        kinds.append(_count_rows(rows))
        size = comp_cat + comp_an
        sizes_sq += float((size ** 2).sum())
        n_clusters += n_comp
        other = np.where(np.tile(is_cation, n_batch) == 1, comp_an[labels], comp_cat[labels])
        free += (other == 0).reshape(n_batch, -1).sum(axis=0)
    table = _kind_table(np.concatenate(kinds) if kinds else np.zeros((0, 4), np.int64))
    n_ions = (n_cat + n_an) * n_frames
    names = list(cation_names) or [str(t) for t in np.unique(cation_type)]
    anames = list(anion_names) or [str(t) for t in np.unique(anion_type)]
    free_fraction = {}
    for names_, types, free_ in ((names, cation_type, free[:n_cat]), (anames, anion_type, free[n_cat:])):
        for t, name in enumerate(names_):
            members = types == t
            fraction = free_[members].sum() / (members.sum() * n_frames) if members.any() else float("nan")
            free_fraction[name] = json_number(fraction)
    summary = {
        "n_clusters": int(n_clusters),
        "mean_size_ions": json_number(n_ions / n_clusters if n_clusters else float("nan")),
        "ion_weighted_mean_size_ions": json_number(sizes_sq / n_ions if n_ions else float("nan")),
        "largest_ions": int(table[col.N_IONS].max()) if len(table) else 0,
        "free_ion_fraction": json_number(free.sum() / n_ions if n_ions else float("nan")),
        "free_fraction": free_fraction,
    }
    return IonClusters(table, summary)


def zn_chains(frame: np.ndarray, zn: np.ndarray, chloride: np.ndarray, n_frames: int, n_zn: int, n_cl: int) -> ZnChains:
    """Length distribution of Cl-bridged Zn chains (components of the Zn–Cl contact graph, length = number of Zn).

    Parameters
    ----------
    frame, zn, chloride
        Zn–Cl contacts (E,): analysed-frame index, Zn index (0 … n_zn−1), Cl index (0 … n_cl−1).
    """
    lengths = []
    for labels, n_comp, n_batch in _components(frame, zn, chloride, n_frames, n_zn, n_cl):
        weights = np.tile(np.concatenate([np.ones(n_zn), np.zeros(n_cl)]), n_batch)
        per_component = np.rint(np.bincount(labels, weights=weights, minlength=n_comp)).astype(np.int64)
        lengths.append(np.bincount(per_component[per_component > 0]))
    width = max((len(x) for x in lengths), default=1)
    counts = sum((np.pad(x, (0, width - len(x))) for x in lengths), np.zeros(width, dtype=np.int64))
    n = np.flatnonzero(counts)
    n = n[n > 0]
    total = counts[n].sum()
    table = pd.DataFrame({col.N_ZN: n, col.COUNT: counts[n], col.FRACTION: counts[n] / total if total else np.nan,
                          col.ZN_FRACTION: n * counts[n] / (n_zn * n_frames)})
    summary = {
        "n_chains": int(total),
        "mean_length_zn": json_number((n * counts[n]).sum() / total if total else float("nan")),
        "zn_weighted_mean_length_zn": json_number((n ** 2 * counts[n]).sum() / (n * counts[n]).sum()
                                                  if total else float("nan")),
        "longest_zn": int(n.max()) if len(n) else 0,
        "bridged_zn_fraction": json_number((n * counts[n])[n >= 2].sum() / (n_zn * n_frames) if n_zn else float("nan")),
    }
    return ZnChains(table[list(col.TABLES["zn_chains"])], summary)


def _count_rows(rows: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Distinct integer rows (R, 3) with their (weighted) counts: (U, 4), via one integer code per row."""
    if len(rows) == 0:
        return np.zeros((0, 4), dtype=np.int64)
    low = rows.min(axis=0)
    span = rows.max(axis=0) - low + 1
    code = ((rows[:, 0] - low[0]) * span[1] + rows[:, 1] - low[1]) * span[2] + rows[:, 2] - low[2]
    unique, inverse = np.unique(code, return_inverse=True)
    counts = np.bincount(inverse.ravel(), weights=weights, minlength=len(unique))
    first = np.zeros(len(unique), dtype=np.int64)
    first[inverse.ravel()[::-1]] = np.arange(len(code))[::-1]  # a row of each code
    return np.column_stack([rows[first], np.rint(counts).astype(np.int64)])


def _kind_table(kinds: np.ndarray) -> pd.DataFrame:
    """Merge (n_cation, n_anion, q, count) rows of several batches into the clusters table."""
    if len(kinds) == 0:
        return pd.DataFrame(columns=list(col.TABLES["clusters"]))
    merged = _count_rows(kinds[:, :3], weights=kinds[:, 3].astype(float))
    unique, counts = merged[:, :3], merged[:, 3]
    n_ions = unique[:, 0] + unique[:, 1]
    order = np.lexsort((unique[:, 2], unique[:, 1], unique[:, 0], n_ions))
    table = pd.DataFrame({
        col.N_IONS: n_ions[order], col.N_CATION: unique[order, 0], col.N_ANION: unique[order, 1],
        col.NET_CHARGE: unique[order, 2], col.COUNT: counts[order], col.FRACTION: counts[order] / counts.sum(),
    })
    return table[list(col.TABLES["clusters"])]


# ---------------------------------------------------------------------------------------------
# kernels


def _components(frame: np.ndarray, left: np.ndarray, right: np.ndarray, n_frames: int, n_left: int, n_right: int,
                max_nodes: int = MAX_NODES) -> Iterator[tuple[np.ndarray, int, int]]:
    """Connected components of per-frame bipartite graphs, many frames at a time.

    Node ``f·(n_left + n_right) + i`` is left node i of frame f (relative to the batch) and
    ``f·(n_left + n_right) + n_left + j`` right node j; each contact (``frame``, ``left``,
    ``right``) is an edge. ``frame`` must be sorted.

    Yields
    ------
    labels, n_components, n_frames_in_batch
        Component of every node of the batch (frame-major), their number, and the batch's frames.
    """
    n_nodes = n_left + n_right
    per_batch = max(1, max_nodes // max(n_nodes, 1))
    bounds = np.searchsorted(frame, np.arange(0, n_frames + per_batch, per_batch))
    for k, f0 in enumerate(range(0, n_frames, per_batch)):
        n_batch = min(per_batch, n_frames - f0)
        rows = slice(bounds[k], bounds[k + 1])
        base = (frame[rows].astype(np.int64) - f0) * n_nodes
        size = n_batch * n_nodes
        graph = csr_matrix((np.ones(len(base), dtype=np.int8), (base + left[rows], base + n_left + right[rows])),
                           shape=(size, size))
        n_comp, labels = connected_components(graph, directed=False)
        yield labels, int(n_comp), n_batch

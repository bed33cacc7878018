"""Water structure: tetrahedral order, tetrahedral entropy and water–water hydrogen bonds.

- Tetrahedral order of a water molecule (Errington & Debenedetti, Nature 409, 318 (2001)) from
  the unit vectors to its four nearest oxygens (periodic; water oxygens, or any oxygen with
  ``neighbours="any_oxygen"``), −3 ≤ q ≤ 1, q = 1 for a perfect tetrahedron and ⟨q⟩ = 0 for
  randomly placed neighbours:

  .. math:: q = 1 - \\frac{3}{8} \\sum_{j=1}^{3} \\sum_{k=j+1}^{4} \\Big(\\cos\\psi_{jk} + \\frac13\\Big)^2

- P(q): probability density on the fixed grid :data:`Q_EDGES` (bin width :data:`Q_BIN`).
- Tetrahedral entropy relative to S₀ per molecule (Kumar, Buldyrev & Stanley, PNAS 106, 22130
  (2009)), evaluated at the bin centres :math:`q_b` with bin counts :math:`n_b`:

  .. math:: \\frac{S_q - S_0}{k_B} = \\frac32 \\int_{-3}^{1} \\ln(1 - q) P(q)\\, dq
            \\approx \\frac32 \\sum_b \\ln(1 - q_b) \\frac{n_b}{\\sum_{b'} n_{b'}}

  and times the gas constant R in J mol⁻¹ K⁻¹.
- Water–water hydrogen bonds, geometric criterion of Luzar & Chandler (Nature 379, 55 (1996)):
  donor and acceptor oxygens closer than :data:`HB_R_OO_MAX_NM` = 0.35 nm and the angle
  H–O_donor···O_acceptor below :data:`HB_ANGLE_MAX_DEG` = 30°. Each bond counts for both
  molecules: hydrogen bonds per molecule = 2 n_HB / N (4 in ice).

Uncertainties are standard errors over independent time blocks. Oxygens and hydrogens are atoms
whose element (or, without elements, the leading letter of the name) is O or H; virtual sites
(TIP4P's M) are ignored. Every water molecule needs exactly one oxygen and two hydrogens.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import MDAnalysis as mda
import numpy as np
import pandas as pd
from scipy.constants import gas_constant as GAS_CONSTANT_J_MOL_K  # CODATA 2018

from hese.analysis import columns as col
from hese.analysis.blocks import block_of_frame, standard_error
from hese.analysis.frames import CHUNK_FRAMES, frame_numbers, iter_chunks, open_universe, select
from hese.analysis.inputs import Source
from hese.analysis.integrity import check_complete
from hese.analysis.molecules import Molecules
from hese.analysis.neighbors import minimum_image, nearest, pairs_within, periodic_tree
from hese.analysis.tables import json_number, write_table
from hese.analysis.threads import thread_pool
from hese.errors import HeseInputError
from hese.io import write_json

Q_MIN, Q_MAX, Q_BIN = -3.0, 1.0, 0.005
Q_EDGES = np.linspace(Q_MIN, Q_MAX, round((Q_MAX - Q_MIN) / Q_BIN) + 1)
Q_CENTRES = 0.5 * (Q_EDGES[1:] + Q_EDGES[:-1])
HB_R_OO_MAX_NM = 0.35
HB_ANGLE_MAX_DEG = 30.0
MIN_WATERS = 5  # a molecule and its four neighbours
NEIGHBOUR_MODES = ("water", "any_oxygen")


@dataclass(frozen=True)
class WaterAtoms:
    """Universe atom indices: each water's oxygen (N,), its two hydrogens (N, 2), all other oxygens (K,)."""

    oxygens: np.ndarray
    hydrogens: np.ndarray
    other_oxygens: np.ndarray


@dataclass(frozen=True)
class WaterResult:
    """Tables and summary of :func:`analyze_water` (columns: :data:`hese.analysis.columns.TABLES`)."""

    tetrahedral: pd.DataFrame
    water_entropy: pd.DataFrame
    hbonds: pd.DataFrame
    summary: dict

    def write(self, out_dir: str | os.PathLike) -> list[Path]:
        """Write ``tetrahedral.parquet``, ``water_entropy.parquet``, ``hbonds.parquet`` and ``summary.json``."""
        out = Path(out_dir)
        return [
            write_table(self.tetrahedral, out / "tetrahedral.parquet", col.TABLES["tetrahedral"]),
            write_table(self.water_entropy, out / "water_entropy.parquet", col.TABLES["water_entropy"]),
            write_table(self.hbonds, out / "hbonds.parquet", col.TABLES["hbonds"]),
            write_json(out / "summary.json", self.summary),
        ]


def find_water(
    universe: mda.Universe, selection: str, n_molecules: int | None = None, label: str = "--water"
) -> WaterAtoms:
    """The oxygens and hydrogens of the water molecules in ``selection``, and every other oxygen.

    ``n_molecules``, if known, splits the selection into that many molecules (see
    :func:`~hese.analysis.molecules.molecule_ids`).

    Raises
    ------
    HeseInputError
        If the selection matches nothing, a molecule is not one O and two H, or there are
        fewer than :data:`MIN_WATERS` molecules.
    """
    atoms = select(universe, selection, label)
    molecules = Molecules.from_atoms("water", atoms, n_molecules)
    ordered = universe.atoms[molecules.indices]
    oxygen, hydrogen = element_is(ordered, "O"), element_is(ordered, "H")
    n_o = np.add.reduceat(oxygen.astype(int), molecules.starts)
    n_h = np.add.reduceat(hydrogen.astype(int), molecules.starts)
    bad = np.flatnonzero((n_o != 1) | (n_h != 2))
    if len(bad):
        first = ordered[molecules.starts[bad[0]]]
        raise HeseInputError(
            f"{label}: {len(bad)} of {molecules.n_molecules} selected molecules are not water (one O, two H), "
            f"e.g. residue {first.resname} {first.resid} with {n_o[bad[0]]} O and {n_h[bad[0]]} H"
        )
    if molecules.n_molecules < MIN_WATERS:
        raise HeseInputError(
            f"{label}: selection {selection!r} holds {molecules.n_molecules} water molecules; "
            f"the tetrahedral order needs at least {MIN_WATERS} (a molecule and four neighbours)"
        )
    water_o = molecules.indices[oxygen]
    all_o = universe.atoms.indices[element_is(universe.atoms, "O")]
    return WaterAtoms(water_o, molecules.indices[hydrogen].reshape(-1, 2), np.setdiff1d(all_o, water_o))


def element_is(atoms: mda.AtomGroup, symbol: str) -> np.ndarray:
    """Whether each atom is of element ``symbol``: its element, or, where it has none, whether its name starts so."""
    symbol = symbol.upper()
    by_name = np.char.startswith(np.char.upper(np.asarray(atoms.names, dtype=str)), symbol)
    if not hasattr(atoms, "elements"):
        return by_name
    elements = np.char.upper(np.asarray(atoms.elements, dtype=str))
    return np.where(elements != "", elements == symbol, by_name)


def analyze_water(
    source: Source,
    neighbours: Sequence[str] = ("water",),
    n_blocks: int = 5,
    frames: slice = slice(None),
    chunk_frames: int = CHUNK_FRAMES,
    water: str = "water",
) -> WaterResult:
    """Tetrahedral order, P(q), tetrahedral entropy and hydrogen bonds of the water of ``source``.

    Parameters
    ----------
    source
        Trajectory and species (:func:`~hese.analysis.inputs.run_source`,
        :func:`~hese.analysis.inputs.file_source`; a topology alone is one frame); the species
        named ``water`` selects the water molecules, split into its ``count`` molecules if known
        (hese runs), otherwise found in the topology.
    neighbours
        ``water`` (four nearest water oxygens) and/or ``any_oxygen`` (four nearest oxygens of any molecule).
    n_blocks
        Independent time blocks for the uncertainties (fewer if there are fewer frames).
    frames
        Frames analysed (start, stop, step).
    chunk_frames
        Frames read at a time.
    water
        Name of the water species in ``source``.

    Raises
    ------
    HeseInputError
        For an unknown neighbour mode, fewer than 2 blocks, no species ``water``, unreadable or
        truncated files, a selection that matches nothing or is not water, fewer than five waters,
        frames without a box.
    """
    modes = tuple(dict.fromkeys(neighbours))
    unknown = [m for m in modes if m not in NEIGHBOUR_MODES]
    if unknown or not modes:
        raise HeseInputError(f"neighbours: {', '.join(unknown) or 'none'}; allowed: {', '.join(NEIGHBOUR_MODES)}")
    if n_blocks < 2:
        raise HeseInputError(f"n_blocks: {n_blocks}; at least 2 blocks are needed for an uncertainty")
    species = next((s for s in source.species if s.name == water), None)
    if species is None:
        raise HeseInputError(f"water: {source.label} has no species {water!r}; "
                             f"species: {', '.join(s.name for s in source.species) or 'none'}")
    label = source.label
    universe = open_universe(source.topology, source.trajectories)
    check_complete(universe)
    found = find_water(universe, species.selection, species.count)
    numbers = frame_numbers(universe, frames)
    if len(numbers) == 0:
        raise HeseInputError(f"{label}: no frame selected by --start/--stop/--step")
    n_blocks = min(n_blocks, len(numbers))
    sums = _Sums(modes, n_blocks)
    block = block_of_frame(len(numbers), n_blocks)
    n = len(found.oxygens)
    indices = np.concatenate([found.oxygens, found.hydrogens.ravel(), found.other_oxygens])
    done = 0
    with thread_pool() as pool:  # frames on all threads: the KD-tree queries release the GIL
        for chunk in iter_chunks(universe, indices, frames, chunk_frames, label):
            jobs = [pool.submit(_frame, p[:n], p[n : 3 * n].reshape(n, 2, 3), p[3 * n :], box, modes)
                    for p, box in zip(chunk.positions_nm, chunk.boxes_nm, strict=True)]
            for job in jobs:  # added in frame order
                sums.add(block[done], *job.result())
                done += 1
    return _result(sums, modes, n, len(numbers), len(found.other_oxygens), label)


class _Sums:
    """Per-block sums: q histograms per neighbour mode, hydrogen bonds and molecule-frames."""

    def __init__(self, modes: tuple[str, ...], n_blocks: int) -> None:
        self.q_counts = {m: np.zeros((n_blocks, len(Q_CENTRES)), dtype=np.int64) for m in modes}
        self.q_sum = {m: np.zeros(n_blocks) for m in modes}
        self.hbonds = np.zeros(n_blocks)
        self.molecule_frames = np.zeros(n_blocks)

    def add(self, block: int, q: dict[str, np.ndarray], hbonds: int) -> None:
        """Add one frame's q values per neighbour mode and hydrogen-bond count to ``block``."""
        for mode, values in q.items():
            self.q_counts[mode][block] += q_histogram(values)
            self.q_sum[mode][block] += values.sum()
        self.hbonds[block] += hbonds
        self.molecule_frames[block] += len(next(iter(q.values())))


def _frame(oxygens, hydrogens, others, box, modes: Sequence[str]) -> tuple[dict[str, np.ndarray], int]:
    """q of every water (N,) per neighbour mode, and the number of hydrogen bonds, in one frame."""
    index = np.arange(len(oxygens))
    tree = periodic_tree(oxygens, box)
    q = {}
    for mode in modes:
        if mode == "water":
            neighbours = oxygens[nearest(tree, oxygens, 4, index)]
        else:
            every = np.concatenate([oxygens, others])
            neighbours = every[nearest(periodic_tree(every, box), oxygens, 4, index)]
        q[mode] = tetrahedral_order(minimum_image(neighbours - oxygens[:, None], box))
    pairs = pairs_within(tree, HB_R_OO_MAX_NM)
    return q, hbond_count(oxygens, hydrogens, pairs, box, np.cos(np.radians(HB_ANGLE_MAX_DEG)))


def _result(sums: _Sums, modes, n_molecules: int, n_frames: int, n_others: int, label: str) -> WaterResult:
    tetra, entropy = [], []
    for mode in modes:
        counts = sums.q_counts[mode]
        total = counts.sum()
        p_q = counts.sum(axis=0) / (total * Q_BIN)
        tetra.append(pd.DataFrame({col.NEIGHBOURS: mode, col.Q: Q_CENTRES, col.P_Q: p_q}))
        s_blocks = np.array([tetrahedral_entropy(c) for c in counts])
        s, s_err = tetrahedral_entropy(counts.sum(axis=0)), standard_error(s_blocks)
        entropy.append({
            col.NEIGHBOURS: mode,
            col.Q_MEAN: sums.q_sum[mode].sum() / total,
            col.S_Q_KB: s,
            col.S_Q_J_MOL_K: s * GAS_CONSTANT_J_MOL_K,
            col.N_MOLECULES: n_molecules,
            col.N_FRAMES: n_frames,
            col.Q_MEAN_ERR: standard_error(sums.q_sum[mode] / counts.sum(axis=1)),
            col.S_Q_ERR_KB: s_err,
            col.S_Q_ERR_J_MOL_K: s_err * GAS_CONSTANT_J_MOL_K,
        })
    per_molecule = 2 * sums.hbonds / sums.molecule_frames
    hbonds = pd.DataFrame([{
        col.HBONDS_PER_MOLECULE: 2 * sums.hbonds.sum() / sums.molecule_frames.sum(),
        col.R_OO_MAX_NM: HB_R_OO_MAX_NM,
        col.ANGLE_MAX_DEG: HB_ANGLE_MAX_DEG,
        col.N_MOLECULES: n_molecules,
        col.N_FRAMES: n_frames,
        col.HBONDS_PER_MOLECULE_ERR: standard_error(per_molecule),
    }], columns=col.TABLES["hbonds"])
    entropy_table = pd.DataFrame(entropy, columns=col.TABLES["water_entropy"])
    warnings = []
    if "any_oxygen" in modes and n_others == 0:
        warnings.append("any_oxygen: the system has no oxygen outside water, so it equals the water result")
    if len(sums.hbonds) < 2:
        warnings.append("one frame only: no uncertainties")
    summary = {
        "analysis": "water",
        "run": label,
        "n_molecules": n_molecules,
        "n_frames": n_frames,
        "n_blocks": len(sums.hbonds),
        "n_other_oxygens": n_others,
        "q_bin_width": Q_BIN,
        "hbond_criterion": f"O···O < {HB_R_OO_MAX_NM} nm and H–O···O angle < {HB_ANGLE_MAX_DEG:g}° "
                           f"(Luzar & Chandler 1996)",
        "tetrahedral": {r[col.NEIGHBOURS]: {k: json_number(v) for k, v in r.items() if k != col.NEIGHBOURS}
                        for r in entropy_table.to_dict("records")},
        "hbonds": {k: json_number(v) for k, v in hbonds.iloc[0].to_dict().items()},
        "warnings": warnings,
    }
    return WaterResult(pd.concat(tetra, ignore_index=True), entropy_table, hbonds, summary)


# ---------------------------------------------------------------------------------------------
# kernels


def tetrahedral_order(vectors: np.ndarray) -> np.ndarray:
    """Errington–Debenedetti q (N,) from the vectors (N, 4, 3) to each molecule's four nearest neighbours.

    .. math:: q = 1 - \\frac38 \\sum_{j<k} \\Big(\\cos\\psi_{jk} + \\frac13\\Big)^2
    """
    unit = vectors / np.linalg.norm(vectors, axis=-1, keepdims=True)
    j, k = np.triu_indices(4, 1)
    cos = np.einsum("nkc,nkc->nk", unit[:, j], unit[:, k])
    return 1.0 - 0.375 * ((cos + 1.0 / 3.0) ** 2).sum(axis=1)


def q_histogram(q: np.ndarray) -> np.ndarray:
    """Counts of q in the bins of :data:`Q_EDGES` (q = 1 falls in the last bin)."""
    index = np.clip(np.floor((q - Q_MIN) / Q_BIN).astype(np.int64), 0, len(Q_CENTRES) - 1)
    return np.bincount(index, minlength=len(Q_CENTRES))


def tetrahedral_entropy(counts: np.ndarray) -> float:
    """(S_q − S₀)/k_B from q-histogram counts on :data:`Q_EDGES`: (3/2) Σ_b ln(1 − q_b) n_b / Σ n (NaN if empty)."""
    total = counts.sum()
    return float(1.5 * np.log(1.0 - Q_CENTRES) @ counts / total) if total else float("nan")


def hbond_count(oxygens: np.ndarray, hydrogens: np.ndarray, pairs: np.ndarray, box: np.ndarray, cos_min: float) -> int:
    """Number of hydrogen bonds among water pairs (P, 2) whose oxygens are within the distance cutoff.

    A bond from donor i to acceptor j exists for each hydrogen h of i with
    :math:`\\cos\\angle(\\mathbf r_{h} - \\mathbf r_{O_i}, \\mathbf r_{O_j} - \\mathbf r_{O_i}) \\ge`
    ``cos_min``; both directions of every pair are tested.

    Parameters
    ----------
    oxygens
        Oxygen positions (N, 3).
    hydrogens
        Hydrogen positions (N, 2, 3) of the same molecules.
    pairs
        Molecule index pairs (P, 2).
    box
        Box edges (3,).
    cos_min
        Cosine of the largest allowed H–O···O angle.
    """
    if len(pairs) == 0:
        return 0
    i, j = pairs[:, 0], pairs[:, 1]
    oo = minimum_image(oxygens[j] - oxygens[i], box)
    oo /= np.linalg.norm(oo, axis=1, keepdims=True)
    oh = minimum_image(hydrogens - oxygens[:, None], box)
    oh /= np.linalg.norm(oh, axis=-1, keepdims=True)
    forward = np.einsum("phc,pc->ph", oh[i], oo) >= cos_min
    backward = np.einsum("phc,pc->ph", oh[j], -oo) >= cos_min
    return int(forward.sum() + backward.sum())

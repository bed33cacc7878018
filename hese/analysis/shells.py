"""Shells from contacts: shell memberships, coordination numbers and ion pairing (SSIP / CIP / AGG).

Definitions: :mod:`hese.analysis.solvation` (docs/theory.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hese.analysis.blocks import block_of_frame, standard_error
from hese.analysis.contacts import Contacts, SolvationSystem


@dataclass(frozen=True)
class Shells:
    """Shell memberships: one row per (frame, cation, partner molecule) in contact, sorted.

    Attributes
    ----------
    frame
        Analysed-frame index (K,), as in :class:`~hese.analysis.contacts.Contacts`.
    cation
        Cation index (K,), as in :class:`~hese.analysis.contacts.Contacts`.
    molecule
        Partner molecule index (K,), as in :class:`~hese.analysis.contacts.Contacts`.
    n_atoms
        Coordinating atoms of the molecule within the cutoff (K,).
    """

    frame: np.ndarray
    cation: np.ndarray
    molecule: np.ndarray
    n_atoms: np.ndarray


def shells(contacts: Contacts, system: SolvationSystem, cutoffs_nm: np.ndarray) -> Shells:
    """Apply the cutoffs (n_cation_types, n_partners; NaN: no shell) to the contacts.

    A contact counts when its distance is at most the cutoff of its (cation type, partner) pair;
    a molecule is in the shell when at least one of its atoms counts.
    """
    cut = cutoffs_nm[system.cation_type[contacts.cation], system.molecule_type[contacts.molecule]]
    inside = np.flatnonzero(contacts.distance_nm <= cut)
    frame, cation, molecule = contacts.frame[inside], contacts.cation[inside], contacts.molecule[inside]
    start = np.flatnonzero(np.concatenate([[True], (frame[1:] != frame[:-1]) | (cation[1:] != cation[:-1])
                                           | (molecule[1:] != molecule[:-1])])) if len(inside) else np.zeros(0, int)
    n_atoms = np.diff(np.append(start, len(inside)))
    return Shells(frame[start], cation[start], molecule[start], n_atoms)


def coordination_numbers(sh: Shells, system: SolvationSystem, n_frames: int, n_blocks: int) -> dict[str, np.ndarray]:
    """Mean partner molecules and atoms per cation, per (cation type, partner), with block standard errors.

    Returns arrays (n_cation_types, n_partners) under ``cn_molecules``, ``cn_atoms``,
    ``cn_molecules_err``, ``cn_atoms_err``, the per-block means (n_blocks, T, P) under
    ``blocks_molecules`` and the per-frame means (n_frames, T, P) under ``frames_molecules``
    (``blocks_atoms``, ``frames_atoms`` likewise).
    """
    n_types, n_partners = len(system.cations), len(system.partners)
    index = (sh.frame.astype(np.int64) * n_types + system.cation_type[sh.cation]) * n_partners \
        + system.molecule_type[sh.molecule]
    size = n_frames * n_types * n_partners
    molecules = np.bincount(index, minlength=size).reshape(n_frames, n_types, n_partners)
    atoms = np.bincount(index, weights=sh.n_atoms, minlength=size).reshape(n_frames, n_types, n_partners)
    per_cation = system.n_cations[None, :, None].astype(float)
    block = block_of_frame(n_frames, n_blocks)
    out = {}
    for name, per_frame in (("molecules", molecules / per_cation), ("atoms", atoms / per_cation)):
        out[f"cn_{name}"] = per_frame.mean(axis=0)
        out[f"frames_{name}"] = per_frame
        blocks = np.stack([per_frame[block == b].mean(axis=0) for b in range(n_blocks)])
        out[f"blocks_{name}"] = blocks
        out[f"cn_{name}_err"] = np.apply_along_axis(standard_error, 0, blocks)
    return out




def ion_pairing(sh: Shells, system: SolvationSystem, n_frames: int, n_blocks: int) -> dict[str, np.ndarray]:
    """SSIP / CIP / AGG fractions per anion type: anions bound to 0 / 1 / ≥ 2 cations.

    Returns arrays (n_anion_types, 3) under ``fractions`` and ``errors`` (block standard errors).
    Only bound anions are counted one by one (memory follows the contacts).
    """
    anion_molecules = np.flatnonzero(np.isin(system.molecule_type, system.anions))
    anion_of = np.full(len(system.molecule_type), -1)
    anion_of[anion_molecules] = np.arange(len(anion_molecules))
    anion_type = np.searchsorted(system.anions, system.molecule_type[anion_molecules])  # 0 … T−1
    n_types = len(system.anions)
    a = anion_of[sh.molecule]
    rows = a >= 0
    key, bound = np.unique(sh.frame[rows].astype(np.int64) * len(anion_molecules) + a[rows], return_counts=True)
    frame, anion = np.divmod(key, max(len(anion_molecules), 1))
    index = frame * n_types + anion_type[anion]
    size = n_frames * n_types
    cip = np.bincount(index, weights=bound == 1, minlength=size).reshape(n_frames, n_types)
    agg = np.bincount(index, weights=bound >= 2, minlength=size).reshape(n_frames, n_types)
    per_type = np.bincount(anion_type, minlength=n_types).astype(float)
    cip, agg = cip / per_type, agg / per_type
    per_frame = np.stack([1.0 - cip - agg, cip, agg], axis=-1)  # (F, T, 3)
    block = block_of_frame(n_frames, n_blocks)
    blocks = np.stack([per_frame[block == b].mean(axis=0) for b in range(n_blocks)])  # (n_blocks, T, 3)
    errors = np.apply_along_axis(standard_error, 0, blocks) if n_types else np.zeros((0, 3))
    return {"fractions": per_frame.mean(axis=0).reshape(n_types, 3), "errors": errors.reshape(n_types, 3)}


def bound_fractions(sh: Shells, system: SolvationSystem, n_frames: int, n_blocks: int) -> dict[str, np.ndarray]:
    """Fraction of each partner's molecules in the shell of at least one cation, per cation type and of any.

    .. math:: f_{t,p} = \\frac{1}{N_p}\\left\\langle \\left|\\{m \\in p : m \\in \\text{shell}(c)
              \\text{ for some cation } c \\text{ of type } t\\}\\right| \\right\\rangle_\\text{frames}

    A molecule shared by two cations counts once, so :math:`f_{t,p} \\le \\min(1, N_t\\,CN_{t,p}/N_p)`.
    Returns arrays (n_cation_types + 1, n_partners) under ``fractions`` and ``errors`` (block
    standard errors); the last row is any cation (type ignored).
    """
    n_types, n_partners = len(system.cations), len(system.partners)
    n_molecules = len(system.molecule_type)
    per_frame = np.zeros((n_frames, n_types + 1, n_partners))
    frame = sh.frame.astype(np.int64)
    cation_type = system.cation_type[sh.cation]
    for row, group in enumerate([*(cation_type == t for t in range(n_types)), np.ones(len(frame), bool)]):
        key = np.unique(frame[group] * n_molecules + sh.molecule[group])
        f, molecule = np.divmod(key, max(n_molecules, 1))
        per_frame[:, row, :] = np.bincount(f * n_partners + system.molecule_type[molecule],
                                           minlength=n_frames * n_partners).reshape(n_frames, n_partners)
    per_frame /= np.maximum(system.n_molecules, 1)[None, None, :]
    block = block_of_frame(n_frames, n_blocks)
    blocks = np.stack([per_frame[block == b].mean(axis=0) for b in range(n_blocks)])
    return {"fractions": per_frame.mean(axis=0), "errors": np.apply_along_axis(standard_error, 0, blocks)}

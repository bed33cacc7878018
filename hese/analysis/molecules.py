"""Molecules of a species: the one rule by which every analysis groups selected atoms into molecules.

The atoms of a selection, in atom-index order, make molecules as follows
(:func:`molecule_ids`):

1. Where the number of molecules is known (hese runs: ``build.json``), they are that many equal
   consecutive blocks. The count matters for PDB topologies of more than 9999 residues: OpenMM
   writes the later residue ids in hybrid-36, which MDAnalysis reads as one id, merging
   neighbouring molecules into one residue. Foreign topologies that large should come in a
   format without that limit (GRO, PSF, TPR).
2. Otherwise a molecule is a run of consecutive selected atoms that share a residue. Runs, not
   residue ids: a residue id that comes back later in the file (ids that wrapped around) starts
   a new molecule. A molecule's atoms must therefore be consecutive in the topology, as GROMACS
   and OpenMM write them.
3. Where residues do not separate molecules — all the selected atoms in one residue, as in a
   topology without residues — the bonded fragments are the molecules, if the topology has bonds.
"""

from __future__ import annotations

from dataclasses import dataclass

import MDAnalysis as mda
import numpy as np
from MDAnalysis.exceptions import NoDataError

from hese.errors import HeseInputError


def molecule_ids(atoms: mda.AtomGroup, count: int | None, name: str) -> np.ndarray:
    """Molecule index (0 … M−1, in order of each molecule's first atom) of each atom of ``atoms``.

    ``atoms`` must be in atom-index order (as selections return them); ``count`` is the number of
    molecules if known; ``name`` names the species in the error message. The rule is that of the
    module notes.

    Raises
    ------
    HeseInputError
        If the atoms do not divide into ``count`` equal molecules.
    """
    if np.any(np.diff(atoms.indices) < 0):
        raise ValueError("molecule_ids: atoms must be in atom-index order")
    if count is not None:
        if count <= 0 or atoms.n_atoms % count:
            raise HeseInputError(
                f"species {name!r}: {atoms.n_atoms} selected atoms do not make {count} equal molecules; "
                f"the topology does not match the molecule counts"
            )
        return np.arange(atoms.n_atoms) // (atoms.n_atoms // count)
    residues = atoms.resindices
    if atoms.n_atoms > 1 and (residues == residues[0]).all():
        try:
            return np.unique(atoms.fragindices, return_inverse=True)[1].ravel()
        except NoDataError:
            pass
    new = np.ones(atoms.n_atoms, dtype=bool)
    new[1:] = residues[1:] != residues[:-1]
    return np.cumsum(new) - 1


@dataclass(frozen=True)
class Molecules:
    """The molecules of one species: their atoms grouped by molecule, and the atoms' masses.

    Attributes
    ----------
    name
        Species name.
    indices
        Universe atom indices (A,), molecule after molecule, each molecule's in index order.
    starts
        Offset into ``indices`` of each molecule's first atom (M,).
    masses
        Atom masses (A,), g/mol.
    """

    name: str
    indices: np.ndarray
    starts: np.ndarray
    masses: np.ndarray

    @classmethod
    def from_atoms(cls, name: str, atoms: mda.AtomGroup, n_molecules: int | None = None) -> Molecules:
        """Split atoms into molecules by :func:`molecule_ids` (``n_molecules``: the count, if known).

        Raises
        ------
        HeseInputError
            If the atoms do not divide into ``n_molecules`` equal molecules, or a molecule has no
            mass (masses missing from the topology).
        """
        atoms = atoms[np.argsort(atoms.indices, kind="stable")]
        ids = molecule_ids(atoms, n_molecules, name)
        order = np.argsort(ids, kind="stable")  # bonded fragments need not be consecutive
        atoms, ids = atoms[order], ids[order]
        starts = np.flatnonzero(np.concatenate([[True], ids[1:] != ids[:-1]]))
        masses = np.asarray(atoms.masses, dtype=float)
        if np.any(np.add.reduceat(masses, starts) <= 0):
            raise HeseInputError(f"species {name!r}: molecules without mass (the topology has no masses or elements)")
        return cls(name, atoms.indices, starts, masses)

    @property
    def n_molecules(self) -> int:
        """Number of molecules."""
        return len(self.starts)

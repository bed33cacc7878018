"""The extracted shells as structures: whole molecules around the cation, elements, charge and spin.

Each example holds the cation and every atom of every partner molecule of the shell, in Å with
the cation at the origin. Molecules are made whole around the cation: the coordinating atom
nearest to the cation is placed at its minimum image relative to the cation, every other atom at
its minimum image relative to that atom (molecules must be smaller than half the box). Whole
molecules are the molecules (:mod:`hese.analysis.molecules`) of every atom of the species'
residues: with a known molecule count (hese runs) equal consecutive blocks, else runs of one
residue, or bonded fragments where one residue holds the whole species. Elements come from the
topology, else from the atom names (MDAnalysis' guesser), else from the masses. The total charge
is the sum of the formal charges of the cation and the partner molecules; the spin multiplicity
is the lowest one possible, 1 for an even number of electrons (atomic numbers minus charge) and
2 for an odd one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import MDAnalysis as mda
import numpy as np
from MDAnalysis.exceptions import NoDataError
from MDAnalysis.guesser import tables
from MDAnalysis.guesser.default_guesser import DefaultGuesser

from hese.analysis.contacts import SolvationSystem
from hese.analysis.frames import iter_chunks
from hese.analysis.inputs import Species
from hese.analysis.molecules import molecule_ids
from hese.analysis.neighbors import minimum_image
from hese.analysis.shell_sampling import ShellPoints
from hese.errors import HeseInputError

ANGSTROM_PER_NM = 10.0
MASS_TOLERANCE = 0.5  # g/mol: an element is read from a mass only this close to its standard mass


@dataclass(frozen=True)
class ShellExample:
    """One extracted shell.

    Attributes
    ----------
    composition
        Label, the cation then each partner in parentheses with its count: ``Li(DME)2(FSI)1``.
    fraction
        Share of the composition among the shells of the cation species.
    example
        Number of the example within its composition, 1 … ``examples``, in the order picked.
    frame, time_ps
        Trajectory frame number and time.
    cation_index
        Universe (topology) index of the cation's atom, from 0.
    charge, multiplicity
        Total formal charge (e) and lowest spin multiplicity.
    elements, positions_angstrom
        Element symbols (A,) and positions (A, 3), Å, cation first.
    file
        Name of the XYZ file.
    """

    composition: str
    fraction: float
    example: int
    frame: int
    time_ps: float
    cation_index: int
    charge: int
    multiplicity: int
    elements: tuple[str, ...]
    positions_angstrom: np.ndarray
    file: str

    def xyz(self) -> str:
        """The XYZ text: atom count, the ``key=value`` comment line, one ``element x y z`` line per atom (Å)."""
        comment = (f"charge={self.charge} multiplicity={self.multiplicity} composition={self.composition} "
                   f"frame={self.frame} time_ps={self.time_ps:.12g} cation={self.cation_index}")
        atoms = [f"{e:<2s} {x:12.6f} {y:12.6f} {z:12.6f}"
                 for e, (x, y, z) in zip(self.elements, self.positions_angstrom + 0.0, strict=True)]
        return "\n".join([str(len(self.elements)), comment, *atoms]) + "\n"



class _WholeMolecules:
    """Every atom of the molecule of a cation or partner molecule: the molecules of the atoms of the species'
    residues, by the rule that numbered the molecules (:func:`~hese.analysis.molecules.molecule_ids`)."""

    def __init__(self, universe: mda.Universe, system: SolvationSystem, species: Sequence[Species]):
        self.universe, self.system = universe, system
        self.species = {s.name: s for s in species}
        self.owner = np.full(universe.atoms.n_atoms, -1)
        self.owner[system.partner_atoms] = system.atom_molecule
        self.owner[system.cation_atoms] = -2 - np.arange(len(system.cation_atoms))
        self._molecules: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def partner(self, m: int) -> np.ndarray:
        """Atoms (universe indices, ascending) of partner molecule ``m``."""
        t = int(self.system.molecule_type[m])
        selected = self.system.partner_atoms[self.system.atom_molecule == m]
        of_species = self.system.partner_atoms[self.system.atom_type == t]
        return self._whole(self.system.partners[t], selected, of_species, m)

    def cation(self, c: int) -> np.ndarray:
        """Atoms (universe indices, ascending) of the molecule of cation ``c`` (the ion alone for a monatomic one)."""
        t = int(self.system.cation_type[c])
        of_species = self.system.cation_atoms[self.system.cation_type == t]
        return self._whole(self.system.cations[t], self.system.cation_atoms[c:c + 1], of_species, -2 - c)

    def _whole(self, name: str, selected: np.ndarray, of_species: np.ndarray, owner: int) -> np.ndarray:
        if name not in self._molecules:
            atoms = self.universe.atoms[np.unique(self.universe.atoms[of_species].residues.atoms.indices)]
            self._molecules[name] = (atoms.indices, molecule_ids(atoms, self.species[name].count, name))
        indices, ids = self._molecules[name]
        atoms = indices[ids == ids[np.searchsorted(indices, selected[0])]]
        if not np.isin(selected, atoms).all() or not np.isin(self.owner[atoms], (-1, owner)).all():
            raise HeseInputError(
                f"species {name!r}: the molecule of atom {int(selected[0])} cannot be told apart from its "
                "neighbours; the topology needs one residue per molecule, or bonds"
            )
        return atoms


def shell_structures(universe, system, species, data, sh, starts, points: ShellPoints, chosen: list,
                     label: str) -> list[ShellExample]:
    """The examples: whole molecules around the cation in the frame of each observation, elements, charge, spin."""
    whole = _WholeMolecules(universe, system, species)
    out = []
    elements = _Elements(universe)
    for name, fraction, example, g, file in chosen:
        f = int(sh.frame[starts[g]])
        c = int(sh.cation[starts[g]])
        chunk = next(iter_chunks(universe, np.arange(universe.atoms.n_atoms), slice(int(data.frames[f]),
                                                                                 int(data.frames[f]) + 1), 1, label))
        r, box = chunk.positions_nm[0], chunk.boxes_nm[0]
        centre = system.cation_atoms[c]
        members = points.members(g)
        parts = [whole.cation(c)]
        placed = [minimum_image(r[parts[0]] - r[centre], box)]
        charge = system.charges[system.cations[system.cation_type[c]]]
        for row, anchor in zip(points.row[members], points.anchor[members], strict=True):
            m = int(sh.molecule[row])
            atoms = whole.partner(m)
            parts.append(atoms)
            placed.append(minimum_image(r[anchor] - r[centre], box) + minimum_image(r[atoms] - r[anchor], box))
            charge += system.charges[system.partners[system.molecule_type[m]]]
        atoms = np.concatenate(parts)
        symbols = elements.of(atoms)
        electrons = sum(tables.SYMB2Z[s] for s in symbols) - charge
        out.append(ShellExample(name, fraction, example, int(data.frames[f]), float(data.times_ps[f]),
                                int(centre), int(charge), 1 + electrons % 2, tuple(symbols),
                                np.concatenate(placed) * ANGSTROM_PER_NM, file))
    return out


class _Elements:
    """Element symbols of atoms: the topology's, else guessed from the name, else from the mass."""

    def __init__(self, universe: mda.Universe):
        self.atoms = universe.atoms
        self.guesser = DefaultGuesser(universe)
        self.masses = {_symbol(k): v for k, v in tables.masses.items() if _symbol(k)}

    def of(self, indices: np.ndarray) -> list[str]:
        """Symbols of the atoms ``indices``."""
        return [self._one(int(i)) for i in indices]

    def _one(self, i: int) -> str:
        atom = self.atoms[i]
        for guess in (lambda: atom.element, lambda: self.guesser.guess_atom_element(atom.name)):
            try:
                symbol = _symbol(guess())
            except (NoDataError, AttributeError):
                continue
            if symbol:
                return symbol
        try:
            mass = float(atom.mass)
        except (NoDataError, AttributeError):
            mass = np.nan
        symbol, standard = min(self.masses.items(), key=lambda kv: abs(kv[1] - mass), default=("", np.nan))
        if abs(standard - mass) <= MASS_TOLERANCE:
            return symbol
        raise HeseInputError(f"atom {i} ({atom.name}): cannot tell its element from the topology, its name or its "
                             "mass; give a topology with elements")


def _symbol(text: object) -> str:
    """``text`` as an element symbol (``LI`` → ``Li``), or '' if it is none."""
    symbol = str(text).strip().capitalize()
    return symbol if symbol in tables.SYMB2Z else ""

"""Solvation shells for quantum chemistry: the most frequent shell compositions of each cation and
structurally diverse examples of each, as XYZ files with their charge and spin multiplicity.

Shells are those of :mod:`hese.analysis.solvation`: the partner molecules with a coordinating
atom within the cutoff of the (cation, partner) pair, given or found from g(r), from the same
single pass over the trajectory. Every cation in every analysed frame is one observation; the
fraction of a composition is its share of the observations of that cation species (bare cations,
the empty shell, included, but never extracted).

Shell geometry and RMSD
-----------------------
A shell of composition :math:`\\mathbf n` is represented by one point per partner molecule: the
vector :math:`\\mathbf x_k` from the cation to the molecule's coordinating atom nearest to it
(minimum image). The points are put in a canonical order: by partner species (solvents, then
anions, as in the tables), and within a species by distance to the cation. Permutations within a
species are not searched: ordering by distance is the cheap stand-in, so two shells that differ
only by a relabelling of equidistant partners may come out further apart than they are. The
cation sits at the origin, so only rotations about it are fitted (Kabsch):

.. math:: \\mathrm{RMSD}(X, Y) = \\min_{R \\in SO(3)} \\Big( \\frac1n \\sum_{k=1}^{n}
          \\lVert R\\,\\mathbf x_k - \\mathbf y_k \\rVert^2 \\Big)^{1/2}
          = \\Big( \\frac{\\sum_k \\lVert\\mathbf x_k\\rVert^2 + \\lVert\\mathbf y_k\\rVert^2
          - 2(\\sigma_1 + \\sigma_2 + d\\,\\sigma_3)}{n} \\Big)^{1/2}

with :math:`\\sigma_i` the singular values of :math:`H = \\sum_k \\mathbf x_k \\mathbf y_k^\\top`
and :math:`d = \\operatorname{sign}\\det H` (no reflections).

Diverse examples
----------------
Farthest-point sampling over the observations of one composition, in (frame, cation) order: the
first example is the first observation, each further one the observation farthest from all
examples chosen so far (ties: the earliest),

.. math:: e_{j+1} = \\operatorname{arg\\,max}_i \\; \\min_{l \\le j} \\mathrm{RMSD}(X_i, X_{e_l}).

Structures
----------
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

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import MDAnalysis as mda
import numpy as np
import pandas as pd
from MDAnalysis.exceptions import NoDataError
from MDAnalysis.guesser import tables
from MDAnalysis.guesser.default_guesser import DefaultGuesser

from hese.analysis import rdf
from hese.analysis.contacts import SolvationSystem
from hese.analysis.cutoffs import contact_pass, open_input, shell_cutoffs
from hese.analysis.frames import CHUNK_FRAMES, iter_chunks
from hese.analysis.inputs import Source, Species
from hese.analysis.molecules import molecule_ids
from hese.analysis.neighbors import minimum_image
from hese.analysis.shells import shells
from hese.analysis.speciation import composition_codes
from hese.analysis.tables import json_number
from hese.errors import HeseInputError
from hese.io import atomic_write, read_json, write_json

TOP = 5
EXAMPLES = 3
ANGSTROM_PER_NM = 10.0
#: Columns of ``shells.csv``, one row per XYZ file.
INDEX_COLUMNS = ("composition", "fraction", "example", "frame", "time_ps", "cation_index", "charge", "multiplicity",
                 "n_atoms", "file")
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


@dataclass(frozen=True)
class ShellExtraction:
    """The examples of :func:`extract_shells` and a summary (source, frames, cutoffs used, warnings)."""

    examples: tuple[ShellExample, ...]
    summary: dict

    @property
    def index(self) -> pd.DataFrame:
        """The table ``shells.csv``: one row per example (columns :data:`INDEX_COLUMNS`)."""
        rows = [[getattr(e, c) for c in INDEX_COLUMNS[:8]] + [len(e.elements), e.file] for e in self.examples]
        return pd.DataFrame(rows, columns=list(INDEX_COLUMNS))

    def write(self, out_dir: str | os.PathLike) -> list[Path]:
        """Write every example's XYZ file, ``shells.csv`` and ``summary.json`` into ``out_dir``."""
        out = Path(out_dir)
        written = [atomic_write(out / e.file, e.xyz()) for e in self.examples]
        written.append(atomic_write(out / "shells.csv", self.index.to_csv(index=False)))
        written.append(write_json(out / "summary.json", self.summary))
        return written


def extract_shells(
    source: Source,
    cutoffs: Mapping[tuple[str | None, str], float] | None = None,
    frames: slice = slice(None),
    top: int = TOP,
    examples: int = EXAMPLES,
    cations: Sequence[str] = (),
    workers: int = 1,
    rdf_range_nm: float | None = None,
    rdf_bin_nm: float = rdf.RDF_BIN_NM,
    progress: bool = False,
    chunk_frames: int = CHUNK_FRAMES,
) -> ShellExtraction:
    """The ``top`` most frequent shell compositions of each cation species and ``examples`` diverse examples of each.

    Parameters
    ----------
    source
        Trajectory and species (:func:`~hese.analysis.inputs.run_source`,
        :func:`~hese.analysis.inputs.file_source`).
    cutoffs
        Shell cutoffs (nm) by ``(cation, partner)`` or ``(None, partner)``; the others are found
        from g(r) as in :func:`~hese.analysis.solvation.analyze_solvation`.
    frames
        Frames analysed (start, stop, step).
    top
        Compositions per cation species, most frequent first (fewer where fewer occur).
    examples
        Examples per composition, by farthest-point sampling on the shell RMSD (fewer where the
        composition occurs fewer times).
    cations
        Cation species to extract (default: every cation).
    workers, rdf_range_nm, rdf_bin_nm, progress, chunk_frames
        As for :func:`~hese.analysis.solvation.analyze_solvation`.

    Raises
    ------
    HeseInputError
        Bad files, selections or options; an unknown cation; a partner without a cutoff; no
        shell in the analysed frames.
    """
    if top < 1:
        raise HeseInputError(f"top: {top}; need at least 1 composition")
    if examples < 1:
        raise HeseInputError(f"examples: {examples}; need at least 1 example per composition")
    universe, system, _ = open_input(source, cutoffs, frames)
    unknown = [c for c in cations if c not in system.cations]
    if unknown:
        raise HeseInputError(f"cations: {unknown[0]!r} is not a cation; cations: {', '.join(system.cations)}")
    chosen = [a for a, name in enumerate(system.cations) if not cations or name in cations]
    cutoffs = dict(cutoffs or {})
    data, warnings = contact_pass(universe, source, system, cutoffs, frames, workers, rdf_range_nm, rdf_bin_nm,
                                  progress, chunk_frames)
    used, sources, missing = shell_cutoffs(data, system, cutoffs)
    for (a, b), reason in missing.items():
        if a in chosen:
            cation, partner = system.cations[a], system.partners[b]
            raise HeseInputError(f"cutoffs: {cation}–{partner} has no cutoff: {reason}; give one as "
                                 f"{cation}:{partner}=NM")
    sh = shells(data.contacts, system, used)
    observation = sh.frame.astype(np.int64) * len(system.cation_atoms) + sh.cation
    starts = np.flatnonzero(np.concatenate([[True], observation[1:] != observation[:-1]])) if len(observation) \
        else np.zeros(0, dtype=np.int64)
    codes, decode = composition_codes(starts, system.molecule_type[sh.molecule], len(system.partners))
    obs_cation = sh.cation[starts]
    picked: list[tuple[int, int, float, np.ndarray]] = []  # cation type, rank, fraction, observations
    for a in chosen:
        mine = system.cation_type[obs_cation] == a
        if not mine.any():
            warnings.append(f"{system.cations[a]}: no partner within the cutoffs in any analysed frame")
            continue
        unique, counts = np.unique(codes[mine], return_counts=True)
        total = len(data.frames) * int(system.n_cations[a])
        for rank, i in enumerate(np.lexsort((unique, -counts))[:top], start=1):
            picked.append((a, rank, counts[i] / total, np.flatnonzero(mine & (codes == unique[i]))))
    if not picked:
        raise HeseInputError(f"{source.label}: no shell found: no {' or '.join(system.cations[a] for a in chosen)} "
                             f"has a partner within its cutoff in the {len(data.frames)} analysed frames")
    points = _shell_points(universe, system, data, sh, starts, np.concatenate([p[3] for p in picked]),
                           chunk_frames, source.label)
    whole = _WholeMolecules(universe, system, source.species)
    chosen_examples = []
    for a, rank, fraction, obs in picked:
        composition = decode(codes[obs[:1]])[0]
        label = system.cations[a] + "".join(f"({p}){int(n)}" for p, n in zip(system.partners, composition,
                                                                              strict=True) if n)
        for example, k in enumerate(farthest_points(points.vectors(obs), examples), start=1):
            g = obs[k]
            chosen_examples.append((label, float(fraction), example, g, f"{_safe(system.cations[a])}_{rank}_"
                                    f"{example}.xyz"))
    structures = _structures(universe, system, data, sh, starts, points, whole, chosen_examples, source.label)
    summary = {
        "source": source.label,
        "n_frames": len(data.frames),
        "frames": {"start": frames.start, "stop": frames.stop, "step": frames.step or 1},
        "top": top,
        "examples": examples,
        "cutoffs": {system.cations[a]: {p: {"cutoff_nm": json_number(used[a, b]), "source": sources[a][b]}
                                        for b, p in enumerate(system.partners)} for a in chosen},
        "warnings": warnings,
    }
    return ShellExtraction(tuple(structures), summary)


def solvation_cutoffs(
    folder: str | os.PathLike, cations: Sequence[str], partners: Sequence[str]
) -> dict[tuple[str, str], float]:
    """The cutoffs a ``hese analyze solvation`` output folder used (its ``summary.json``), by (cation, partner).

    Pairs without a cutoff there (``null``) are left out, so they are searched again.

    Raises
    ------
    HeseInputError
        If the summary is missing or damaged, or names a cation or partner that is not among
        ``cations`` and ``partners`` (the folder is of another system).
    """
    path = Path(folder) / "summary.json"
    summary = read_json(path, "give the output folder of hese analyze solvation", ("cutoffs",))
    try:
        found = {(str(cation), str(partner)): entry["cutoff_nm"] for cation, row in summary["cutoffs"].items()
                 for partner, entry in row.items()}
        found = {pair: None if nm is None else float(nm) for pair, nm in found.items()}
    except (AttributeError, KeyError, TypeError, ValueError):
        raise HeseInputError(f"solvation: {path}: damaged cutoffs; rerun hese analyze solvation") from None
    for cation, partner in found:
        if cation not in cations or partner not in partners:
            raise HeseInputError(f"solvation: {path} has cutoffs of {cation}–{partner}, not a pair of this input "
                                 f"(cations {', '.join(cations)}; partners {', '.join(partners)})")
    return {pair: nm for pair, nm in found.items() if nm is not None}


def shell_rmsd(shells: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """RMSD (N,) of each shell (N, n, 3) to ``reference`` (n, 3) after the best rotation about the origin.

    .. math:: \\mathrm{RMSD} = \\Big( \\frac{\\sum_k \\lVert\\mathbf x_k\\rVert^2 + \\lVert\\mathbf y_k\\rVert^2
              - 2(\\sigma_1 + \\sigma_2 + d\\,\\sigma_3)}{n} \\Big)^{1/2}

    with :math:`\\sigma_i` the singular values of :math:`H = \\sum_k \\mathbf x_k \\mathbf y_k^\\top`
    (descending) and :math:`d = \\operatorname{sign}\\det H`, so that the fitted map is a proper
    rotation (Kabsch). Units as given.
    """
    shells, reference = np.asarray(shells, dtype=float), np.asarray(reference, dtype=float)
    h = np.einsum("nki,kj->nij", shells, reference)
    sigma = np.linalg.svd(h, compute_uv=False)
    sigma[:, -1] *= np.where(np.linalg.det(h) < 0, -1.0, 1.0)
    msd = (np.sum(shells**2, axis=(1, 2)) + np.sum(reference**2) - 2 * sigma.sum(axis=1)) / reference.shape[0]
    return np.sqrt(np.maximum(msd, 0.0))


def farthest_points(shells: np.ndarray, k: int) -> np.ndarray:
    """Indices of ``k`` shells (N, n, 3) by farthest-point sampling on :func:`shell_rmsd`, in the order picked.

    The first is shell 0; each next one maximises the RMSD to the nearest shell picked so far,
    :math:`e_{j+1} = \\operatorname{arg\\,max}_i \\min_{l \\le j} \\mathrm{RMSD}(X_i, X_{e_l})`, ties
    to the lowest index. Fewer than ``k`` where there are fewer shells.
    """
    picks = [0]
    nearest = shell_rmsd(shells, shells[0])
    nearest[0] = -np.inf
    while len(picks) < min(k, len(shells)):
        picks.append(int(np.argmax(nearest)))
        nearest = np.minimum(nearest, shell_rmsd(shells, shells[picks[-1]]))
        nearest[picks[-1]] = -np.inf
    return np.array(picks)


@dataclass(frozen=True)
class _ShellPoints:
    """Per shell membership of the observations asked for, in canonical order: cation–nearest-atom vector and atom.

    ``first[g]`` is the offset of observation g's members in ``vector`` / ``anchor`` / ``row``
    (−1 for observations not asked for); each observation's members are ``size[g]`` rows on.
    """

    first: np.ndarray
    size: np.ndarray
    vector: np.ndarray
    anchor: np.ndarray
    row: np.ndarray

    def vectors(self, observations: np.ndarray) -> np.ndarray:
        """Point sets (G, n, 3) of observations of one composition."""
        n = int(self.size[observations[0]])
        at = self.first[observations][:, None] + np.arange(n)[None, :]
        return self.vector[at]

    def members(self, g: int) -> slice:
        """The rows of observation g."""
        return slice(int(self.first[g]), int(self.first[g] + self.size[g]))


def _shell_points(universe: mda.Universe, system: SolvationSystem, data, sh, starts: np.ndarray,
                  observations: np.ndarray, chunk_frames: int, label: str) -> _ShellPoints:
    """Read the frames of ``observations`` and find, per shell member, the coordinating atom nearest to the cation."""
    size = np.diff(np.append(starts, len(sh.frame)))
    observations = np.sort(observations)
    rows = np.repeat(starts[observations], size[observations]) + _ramps(size[observations])
    slot_order = np.argsort(system.atom_molecule, kind="stable")
    per_molecule = np.bincount(system.atom_molecule, minlength=len(system.molecule_type))
    slot_start = np.concatenate([[0], np.cumsum(per_molecule)[:-1]])
    molecule = sh.molecule[rows]
    member = np.repeat(np.arange(len(rows)), per_molecule[molecule])
    slot = slot_order[np.repeat(slot_start[molecule], per_molecule[molecule]) + _ramps(per_molecule[molecule])]
    frame = sh.frame[rows][member]
    cation = sh.cation[rows][member]
    offset = np.zeros((len(slot), 3))
    n_cations = len(system.cation_atoms)
    indices = np.concatenate([system.cation_atoms, system.partner_atoms])
    lo, hi = int(frame.min()), int(frame.max())
    step = int(data.frames[1] - data.frames[0]) if len(data.frames) > 1 else 1
    done = lo
    for chunk in iter_chunks(universe, indices, slice(int(data.frames[lo]), int(data.frames[hi]) + 1, step),
                             chunk_frames, label):
        here = np.flatnonzero((frame >= done) & (frame < done + len(chunk.frames)))
        f = frame[here] - done
        r = chunk.positions_nm
        offset[here] = minimum_image(r[f, n_cations + slot[here]] - r[f, cation[here]], chunk.boxes_nm[f])
        done += len(chunk.frames)
    distance = np.linalg.norm(offset, axis=1)
    nearest = np.lexsort((distance, member))
    nearest = nearest[np.concatenate([[True], member[nearest][1:] != member[nearest][:-1]])]  # one per member
    owner = np.repeat(np.arange(len(observations)), size[observations])
    order = np.lexsort((distance[nearest], system.molecule_type[molecule], owner))
    first = np.full(len(starts), -1)
    first[observations] = np.concatenate([[0], np.cumsum(size[observations])[:-1]])
    return _ShellPoints(first, size, offset[nearest][order], system.partner_atoms[slot[nearest]][order], rows[order])


def _ramps(lengths: np.ndarray) -> np.ndarray:
    """0 … n−1 for each n of ``lengths``, concatenated."""
    lengths = np.asarray(lengths, dtype=np.int64)
    return np.arange(int(lengths.sum())) - np.repeat(np.cumsum(lengths) - lengths, lengths)


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


def _structures(universe, system, data, sh, starts, points: _ShellPoints, whole: _WholeMolecules,
                chosen: list, label: str) -> list[ShellExample]:
    """The examples: whole molecules around the cation in the frame of each observation, elements, charge, spin."""
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


def _safe(name: str) -> str:
    """A species name fit for a file name."""
    return re.sub(r"[^A-Za-z0-9+-]", "_", name)

"""Cation–partner contacts: what to analyse, and the single pass over the trajectory that collects them.

One pass over the frames, in chunks (optionally split over worker processes), collects for every
(cation type, partner) pair the histogram of cation–coordinating-atom distances out to the RDF
range, and every cation–partner-atom contact out to the contact range, as numeric arrays
(:class:`Contacts`: frame, cation, partner molecule, distance; sorted). Everything else —
cutoffs, shells, coordination, speciation, pairing, clusters — is derived from these afterwards
(:mod:`hese.analysis.solvation`), so a cutoff can be chosen or changed without reading the
trajectory again.

A partner molecule is one of :mod:`hese.analysis.molecules` (the rule transport and water use);
its selected atoms are the ones that can make contact. Each cation is one
selected atom. Memory: the chunk being read, plus about 20 bytes per contact kept.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import MDAnalysis as mda
import numpy as np

from hese.analysis import columns as col
from hese.analysis import rdf
from hese.analysis.frames import CHUNK_FRAMES, frame_numbers, iter_chunks, open_universe, select
from hese.analysis.inputs import Source, Species
from hese.analysis.molecules import molecule_ids
from hese.analysis.neighbors import centre_pairs
from hese.errors import HeseInputError

CONTACT_RANGE_NM = 0.45  # contacts kept out to here (or the largest given cutoff) for the automatic cutoffs


# ---------------------------------------------------------------------------------------------
# the atoms


@dataclass(frozen=True)
class SolvationSystem:
    """Atoms of the cations and partners, as numeric arrays.

    Attributes
    ----------
    cations, partners
        Species names; partners are the solvents, then the anions, in the order given.
    partner_kinds
        ``"solvent"`` or ``"anion"`` per partner.
    charges
        Formal charge (e) per species name.
    cation_atoms, cation_type
        Universe index (Nc,) of each cation's atom and its type (index into ``cations``).
    partner_atoms, atom_molecule
        Universe index (Na,) of each partner contact atom and its molecule (index into ``molecule_type``).
    molecule_type
        Partner type (index into ``partners``) of each partner molecule (Nm,).
    """

    cations: tuple[str, ...]
    partners: tuple[str, ...]
    partner_kinds: tuple[str, ...]
    charges: dict[str, int]
    cation_atoms: np.ndarray
    cation_type: np.ndarray
    partner_atoms: np.ndarray
    atom_molecule: np.ndarray
    molecule_type: np.ndarray

    @property
    def atom_type(self) -> np.ndarray:
        """Partner type of each partner atom (Na,)."""
        return self.molecule_type[self.atom_molecule]

    @property
    def n_cations(self) -> np.ndarray:
        """Cations per cation type."""
        return np.bincount(self.cation_type, minlength=len(self.cations))

    @property
    def n_molecules(self) -> np.ndarray:
        """Molecules per partner."""
        return np.bincount(self.molecule_type, minlength=len(self.partners))

    @property
    def n_atoms(self) -> np.ndarray:
        """Contact atoms per partner."""
        return np.bincount(self.atom_type, minlength=len(self.partners))

    @property
    def anions(self) -> np.ndarray:
        """Partner indices of the anions."""
        return np.array([i for i, k in enumerate(self.partner_kinds) if k == "anion"], dtype=int)


def resolve_system(universe: mda.Universe, species: Sequence[Species]) -> SolvationSystem:
    """Select every species' contact atoms, group partner atoms into molecules and check the selections.

    Raises
    ------
    HeseInputError
        If a selection is invalid or matches nothing, two species share atoms, a cation molecule
        has more than one selected atom, or known molecule counts do not divide the atoms.
    """
    cations = [s for s in species if s.kind == "cation"]
    partners = [s for s in species if s.kind == "solvent"] + [s for s in species if s.kind == "anion"]
    if not cations or not partners:
        raise HeseInputError("solvation needs at least one cation and one partner (anion or solvent)")
    columns = [col.partner_count_column(s.name) for s in partners]
    clash = [s.name for s, c in zip(partners, columns, strict=True) if columns.count(c) > 1]
    if clash:
        raise HeseInputError(f"partners {', '.join(clash)}: names too alike for table columns "
                             f"({columns[[s.name for s in partners].index(clash[0])]}); rename one")
    atoms = {s.name: select(universe, s.contact_selection, f"--{s.kind} {s.name}") for s in species}
    owner = np.full(universe.atoms.n_atoms, -1)
    for k, s in enumerate(species):
        taken = owner[atoms[s.name].indices]
        if (taken >= 0).any():
            other = species[int(taken[taken >= 0][0])]
            raise HeseInputError(
                f"--{s.kind} {s.name}: selection {s.contact_selection!r} shares atoms with --{other.kind} "
                f"{other.name} ({other.contact_selection!r}); a partner must not overlap a cation or another partner"
            )
        owner[atoms[s.name].indices] = k
    cation_atoms, cation_type = [], []
    for t, s in enumerate(cations):
        group = atoms[s.name]
        molecule = molecule_ids(group, s.count, s.name)
        if len(np.unique(molecule)) != group.n_atoms:
            raise HeseInputError(
                f"--cation {s.name}: selection {s.contact_selection!r} picks {group.n_atoms} atoms in "
                f"{len(np.unique(molecule))} molecules; select one atom per cation (the ion or its centre)"
            )
        cation_atoms.append(np.sort(group.indices))
        cation_type.append(np.full(group.n_atoms, t))
    partner_atoms, atom_molecule, molecule_type = [], [], []
    n_done = 0
    for t, s in enumerate(partners):
        group = atoms[s.name][np.argsort(atoms[s.name].indices, kind="stable")]
        molecule = molecule_ids(group, s.count, s.name)
        partner_atoms.append(group.indices)
        atom_molecule.append(molecule + n_done)
        n_mol = int(molecule.max()) + 1
        molecule_type.append(np.full(n_mol, t))
        n_done += n_mol
    return SolvationSystem(
        tuple(s.name for s in cations), tuple(s.name for s in partners), tuple(s.kind for s in partners),
        {s.name: s.charge for s in species},
        np.concatenate(cation_atoms), np.concatenate(cation_type),
        np.concatenate(partner_atoms), np.concatenate(atom_molecule), np.concatenate(molecule_type),
    )


# ---------------------------------------------------------------------------------------------
# the pass over the trajectory


@dataclass(frozen=True)
class Contacts:
    """Cation–partner-atom contacts within ``range_nm``, sorted by (frame, cation, molecule).

    Attributes
    ----------
    frame
        Analysed-frame index (K,), int32.
    cation
        Cation index (K,) into :attr:`SolvationSystem.cation_atoms`, int32.
    molecule
        Partner molecule index (K,) into :attr:`SolvationSystem.molecule_type`, int32.
    distance_nm
        Cation–atom distance (K,), float64.
    range_nm
        Every contact up to this distance is present.
    """

    frame: np.ndarray
    cation: np.ndarray
    molecule: np.ndarray
    distance_nm: np.ndarray
    range_nm: float

    @classmethod
    def concatenate(cls, parts: Sequence[Contacts], range_nm: float) -> Contacts:
        """Contacts of consecutive frame ranges joined (stays sorted)."""
        if not parts:
            return cls(np.zeros(0, np.int32), np.zeros(0, np.int32), np.zeros(0, np.int32), np.zeros(0), range_nm)
        return cls(*(np.concatenate([getattr(p, a) for p in parts]) for a in ("frame", "cation", "molecule",
                                                                            "distance_nm")), range_nm)


@dataclass(frozen=True)
class _PassSpec:
    """What a worker needs for its frames (picklable)."""

    topology: str
    trajectories: tuple[str, ...]
    label: str
    indices: np.ndarray  # cation atoms, then partner atoms
    n_cations: int
    cation_type: np.ndarray
    atom_type: np.ndarray
    atom_molecule: np.ndarray
    n_partners: int
    n_molecules: int
    edges: np.ndarray
    contact_range_nm: float
    selected: np.ndarray  # trajectory frame numbers analysed
    step: int
    chunk_frames: int


@dataclass(frozen=True)
class _Part:
    counts: np.ndarray
    volumes: np.ndarray
    times: np.ndarray
    contacts: Contacts


@dataclass(frozen=True)
class PassData:
    """What one pass over the trajectory collected.

    Attributes
    ----------
    frames, times_ps, volumes_nm3
        Trajectory frame number, time and box volume of every analysed frame (F,).
    counts
        Pair-distance counts (n_cation_types, n_partners, n_bins) on the bins ``edges`` (nm).
    contacts
        Every contact within ``contacts.range_nm``.
    """

    frames: np.ndarray
    times_ps: np.ndarray
    volumes_nm3: np.ndarray
    counts: np.ndarray
    edges: np.ndarray
    contacts: Contacts


def collect(
    source: Source,
    system: SolvationSystem,
    frames: slice,
    edges: np.ndarray,
    contact_range_nm: float,
    workers: int = 1,
    chunk_frames: int = CHUNK_FRAMES,
    progress: bool = False,
    universe: mda.Universe | None = None,
) -> PassData:
    """One pass over the frames: RDF counts out to ``edges[-1]`` and contacts out to ``contact_range_nm``.

    Frames are split into consecutive ranges; with ``workers > 1`` the ranges go to worker
    processes and their results are joined in frame order, so the result is identical to a
    serial run.
    """
    universe = universe or open_universe(source.topology, source.trajectories)
    selected = frame_numbers(universe, frames)
    spec = _PassSpec(
        str(source.topology), tuple(map(str, source.trajectories)), source.label,
        np.concatenate([system.cation_atoms, system.partner_atoms]), len(system.cation_atoms), system.cation_type,
        system.atom_type, system.atom_molecule, len(system.partners), len(system.molecule_type), edges,
        contact_range_nm, selected, frames.step or 1, chunk_frames,
    )
    per_task = chunk_frames if workers > 1 else max(len(selected), 1)
    tasks = [(lo, min(lo + per_task, len(selected))) for lo in range(0, len(selected), per_task)]
    if workers > 1 and len(tasks) > 1:
        parts = _parallel(spec, tasks, workers, progress)
    else:
        with _progress(len(selected), progress) as bar:
            parts = [part for lo, hi in tasks for part in _collect_range(spec, universe, lo, hi, bar)]
    counts = sum((p.counts for p in parts), np.zeros((len(system.cations) * len(system.partners), len(edges) - 1),
                                                     dtype=np.int64))
    return PassData(
        selected, np.concatenate([p.times for p in parts]) if parts else np.zeros(0),
        np.concatenate([p.volumes for p in parts]) if parts else np.zeros(0),
        counts.reshape(len(system.cations), len(system.partners), -1), edges,
        Contacts.concatenate([p.contacts for p in parts], contact_range_nm),
    )


def _progress(total: int, enabled: bool):
    """A tqdm progress bar on stderr, or a stand-in that does nothing."""
    if not enabled:
        return contextlib.nullcontext()
    from tqdm import tqdm

    return tqdm(total=total, unit="frame", desc="solvation", file=sys.stderr, dynamic_ncols=True)


_WORKER: dict = {}


def _init_worker(spec: _PassSpec) -> None:
    _WORKER["spec"] = spec
    _WORKER["universe"] = open_universe(spec.topology, spec.trajectories)


def _work(task: tuple[int, int]) -> list[_Part]:
    return list(_collect_range(_WORKER["spec"], _WORKER["universe"], task[0], task[1], None))


def _parallel(spec: _PassSpec, tasks: list[tuple[int, int]], workers: int, progress: bool) -> list[_Part]:
    """Frame ranges on worker processes (each opens the files itself), results in frame order.

    Workers are forked where possible (no second import of the libraries), before any progress
    bar thread exists.
    """
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    parts: list[_Part] = []
    with multiprocessing.get_context(method).Pool(min(workers, len(tasks)), _init_worker, (spec,)) as pool:
        with _progress(tasks[-1][1] - tasks[0][0], progress) as bar:
            for (lo, hi), done in zip(tasks, pool.imap(_work, tasks), strict=True):
                parts.extend(done)
                if bar is not None:
                    bar.update(hi - lo)
    return parts


def _collect_range(spec: _PassSpec, universe: mda.Universe, lo: int, hi: int, bar) -> Iterator[_Part]:
    """The parts of analysed frames lo … hi−1, one per chunk."""
    if hi <= lo:
        return
    numbers = spec.selected[lo:hi]
    r_search = max(spec.edges[-1], spec.contact_range_nm)
    n_kinds = (int(spec.cation_type.max()) + 1) * spec.n_partners
    kind_of = spec.cation_type.astype(np.int64) * spec.n_partners
    done = lo
    for chunk in iter_chunks(universe, spec.indices, slice(numbers[0], numbers[-1] + 1, spec.step),
                             spec.chunk_frames, spec.label):
        small = np.flatnonzero(chunk.boxes_nm.min(axis=1) <= 2 * r_search)
        if len(small):
            raise HeseInputError(
                f"{spec.label}: frame {chunk.frames[small[0]]} has a box edge of "
                f"{chunk.boxes_nm[small[0]].min():.3f} nm, "
                f"not more than twice the search range {r_search:.3f} nm (RDF range or largest cutoff); "
                f"use a smaller --rdf-range-nm or cutoff"
            )
        centres = chunk.positions_nm[:, : spec.n_cations]
        points = chunk.positions_nm[:, spec.n_cations:]
        f, c, p, d = centre_pairs(centres, points, chunk.boxes_nm, r_search)
        counts = rdf.histogram_counts(kind_of[c] + spec.atom_type[p], d, spec.edges, n_kinds)
        close = np.flatnonzero(d <= spec.contact_range_nm)
        frame = (f[close] + done).astype(np.int32)
        cation = c[close].astype(np.int32)
        molecule = spec.atom_molecule[p[close]].astype(np.int32)
        key = (frame.astype(np.int64) * spec.n_cations + cation) * spec.n_molecules + molecule
        order = np.argsort(key, kind="stable")
        contacts = Contacts(frame[order], cation[order], molecule[order], d[close][order], spec.contact_range_nm)
        volumes = np.prod(chunk.boxes_nm, axis=1)
        done += len(chunk.frames)
        if bar is not None:
            bar.update(len(chunk.frames))
        yield _Part(counts, volumes, chunk.times_ps, contacts)

"""Solvation structure of cations: shells, coordination, speciation, shell entropy and ion pairing.

Definitions (docs/theory.md):

- Solvation shell of a cation: the partner molecules (solvent molecules and anions) with at least
  one coordinating atom within :math:`r_c` of the cation. :math:`r_c` per (cation, partner) pair
  is the first minimum after the first peak of the cation–coordinating-atom g(r)
  (:func:`hese.analysis.rdf.find_cutoff`) unless the user gives it.
- Coordination numbers: the mean number of partner molecules in a cation's shell,
  :math:`\\mathrm{CN}^{mol}_{ab} = \\langle n_b \\rangle` over cations of type a and frames, and the
  mean number of coordinating atoms of b within :math:`r_c`, :math:`\\mathrm{CN}^{atom}_{ab}`.
- Speciation: the shell composition of one cation in one frame is its vector of partner counts
  :math:`\\mathbf n = (n_{b_1}, n_{b_2}, \\dots)`; :math:`p_i` is the frequency of composition i
  over all cations of one type and all analysed frames.
- Shell (speciation) entropy, in units of R and in J mol⁻¹ K⁻¹:

  .. math:: S_\\mathrm{shell} = -R \\sum_i p_i \\ln p_i

  with a 95 % percentile interval from a block bootstrap: the analysed frames are cut into
  contiguous time blocks (frames are correlated, blocks much less so), blocks are drawn with
  replacement, and :math:`S_\\mathrm{shell}` of each resample gives the interval.
- Shell mixing entropy over the mean fractions :math:`x_s = N_s / \\sum_{s'} N_{s'}` of partner
  species s among all shell members (:math:`N_s`: shell memberships of s, summed over cations
  and frames):

  .. math:: S_\\mathrm{mix} = -R \\sum_s x_s \\ln x_s

- Ion pairing: an anion bound to 0 / 1 / ≥ 2 cations (of any type, each within its own cutoff)
  is a solvent-separated ion pair (SSIP), a contact ion pair (CIP) or an aggregate (AGG).
- Ion clusters and Cl-bridged Zn chains: :mod:`hese.analysis.clusters`.
- Residence times of the partners in the shells and the coordination number per frame:
  :mod:`hese.analysis.residence`.

Uncertainties of means and fractions are standard errors over the same time blocks.

How it runs: ONE pass over the trajectory (:func:`hese.analysis.contacts.collect`) gives the
RDF histograms and every cation–partner-atom contact out to the contact range as numeric arrays.
Cutoffs are chosen from the RDFs afterwards and applied to the contacts; all tables derive from
them. Only when an automatic cutoff lies beyond the contact range is the trajectory read again.
Memory follows the contacts (about 20 bytes each) plus arrays of frames × species; nothing is
stored per frame and ion.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import MDAnalysis as mda
import numpy as np
import pandas as pd
from scipy.constants import gas_constant as GAS_CONSTANT_J_MOL_K  # CODATA 2018

from hese.analysis import clusters as cl
from hese.analysis import columns as col
from hese.analysis import rdf
from hese.analysis import residence as rt
from hese.analysis.blocks import block_of_frame, standard_error
from hese.analysis.contacts import (
    CONTACT_RANGE_NM,
    Contacts,
    PassData,
    SolvationSystem,
    check_complete,
    collect,
    resolve_system,
)
from hese.analysis.frames import CHUNK_FRAMES, frame_numbers, iter_chunks, open_universe
from hese.analysis.inputs import Source
from hese.analysis.tables import json_number, write_table
from hese.composition import config_entropy_r, entropy_class
from hese.errors import HeseInputError
from hese.io import write_json

__all__ = [
    "SolvationSystem", "SolvationResult", "analyze_solvation", "resolve_system", "Contacts", "Shells", "Speciation",
    "shells", "coordination_numbers", "speciation", "ion_pairing", "shell_entropy", "mixing_entropy",
    "bootstrap_interval", "composition_codes", "shell_label", "conclude", "open_input", "contact_pass", "shell_cutoffs",
]

N_BLOCKS = 5
N_BOOTSTRAP = 1000
BOOTSTRAP_SEED = 20240607
CONFIDENCE = 0.95
MIN_RDF_BIN_NM = 1e-4  # finer bins hold no pairs and cost memory
#: Shell labels: partner NAME×COUNT, joined by a middle dot (``DME×2·NO3×1``).
SHELL_TIMES, SHELL_JOIN = "×", "·"


# ---------------------------------------------------------------------------------------------
# from contacts to observables


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


@dataclass(frozen=True)
class Speciation:
    """Shell compositions of one cation type.

    Attributes
    ----------
    compositions
        Distinct compositions (C, P): partner molecule counts, most frequent first.
    counts
        Observations of each composition (C,) over all cations of the type and frames.
    block_counts
        The same per time block (n_blocks, C).
    block_observations
        Observations per block (n_blocks,).
    """

    compositions: np.ndarray
    counts: np.ndarray
    block_counts: np.ndarray
    block_observations: np.ndarray

    @property
    def fractions(self) -> np.ndarray:
        """:math:`p_i`, the frequency of each composition."""
        return self.counts / self.counts.sum()


def speciation(sh: Shells, system: SolvationSystem, n_frames: int, n_blocks: int) -> list[Speciation]:
    """Shell compositions of the cations of each type, every cation in every frame one observation.

    Only cations with a non-empty shell are encoded (memory follows the shell memberships, not
    frames × cations); the others count as the empty shell.
    """
    n_cations = len(system.cation_atoms)
    observation = sh.frame.astype(np.int64) * n_cations + sh.cation  # non-decreasing
    starts = np.flatnonzero(np.concatenate([[True], observation[1:] != observation[:-1]])) if len(observation) \
        else np.zeros(0, dtype=np.int64)
    group = observation[starts]
    codes, decode = composition_codes(starts, system.molecule_type[sh.molecule], len(system.partners))
    frame_block = block_of_frame(n_frames, n_blocks)
    frames_per_block = np.bincount(frame_block, minlength=n_blocks)
    out = []
    for t in range(len(system.cations)):
        mine = system.cation_type[group % n_cations] == t
        observations = frames_per_block * int(system.n_cations[t])
        out.append(_speciation_of(codes[mine], frame_block[group[mine] // n_cations], observations, decode))
    return out


def _speciation_of(codes: np.ndarray, block: np.ndarray, observations: np.ndarray, decode) -> Speciation:
    """Speciation of one cation type from its non-empty shells' codes and blocks and the observations per block."""
    n_blocks = len(observations)
    key, count = np.unique(codes * n_blocks + block, return_counts=True)
    empty = observations - np.bincount(block, minlength=n_blocks)
    code = np.concatenate([key // n_blocks, np.zeros(n_blocks, dtype=np.int64)])  # code 0: the empty shell
    rows_block = np.concatenate([key % n_blocks, np.arange(n_blocks)])
    rows_count = np.concatenate([count, empty])
    unique, inverse = np.unique(code, return_inverse=True)
    totals = np.bincount(inverse, weights=rows_count, minlength=len(unique)).astype(np.int64)
    present = totals > 0
    order = np.lexsort((unique, -totals))
    order = order[present[order]]  # most frequent first, ties by code; compositions never seen dropped
    rank = np.full(len(unique), -1)
    rank[order] = np.arange(len(order))
    seen = rank[inverse] >= 0
    cell = rows_block[seen] * len(order) + rank[inverse][seen]
    block_counts = np.bincount(cell, weights=rows_count[seen], minlength=n_blocks * len(order))
    block_counts = block_counts.astype(np.int64).reshape(n_blocks, len(order))
    return Speciation(decode(unique[order]), totals[order], block_counts, block_counts.sum(axis=1))


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


# ---------------------------------------------------------------------------------------------
# the analysis


@dataclass(frozen=True)
class SolvationResult:
    """Tables, summary and the collected data of :func:`analyze_solvation`.

    Tables (columns: :data:`hese.analysis.columns.TABLES`, speciation:
    :func:`hese.analysis.columns.speciation_columns`; every column is described in
    :data:`hese.analysis.columns.DESCRIPTIONS`): ``rdf``, ``coordination``, ``speciation``,
    ``shell_entropy``, ``ion_pairing``, ``clusters``, ``residence``, ``coordination_timeseries``
    and, for systems with Zn and Cl, ``zn_chains`` (else None). ``summary`` holds the headline
    numbers (keys: :func:`_summary`). ``system`` and ``data`` are the resolved atoms and the
    collected contacts; :meth:`with_cutoffs` re-derives everything for other cutoffs without
    reading the trajectory again.
    """

    rdf: pd.DataFrame
    coordination: pd.DataFrame
    speciation: pd.DataFrame
    shell_entropy: pd.DataFrame
    ion_pairing: pd.DataFrame
    clusters: pd.DataFrame
    residence: pd.DataFrame
    coordination_timeseries: pd.DataFrame
    zn_chains: pd.DataFrame | None
    summary: dict
    system: SolvationSystem = field(repr=False)
    data: PassData = field(repr=False)
    settings: dict = field(repr=False)

    def write(self, out_dir: str | os.PathLike) -> list[Path]:
        """Write the tables as Parquet (``rdf.parquet`` …) and ``summary.json`` into ``out_dir``."""
        out = Path(out_dir)
        written = [
            write_table(self.rdf, out / "rdf.parquet", col.TABLES["rdf"]),
            write_table(self.coordination, out / "coordination.parquet", col.TABLES["coordination"]),
            write_table(self.speciation, out / "speciation.parquet", col.speciation_columns(self.system.partners)),
            write_table(self.shell_entropy, out / "shell_entropy.parquet", col.TABLES["shell_entropy"]),
            write_table(self.ion_pairing, out / "ion_pairing.parquet", col.TABLES["ion_pairing"]),
            write_table(self.clusters, out / "clusters.parquet", col.TABLES["clusters"]),
            write_table(self.residence, out / "residence.parquet", col.TABLES["residence"]),
            write_table(self.coordination_timeseries, out / "coordination_timeseries.parquet",
                        col.TABLES["coordination_timeseries"]),
        ]
        if self.zn_chains is not None:
            written.append(write_table(self.zn_chains, out / "zn_chains.parquet", col.TABLES["zn_chains"]))
        written.append(write_json(out / "summary.json", self.summary))
        return written

    def with_cutoffs(self, cutoffs: Mapping[tuple[str | None, str], float]) -> SolvationResult:
        """The same analysis with other cutoffs (nm; keys as for :func:`analyze_solvation`).

        Raises
        ------
        HeseInputError
            If a cutoff lies beyond the contact range collected.
        """
        too_far = {k: v for k, v in cutoffs.items() if v > self.data.contacts.range_nm}
        if too_far:
            raise HeseInputError(f"cutoffs {too_far} exceed the contact range collected "
                                 f"({self.data.contacts.range_nm:g} nm); run the analysis with them")
        return conclude(self.data, self.system, {**self.settings, "cutoffs": dict(cutoffs)})


def analyze_solvation(
    source: Source,
    cutoffs: Mapping[tuple[str | None, str], float] | None = None,
    frames: slice = slice(None),
    n_blocks: int = N_BLOCKS,
    workers: int = 1,
    rdf_range_nm: float | None = None,
    rdf_bin_nm: float = rdf.RDF_BIN_NM,
    n_bootstrap: int = N_BOOTSTRAP,
    progress: bool = False,
    chunk_frames: int = CHUNK_FRAMES,
    residence_tolerance_ps: float = rt.RESIDENCE_TOLERANCE_PS,
) -> SolvationResult:
    """Solvation shells, coordination, speciation, shell entropy, ion pairing, ion clusters and residence times.

    Parameters
    ----------
    source
        Trajectory and species (:func:`~hese.analysis.inputs.run_source`,
        :func:`~hese.analysis.inputs.file_source`); the cations and partners are selected by
        their contact atoms (:attr:`~hese.analysis.inputs.Species.contact_selection`).
    cutoffs
        Shell cutoffs (nm) by ``(cation, partner)`` or ``(None, partner)`` for every cation; the
        others are found from the RDFs (:func:`hese.analysis.rdf.find_cutoff`).
    frames
        Frames analysed (start, stop, step).
    n_blocks
        Time blocks for standard errors and the block bootstrap (≥ 2, of at least 2 frames each).
    workers
        Processes reading frames in parallel (results are identical to ``workers=1``).
    rdf_range_nm
        RDF range (default :data:`hese.analysis.rdf.RDF_RANGE_NM`, at most half the smallest
        box edge of the first frame).
    rdf_bin_nm
        RDF bin width.
    n_bootstrap
        Bootstrap resamples of the time blocks.
    progress
        Show a progress bar (stderr).
    chunk_frames
        Frames read at a time.
    residence_tolerance_ps
        t* of the continuous residence time: absences from a shell of at most this long do not
        end a stay (:mod:`hese.analysis.residence`).

    Raises
    ------
    HeseInputError
        Bad selections, options or files (before the trajectory is read, where it can be known).
    """
    universe, system, n_frames = open_input(source, cutoffs, frames)
    if not 2 <= n_blocks <= n_frames:
        raise HeseInputError(f"n_blocks: {n_blocks}; need 2 ≤ blocks ≤ the {n_frames} analysed frames")
    _first_box(universe, frames, source.label)  # a trajectory without a box is named before the residence check
    rt.check_blocks(n_frames, n_blocks)
    if not (np.isfinite(residence_tolerance_ps) and residence_tolerance_ps >= 0):
        raise HeseInputError(f"residence_tolerance_ps: {residence_tolerance_ps}; need a time ≥ 0 ps")
    cutoffs = dict(cutoffs or {})
    data, warnings = contact_pass(universe, source, system, cutoffs, frames, workers, rdf_range_nm, rdf_bin_nm,
                                  progress, chunk_frames)
    settings = {"label": source.label, "cutoffs": cutoffs, "n_blocks": n_blocks, "n_bootstrap": n_bootstrap,
                "frames": frames, "residence_tolerance_ps": residence_tolerance_ps, "warnings": warnings}
    return conclude(data, system, settings)


def open_input(
    source: Source, cutoffs: Mapping[tuple[str | None, str], float] | None, frames: slice
) -> tuple[mda.Universe, SolvationSystem, int]:
    """Open the trajectory, resolve the species' atoms and check the cutoffs and frames.

    Returns
    -------
    universe : MDAnalysis.core.universe.Universe
        The topology and trajectory.
    system : SolvationSystem
        Its cations and partners (:func:`resolve_system`).
    n_frames : int
        The number of analysed frames.

    Raises
    ------
    HeseInputError
        If a file is missing, damaged or truncated, a selection is bad, a cutoff names an unknown
        species or is not positive, or no frame is selected.
    """
    universe = open_universe(source.topology, source.trajectories)
    check_complete(universe)
    system = resolve_system(universe, source.species)
    for (cation, partner), value in dict(cutoffs or {}).items():
        if (cation is not None and cation not in system.cations) or partner not in system.partners \
                or not value > 0:
            raise HeseInputError(
                f"cutoff {cation or '*'}:{partner}={value}: unknown species or not a positive distance"
            )
    n_frames = len(frame_numbers(universe, frames))
    if n_frames == 0:
        raise HeseInputError(f"{source.label}: no frames selected (the trajectory has {universe.trajectory.n_frames})")
    return universe, system, n_frames


def contact_pass(
    universe: mda.Universe,
    source: Source,
    system: SolvationSystem,
    cutoffs: Mapping[tuple[str | None, str], float],
    frames: slice = slice(None),
    workers: int = 1,
    rdf_range_nm: float | None = None,
    rdf_bin_nm: float = rdf.RDF_BIN_NM,
    progress: bool = False,
    chunk_frames: int = CHUNK_FRAMES,
) -> tuple[PassData, list[str]]:
    """The pass over the trajectory (:func:`~hese.analysis.contacts.collect`) with contacts out to every cutoff.

    The contacts reach the largest given cutoff, or :data:`~hese.analysis.contacts.CONTACT_RANGE_NM`
    (at most the RDF range); where an automatic cutoff lies beyond, the contacts are collected
    again out to it. Parameters as for :func:`analyze_solvation`; ``universe`` and ``system`` from
    :func:`open_input`.

    Returns
    -------
    data : PassData
        The collected data.
    warnings : list of str
        Notes for the summary (a shortened RDF range, a second pass).

    Raises
    ------
    HeseInputError
        If ``workers``, ``rdf_bin_nm``, ``rdf_range_nm`` or a cutoff does not fit the box.
    """
    if workers < 1:
        raise HeseInputError(f"workers: {workers}; need at least 1")
    if not MIN_RDF_BIN_NM <= rdf_bin_nm <= rdf.RDF_RANGE_NM / 10:
        raise HeseInputError(f"rdf_bin_nm: {rdf_bin_nm}; need {MIN_RDF_BIN_NM} ≤ bin width ≤ "
                             f"{rdf.RDF_RANGE_NM / 10:g} nm")
    warnings = []
    half = _first_box(universe, frames, source.label).min() / 2
    if rdf_range_nm is None:
        rdf_range_nm = min(rdf.RDF_RANGE_NM, np.floor(0.999 * half / rdf_bin_nm) * rdf_bin_nm)
        if rdf_range_nm < rdf.RDF_RANGE_NM:
            warnings.append(f"RDF range shortened to {rdf_range_nm:.3f} nm, just below half the smallest box edge")
    if not 0 < rdf_range_nm < half:
        raise HeseInputError(
            f"rdf_range_nm: {rdf_range_nm}; need 0 < range < half the smallest box edge ({half:.3f} nm)"
        )
    if rdf_range_nm < 2 * rdf_bin_nm:
        raise HeseInputError(
            f"rdf_bin_nm: {rdf_bin_nm}; need at least two bins within the RDF range {rdf_range_nm} nm"
        )
    largest = max(cutoffs.values(), default=0.0)
    if largest >= half:
        raise HeseInputError(f"cutoffs: {largest} nm; need less than half the smallest box edge ({half:.3f} nm)")
    edges = rdf.rdf_edges(rdf_range_nm, rdf_bin_nm)
    contact_range = max(largest, min(CONTACT_RANGE_NM, edges[-1]))
    data = collect(source, system, frames, edges, contact_range, workers, chunk_frames, progress, universe)
    auto = _cutoff_table(data, system, cutoffs)[0]
    needed = np.nanmax(auto, initial=0.0)
    if needed > contact_range:
        warnings.append(f"an automatic cutoff ({needed:.3f} nm) lies beyond the contact range "
                        f"{contact_range:.3f} nm: the trajectory was read a second time")
        again = collect(source, system, frames, edges, needed, workers, chunk_frames, progress, universe)
        data = PassData(data.frames, data.times_ps, data.volumes_nm3, data.counts, edges, again.contacts)
    return data, warnings


def _first_box(universe: mda.Universe, frames: slice, label: str) -> np.ndarray:
    first = frame_numbers(universe, frames)[0]
    chunk = next(iter_chunks(universe, np.array([0]), slice(first, first + 1), 1, label))
    return chunk.boxes_nm[0]


def _pair_rdfs(data: PassData, system: SolvationSystem):
    """(g, running CN, norm) per (cation type, partner)."""
    n_frames, volume = len(data.frames), float(np.mean(data.volumes_nm3))
    return {(a, b): rdf.rdf_from_counts(data.counts[a, b], data.edges, int(system.n_cations[a]),
                                        int(system.n_atoms[b]), n_frames, volume)
            for a in range(len(system.cations)) for b in range(len(system.partners))}


def _cutoff_table(
    data: PassData, system: SolvationSystem, cutoffs: Mapping
) -> tuple[np.ndarray, np.ndarray, list, dict]:
    """Cutoffs (T, P) found automatically where not given, the ones used, their source, and the searches."""
    centres = 0.5 * (data.edges[1:] + data.edges[:-1])
    rdfs = _pair_rdfs(data, system)
    auto = np.full((len(system.cations), len(system.partners)), np.nan)
    used = auto.copy()
    sources: list[list[str]] = []
    searches = {}
    for a, cation in enumerate(system.cations):
        row = []
        for b, partner in enumerate(system.partners):
            given = cutoffs.get((cation, partner), cutoffs.get((None, partner)))
            if given is not None:
                used[a, b] = given
                row.append("user")
                continue
            g, _, norm = rdfs[(a, b)]
            search = rdf.find_cutoff(centres, g, norm)
            searches[(a, b)] = search
            if search.cutoff_nm is not None:
                auto[a, b] = used[a, b] = search.cutoff_nm
                row.append("auto")
            else:
                row.append("none")
        sources.append(row)
    return auto, used, sources, searches


def shell_cutoffs(
    data: PassData, system: SolvationSystem, cutoffs: Mapping[tuple[str | None, str], float]
) -> tuple[np.ndarray, list[list[str]], dict[tuple[int, int], str]]:
    """The cutoffs the shells use: given ones, else the first minimum after the first peak of g(r).

    Returns
    -------
    used : numpy.ndarray
        Cutoffs (n_cation_types, n_partners), nm, NaN where none was found.
    sources : list of list of str
        Their source per pair: ``user``, ``auto`` or ``none``.
    missing : dict
        For each (cation type, partner) index pair without a cutoff, why the automatic search
        found none.
    """
    _, used, sources, searches = _cutoff_table(data, system, cutoffs)
    return used, sources, {k: s.reason for k, s in searches.items() if s.cutoff_nm is None}


def conclude(data: PassData, system: SolvationSystem, settings: dict) -> SolvationResult:
    """Every table and the summary from the collected data and the settings (cutoffs, blocks, bootstrap)."""
    cutoffs, n_blocks = settings["cutoffs"], settings["n_blocks"]
    n_frames = len(data.frames)
    warnings = list(settings["warnings"])
    _, used, sources, searches = _cutoff_table(data, system, cutoffs)
    for (a, b), search in searches.items():
        if search.cutoff_nm is None:
            warnings.append(f"{system.cations[a]}–{system.partners[b]}: no automatic cutoff, so {system.partners[b]} "
                            f"is never in the shell: {search.reason}; give --cutoff "
                            f"{system.cations[a]}:{system.partners[b]}=NM to set one")
    sh = shells(data.contacts, system, used)
    cn = coordination_numbers(sh, system, n_frames, n_blocks)
    spec = speciation(sh, system, n_frames, n_blocks)
    pairing = ion_pairing(sh, system, n_frames, n_blocks)
    ions = _ion_clusters(sh, system, n_frames)
    chains = _zn_chains(sh, system, n_frames)
    residence, residence_warnings = rt.residence_table(sh, system, sources, data.times_ps, n_blocks,
                                                       settings["residence_tolerance_ps"])
    warnings += residence_warnings
    tables = {
        "rdf": _rdf_table(data, system),
        "coordination": _coordination_table(system, used, sources, cn, n_frames),
        "speciation": _speciation_table(system, spec),
        "shell_entropy": _entropy_table(system, spec, cn, settings["n_bootstrap"]),
        "ion_pairing": _pairing_table(system, pairing, n_frames),
        "clusters": ions.table,
        "residence": residence,
        "coordination_timeseries": rt.timeseries_table(cn["frames_molecules"], system, sources, data.times_ps),
        "zn_chains": None if chains is None else chains.table,
    }
    summary = _summary(data, system, settings, tables, used, sources, ions, chains, pairing, warnings)
    return SolvationResult(**tables, summary=summary, system=system, data=data, settings=settings)


def _rdf_table(data: PassData, system: SolvationSystem) -> pd.DataFrame:
    centres = 0.5 * (data.edges[1:] + data.edges[:-1])
    parts = []
    for (a, b), (g, running, _) in _pair_rdfs(data, system).items():
        parts.append(pd.DataFrame({col.CATION: system.cations[a], col.PARTNER: system.partners[b], col.R_NM: centres,
                                   col.G_R: g, col.CN_RUNNING: running}))
    return pd.concat(parts, ignore_index=True)[list(col.TABLES["rdf"])]


def _coordination_table(system, used, sources, cn, n_frames) -> pd.DataFrame:
    rows = []
    for a, cation in enumerate(system.cations):
        for b, partner in enumerate(system.partners):
            none = sources[a][b] == "none"
            rows.append({
                col.CATION: cation, col.PARTNER: partner, col.CUTOFF_NM: used[a, b], col.CUTOFF_SOURCE: sources[a][b],
                col.CN_MOLECULES: np.nan if none else cn["cn_molecules"][a, b],
                col.CN_ATOMS: np.nan if none else cn["cn_atoms"][a, b],
                col.N_CATIONS: int(system.n_cations[a]), col.N_FRAMES: n_frames,
                col.CN_MOLECULES_ERR: np.nan if none else cn["cn_molecules_err"][a, b],
                col.CN_ATOMS_ERR: np.nan if none else cn["cn_atoms_err"][a, b],
            })
    return pd.DataFrame(rows, columns=list(col.TABLES["coordination"]))


def shell_label(counts: Sequence[int], partners: Sequence[str]) -> str:
    """A readable composition label, e.g. ``DME×2·FSI×1`` (``empty`` for an empty shell).

    Each partner in the shell is written NAME×COUNT and the partners are joined by ``·``, so a
    name that ends in a digit stays readable (``DME×2·NO3×1``, ``PF6×1``).
    """
    label = SHELL_JOIN.join(f"{p}{SHELL_TIMES}{int(n)}" for p, n in zip(partners, counts, strict=True) if n > 0)
    return label or "empty"


def _speciation_table(system: SolvationSystem, spec: Sequence[Speciation]) -> pd.DataFrame:
    names = col.speciation_columns(system.partners)
    count_columns = names[2:2 + len(system.partners)]
    parts = []
    for a, s in enumerate(spec):
        per_block = s.block_counts / np.maximum(s.block_observations, 1)[:, None]
        frame = pd.DataFrame(s.compositions, columns=list(count_columns))
        frame.insert(0, col.SHELL, [shell_label(c, system.partners) for c in s.compositions])
        frame.insert(0, col.CATION, system.cations[a])
        frame[col.FRACTION] = s.fractions
        frame[col.COUNT] = s.counts
        frame[col.FRACTION_ERR] = [standard_error(per_block[:, i]) for i in range(len(s.counts))]
        parts.append(frame)
    return pd.concat(parts, ignore_index=True)[list(names)]


def _entropy_table(system: SolvationSystem, spec: Sequence[Speciation], cn: dict, n_bootstrap: int) -> pd.DataFrame:
    rows = []
    for a, s in enumerate(spec):
        s_r = shell_entropy(s.counts)
        low, high = bootstrap_interval(s.block_counts, n_bootstrap)
        members = cn["cn_molecules"][a]
        s_mix = mixing_entropy(members)
        s_mix_blocks = [mixing_entropy(block[a]) for block in cn["blocks_molecules"]]
        s_mix_err = standard_error(s_mix_blocks)
        rows.append({
            col.CATION: system.cations[a], col.N_COMPOSITIONS: len(s.counts), col.N_OBSERVATIONS: int(s.counts.sum()),
            col.S_SHELL_R: s_r, col.S_SHELL_J_MOL_K: s_r * GAS_CONSTANT_J_MOL_K,
            col.S_MIX_R: s_mix, col.S_MIX_J_MOL_K: s_mix * GAS_CONSTANT_J_MOL_K,
            col.S_MIX_ERR_R: s_mix_err, col.S_MIX_ERR_J_MOL_K: s_mix_err * GAS_CONSTANT_J_MOL_K,
            col.S_SHELL_CI_LOW_R: low, col.S_SHELL_CI_HIGH_R: high,
            col.S_SHELL_CI_LOW_J_MOL_K: low * GAS_CONSTANT_J_MOL_K,
            col.S_SHELL_CI_HIGH_J_MOL_K: high * GAS_CONSTANT_J_MOL_K,
        })
    return pd.DataFrame(rows, columns=list(col.TABLES["shell_entropy"]))


def _pairing_table(system: SolvationSystem, pairing: dict, n_frames: int) -> pd.DataFrame:
    rows = []
    for k, b in enumerate(system.anions):
        f, e = pairing["fractions"][k], pairing["errors"][k]
        rows.append({col.ANION: system.partners[b], col.N_MOLECULES: int(system.n_molecules[b]), col.N_FRAMES: n_frames,
                     col.SSIP_FRACTION: f[0], col.CIP_FRACTION: f[1], col.AGG_FRACTION: f[2],
                     col.SSIP_FRACTION_ERR: e[0], col.CIP_FRACTION_ERR: e[1], col.AGG_FRACTION_ERR: e[2]})
    return pd.DataFrame(rows, columns=list(col.TABLES["ion_pairing"]))


def _ion_clusters(sh: Shells, system: SolvationSystem, n_frames: int) -> cl.IonClusters:
    anion_molecules = np.flatnonzero(np.isin(system.molecule_type, system.anions))
    anion_of = np.full(len(system.molecule_type), -1)
    anion_of[anion_molecules] = np.arange(len(anion_molecules))
    rows = anion_of[sh.molecule] >= 0
    charge = {n: system.charges[n] for n in (*system.cations, *system.partners)}
    cation_charge = np.array([charge[n] for n in system.cations], dtype=int)[system.cation_type]
    partner_charge = np.array([charge[n] for n in system.partners], dtype=int)
    anion_charge = partner_charge[system.molecule_type[anion_molecules]]
    anion_type = np.searchsorted(system.anions, system.molecule_type[anion_molecules])
    return cl.ion_clusters(sh.frame[rows], sh.cation[rows], anion_of[sh.molecule[rows]], n_frames,
                           cation_charge, anion_charge, system.cation_type, anion_type,
                           system.cations, [system.partners[b] for b in system.anions])


def _zn_chains(sh: Shells, system: SolvationSystem, n_frames: int) -> cl.ZnChains | None:
    zn = [a for a, n in enumerate(system.cations) if n.lower() == "zn"]
    chloride = [b for b, n in enumerate(system.partners) if n.lower() == "cl" and system.partner_kinds[b] == "anion"]
    if not zn or not chloride:
        return None
    zn_cations = np.flatnonzero(system.cation_type == zn[0])
    cl_molecules = np.flatnonzero(system.molecule_type == chloride[0])
    zn_of = np.full(len(system.cation_atoms), -1)
    zn_of[zn_cations] = np.arange(len(zn_cations))
    cl_of = np.full(len(system.molecule_type), -1)
    cl_of[cl_molecules] = np.arange(len(cl_molecules))
    rows = (zn_of[sh.cation] >= 0) & (cl_of[sh.molecule] >= 0)
    return cl.zn_chains(sh.frame[rows], zn_of[sh.cation[rows]], cl_of[sh.molecule[rows]], n_frames,
                        len(zn_cations), len(cl_molecules))


def _summary(data, system, settings, tables, used, sources, ions, chains, pairing, warnings) -> dict:
    """The headline numbers (``summary.json``).

    Keys: ``source``; ``n_frames``, ``frames`` (start, stop, step, first and last trajectory
    frame), ``time_ps`` (first, last); ``n_blocks``, ``n_bootstrap``; ``rdf`` (range, bin) and
    ``contact_range_nm``; ``species`` (kind, count, charge); ``cutoffs`` (cation → partner →
    cutoff_nm and source); ``coordination`` (cation → partner → cn_molecules, cn_atoms,
    cn_molecules_err); ``shell_entropy`` (cation → S_shell in R and J mol⁻¹ K⁻¹, its interval,
    S_mix, numbers of compositions and observations, the three most common shells);
    ``ion_pairing`` (anion → ssip, cip, agg); ``clusters`` (number, mean and ion-weighted mean
    size, largest, free fraction of all ions and per species); ``zn_chains`` (number, mean and
    Zn-weighted mean length, longest, bridged Zn fraction; null without Zn and Cl);
    ``residence_tolerance_ps`` (t*) and ``residence`` (cation → partner → the columns of the
    residence table);
    ``s_config_anion_r``, ``s_config_anion_j_mol_k`` and ``entropy_class``
    (configurational entropy of the anion mole fractions: low < 1 R ≤ medium < 1.5 R ≤ high);
    ``warnings``.
    """
    frames = settings["frames"]
    anion_counts = {system.partners[b]: int(system.n_molecules[b]) for b in system.anions}
    s_config = config_entropy_r(anion_counts) if anion_counts else 0.0
    coordination = tables["coordination"]
    entropy = tables["shell_entropy"].set_index(col.CATION)
    speciation_table = tables["speciation"]
    summary = {
        "source": settings["label"],
        "n_frames": len(data.frames),
        "frames": {"start": frames.start, "stop": frames.stop, "step": frames.step or 1,
                   "first": json_number(data.frames[0]), "last": json_number(data.frames[-1])},
        "time_ps": [json_number(data.times_ps[0]), json_number(data.times_ps[-1])],
        "n_blocks": settings["n_blocks"],
        "n_bootstrap": settings["n_bootstrap"],
        "rdf": {"range_nm": json_number(data.edges[-1]), "bin_nm": json_number(data.edges[1] - data.edges[0])},
        "contact_range_nm": json_number(data.contacts.range_nm),
        "species": {
            **{n: {"kind": "cation", "count": int(c), "charge": system.charges[n]}
               for n, c in zip(system.cations, system.n_cations, strict=True)},
            **{n: {"kind": k, "count": int(c), "charge": system.charges[n]}
               for n, k, c in zip(system.partners, system.partner_kinds, system.n_molecules, strict=True)},
        },
        "cutoffs": {cation: {partner: {"cutoff_nm": json_number(used[a, b]), "source": sources[a][b]}
                             for b, partner in enumerate(system.partners)}
                    for a, cation in enumerate(system.cations)},
        "coordination": {
            cation: {r[col.PARTNER]: {"cn_molecules": json_number(r[col.CN_MOLECULES]),
                                      "cn_atoms": json_number(r[col.CN_ATOMS]),
                                      "cn_molecules_err": json_number(r[col.CN_MOLECULES_ERR])}
                     for _, r in coordination[coordination[col.CATION] == cation].iterrows()}
            for cation in system.cations
        },
        "shell_entropy": {
            cation: {
                "s_shell_r": json_number(entropy.loc[cation, col.S_SHELL_R]),
                "s_shell_j_mol_k": json_number(entropy.loc[cation, col.S_SHELL_J_MOL_K]),
                "s_shell_ci_r": [json_number(entropy.loc[cation, col.S_SHELL_CI_LOW_R]),
                                 json_number(entropy.loc[cation, col.S_SHELL_CI_HIGH_R])],
                "s_mix_r": json_number(entropy.loc[cation, col.S_MIX_R]),
                "n_compositions": int(entropy.loc[cation, col.N_COMPOSITIONS]),
                "n_observations": int(entropy.loc[cation, col.N_OBSERVATIONS]),
                "most_common": _most_common(speciation_table[speciation_table[col.CATION] == cation]),
            }
            for cation in system.cations
        },
        "ion_pairing": {system.partners[b]: dict(zip(("ssip", "cip", "agg"),
                                                     map(json_number, pairing["fractions"][k]), strict=True))
                        for k, b in enumerate(system.anions)},
        "clusters": ions.summary,
        "zn_chains": None if chains is None else chains.summary,
        "residence_tolerance_ps": json_number(settings["residence_tolerance_ps"]),
        "residence": rt.summary(tables["residence"]),
        "s_config_anion_r": round(s_config, 6),
        "s_config_anion_j_mol_k": round(s_config * GAS_CONSTANT_J_MOL_K, 4),
        "entropy_class": entropy_class(s_config),
        "warnings": warnings,
    }
    return summary


def _most_common(rows: pd.DataFrame, n: int = 3) -> list:
    return [[r[col.SHELL], json_number(round(float(r[col.FRACTION]), 6))] for _, r in rows.head(n).iterrows()]


# ---------------------------------------------------------------------------------------------
# kernels


def shell_entropy(counts: np.ndarray) -> float:
    """Speciation entropy (units of R) of composition counts :math:`c_i`.

    .. math:: S / R = -\\sum_i p_i \\ln p_i, \\qquad p_i = c_i / \\sum_j c_j
    """
    counts = np.asarray(counts, dtype=float)
    total = counts.sum()
    if total <= 0:
        return float("nan")
    p = counts[counts > 0] / total
    return float(-(p * np.log(p)).sum()) + 0.0


def mixing_entropy(members: np.ndarray) -> float:
    """Shell mixing entropy in units of R of mean shell memberships per partner: :math:`-\\sum_s x_s \\ln x_s`."""
    return shell_entropy(members)


def bootstrap_interval(block_counts: np.ndarray, n_bootstrap: int = N_BOOTSTRAP, confidence: float = CONFIDENCE,
                       seed: int = BOOTSTRAP_SEED) -> tuple[float, float]:
    """Percentile interval of the speciation entropy (in R) from a bootstrap over time blocks.

    Each resample draws ``n_blocks`` blocks with replacement (multinomial block weights
    :math:`w_b`), pools their composition counts :math:`c_i^* = \\sum_b w_b c_{bi}` and computes
    :math:`S^* = -\\sum_i p_i^* \\ln p_i^*`; the interval spans the central ``confidence`` of the
    :math:`S^*`. A fixed seed makes it reproducible.

    Parameters
    ----------
    block_counts
        Composition counts per block (n_blocks, n_compositions).
    """
    block_counts = np.asarray(block_counts, dtype=float)
    n_blocks = len(block_counts)
    if n_blocks < 2 or block_counts.sum() == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    weights = rng.multinomial(n_blocks, np.full(n_blocks, 1.0 / n_blocks), size=n_bootstrap)
    resampled = weights @ block_counts  # (n_bootstrap, n_compositions)
    p = resampled / resampled.sum(axis=1, keepdims=True)
    terms = np.zeros_like(p)
    np.multiply(p, np.log(p, where=p > 0, out=np.zeros_like(p)), out=terms, where=p > 0)
    s = -terms.sum(axis=1)
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(s, [tail, 100 - tail])
    return float(low) + 0.0, float(high) + 0.0


def composition_codes(starts: np.ndarray, partner: np.ndarray, n_partners: int):
    """One integer per non-empty shell encoding its partner counts, and a decoder back to count vectors.

    The shell members (partner type of each, ``partner`` (K,)) come in groups, one per shell,
    starting at ``starts`` (G,). With base :math:`B` = the largest shell + 1, the code of counts
    :math:`(n_0, n_1, \\dots)` is :math:`\\sum_p n_p B^p` (exact in int64 below 2⁶³; otherwise
    the distinct count vectors are numbered from 1). Code 0 is the empty shell.

    Returns
    -------
    codes, decode
        Codes (G,) int64, and a function mapping codes (C,) to counts (C, n_partners).
    """
    sizes = np.diff(np.append(starts, len(partner)))
    base = int(sizes.max(initial=0)) + 1
    if float(base) ** n_partners < 2.0 ** 62:
        power = base ** np.arange(n_partners, dtype=np.int64)
        codes = np.add.reduceat(power[partner], starts) if len(starts) else np.zeros(0, dtype=np.int64)

        def decode(c: np.ndarray) -> np.ndarray:
            return (np.asarray(c, dtype=np.int64)[:, None] // power[None, :]) % base

        return codes.astype(np.int64), decode
    group = np.repeat(np.arange(len(starts)), sizes)
    dense = np.bincount(group * n_partners + partner, minlength=len(starts) * n_partners)
    vectors, inverse = np.unique(dense.reshape(len(starts), n_partners), axis=0, return_inverse=True)
    vectors = np.vstack([np.zeros((1, n_partners), dtype=vectors.dtype), vectors])

    def decode_dense(c: np.ndarray) -> np.ndarray:
        return vectors[np.asarray(c, dtype=np.int64)]

    return inverse.ravel().astype(np.int64) + 1, decode_dense

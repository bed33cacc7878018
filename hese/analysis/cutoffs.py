"""The pass over the trajectory for the shells: the input opened and checked, the contacts collected out
to every cutoff, and the cutoffs used, given or found from g(r) (:func:`hese.analysis.rdf.find_cutoff`).
"""

from __future__ import annotations

from collections.abc import Mapping

import MDAnalysis as mda
import numpy as np

from hese.analysis import rdf
from hese.analysis.contacts import CONTACT_RANGE_NM, PassData, SolvationSystem, collect, resolve_system
from hese.analysis.frames import CHUNK_FRAMES, frame_numbers, iter_chunks, open_universe
from hese.analysis.inputs import Source
from hese.analysis.integrity import check_complete
from hese.errors import HeseInputError

MIN_RDF_BIN_NM = 1e-4  # finer bins hold no pairs and cost memory


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
    half = first_box(universe, frames, source.label).min() / 2
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
    auto = cutoff_table(data, system, cutoffs)[0]
    needed = np.nanmax(auto, initial=0.0)
    if needed > contact_range:
        warnings.append(f"an automatic cutoff ({needed:.3f} nm) lies beyond the contact range "
                        f"{contact_range:.3f} nm: the trajectory was read a second time")
        again = collect(source, system, frames, edges, needed, workers, chunk_frames, progress, universe)
        data = PassData(data.frames, data.times_ps, data.volumes_nm3, data.counts, edges, again.contacts)
    return data, warnings


def first_box(universe: mda.Universe, frames: slice, label: str) -> np.ndarray:
    first = frame_numbers(universe, frames)[0]
    chunk = next(iter_chunks(universe, np.array([0]), slice(first, first + 1), 1, label))
    return chunk.boxes_nm[0]


def pair_rdfs(data: PassData, system: SolvationSystem):
    """(g, running CN, norm) per (cation type, partner)."""
    n_frames, volume = len(data.frames), float(np.mean(data.volumes_nm3))
    return {(a, b): rdf.rdf_from_counts(data.counts[a, b], data.edges, int(system.n_cations[a]),
                                        int(system.n_atoms[b]), n_frames, volume)
            for a in range(len(system.cations)) for b in range(len(system.partners))}


def cutoff_table(
    data: PassData, system: SolvationSystem, cutoffs: Mapping
) -> tuple[np.ndarray, np.ndarray, list, dict]:
    """Cutoffs (T, P) found automatically where not given, the ones used, their source, and the searches."""
    centres = 0.5 * (data.edges[1:] + data.edges[:-1])
    rdfs = pair_rdfs(data, system)
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
    _, used, sources, searches = cutoff_table(data, system, cutoffs)
    return used, sources, {k: s.reason for k, s in searches.items() if s.cutoff_nm is None}

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
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from hese.analysis import columns as col
from hese.analysis import rdf
from hese.analysis import residence as rt
from hese.analysis import solvation_tables as st
from hese.analysis.contacts import PassData, SolvationSystem
from hese.analysis.cutoffs import contact_pass, cutoff_table, first_box, open_input
from hese.analysis.frames import CHUNK_FRAMES
from hese.analysis.inputs import Source
from hese.analysis.shells import bound_fractions, coordination_numbers, ion_pairing, shells
from hese.analysis.speciation import N_BOOTSTRAP, speciation
from hese.analysis.tables import write_table
from hese.errors import HeseInputError
from hese.io import write_json

__all__ = ["SolvationResult", "analyze_solvation", "conclude"]

N_BLOCKS = 5


@dataclass(frozen=True)
class SolvationResult:
    """Tables, summary and the collected data of :func:`analyze_solvation`.

    Tables (columns: :data:`hese.analysis.columns.TABLES`, speciation:
    :func:`hese.analysis.columns.speciation_columns`; every column is described in
    :data:`hese.analysis.columns.DESCRIPTIONS`): ``rdf``, ``coordination``, ``speciation``,
    ``shell_entropy``, ``ion_pairing``, ``bound_fraction``, ``clusters``, ``residence``, ``coordination_timeseries``
    and, for systems with Zn and Cl, ``zn_chains`` (else None). ``summary`` holds the headline
    numbers (keys: :func:`hese.analysis.solvation_tables.summary`). ``system`` and ``data`` are
    the resolved atoms and the collected contacts; :meth:`with_cutoffs` re-derives everything for
    other cutoffs without reading the trajectory again.
    """

    rdf: pd.DataFrame
    coordination: pd.DataFrame
    speciation: pd.DataFrame
    shell_entropy: pd.DataFrame
    ion_pairing: pd.DataFrame
    bound_fraction: pd.DataFrame
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
            write_table(self.bound_fraction, out / "bound_fraction.parquet", col.TABLES["bound_fraction"]),
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
    first_box(universe, frames, source.label)  # a trajectory without a box is named before the residence check
    rt.check_blocks(n_frames, n_blocks)
    if not (np.isfinite(residence_tolerance_ps) and residence_tolerance_ps >= 0):
        raise HeseInputError(f"residence_tolerance_ps: {residence_tolerance_ps}; need a time ≥ 0 ps")
    cutoffs = dict(cutoffs or {})
    data, warnings = contact_pass(universe, source, system, cutoffs, frames, workers, rdf_range_nm, rdf_bin_nm,
                                  progress, chunk_frames)
    settings = {"label": source.label, "cutoffs": cutoffs, "n_blocks": n_blocks, "n_bootstrap": n_bootstrap,
                "frames": frames, "residence_tolerance_ps": residence_tolerance_ps, "warnings": warnings}
    return conclude(data, system, settings)


def conclude(data: PassData, system: SolvationSystem, settings: dict) -> SolvationResult:
    """Every table and the summary from the collected data and the settings (cutoffs, blocks, bootstrap)."""
    cutoffs, n_blocks = settings["cutoffs"], settings["n_blocks"]
    n_frames = len(data.frames)
    warnings = list(settings["warnings"])
    _, used, sources, searches = cutoff_table(data, system, cutoffs)
    for (a, b), search in searches.items():
        if search.cutoff_nm is None:
            warnings.append(f"{system.cations[a]}–{system.partners[b]}: no automatic cutoff, so {system.partners[b]} "
                            f"is never in the shell: {search.reason}; give --cutoff "
                            f"{system.cations[a]}:{system.partners[b]}=NM to set one")
    sh = shells(data.contacts, system, used)
    cn = coordination_numbers(sh, system, n_frames, n_blocks)
    spec = speciation(sh, system, n_frames, n_blocks)
    pairing = ion_pairing(sh, system, n_frames, n_blocks)
    ions = st.ion_clusters(sh, system, n_frames)
    chains = st.zn_chains(sh, system, n_frames)
    residence, residence_warnings = rt.residence_table(sh, system, sources, data.times_ps, n_blocks,
                                                       settings["residence_tolerance_ps"])
    warnings += residence_warnings
    tables = {
        "rdf": st.rdf_table(data, system),
        "coordination": st.coordination_table(system, used, sources, cn, n_frames),
        "speciation": st.speciation_table(system, spec),
        "shell_entropy": st.entropy_table(system, spec, cn, settings["n_bootstrap"]),
        "ion_pairing": st.pairing_table(system, pairing, n_frames),
        "bound_fraction": st.bound_table(system, bound_fractions(sh, system, n_frames, n_blocks), n_frames),
        "clusters": ions.table,
        "residence": residence,
        "coordination_timeseries": rt.timeseries_table(cn["frames_molecules"], system, sources, data.times_ps),
        "zn_chains": None if chains is None else chains.table,
    }
    summary = st.summary(data, system, settings, tables, used, sources, ions, chains, pairing, warnings)
    return SolvationResult(**tables, summary=summary, system=system, data=data, settings=settings)



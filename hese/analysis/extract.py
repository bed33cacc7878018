"""Solvation shells for quantum chemistry: the most frequent shell compositions of each cation and
structurally diverse examples of each, as XYZ files with their charge and spin multiplicity.

Shells are those of :mod:`hese.analysis.solvation`: the partner molecules with a coordinating
atom within the cutoff of the (cation, partner) pair, given or found from g(r), from the same
single pass over the trajectory. Every cation in every analysed frame is one observation; the
fraction of a composition is its share of the observations of that cation species (bare cations,
the empty shell, included, but never extracted).

Which shells are extracted, and their RMSD, is told in :mod:`hese.analysis.shell_sampling`; how
they become structures (whole molecules, elements, charge, spin) in
:mod:`hese.analysis.shell_structures`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from hese.analysis import rdf
from hese.analysis.cutoffs import contact_pass, open_input, shell_cutoffs
from hese.analysis.frames import CHUNK_FRAMES
from hese.analysis.inputs import Source
from hese.analysis.shell_sampling import farthest_points, shell_points
from hese.analysis.shell_structures import ShellExample, shell_structures
from hese.analysis.shells import shells
from hese.analysis.speciation import composition_codes
from hese.analysis.tables import json_number
from hese.errors import HeseInputError
from hese.io import atomic_write, read_json, write_json

TOP = 5
EXAMPLES = 3
#: Columns of ``shells.csv``, one row per XYZ file.
INDEX_COLUMNS = ("composition", "fraction", "example", "frame", "time_ps", "cation_index", "charge", "multiplicity",
                 "n_atoms", "file")


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
    points = shell_points(universe, system, data, sh, starts, np.concatenate([p[3] for p in picked]),
                          chunk_frames, source.label)
    chosen_examples = []
    for a, rank, fraction, obs in picked:
        composition = decode(codes[obs[:1]])[0]
        label = system.cations[a] + "".join(f"({p}){int(n)}" for p, n in zip(system.partners, composition,
                                                                              strict=True) if n)
        for example, k in enumerate(farthest_points(points.vectors(obs), examples), start=1):
            g = obs[k]
            chosen_examples.append((label, float(fraction), example, g, f"{_safe(system.cations[a])}_{rank}_"
                                    f"{example}.xyz"))
    structures = shell_structures(universe, system, source.species, data, sh, starts, points, chosen_examples,
                                  source.label)
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


def _safe(name: str) -> str:
    """A species name fit for a file name."""
    return re.sub(r"[^A-Za-z0-9+-]", "_", name)

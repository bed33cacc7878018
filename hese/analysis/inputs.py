"""What to analyse: topology, trajectory files and species selections, from a hese run or from files.

A hese run folder holds ``topology.pdb`` and ``build.json`` (in the folder or its ``build/``
subfolder) and ``trajectory.xtc`` (in the folder or its ``md/`` subfolder); the ``build/`` or
``md/`` folder of a run may be given instead, its sibling is then found too. Its species, their
residue names and formal charges come from ``build.json`` and the species registry; the charge
scale of the simulation from ``build.json``. Foreign trajectories name their species with
``NAME=SELECTION`` (MDAnalysis selection strings).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from hese import species as registry
from hese.errors import HeseInputError
from hese.layout import BUILD_RECORD, TOPOLOGY, TRAJECTORY


@dataclass(frozen=True)
class SpeciesSelection:
    """One species: name, MDAnalysis selection of its atoms, formal charge (e), molecule count if known."""

    name: str
    selection: str
    charge: int
    count: int | None = None


@dataclass(frozen=True)
class Source:
    """One trajectory to analyse.

    Attributes
    ----------
    label
        Name used in messages and summaries (the run folder or the trajectory file).
    topology, trajectories
        Files MDAnalysis reads.
    species
        The species to analyse.
    charge_scale
        Factor from formal to simulated ion charges.
    """

    label: str
    topology: Path
    trajectories: tuple[Path, ...]
    species: tuple[SpeciesSelection, ...]
    charge_scale: float


def run_source(folder: str | os.PathLike) -> Source:
    """The source of a hese run folder: every species of ``build.json``, selected by residue name.

    Raises
    ------
    HeseInputError
        If a file is missing or ``build.json`` is not a hese build record.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise HeseInputError(f"--run: {folder} is not a folder")
    topology = _find(folder, TOPOLOGY, ("", "build", "../build"))
    record_file = _find(folder, BUILD_RECORD, ("", "build", "../build"))
    trajectory = _find(folder, TRAJECTORY, ("", "md", "../md"))
    try:
        record = json.loads(record_file.read_text())
        counts, scale = record["counts"], float(record["charge_scale"])
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise HeseInputError(f"{record_file}: not a hese build record (needs counts and charge_scale): {err}") from None
    chosen = [(registry.get(name), n) for name, n in counts.items()]
    species = tuple(SpeciesSelection(s.name, f"resname {s.residue}", s.charge, int(n)) for s, n in chosen)
    return Source(str(folder), topology, (trajectory,), species, scale)


def file_source(
    topology: str | os.PathLike,
    trajectories: Sequence[str | os.PathLike],
    species: Sequence[str],
    charges: Sequence[str] = (),
    charge_scale: float = 1.0,
) -> Source:
    """The source of foreign files with species given as ``NAME=SELECTION``.

    Formal charges come from the registry for registry names and from ``charges``
    (``NAME=Z``) otherwise; ``charges`` also overrides the registry.

    Raises
    ------
    HeseInputError
        If an assignment is malformed, no species is given, or a species' charge is unknown.
    """
    if not trajectories:
        raise HeseInputError("--trajectory: missing; give the trajectory file(s) with --topology")
    selections = parse_assignments(species, "--species")
    explicit = {n: _integer(v, f"--charge {n}") for n, v in parse_assignments(charges, "--charge").items()}
    unknown = sorted(set(explicit) - set(selections))
    if unknown:
        raise HeseInputError(f"--charge: species {', '.join(unknown)} not given with --species")
    chosen = tuple(SpeciesSelection(n, sel, _formal_charge(n, explicit)) for n, sel in selections.items())
    return Source(str(trajectories[0]), Path(topology), tuple(map(Path, trajectories)), chosen, charge_scale)


def parse_assignments(items: Sequence[str], option: str) -> dict[str, str]:
    """``["Li=resname LI", ...]`` → ``{"Li": "resname LI", ...}``.

    Raises
    ------
    HeseInputError
        If an item has no ``=``, an empty name or value, or a name repeats.
    """
    out: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        name, value = name.strip(), value.strip()
        if not sep or not name or not value:
            raise HeseInputError(f"{option}: {item!r} is not NAME=VALUE")
        if name in out:
            raise HeseInputError(f"{option}: {name!r} given twice")
        out[name] = value
    return out


def _formal_charge(name: str, explicit: dict[str, int]) -> int:
    if name in explicit:
        return explicit[name]
    try:
        return registry.get(name).charge
    except HeseInputError:
        raise HeseInputError(
            f"--species {name}: not a registry species, so its formal charge is unknown; give it with --charge {name}=Z"
        ) from None


def _integer(value: str, option: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise HeseInputError(f"{option}: {value!r} is not an integer charge") from None


def _find(folder: Path, name: str, places: Sequence[str]) -> Path:
    candidates = [(folder / place).resolve() / name if place.startswith("..") else folder / place / name
                  for place in places]
    for path in candidates:
        if path.is_file():
            return path
    raise HeseInputError(f"--run {folder}: no {name} (looked for {', '.join(map(str, candidates))})")

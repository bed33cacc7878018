"""What to analyse: topology, trajectory files and species, from a hese run or from files.

Every analysis takes one :class:`Source`: the files and its :class:`Species`, each with its role
(cation, anion or solvent), the MDAnalysis selection of its molecules' atoms, its formal charge,
its molecule count where known, and, where only some atoms make contact with a cation (the
solvation shells), the selection of those.

A hese run folder holds ``topology.pdb`` and ``build.json`` (in the folder or its ``build/``
subfolder) and ``trajectory.xtc`` (in the folder or its ``md/`` subfolder); the ``build/`` or
``md/`` folder of a run may be given instead, its sibling is then found too. Its species and
their counts come from ``build.json``; residue names, roles, formal charges and coordinating
atoms from the species registry; the charge scale of the simulation from ``build.json``.
Foreign trajectories name their species with ``NAME=SELECTION`` (MDAnalysis selection strings),
either by role (``--cation``, ``--anion``, ``--solvent``: the selection is of the atoms that make
contact) or plainly (``--species``: the role is the registry's, or follows the sign of the charge).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from hese import species as registry
from hese.errors import HeseInputError
from hese.layout import BUILD_RECORD, TOPOLOGY, TRAJECTORY

Kind = Literal["cation", "anion", "solvent"]
KINDS: tuple[Kind, ...] = ("cation", "anion", "solvent")


@dataclass(frozen=True)
class Species:
    """One species to analyse.

    Attributes
    ----------
    name
        Species name (tables, summaries, messages).
    kind
        ``cation``, ``anion`` or ``solvent``.
    selection
        MDAnalysis selection of the atoms of its molecules.
    charge
        Formal charge (e) of one molecule.
    count
        Number of molecules, if known (hese runs); otherwise molecules are found in the topology
        (:func:`hese.analysis.molecules.molecule_ids`).
    contacts
        Selection of the atoms that make contact with a cation (its coordinating atoms; one atom
        per cation), if only some do; None: every atom of ``selection``.
    """

    name: str
    kind: Kind
    selection: str
    charge: int = 0
    count: int | None = None
    contacts: str | None = None

    @property
    def contact_selection(self) -> str:
        """The selection of the atoms that make contact: ``contacts``, else ``selection``."""
        return self.contacts or self.selection


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
    species: tuple[Species, ...]
    charge_scale: float = 1.0

    def of_kind(self, kind: Kind) -> tuple[Species, ...]:
        """The species of one kind, in the order given."""
        return tuple(s for s in self.species if s.kind == kind)


def run_source(folder: str | os.PathLike) -> Source:
    """The source of a hese run folder: every species of ``build.json`` with its registry entry.

    Each species selects its molecules as ``resname RES`` and its contact atoms as
    ``resname RES and name ATOMS``, with the registry's residue name and coordinating atoms (a
    cation lists itself); its count is that of ``build.json``.

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
    chosen = []
    for name, n in counts.items():
        entry = registry.get(name)
        chosen.append(Species(entry.name, entry.kind, f"resname {entry.residue}", entry.charge, int(n),
                              f"resname {entry.residue} and name {' '.join(entry.coordinating)}"))
    return Source(str(folder), topology, (trajectory,), tuple(chosen), scale)


def file_source(
    topology: str | os.PathLike,
    trajectories: Sequence[str | os.PathLike],
    species: Sequence[str] = (),
    charges: Sequence[str] = (),
    charge_scale: float = 1.0,
    cations: Sequence[str] = (),
    anions: Sequence[str] = (),
    solvents: Sequence[str] = (),
) -> Source:
    """The source of foreign files with species given as ``NAME=SELECTION``.

    ``species`` gives molecules whose role is the registry's (registry names, in any case) or
    else follows the sign of their charge; ``cations``, ``anions`` and ``solvents`` give the
    atoms that make contact, by role (the solvation shells need at least one cation and one
    partner when they are used). Formal charges come from ``charges`` (``NAME=Z``), else from the
    registry; solvents given by role are neutral.

    Raises
    ------
    HeseInputError
        If an assignment is malformed, a name repeats, a role is missing, an ion's charge is
        unknown or a registry species is given in another role; naming the option.
    """
    if not trajectories:
        raise HeseInputError("--trajectory: missing; give the trajectory file(s) with --topology")
    given = {"species": parse_assignments(species, "--species")}
    given.update({k: parse_assignments(v, f"--{k}") for k, v in zip(KINDS, (cations, anions, solvents), strict=True)})
    if cations or anions or solvents:
        if not given["cation"]:
            raise HeseInputError("--cation: missing; give at least one NAME=SELECTION of the cations")
        if not given["anion"] and not given["solvent"]:
            raise HeseInputError("--anion/--solvent: missing; give at least one partner species NAME=SELECTION")
    seen: dict[str, str] = {}
    for role, named in given.items():
        for name in named:
            if name in seen:
                raise HeseInputError(f"--{role} {name}: the name is already a {seen[name]}; names must differ")
            seen[name] = role
    explicit = {n: _integer(v, f"--charge {n}") for n, v in parse_assignments(charges, "--charge").items()}
    unknown = sorted(set(explicit) - set(seen))
    if unknown:
        options = "/".join(f"--{role}" for role, named in given.items() if named) or "--species"
        raise HeseInputError(f"--charge: {', '.join(unknown)} not given with {options}")
    chosen = []
    for role, named in given.items():
        for name, selection in named.items():
            kind, charge = formal_charge(name, None if role == "species" else role, explicit)  # type: ignore[arg-type]
            chosen.append(Species(name, kind, selection, charge))
    return Source(str(trajectories[0]), Path(topology), tuple(map(Path, trajectories)), tuple(chosen), charge_scale)


def formal_charge(name: str, kind: Kind | None, explicit: Mapping[str, int]) -> tuple[Kind, int]:
    """The role and formal charge of a species of foreign files.

    A charge in ``explicit`` wins; a solvent is neutral; otherwise the registry gives it, and
    its role must then be ``kind``. Without a ``kind`` (``--species``), the role is the registry's,
    or else that of the sign of the charge (positive: cation, negative: anion, zero: solvent).

    Raises
    ------
    HeseInputError
        If the charge is unknown (not a registry species, no ``--charge``) or a registry species
        is given in another role.
    """
    option = f"--{kind or 'species'} {name}"
    try:
        entry = registry.get(name)
    except HeseInputError:
        entry = None
    if name in explicit:
        charge = explicit[name]
    elif kind == "solvent":
        return kind, 0
    elif entry is None:
        raise HeseInputError(
            f"{option}: not a registry species, so its formal charge is unknown; give it with --charge {name}=Z"
        )
    else:
        if kind is not None and entry.kind != kind:
            raise HeseInputError(f"{option}: the registry species {name} is a {entry.kind}; give it with "
                                 f"--{entry.kind} or give its charge with --charge {name}=Z")
        charge = entry.charge
    if kind is not None:
        return kind, charge
    if entry is not None:
        return entry.kind, charge
    return ("cation" if charge > 0 else "anion" if charge < 0 else "solvent"), charge


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


def parse_cutoffs(
    items: Sequence[str], cations: Sequence[str], partners: Sequence[str]
) -> dict[tuple[str | None, str], float]:
    """``["DME=0.28", "Li:FSI=0.3"]`` → ``{(None, "DME"): 0.28, ("Li", "FSI"): 0.3}`` (nm).

    Raises
    ------
    HeseInputError
        If an item is not ``PARTNER=NM`` or ``CATION:PARTNER=NM``, names an unknown species, or
        the distance is not a positive number.
    """
    out: dict[tuple[str | None, str], float] = {}
    for key, value in parse_assignments(items, "--cutoff").items():
        cation, sep, partner = key.rpartition(":")
        cation, partner = cation.strip(), partner.strip()
        if sep and cation not in cations:
            raise HeseInputError(f"--cutoff {key}={value}: {cation!r} is not a cation; cations: {', '.join(cations)}")
        if partner not in partners:
            raise HeseInputError(
                f"--cutoff {key}={value}: {partner!r} is not a partner; partners: {', '.join(partners)}"
            )
        try:
            nm = float(value)
        except ValueError:
            nm = float("nan")
        if not nm > 0 or not np.isfinite(nm):
            raise HeseInputError(f"--cutoff {key}={value}: not a positive distance in nm")
        out[(cation if sep else None, partner)] = nm
    return out


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

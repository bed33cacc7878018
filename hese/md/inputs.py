"""What ``hese build`` wrote, read back for MD, and the hydrogen mass repartitioning applied to it."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import openmm as mm
from openmm import app, unit

from hese import layout
from hese.errors import HeseInputError
from hese.io import read_json


@dataclass
class BuildInputs:
    """What ``hese build`` wrote: the System, the starting positions and box, the build record."""

    folder: Path
    system: mm.System
    topology: app.Topology
    positions: unit.Quantity
    record: dict
    system_sha256: str

    @classmethod
    def read(cls, folder: str | os.PathLike) -> BuildInputs:
        """Read ``system.xml``, ``topology.pdb`` and ``build.json`` from a build folder."""
        folder = Path(folder)
        missing = [n for n in (layout.BUILD_RECORD, layout.SYSTEM, layout.TOPOLOGY) if not (folder / n).is_file()]
        if missing:
            raise HeseInputError(f"{folder}: not a finished build folder (missing {', '.join(missing)}); "
                                 f"run `hese build SYSTEM.yaml --out {folder}` first")
        rebuild = f"rebuild the box (hese build … --out {folder})"
        try:
            text = (folder / layout.SYSTEM).read_bytes().decode("utf-8")
            system = mm.XmlSerializer.deserialize(text)
        except Exception as err:
            raise HeseInputError(f"{folder / 'system.xml'}: damaged, not an OpenMM System "
                                 f"({str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__}); "
                                 f"{rebuild}") from None
        try:
            pdb = app.PDBFile(str(folder / layout.TOPOLOGY))
        except Exception as err:
            raise HeseInputError(f"{folder / 'topology.pdb'}: damaged, not a PDB file ({type(err).__name__}: "
                                 f"{str(err).strip()[:120]}); {rebuild}") from None
        if pdb.topology.getNumAtoms() != system.getNumParticles():
            raise HeseInputError(f"{folder}: topology.pdb has {pdb.topology.getNumAtoms()} atoms, system.xml "
                                 f"{system.getNumParticles()} particles")
        if pdb.topology.getPeriodicBoxVectors() is None or not system.usesPeriodicBoundaryConditions():
            raise HeseInputError(f"{folder}: the system is not periodic; hese simulate needs a periodic box")
        record = read_json(folder / layout.BUILD_RECORD, rebuild)
        return cls(folder, system, pdb.topology, pdb.positions, record, hashlib.sha256(text.encode()).hexdigest())


def repartition_hydrogen_mass(system: mm.System, topology: app.Topology, hydrogen_mass_amu: float) -> int:
    """Give each hydrogen bonded to a heavy atom ``hydrogen_mass_amu``, taken from that atom.

    Hydrogens of rigid water (constrained to another hydrogen) keep their mass. Total mass is
    unchanged. Returns the number of hydrogens changed.

    Raises
    ------
    HeseInputError
        When a heavy atom would be left lighter than 1 amu.
    """
    element = [a.element for a in topology.atoms()]
    is_h = np.array([e is not None and e.symbol == "H" for e in element])
    pairs = {tuple(sorted(system.getConstraintParameters(k)[:2])) for k in range(system.getNumConstraints())}
    pairs |= {tuple(sorted((b[0].index, b[1].index))) for b in topology.bonds()}
    rigid = {i for pair in pairs if is_h[list(pair)].all() for i in pair}
    mass = np.array([system.getParticleMass(i).value_in_unit(unit.dalton) for i in range(system.getNumParticles())])
    changed = 0
    for i, j in sorted(pairs):
        if is_h[i] == is_h[j]:
            continue
        h, heavy = (i, j) if is_h[i] else (j, i)
        if h in rigid or mass[heavy] == 0:
            continue
        delta = hydrogen_mass_amu - mass[h]
        mass[h] += delta
        mass[heavy] -= delta
        changed += 1
    if changed and mass[~is_h & (mass > 0)].min() < 1.0:
        raise HeseInputError(f"hydrogen_mass_amu: {hydrogen_mass_amu} leaves a heavy atom lighter than 1 amu; "
                             f"use a smaller hydrogen mass")
    for i, m in enumerate(mass):
        system.setParticleMass(i, m * unit.dalton)
    return changed

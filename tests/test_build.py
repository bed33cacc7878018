"""Small periodic boxes of every salt and solvent, built with packmol."""

from __future__ import annotations

import json
import math

import numpy as np
import openmm as mm
import pytest
from openmm import app, unit
from scipy.spatial import cKDTree

from hese import build
from hese import species as sp

BOXES = {
    # organic family: every organic salt in DME, every organic solvent with LiFSI
    **{f"{salt}-DME": ({salt: 2, "DME": 70}, {"family": "organic"}) for salt in
       ["LiFSI", "LiTFSI", "LiDFOB", "LiNO3", "LiOTf", "LiPF6", "LiCl", "Mg(TFSI)2"]},
    **{f"LiFSI-{solvent}": ({"LiFSI": 2, solvent: 70}, {"family": "organic"}) for solvent in
       ["TMP", "DMSO", "EG", "EA", "EC"]},
    "LiFSI-DME-water": ({"LiFSI": 2, "DME": 50, "water": 50}, {"family": "organic"}),
    "Zn(TFSI)2-DME": ({"Zn(TFSI)2": 2, "DME": 70}, {"family": "organic"}),
    "LiDFOB-water": ({"LiDFOB": 2, "water": 300}, {"family": "aqueous"}),
    # aqueous family: every aqueous salt in SPC/E water; ZnCl2 in each water model
    **{f"{salt}-spce": ({salt: 3, "water": 300}, {"family": "aqueous"}) for salt in
       ["LiCl", "ZnCl2", "ZnBr2", "Zn(ClO4)2", "ZnSO4", "LiNO3"]},
    **{f"ZnCl2-{wm}": ({"ZnCl2": 3, "water": 300}, {"family": "aqueous", "water_model": wm}) for wm in ["tip4pew", "opc"]},
}


# one box of each family (and the cross-family one) is also minimised; single molecules of every
# species are minimised in test_forcefield.py
MINIMISED = {"LiFSI-DME-water", "ZnCl2-spce"}


def _definition(counts, ff, name="box"):
    return build.SystemDefinition.from_dict(
        {"name": name, "composition": {"counts": counts}, "force_field": {**ff, "cutoff_nm": 0.8}}
    )


@pytest.mark.parametrize("case", BOXES)
def test_small_box_is_neutral_complete_unoverlapped_and_finite(case, tmp_path):
    counts, ff = BOXES[case]
    definition = _definition(counts, ff)
    record = build.build(definition, tmp_path, seed=1)
    system = mm.XmlSerializer.deserialize((tmp_path / "system.xml").read_text())
    pdb = app.PDBFile(str(tmp_path / "topology.pdb"))

    assert abs(build.total_charge(system)) < 1e-6
    assert record["total_charge_e"] == pytest.approx(0, abs=1e-6)
    residues = [r.name for r in pdb.topology.residues()]
    for name, n in definition.counts.items():
        assert residues.count(sp.get(name).residue) == n
    box = pdb.topology.getPeriodicBoxVectors()[0][0].value_in_unit(unit.nanometer)
    assert box == pytest.approx(definition.box_nm, rel=1e-4)

    # no two atoms of different molecules closer than packmol's tolerance − 0.01 nm (periodic)
    xyz = pdb.getPositions(asNumpy=True).value_in_unit(unit.nanometer)
    real = [a.index for a in pdb.topology.atoms() if a.element is not None]
    molecule = np.array([a.residue.index for a in pdb.topology.atoms()])[real]
    tree = cKDTree(np.mod(xyz[real], box), boxsize=box)
    pairs = tree.query_pairs(build.PACKMOL_TOLERANCE_NM - 0.01, output_type="ndarray")
    assert not np.any(molecule[pairs[:, 0]] != molecule[pairs[:, 1]])

    ctx = mm.Context(system, mm.VerletIntegrator(0.001), mm.Platform.getPlatformByName("CPU"))
    ctx.setPositions(pdb.positions)
    state = ctx.getState(getEnergy=True, getForces=True)
    assert math.isfinite(state.getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole))
    assert np.isfinite(state.getForces(asNumpy=True).value_in_unit(unit.kilojoule_per_mole / unit.nanometer)).all()
    if case in MINIMISED:
        before = state.getPotentialEnergy()
        mm.LocalEnergyMinimizer.minimize(ctx, 10.0, 50)
        after = ctx.getState(getEnergy=True).getPotentialEnergy()
        assert after < before and after.value_in_unit(unit.kilojoule_per_mole) < 0


def test_same_input_and_seed_give_identical_files(tmp_path):
    definition = _definition({"LiDFOB": 2, "DME": 70}, {"family": "organic"})
    build.build(definition, tmp_path / "a", seed=7)
    build.build(definition, tmp_path / "b", seed=7)
    build.build(definition, tmp_path / "c", seed=8)
    for f in ["system.xml", "topology.pdb", "build.json"]:
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes(), f
    assert (tmp_path / "a" / "topology.pdb").read_bytes() != (tmp_path / "c" / "topology.pdb").read_bytes()


def test_build_record_has_provenance(tmp_path):
    definition = _definition({"LiCl": 2, "water": 300}, {"family": "aqueous"})
    build.build(definition, tmp_path, seed=3)
    record = json.loads((tmp_path / "build.json").read_text())
    assert record["counts"] == {"Li": 2, "Cl": 2, "water": 300}
    assert record["charge_scale"] == 1.0 and record["seed"] == 3
    assert set(record["force_field_files"]) == {"aqueous/ions-spce.xml", "aqueous/water-spce.xml"}
    assert all(len(v) == 64 for v in record["force_field_files"].values())
    assert record["species_force_field"] == {"Li": "aqueous/ions-spce.xml", "Cl": "aqueous/ions-spce.xml",
                                             "water": "aqueous/water-spce.xml"}
    assert record["n_atoms"] == 2 + 2 + 900


def test_system_files_as_shipped_build(tmp_path):
    definition = build.SystemDefinition.load("systems/li2zncl4-9h2o.yaml")
    record = build.build(definition, tmp_path, seed=0)
    assert record["counts"] == {"Li": 120, "Cl": 240, "Zn": 60, "water": 540}
    assert record["total_charge_e"] == pytest.approx(0, abs=1e-6)

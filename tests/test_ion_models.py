"""Divalent-cation models (force_field.divalent_model): the 12-6-4 C4 term is the cited one, a model
changes the Mg²⁺/Zn²⁺ parameters and nothing else, boxes build and minimise under every model."""

from __future__ import annotations

import json
import math
import shutil

import numpy as np
import openmm as mm
import pytest
from openmm import app, unit

from hese import build, forcefield, ion_models
from hese.errors import HeseInputError

KCAL = 4.184
# Transcribed by hand from the sources named in force_fields/aqueous/divalent-*.xml (not read from them):
# C4 (kcal/mol/Å⁴), ParmEd parmed/tools/add1264.py DEFAULT_C4_PARAMS; Rmin/2 (Å), ε (kcal/mol), AmberTools
# frcmod.ions234lm_1264_spce / _tip4pew, frcmod.ionslm_1264_opc and the IOD files.
C4_CITED = {("Zn", "spce"): 231.2, ("Mg", "spce"): 122.2, ("Zn", "tip4pew"): 272.3, ("Mg", "tip4pew"): 180.5,
            ("Zn", "opc"): 225.0, ("Mg", "opc"): 127.0}
LJ_CITED = {
    ("12-6-4", "Zn", "spce"): (1.454, 0.02639002), ("12-6-4", "Mg", "spce"): (1.429, 0.02093385),
    ("12-6-4", "Zn", "tip4pew"): (1.450, 0.02545423), ("12-6-4", "Mg", "tip4pew"): (1.436, 0.02236885),
    ("12-6-4", "Zn", "opc"): (1.423, 0.01975917), ("12-6-4", "Mg", "opc"): (1.405, 0.01652939),
    ("iod", "Zn", "spce"): (1.395, 0.01491700), ("iod", "Mg", "spce"): (1.395, 0.01491700),
    ("iod", "Zn", "tip4pew"): (1.395, 0.01491700), ("iod", "Mg", "tip4pew"): (1.395, 0.01491700),
    ("iod", "Zn", "opc"): (1.373, 0.01179373), ("iod", "Mg", "opc"): (1.373, 0.01179373),
}
# Polarizabilities (Å³), AmberTools 26 dat/leap/parm/lj_1264_pol.dat: OW (water), Cl-, Br-, Li+, Zn2+, Mg2+.
POL_CITED = {"water": 1.444, "Cl": 3.2350, "Br": 4.5330, "Li": 0.029, "Zn": 0.344, "Mg": 0.048}
WATER_MODELS = ("spce", "tip4pew", "opc")


def _pair(ion, water_model, model, r_nm):
    """Non-periodic System of one ion and one water whose oxygen is r_nm from it, and its positions."""
    top = build.topology_for({ion: 1, "water": 1})
    xyz = np.array([[0, 0, 0], [r_nm, 0, 0], [r_nm + 0.033, 0.092, 0], [r_nm + 0.033, -0.092, 0]])
    modeller = app.Modeller(top, xyz * unit.nanometer)
    files = forcefield.files_for([ion, "water"], "aqueous", water_model)
    modeller.addExtraParticles(app.ForceField(*map(str, files)))
    system = forcefield.create_system(modeller.topology, "aqueous", water_model=water_model,
                                      constraints=None, divalent_model=model)
    return system, modeller.positions


def _energies(system, positions):
    """Potential energy (kJ/mol) of each force, by name."""
    for k, f in enumerate(system.getForces()):
        f.setForceGroup(k)
    ctx = mm.Context(system, mm.VerletIntegrator(0.001), mm.Platform.getPlatformByName("Reference"))
    ctx.setPositions(positions)
    return {f.getName(): ctx.getState(getEnergy=True, groups={k}).getPotentialEnergy()
            .value_in_unit(unit.kilojoule_per_mole) for k, f in enumerate(system.getForces())}


def _nonbonded(system):
    return next(f for f in system.getForces() if isinstance(f, mm.NonbondedForce))


def _particles(system):
    nb = _nonbonded(system)
    return [tuple(x.value_in_unit(x.unit) for x in nb.getParticleParameters(i)) for i in range(nb.getNumParticles())]


@pytest.mark.parametrize("ion, water_model", list(C4_CITED))
def test_c4_energy_of_one_ion_oxygen_pair_is_the_cited_value(ion, water_model):
    r = 0.215
    system, positions = _pair(ion, water_model, "12-6-4", r)
    hand = -C4_CITED[ion, water_model] * KCAL / 10**4 / r**4  # kJ/mol nm⁴ / nm⁴
    assert _energies(system, positions)["LennardJones1264C4"] == pytest.approx(hand, abs=1e-6)

    # the 12-6 part is the frcmod's Rmin/2, ε by Lorentz–Berthelot with the water oxygen
    rmin2, eps = LJ_CITED["12-6-4", ion, water_model]
    q, sigma, epsilon = _particles(system)[0]
    assert sigma == pytest.approx(rmin2 * 2 / 2 ** (1 / 6) / 10, rel=1e-12)
    assert epsilon == pytest.approx(eps * KCAL, rel=1e-12)

    # the CM default has no C4 term and a different total: the test can fail
    cm, _ = _pair(ion, water_model, "cm", r)
    assert "LennardJones1264C4" not in _energies(cm, positions)
    assert sum(_energies(cm, positions).values()) != pytest.approx(sum(_energies(system, positions).values()),
                                                                   abs=1e-3)


def _two_ions(a, b, water_model, r_nm):
    """Non-periodic System of two ions r_nm apart under 12-6-4, and its positions."""
    top = build.topology_for({a: 1, b: 1} if a != b else {a: 2})
    system = forcefield.create_system(top, "aqueous", water_model=water_model, constraints=None,
                                      divalent_model="12-6-4")
    return system, np.array([[0, 0, 0], [r_nm, 0, 0]]) * unit.nanometer


@pytest.mark.parametrize("water_model", WATER_MODELS)
@pytest.mark.parametrize("a, b", [("Zn", "Cl"), ("Zn", "Br"), ("Zn", "Li"), ("Mg", "Cl"), ("Zn", "Zn"),
                                  ("Zn", "Mg")])
def test_c4_of_an_ion_pair_is_the_ion_c4_scaled_by_the_cited_polarizabilities(a, b, water_model):
    """ParmEd's add12_6_4 rule: C4_ij = C4_i α_j / α_Ow, summed over the 12-6-4 ions of a pair of two types."""
    r = 0.23
    system, positions = _two_ions(a, b, water_model, r)
    terms = [C4_CITED[i, water_model] * POL_CITED[j] / POL_CITED["water"] for i, j in ((a, b), (b, a))
             if (i, water_model) in C4_CITED]
    c4 = terms[0] if a == b else sum(terms)
    hand = -c4 * KCAL / 10**4 / r**4
    assert _energies(system, positions)["LennardJones1264C4"] == pytest.approx(hand, abs=1e-6)


@pytest.mark.parametrize("water_model", WATER_MODELS)
def test_c4_force_pairs_the_ions_with_every_polarizable_atom_and_mirrors_the_nonbonded_force(water_model):
    top = build.topology_for({"Zn": 1, "Mg": 1, "Li": 1, "Cl": 5, "water": 8}, box_nm=2.5)
    modeller = app.Modeller(top, np.zeros((top.getNumAtoms(), 3)) * unit.nanometer)
    files = forcefield.files_for(["Zn", "Mg", "Li", "Cl", "water"], "aqueous", water_model)
    modeller.addExtraParticles(app.ForceField(*map(str, files)))
    system = forcefield.create_system(modeller.topology, "aqueous", water_model=water_model, divalent_model="12-6-4")
    c4 = next(f for f in system.getForces() if f.getName() == "LennardJones1264C4")
    nb = _nonbonded(system)
    atoms = list(modeller.topology.atoms())
    ions, partners = c4.getInteractionGroupParameters(0)
    assert [atoms[i].residue.name for i in ions] == ["ZN", "MG"]
    assert sorted((atoms[i].residue.name, atoms[i].name) for i in partners) == sorted(
        [("ZN", "Zn1"), ("MG", "Mg1"), ("LI", "Li1")] + [("CL", "Cl1")] * 5 + [("HOH", "O1")] * 8)
    assert c4.getNumInteractionGroups() == 1
    assert c4.getNonbondedMethod() == mm.CustomNonbondedForce.CutoffPeriodic
    assert c4.getCutoffDistance() == nb.getCutoffDistance()
    assert nb.getUseDispersionCorrection() and not c4.getUseLongRangeCorrection()  # Amber's convention: no C4 tail
    assert c4.getUseSwitchingFunction() == nb.getUseSwitchingFunction()
    exclusions = {tuple(sorted(c4.getExclusionParticles(k))) for k in range(c4.getNumExclusions())}
    exceptions = {tuple(sorted(nb.getExceptionParameters(k)[:2])) for k in range(nb.getNumExceptions())}
    assert exclusions == exceptions and exclusions


@pytest.mark.parametrize("model", ["iod", "12-6-4"])
@pytest.mark.parametrize("water_model", WATER_MODELS)
def test_model_changes_the_divalent_ions_lj_and_nothing_else(model, water_model):
    counts = {"Zn": 1, "Mg": 1, "Li": 1, "Cl": 5, "Br": 1, "water": 3}
    top = build.topology_for(counts, box_nm=2.5)
    modeller = app.Modeller(top, np.zeros((top.getNumAtoms(), 3)) * unit.nanometer)
    modeller.addExtraParticles(app.ForceField(*map(str, forcefield.files_for(counts, "aqueous", water_model))))
    cm = forcefield.create_system(modeller.topology, "aqueous", water_model=water_model, divalent_model="cm")
    other = forcefield.create_system(modeller.topology, "aqueous", water_model=water_model, divalent_model=model)
    names = [a.residue.name for a in modeller.topology.atoms()]
    for name, a, b in zip(names, _particles(cm), _particles(other), strict=True):
        if name in ("ZN", "MG"):
            assert a[0] == b[0] and (a[1], a[2]) != (b[1], b[2])
            rmin2, eps = LJ_CITED[model, {"ZN": "Zn", "MG": "Mg"}[name], water_model]
            assert b[1] == pytest.approx(rmin2 * 2 / 2 ** (1 / 6) / 10, rel=1e-12)
            assert b[2] == pytest.approx(eps * KCAL, rel=1e-12)
        else:
            assert a == b, name
    nb_cm, nb_other = _nonbonded(cm), _nonbonded(other)
    assert [nb_cm.getExceptionParameters(k) for k in range(nb_cm.getNumExceptions())] == \
           [nb_other.getExceptionParameters(k) for k in range(nb_other.getNumExceptions())]
    extra = {"12-6-4": ["LennardJones1264C4"], "iod": []}[model]
    assert [f.getName() for f in other.getForces()] == [f.getName() for f in cm.getForces()] + extra
    assert [other.getParticleMass(i) for i in range(other.getNumParticles())] == \
           [cm.getParticleMass(i) for i in range(cm.getNumParticles())]


def test_model_lj_reaches_pairs_with_organic_atoms():
    """Zn²⁺ (aqueous parameters) in DME: its geometric pairs with DME use the model's σ, ε."""
    top = build.topology_for({"Zn": 1, "DME": 1})
    by_model = {}
    for model in ("cm", "iod"):
        system = forcefield.create_system(top, "organic", divalent_model=model, constraints=None)
        lj = next(f for f in system.getForces() if f.getName() == "LennardJones")
        by_model[model] = lj.getParticleParameters(0)
    rmin2, eps = LJ_CITED["iod", "Zn", "spce"]
    sigma = rmin2 * 2 / 2 ** (1 / 6) / 10
    assert by_model["iod"] == pytest.approx([2 * math.sqrt(eps * KCAL) * sigma**6, 2 * math.sqrt(eps * KCAL) * sigma**3])
    assert by_model["iod"] != pytest.approx(by_model["cm"])


@pytest.mark.parametrize("counts", [{"Zn": 1, "DME": 1}, {"Zn": 1, "ClO4": 2, "water": 3}])
def test_1264_beside_a_species_without_polarizability_is_refused(counts):
    """The C4 pairs of Zn²⁺ with DME or ClO₄⁻ atoms are undefined: the model names them instead of omitting them."""
    family = "organic" if "DME" in counts else "aqueous"
    other = next(name for name in counts if name not in ("Zn", "water"))
    with pytest.raises(HeseInputError, match=rf"^force_field.divalent_model: '12-6-4' needs the polarizability "
                                             rf"of every species .* has none for {other}; use 'iod' or 'cm'$"):
        forcefield.create_system(build.topology_for(counts), family, divalent_model="12-6-4", constraints=None)
    definition = {"name": "zn", "composition": {"counts": {"Zn(ClO4)2": 1, "water": 300}},
                  "force_field": {"family": "aqueous", "cutoff_nm": 0.8, "divalent_model": "12-6-4"}}
    with pytest.raises(HeseInputError, match=r"^zn.yaml: force_field.divalent_model: '12-6-4' .* ClO4; use"):
        build.SystemDefinition.from_dict(definition, "zn.yaml")
    definition["composition"]["counts"] = {"MgCl2": 1, "LiCl": 1, "water": 300}
    build.SystemDefinition.from_dict(definition, "zn.yaml")


@pytest.mark.parametrize("model", ion_models.DIVALENT_MODELS)
def test_zn_in_water_box_builds_neutral_records_the_model_and_minimises(model, tmp_path):
    definition = build.SystemDefinition.from_dict({
        "name": "zn", "composition": {"counts": {"ZnCl2": 1, "water": 300}},
        "force_field": {"family": "aqueous", "cutoff_nm": 0.8, "divalent_model": model}})
    record = build.build(definition, tmp_path, seed=1)
    system = mm.XmlSerializer.deserialize((tmp_path / "system.xml").read_text())
    assert abs(build.total_charge(system)) < 1e-6 and record["counts"] == {"Zn": 1, "Cl": 2, "water": 300}
    saved = json.loads((tmp_path / "build.json").read_text())
    assert saved["divalent_model"] == model
    files = {"aqueous/ions-spce.xml", "aqueous/water-spce.xml"}
    files |= {"iod": {"aqueous/divalent-iod-spce.xml"}, "12-6-4": {"aqueous/divalent-1264-spce.xml"}}.get(model, set())
    assert set(saved["force_field_files"]) == files
    assert ("LennardJones1264C4" in [f.getName() for f in system.getForces()]) == (model == "12-6-4")

    pdb = app.PDBFile(str(tmp_path / "topology.pdb"))
    ctx = mm.Context(system, mm.VerletIntegrator(0.001), mm.Platform.getPlatformByName("CPU"))
    ctx.setPositions(pdb.positions)
    before = ctx.getState(getEnergy=True).getPotentialEnergy()
    mm.LocalEnergyMinimizer.minimize(ctx, 10.0, 50)
    after = ctx.getState(getEnergy=True).getPotentialEnergy()
    assert after < before and after.value_in_unit(unit.kilojoule_per_mole) < 0
    forces = ctx.getState(getForces=True).getForces(asNumpy=True).value_in_unit(unit.kilojoule_per_mole / unit.nanometer)
    assert np.isfinite(forces).all()


def _definition(ff):
    return {"name": "zn", "composition": {"counts": {"ZnCl2": 1, "water": 300}},
            "force_field": {"family": "aqueous", "cutoff_nm": 0.8, **ff}}


def test_unknown_model_is_one_line_naming_the_field_and_the_choices():
    with pytest.raises(HeseInputError) as err:
        build.SystemDefinition.from_dict(_definition({"divalent_model": "12-6"}), source="zn.yaml")
    assert str(err.value) == "zn.yaml: force_field.divalent_model: '12-6' is not one of cm, iod, 12-6-4"
    with pytest.raises(HeseInputError, match=r"^force_field.divalent_model: 'lj' is not one of cm, iod, 12-6-4$"):
        forcefield.create_system(build.topology_for({"Zn": 1}), "aqueous", divalent_model="lj")


def test_model_missing_for_a_water_model_names_both(tmp_path, monkeypatch):
    shutil.copytree(forcefield.force_field_dir(), tmp_path / "ff")
    (tmp_path / "ff" / "aqueous" / "divalent-1264-opc.xml").unlink()
    monkeypatch.setenv("HESE_FORCE_FIELDS", str(tmp_path / "ff"))
    with pytest.raises(HeseInputError) as err:
        build.SystemDefinition.from_dict(_definition({"divalent_model": "12-6-4", "water_model": "opc"}), "zn.yaml")
    assert str(err.value) == ("zn.yaml: force_field.divalent_model: '12-6-4' is not available for "
                              "force_field.water_model 'opc'")
    assert "\n" not in str(err.value)


def test_model_for_an_organic_family_ion_is_refused():
    definition = {"name": "mg", "composition": {"counts": {"Mg(TFSI)2": 1, "DME": 70}},
                  "force_field": {"family": "organic", "cutoff_nm": 0.8, "divalent_model": "12-6-4"}}
    with pytest.raises(HeseInputError, match=r"^mg.yaml: force_field.divalent_model: '12-6-4' .* Mg takes "
                                             r"organic-family parameters here; use 'cm'$"):
        build.SystemDefinition.from_dict(definition, "mg.yaml")
    definition["force_field"]["divalent_model"] = "cm"
    build.SystemDefinition.from_dict(definition, "mg.yaml")


def test_default_model_is_iod_in_water_and_cm_in_the_organic_family():
    """A definition that names no model gets the family's default, recorded in build.json's definition."""
    aqueous = build.SystemDefinition.from_dict({"name": "zn", "composition": {"counts": {"ZnCl2": 1, "water": 300}},
                                                "force_field": {"family": "aqueous", "cutoff_nm": 0.8}})
    organic = build.SystemDefinition.from_dict({"name": "mg", "composition": {"counts": {"Mg(TFSI)2": 1, "DME": 70}},
                                                "force_field": {"family": "organic", "cutoff_nm": 0.8}})
    assert (aqueous.divalent_model, organic.divalent_model) == ("iod", "cm")
    top = build.topology_for({"Zn": 1, "Cl": 2})
    default = _particles(forcefield.create_system(top, "aqueous", constraints=None))
    assert default == _particles(forcefield.create_system(top, "aqueous", constraints=None, divalent_model="iod"))
    assert default != _particles(forcefield.create_system(top, "aqueous", constraints=None, divalent_model="cm"))

"""Force fields: every species builds, charges and masses match the registry,
the combining rules are exactly what force_fields/README.md says."""

from __future__ import annotations

import math

import numpy as np
import openmm as mm
import pytest
from openmm import app, unit

from hese import build, forcefield
from hese import species as sp

KCAL = 4.184
ONE_FOURTH_SIXTH = 2 ** (1 / 6)


def _cases() -> list:
    return [
        pytest.param(s.name, family, wm, id=f"{s.name}-{family}-{wm}")
        for s in sp.registry().values()
        for family, entry in s.force_field.items()
        for wm in (sp.WATER_MODELS if "{water_model}" in entry.file else ("spce",))
    ]


def _molecule(names_positions, family, water_model="spce", charge_scale=None):
    """Non-periodic System of the given molecules (list of (species, xyz_nm))."""
    top = build.topology_for({name: 1 for name, _ in names_positions})
    xyz = np.concatenate([pos for _, pos in names_positions])
    modeller = app.Modeller(top, xyz * unit.nanometer)
    files = forcefield.files_for([n for n, _ in names_positions], family, water_model)
    modeller.addExtraParticles(app.ForceField(*map(str, files)))
    system = forcefield.create_system(modeller.topology, family, water_model=water_model,
                                      charge_scale=charge_scale, constraints=None)
    return system, modeller


def _context(system, positions):
    ctx = mm.Context(system, mm.VerletIntegrator(0.001), mm.Platform.getPlatformByName("Reference"))
    ctx.setPositions(positions)
    return ctx


def _energy(ctx):
    return ctx.getState(getEnergy=True).getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole)


def _nonbonded(system):
    return next(f for f in system.getForces() if isinstance(f, mm.NonbondedForce))


@pytest.mark.parametrize("name, family, water_model", _cases())
def test_every_species_builds_alone_with_registry_charge_and_mass_and_minimises(name, family, water_model):
    s = sp.get(name)
    scale = 0.8 if s.kind != "solvent" else None
    system, modeller = _molecule([(name, build.conformer(s, seed=1))], family, water_model, charge_scale=scale)
    charge = build.total_charge(system)
    assert charge == pytest.approx(s.charge * (scale or 1.0), abs=1e-6)
    mass = sum(system.getParticleMass(i).value_in_unit(unit.dalton) for i in range(system.getNumParticles()))
    assert mass == pytest.approx(s.molar_mass, rel=2e-3)
    ctx = _context(system, modeller.positions)
    mm.LocalEnergyMinimizer.minimize(ctx, 1e-2, 2000)
    assert math.isfinite(_energy(ctx))
    pos = ctx.getState(getPositions=True).getPositions(asNumpy=True).value_in_unit(unit.nanometer)
    for bond in modeller.topology.bonds():
        assert np.linalg.norm(pos[bond[0].index] - pos[bond[1].index]) < 0.22, (bond[0].name, bond[1].name)


def _lj(sigma_i, eps_i, sigma_j, eps_j, r, rule):
    sigma = math.sqrt(sigma_i * sigma_j) if rule == "geometric" else 0.5 * (sigma_i + sigma_j)
    eps = math.sqrt(eps_i * eps_j)
    return 4 * eps * ((sigma / r) ** 12 - (sigma / r) ** 6)


def _uncharged(system):
    nb = _nonbonded(system)
    for i in range(nb.getNumParticles()):
        _, sig, eps = nb.getParticleParameters(i)
        nb.setParticleParameters(i, 0.0, sig, eps)
    for k in range(nb.getNumExceptions()):
        i, j, _, sig, eps = nb.getExceptionParameters(k)
        nb.setExceptionParameters(k, i, j, 0.0, sig, eps)
    return system


def _ion_interaction(family, ion, partner, atom, cited, ion_cited, rule, water_model="spce"):
    """LJ energy of ion placed 0.30 nm from `atom` of `partner`, OpenMM vs hand-computed.

    The ion is moved from 0.30 nm to 1000 nm away; with no cutoff and no charges
    the energy difference is the sum of the ion's LJ pair energies with every atom
    of the partner, computed by hand from the cited σ, ε (nm, kJ/mol) per element.
    """
    mol = build.conformer(sp.get(partner), seed=3)
    names = sp.get(partner).atom_names
    k = names.index(atom)
    out = mol[k] - mol.mean(axis=0)
    out = out / np.linalg.norm(out) if np.linalg.norm(out) > 0 else np.array([1.0, 0, 0])
    near = mol[k] + 0.30 * out
    system, modeller = _molecule([(partner, mol), (ion, near[None])], family, water_model)
    ctx = _context(_uncharged(system), modeller.positions)
    pos = modeller.positions.value_in_unit(unit.nanometer)
    ion_index = len(pos) - 1
    e_near = _energy(ctx)
    far = np.array(pos)
    far[ion_index] = near + 1000.0 * out
    ctx.setPositions(far)
    openmm_e = e_near - _energy(ctx)
    elements = sp.get(partner).elements
    hand = sum(
        _lj(*ion_cited, *cited[el], float(np.linalg.norm(mol[j] - near)), rule)
        for j, el in enumerate(elements)
        if cited[el][1] > 0
    )
    return openmm_e, hand


# Cited σ (nm), ε (kJ/mol): CL&P il.ff (paduagroup/clandp, 2025/12/19): Li (Åqvist 1990),
# ether OPLS-AA types CT (3.50 Å, 0.27614), HC/HY (2.50 Å, 0.12552), OY (2.90 Å, 0.58576).
LI_CLANDP = (0.2126, 0.07648)
DME_OPLS = {"C": (0.350, 0.27614), "H": (0.250, 0.12552), "O": (0.290, 0.58576)}
# SPC/E O as in OpenMM amber14/spce.xml (σ 3.16557 Å, ε 0.1553 kcal/mol); Li+ for SPC/E,
# Joung & Cheatham 2008 Table 5: R_min/2 = 0.791 Å, ε = 0.3367344 kcal/mol (σ = 2 R_min/2 / 2^(1/6)).
SPCE_O = {"O": (0.31657195050398818, 0.1553 * KCAL), "H": (0.1, 0.0)}
LI_JC_SPCE = (2 * 0.0791 / ONE_FOURTH_SIXTH, 0.3367344 * KCAL)


def test_li_dme_oxygen_is_geometric_as_cited():
    openmm_e, hand = _ion_interaction("organic", "Li", "DME", "O1", DME_OPLS, LI_CLANDP, "geometric")
    assert openmm_e == pytest.approx(hand, abs=1e-6)
    # and Lorentz–Berthelot would differ measurably: the test can fail
    lb = _ion_interaction("organic", "Li", "DME", "O1", DME_OPLS, LI_CLANDP, "lorentz-berthelot")[1]
    assert abs(lb - hand) > 1e-2


def test_li_water_oxygen_is_lorentz_berthelot_in_the_aqueous_family():
    openmm_e, hand = _ion_interaction("aqueous", "Li", "water", "O1", SPCE_O, LI_JC_SPCE, "lorentz-berthelot")
    assert openmm_e == pytest.approx(hand, abs=1e-6)


def test_organic_li_with_water_is_geometric_across_families():
    openmm_e, hand = _ion_interaction("organic", "Li", "water", "O1", SPCE_O, LI_CLANDP, "geometric")
    assert openmm_e == pytest.approx(hand, abs=1e-6)


def test_dme_one_four_pair_is_geometric_and_halved():
    """H1–C2 is a 1-4 pair (H1–C1–O1–C2): σ = √(σ_H σ_C), ε = ½ √(ε_H ε_C)."""
    system, modeller = _molecule([("DME", build.conformer(sp.get("DME"), seed=1))], "organic")
    names = [a.name for a in modeller.topology.atoms()]
    h1, c2 = names.index("H1"), names.index("C2")
    nb = _nonbonded(system)
    exc = [nb.getExceptionParameters(k) for k in range(nb.getNumExceptions())]
    (_, _, _, sigma, eps), = [e for e in exc if {e[0], e[1]} == {h1, c2}]
    pair = mm.System()
    pair.addParticle(1.0)
    pair.addParticle(12.0)
    force = mm.NonbondedForce()
    force.setNonbondedMethod(mm.NonbondedForce.NoCutoff)
    force.addParticle(0.0, 0.1, 0.0)
    force.addParticle(0.0, 0.1, 0.0)
    force.addException(0, 1, 0.0, sigma, eps)
    pair.addForce(force)
    ctx = _context(pair, [mm.Vec3(0, 0, 0), mm.Vec3(0.3, 0, 0)])
    hand = 0.5 * _lj(*DME_OPLS["H"], *DME_OPLS["C"], 0.30, "geometric")
    assert _energy(ctx) == pytest.approx(hand, abs=1e-6)
    # the 1-4 pair is excluded from the full-strength LJ table
    lj = next(f for f in system.getForces() if f.getName() == "LennardJones")
    assert lj.getNumExclusions() == nb.getNumExceptions()


def test_charge_scale_scales_ions_only_and_intramolecular_pairs_by_its_square():
    mols = [("FSI", build.conformer(sp.get("FSI"), 1)), ("DME", build.conformer(sp.get("DME"), 1) + 2.0)]
    full, _ = _molecule(mols, "organic", charge_scale=1.0)
    scaled, top = _molecule(mols, "organic", charge_scale=0.7)
    nf, ns = _nonbonded(full), _nonbonded(scaled)
    residue = [a.residue.name for a in top.topology.atoms()]
    for i, res in enumerate(residue):
        qf = nf.getParticleParameters(i)[0].value_in_unit(unit.elementary_charge)
        qs = ns.getParticleParameters(i)[0].value_in_unit(unit.elementary_charge)
        assert qs == pytest.approx(qf * (0.7 if res == "FSI" else 1.0), abs=1e-12)
    for k in range(nf.getNumExceptions()):
        i, j, qqf, _, _ = nf.getExceptionParameters(k)
        qqs = ns.getExceptionParameters(k)[2]
        factor = 0.49 if residue[i] == "FSI" else 1.0
        assert qqs.value_in_unit(unit.elementary_charge**2) == pytest.approx(
            qqf.value_in_unit(unit.elementary_charge**2) * factor, abs=1e-12)

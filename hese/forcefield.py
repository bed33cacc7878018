"""Force-field files, combining rules and charge scaling for OpenMM Systems.

The XML files below ``force_fields/`` carry each atom's own σ and ε; the
combining rule is applied here, exactly, after OpenMM has built the System:

* both atoms from the aqueous family (water models and the ions fitted to
  them): Lorentz–Berthelot, :math:`\\sigma_{ij} = (\\sigma_i + \\sigma_j)/2`,
  :math:`\\epsilon_{ij} = \\sqrt{\\epsilon_i \\epsilon_j}` — OpenMM's native rule;
* any pair with an atom from the organic family (OPLS-AA / CL&P): geometric,
  :math:`\\sigma_{ij} = \\sqrt{\\sigma_i \\sigma_j}`,
  :math:`\\epsilon_{ij} = \\sqrt{\\epsilon_i \\epsilon_j}`, the rule OPLS-AA was
  parametrised with (also in water), with 1-4 pairs scaled by 0.5 (Coulomb
  and LJ).

Every pair with an organic atom moves from the ``NonbondedForce`` (which
keeps Coulomb/PME and the aqueous–aqueous pairs) into a
``CustomNonbondedForce`` with the same cutoff, switching and long-range
dispersion correction (see :func:`apply_combining_rules`); intramolecular
exceptions are excluded from it and the 1-4 exceptions of the
``NonbondedForce`` get the geometric σ.

Charge scaling (electronic continuum correction): every atom of an ion is
scaled by the same factor, solvents are not; intramolecular exceptions of an
ion scale by the factor squared.
"""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Iterable, Sequence
from importlib import resources
from pathlib import Path

import numpy as np
import openmm as mm
from openmm import app, unit

from hese import ion_models
from hese import species as sp
from hese.errors import HeseInputError

LB, GEOMETRIC = "lorentz-berthelot", "geometric"
#: Default ion charge scale per family (ECC for the organic family).
DEFAULT_CHARGE_SCALE = {"organic": 0.8, "aqueous": 1.0}


def force_field_dir() -> Path:
    """The ``force_fields/`` folder, package data ``hese.force_fields`` (override with ``HESE_FORCE_FIELDS``)."""
    env = os.environ.get("HESE_FORCE_FIELDS")
    return Path(env) if env else Path(str(resources.files("hese.force_fields")))


def check_choice(field: str, value: str, allowed: Sequence[str]) -> str:
    """Return ``value`` if allowed, else raise naming the field and the choices."""
    if value not in allowed:
        raise HeseInputError(f"{field}: {value!r} is not one of {', '.join(allowed)}")
    return value


def species_file(species: sp.Species, family: str, water_model: str = "spce") -> Path:
    """The XML file holding ``species`` in ``family``.

    A species without parameters in ``family`` takes those of the other family
    (water in an organic electrolyte, Zn²⁺ with TFSI⁻ in DME, DFOB⁻ in water),
    so any mixture builds; its pairs with the other family's atoms follow
    :func:`pair_rule`. ``build.json`` records the file used for every species.
    """
    check_choice("force_field.family", family, sp.FAMILIES)
    check_choice("force_field.water_model", water_model, sp.WATER_MODELS)
    fam = family if family in species.force_field else next(iter(species.force_field))
    path = force_field_dir() / species.force_field[fam].path(water_model)
    if not path.is_file():
        raise HeseInputError(
            f"force-field file {path.name!r} for species {species.name!r} "
            f"({fam} family) is missing from {path.parent}"
        )
    return path


def files_for(names: Iterable[str], family: str, water_model: str = "spce") -> list[Path]:
    """Distinct force-field files for the species ``names``, in first-use order."""
    files: dict[Path, None] = {}
    for name in names:
        files[species_file(sp.get(name), family, water_model)] = None
    return list(files)


def family_of(path: Path) -> str:
    """The family of a force-field file: the folder it lives in."""
    return path.parent.name


def checksum(path: Path) -> str:
    """SHA-256 of a file, for provenance records."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def create_system(
    topology: app.Topology,
    family: str,
    *,
    water_model: str = "spce",
    charge_scale: float | None = None,
    cutoff_nm: float = 1.0,
    constraints: object = app.HBonds,
    divalent_model: str | None = None,
) -> mm.System:
    """Build the OpenMM System of ``topology`` with hese's rules.

    Parameters
    ----------
    topology
        Residue names must be registry residue names.
    family
        ``organic`` or ``aqueous``: which parameter family to take species from.
    water_model
        ``spce``, ``tip4pew`` or ``opc`` (aqueous family and water).
    charge_scale
        Factor in (0, 1] for every atom of every ion; default 0.8 (organic)
        or 1.0 (aqueous).
    cutoff_nm
        Real-space cutoff of PME and of the Lennard-Jones interactions.
    constraints
        OpenMM constraint mode (water is always rigid).
    divalent_model
        ``cm``, ``iod`` or ``12-6-4``: the Li–Merz model of the aqueous Mg²⁺ and Zn²⁺
        (:mod:`hese.ion_models`); default ``iod`` in the aqueous family, ``cm`` in the organic one.

    Returns
    -------
    openmm.System
        PME electrostatics, LJ by the combining rules of this module, ion
        charges scaled; with ``12-6-4`` also the ions' −C4/r⁴ force.
    """
    scale = check_charge_scale(DEFAULT_CHARGE_SCALE[family] if charge_scale is None else charge_scale)
    check_choice("force_field.water_model", water_model, sp.WATER_MODELS)
    model_file = ion_models.model_path(divalent_model or ion_models.default_model(family), water_model,
                                       force_field_dir())
    by_residue = residue_species(topology)
    files = files_for([s.name for s in by_residue.values()], family, water_model)
    forcefield = app.ForceField(*[str(f) for f in files])
    periodic = topology.getPeriodicBoxVectors() is not None
    try:
        system = forcefield.createSystem(
            topology,
            nonbondedMethod=app.PME if periodic else app.NoCutoff,
            nonbondedCutoff=cutoff_nm * unit.nanometer,
            constraints=constraints,
            rigidWater=True,
        )
    except ValueError as err:
        raise HeseInputError(f"force field does not match the topology: {err}") from None
    particle_family = []
    ion_particles = []
    file_family = {s.name: family_of(species_file(s, family, water_model)) for s in by_residue.values()}
    for atom in topology.atoms():
        s = by_residue[atom.residue.name]
        particle_family.append(file_family[s.name])
        if s.kind != "solvent":
            ion_particles.append(atom.index)
    nonbonded = _nonbonded(system)
    if periodic:
        nonbonded.setUseDispersionCorrection(True)
    scale_charges(nonbonded, ion_particles, scale)
    model = ion_models.load(model_file) if model_file else None
    if model:
        ion_models.apply_divalent_model(system, topology, model, particle_family)
    apply_combining_rules(system, particle_family)
    if model:
        ion_models.add_c4_force(system, topology, model)
    return system


def check_charge_scale(value: float) -> float:
    """Charge-scale factors must lie in (0, 1]."""
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 < value <= 1:
        raise HeseInputError(f"force_field.charge_scale: {value!r} is not in (0, 1]")
    return float(value)


def residue_species(topology: app.Topology) -> dict[str, sp.Species]:
    """Registry species of each residue name in ``topology``."""
    by_residue = {s.residue: s for s in sp.registry().values()}
    out = {}
    for res in topology.residues():
        if res.name not in by_residue:
            raise HeseInputError(
                f"residue {res.name!r} is not a registry residue; known: {', '.join(by_residue)}"
            )
        out[res.name] = by_residue[res.name]
    return out


def _nonbonded(system: mm.System) -> mm.NonbondedForce:
    return next(f for f in system.getForces() if isinstance(f, mm.NonbondedForce))


def scale_charges(nonbonded: mm.NonbondedForce, particles: Iterable[int], scale: float) -> None:
    """Multiply the charges of ``particles`` (whole ions) by ``scale``.

    Exceptions between two scaled particles (intramolecular pairs of an ion)
    have their charge product scaled by ``scale**2``.
    """
    if scale == 1.0:
        return
    scaled = np.zeros(nonbonded.getNumParticles(), dtype=bool)
    for i in particles:
        q, sigma, eps = nonbonded.getParticleParameters(i)
        nonbonded.setParticleParameters(i, q * scale, sigma, eps)
        scaled[i] = True
    for k in range(nonbonded.getNumExceptions()):
        i, j, qq, sigma, eps = nonbonded.getExceptionParameters(k)
        if scaled[i] and scaled[j]:
            nonbonded.setExceptionParameters(k, i, j, qq * scale**2, sigma, eps)
        elif scaled[i] or scaled[j]:
            nonbonded.setExceptionParameters(k, i, j, qq * scale, sigma, eps)


def pair_rule(family_i: str, family_j: str) -> str:
    """The combining rule for a pair of atoms from two families."""
    return LB if family_i == family_j == "aqueous" else GEOMETRIC


def combine(sigma_i: float, eps_i: float, fam_i: str, sigma_j: float, eps_j: float, fam_j: str) -> tuple[float, float]:
    """σ_ij, ε_ij of a pair by :func:`pair_rule`."""
    eps = math.sqrt(eps_i * eps_j)
    if pair_rule(fam_i, fam_j) == LB:
        return 0.5 * (sigma_i + sigma_j), eps
    return math.sqrt(sigma_i * sigma_j), eps


def apply_combining_rules(system: mm.System, particle_family: Sequence[str]) -> None:
    """Make the Lennard-Jones interactions of ``system`` follow :func:`pair_rule`.

    Pairs of aqueous-family atoms stay in the ``NonbondedForce`` (native
    Lorentz–Berthelot). Every pair with an organic atom moves to a
    ``CustomNonbondedForce`` evaluating the geometric rule exactly through
    per-particle coefficients,

    .. math:: E_{ij} = \\frac{a_i a_j}{r^{12}} - \\frac{b_i b_j}{r^6},\\quad
              a_i = 2\\sqrt{\\epsilon_i}\\,\\sigma_i^6,\\quad b_i = 2\\sqrt{\\epsilon_i}\\,\\sigma_i^3,

    so that :math:`a_i a_j = 4\\epsilon_{ij}\\sigma_{ij}^{12}` and
    :math:`b_i b_j = 4\\epsilon_{ij}\\sigma_{ij}^6` with geometric σ_ij, ε_ij
    (cheaper than a per-type table: no lookups in the inner loop). Organic atoms
    get ε = 0 in the ``NonbondedForce``; with aqueous atoms present the custom
    force is limited to the interaction group (organic atoms, all atoms).
    Intramolecular exceptions are excluded from the custom force and 1-4
    exceptions get the geometric σ.
    """
    organic = [i for i, fam in enumerate(particle_family) if fam != "aqueous"]
    if not organic:
        return
    nonbonded = _nonbonded(system)
    n = nonbonded.getNumParticles()
    params = []
    for i in range(n):
        _, sigma, eps = nonbonded.getParticleParameters(i)
        params.append((sigma.value_in_unit(unit.nanometer), eps.value_in_unit(unit.kilojoule_per_mole)))
    lj = mm.CustomNonbondedForce("a1*a2/r^12 - b1*b2/r^6")
    lj.setName("LennardJones")
    lj.addPerParticleParameter("a")
    lj.addPerParticleParameter("b")
    for sigma, eps in params:
        lj.addParticle([2 * math.sqrt(eps) * sigma**6, 2 * math.sqrt(eps) * sigma**3])
    if len(organic) < n:
        lj.addInteractionGroup(organic, range(n))
    if nonbonded.getNonbondedMethod() == mm.NonbondedForce.NoCutoff:
        lj.setNonbondedMethod(mm.CustomNonbondedForce.NoCutoff)
    else:
        lj.setNonbondedMethod(mm.CustomNonbondedForce.CutoffPeriodic)
        lj.setCutoffDistance(nonbonded.getCutoffDistance())
        lj.setUseLongRangeCorrection(nonbonded.getUseDispersionCorrection())
        lj.setUseSwitchingFunction(nonbonded.getUseSwitchingFunction())
        lj.setSwitchingDistance(nonbonded.getSwitchingDistance())
    for k in range(nonbonded.getNumExceptions()):
        i, j, qq, sigma, eps = nonbonded.getExceptionParameters(k)
        lj.addExclusion(i, j)
        if eps.value_in_unit(unit.kilojoule_per_mole) != 0.0:
            sigma_ij, _ = combine(*params[i], particle_family[i], *params[j], particle_family[j])
            nonbonded.setExceptionParameters(k, i, j, qq, sigma_ij, eps)
    for i in organic:
        q, sigma, _ = nonbonded.getParticleParameters(i)
        nonbonded.setParticleParameters(i, q, sigma, 0.0)
    lj.setForceGroup(nonbonded.getForceGroup())
    system.addForce(lj)

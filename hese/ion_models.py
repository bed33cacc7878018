"""Models of the aqueous family's divalent cations (Mg²⁺, Zn²⁺): ``force_field.divalent_model``.

* ``cm``: the Li–Merz 12-6 "compromise" set of ``aqueous/ions-<water>.xml`` as it is;
* ``iod``: the Li–Merz 12-6 set fitted to the ion–oxygen distance (``aqueous/divalent-iod-<water>.xml``);
* ``12-6-4``: the Li–Merz 12-6-4 model (``aqueous/divalent-1264-<water>.xml``): its own 12-6
  σ, ε and, for each pair of an ion i with an atom j, an extra induced-dipole term

  .. math:: U(r) = \\epsilon_{ij}\\left[\\left(\\frac{R_{ij}}{r}\\right)^{12}
            - 2\\left(\\frac{R_{ij}}{r}\\right)^6\\right] - \\frac{C_4^{ij}}{r^4}, \\qquad
            C_4^{ij} = C_4^{i}\\, \\frac{\\alpha_j}{\\alpha_\\mathrm{O_w}}

  on top of Coulomb (:func:`add_c4_force`): :math:`C_4^{i}` is the ion's fitted ion–water-oxygen
  term and α the atomic polarizabilities of AmberTools' ``lj_1264_pol.dat``, the rule of ParmEd's
  ``add12_6_4`` (so Zn²⁺–Cl⁻ gets 3.235/1.444 times the Zn²⁺–O term). Every species of the box
  needs a polarizability in the model file; a box with any other species is refused.

Defaults: ``iod`` in the aqueous family, ``cm`` in the organic one. In hese-built boxes
(``benchmarks/ion_models.py``, NVT 298 K) the Zn–O first peak of a dilute Zn²⁺ is 1.95 Å under ``cm``
and 2.09 Å under ``iod`` and ``12-6-4`` in both SPC/E and TIP4P-Ew (experiment 2.08 Å; CN 6), and
``cm`` let a Cl⁻ into the first shell in TIP4P-Ew. ``iod`` applies to every species hese builds;
``12-6-4`` adds the hydration free energy (its fit target beside the distance) but needs a
polarizability for every species in the box, and in NPT it makes ZnCl₂(aq) at 2 mol/kg 5.0 %
denser than experiment (SPC/E; ``iod``: −0.1 %; force_fields/README.md). The organic family keeps
``cm``: its Mg²⁺ is OPLS-AA and refuses the Li–Merz sets. No model reaches the Zn–Cl contact of
chlorozincates (2.24–2.29 Å, X-ray): in a ZnCl₂–LiCl box ``cm`` gives 2.11–2.13 Å, ``iod`` and ``12-6-4`` 2.43–2.45 Å.

A model file overrides only the σ, ε of the ions it lists (the same atoms, charges and masses),
before the combining rules are applied, so their pairs with organic atoms follow the new σ, ε
too. The choice is recorded in ``build.json`` with the file and its checksum.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import openmm as mm
from openmm import app

from hese import species as sp
from hese.errors import HeseInputError

DIVALENT_MODELS = ("cm", "iod", "12-6-4")
#: The model of the base ion files (no model file).
BASE_MODEL = "cm"
#: Default per force-field family: see the module docstring for why.
DEFAULT_DIVALENT_MODEL = {"aqueous": "iod", "organic": "cm"}
#: Model → its file below ``force_fields/`` (``cm`` is the base file itself).
MODEL_FILES = {"iod": "aqueous/divalent-iod-{water_model}.xml", "12-6-4": "aqueous/divalent-1264-{water_model}.xml"}
FIELD = "force_field.divalent_model"


@dataclass(frozen=True)
class DivalentModel:
    """One model file: σ (nm), ε (kJ/mol) per species and C4 (kJ/mol nm⁴) per (ion, partner, atom)."""

    name: str
    water_model: str
    path: Path
    lj: Mapping[str, tuple[float, float]]
    c4: Mapping[tuple[str, str, str], float]
    polarizability: Mapping[tuple[str, str], float]

    def partner_weights(self, topology: app.Topology) -> list[float]:
        """α_j / α_ref per atom (α_ref: the polarizability of the partner of the ions' fitted C4).

        Raises :class:`HeseInputError` naming the species with no polarizability in the model file.
        """
        (_, ref_species, ref_atom), *_ = self.c4
        reference = self.polarizability[ref_species, ref_atom]
        names = [name or atom.residue.name for name, atom in zip(_species_names(topology), topology.atoms(),
                                                                  strict=True)]
        self.check_species(names)
        return [self.polarizability.get((name, atom.name), 0.0) / reference
                for name, atom in zip(names, topology.atoms(), strict=True)]

    def check_species(self, names: Iterable[str]) -> None:
        """Refuse species with no polarizability here beside an ion with a C4 term (their pairs are undefined)."""
        names = set(names)
        known = {species for species, _ in self.polarizability}
        missing = sorted(names - known) if names & {ion for ion, _, _ in self.c4} else []
        if missing:
            raise HeseInputError(
                f"{FIELD}: {self.name!r} needs the polarizability of every species for its C4 pairs "
                f"({self.path.name}) and has none for {', '.join(missing)}; use 'iod' or 'cm'"
            )


def _species_names(topology: app.Topology) -> list[str | None]:
    """The registry species name of each atom's residue (None for a residue the registry lacks)."""
    by_residue = {s.residue: s.name for s in sp.registry().values()}
    return [by_residue.get(atom.residue.name) for atom in topology.atoms()]


def default_model(family: str) -> str:
    """The divalent model a system of ``family`` gets when its definition names none."""
    return DEFAULT_DIVALENT_MODEL[family]


def model_path(model: str, water_model: str, force_field_dir: Path) -> Path | None:
    """The file of ``model`` for ``water_model`` (None for ``cm``); refuses unknown or missing ones."""
    if model not in DIVALENT_MODELS:
        raise HeseInputError(f"{FIELD}: {model!r} is not one of {', '.join(DIVALENT_MODELS)}")
    if model == BASE_MODEL:
        return None
    path = force_field_dir / MODEL_FILES[model].format(water_model=water_model)
    if not path.is_file():
        raise HeseInputError(f"{FIELD}: {model!r} is not available for force_field.water_model {water_model!r}")
    return path


def load(path: Path) -> DivalentModel:
    """Read a ``<DivalentIonModel>`` file."""
    node = ET.parse(path).getroot().find("DivalentIonModel")
    lj = {ion.get("species"): (float(ion.get("sigma")), float(ion.get("epsilon"))) for ion in node.iter("Ion")}
    c4 = {(c.get("ion"), c.get("partner"), c.get("atom")): float(c.get("c4")) for c in node.iter("C4")}
    polarizability = {(p.get("species"), p.get("atom")): float(p.get("alpha")) for p in node.iter("Polarizability")}
    ions = [ion for ion, _, _ in c4]
    if len(ions) != len(set(ions)) or len({(s, a) for _, s, a in c4}) > 1:
        raise HeseInputError(f"{path.name}: one C4 per ion, all with the same partner atom, is supported")
    if c4 and next(iter(c4))[1:] not in polarizability:
        raise HeseInputError(f"{path.name}: the partner of the C4 terms needs a <Polarizability>")
    return DivalentModel(node.get("name"), node.get("water_model"), path, lj, c4, polarizability)


def check_families(model: DivalentModel, species_family: Mapping[str, str]) -> None:
    """Refuse a model for an ion that takes its parameters from another family than the aqueous one.

    The models are Li–Merz parameter sets of the aqueous ions; Mg²⁺ of the organic family (OPLS-AA)
    keeps its own, so only ``cm`` (no change) goes with it.
    """
    for name, family in species_family.items():
        if name in model.lj and family != "aqueous":
            raise HeseInputError(
                f"{FIELD}: {model.name!r} sets Li–Merz parameters of aqueous-family ions, but {name} takes "
                f"{family}-family parameters here; use {BASE_MODEL!r}"
            )


def apply_divalent_model(
    system: mm.System,
    topology: app.Topology,
    model: DivalentModel,
    particle_family: Sequence[str],
) -> list[int]:
    """Give the model's ions their σ, ε in the ``NonbondedForce``; return their particle indices.

    Call before :func:`hese.forcefield.apply_combining_rules`. An ion of the model that takes its
    parameters from another family (Mg²⁺ of the organic family) is refused: the model is a set of
    Li–Merz parameters for the aqueous ions.
    """
    nonbonded = next(f for f in system.getForces() if isinstance(f, mm.NonbondedForce))
    names = _species_names(topology)
    check_families(model, {name: particle_family[i] for i, name in enumerate(names)})
    changed = []
    for atom, name in zip(topology.atoms(), names, strict=True):
        if name not in model.lj:
            continue
        sigma, eps = model.lj[name]
        q, _, _ = nonbonded.getParticleParameters(atom.index)
        nonbonded.setParticleParameters(atom.index, q, sigma, eps)
        changed.append(atom.index)
    return changed


def add_c4_force(system: mm.System, topology: app.Topology, model: DivalentModel) -> mm.CustomNonbondedForce | None:
    """Add the −C4/r⁴ term of ``model`` between its ions and every atom with a polarizability.

    A ``CustomNonbondedForce``

    .. math:: U = -\\frac{(c_1 w_2 + c_2 w_1)\\,(1 - \\tfrac12 \\delta_{c_1 c_2})}{r^4}

    with ``c`` = the ion's C4 on the ions (0 elsewhere) and ``w`` = α/α_Ow on every atom
    (:meth:`DivalentModel.partner_weights`): an ion–water-oxygen pair gets C4, an ion–Cl⁻ pair
    C4 α_Cl/α_Ow, a pair of two ions of different types the sum of both terms and two ions of the
    same type one term, as ParmEd's ``add12_6_4``. One interaction group {ions} × {atoms with
    w > 0, ions included} (each pair once) keeps the neighbour search to the few ions. Cutoff,
    periodicity and switching are those of the ``NonbondedForce``. The r⁻⁴ term has no long-range
    correction, as in Amber, where the model was fitted and is run: sander's and pmemd's
    ``vdw_correction`` sums only the r⁻⁶ coefficients. ParmEd and OpenMM's ``AmberPrmtopFile``
    switch the correction on, and in a ZnCl₂ 2 mol/kg box it adds −710 kJ/mol, about −820 bar.
    Every exception of the ``NonbondedForce`` is an exclusion here. Returns the force, or None if the
    model has no C4 or the system has no such ion.
    """
    if not model.c4:
        return None
    c4_of = {ion: value for (ion, _, _), value in model.c4.items()}
    c = [c4_of.get(name, 0.0) for name in _species_names(topology)]
    ions = [i for i, value in enumerate(c) if value]
    if not ions:
        return None
    w = model.partner_weights(topology)
    partners = [i for i, value in enumerate(w) if value or c[i]]
    nonbonded = next(f for f in system.getForces() if isinstance(f, mm.NonbondedForce))
    force = mm.CustomNonbondedForce("-(c1*w2 + c2*w1)*(1 - 0.5*delta(c1 - c2))/r^4")
    force.setName("LennardJones1264C4")
    force.addPerParticleParameter("c")
    force.addPerParticleParameter("w")
    for ci, wi in zip(c, w, strict=True):
        force.addParticle([ci, wi])
    force.addInteractionGroup(ions, partners)
    method = nonbonded.getNonbondedMethod()
    if method == mm.NonbondedForce.NoCutoff:
        force.setNonbondedMethod(mm.CustomNonbondedForce.NoCutoff)
    else:
        periodic = method != mm.NonbondedForce.CutoffNonPeriodic
        force.setNonbondedMethod(
            mm.CustomNonbondedForce.CutoffPeriodic if periodic else mm.CustomNonbondedForce.CutoffNonPeriodic
        )
        force.setCutoffDistance(nonbonded.getCutoffDistance())
        force.setUseSwitchingFunction(nonbonded.getUseSwitchingFunction())
        force.setSwitchingDistance(nonbonded.getSwitchingDistance())
        force.setUseLongRangeCorrection(False)
    for k in range(nonbonded.getNumExceptions()):
        i, j, *_ = nonbonded.getExceptionParameters(k)
        force.addExclusion(i, j)
    force.setForceGroup(nonbonded.getForceGroup())
    system.addForce(force)
    return force


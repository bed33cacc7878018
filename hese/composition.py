"""From a composition (molarity, molality, ratio or counts) to molecule counts.

Volumes are estimated, not simulated: a solvent molecule occupies
:math:`v_j = M_j / (\\rho_j N_A)` with the solvent's liquid density from the
registry; an ion occupies its apparent molar volume in hese's force field,
:math:`v_i = \\phi_i / N_A` (``hese/data/ion_volumes.yaml``: fitted to NPT boxes of salts in
water and in DME by ``force_fields/derivations/ion_volumes.py``; only sums over neutral salts are
defined, Li⁺ is 0 by convention). An ion without a fitted φ takes its van der Waals volume divided
by the packing fraction of the solvent, :math:`v_i = V^{vdW}_i / \\eta`,
:math:`\\eta = \\sum_j N_j V^{vdW}_j / \\sum_j N_j v_j` (η = 0.6 without solvent).
The solution volume is :math:`V = \\sum_j N_j v_j + \\sum_i n_i v_i`. It sizes
the initial box (within 1.6 % of the equilibrated density for all 17 reference boxes and the 3
check boxes; Zn²⁺ follows Masson's law φ⁰ + S_v √I; table in ``force_fields/README.md``) and turns molarities into
counts; the molarity actually reached is measured after NPT equilibration.

Configurational entropy of a formulation, per sublattice (cations, anions,
solvents): :math:`S = -R \\sum_i x_i \\ln x_i` over the mole fractions
:math:`x_i` of the species within the sublattice. Ion sublattices are
classified low (< 1 R), medium (1–1.5 R) or high entropy (≥ 1.5 R).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

from scipy.constants import Avogadro as AVOGADRO  # CODATA 2018
from scipy.constants import gas_constant as R_J_MOL_K

from hese import species as sp
from hese.errors import HeseInputError

NM3_PER_L = 1e24
#: Packing fraction for ions when the box has no solvent.
DEFAULT_PACKING = 0.6
MODES = ("molarity", "molality", "ratio", "counts")
SIZES = {"molarity": ("solvent_molecules", "atoms"), "molality": ("solvent_molecules", "atoms"),
         "ratio": ("formula_units", "atoms"), "counts": ()}


@dataclass
class Formulation:
    """Molecule counts of one box and what they mean.

    Attributes
    ----------
    counts : dict
        Species name → number of molecules/ions in the box.
    units : dict
        Config key (salt formula or species) → formula units or molecules.
    requested, reached : dict
        Per salt (or ratio key), the concentration asked for and the one the
        integer counts give back (same unit, see ``unit``).
    unit : str
        ``mol/L``, ``mol/kg``, ``per formula unit`` or ``count``.
    volume_nm3 : float
        Estimated solution volume (see the module docstring).
    """

    counts: dict[str, int]
    units: dict[str, int]
    requested: dict[str, float]
    reached: dict[str, float]
    unit: str
    volume_nm3: float
    mass_g_mol: float = field(init=False)

    def __post_init__(self) -> None:
        self.mass_g_mol = total_mass_g_mol(self.counts)

    @property
    def box_nm(self) -> float:
        """Edge of the cubic box with the estimated volume."""
        return self.volume_nm3 ** (1 / 3)

    @property
    def density_g_cm3(self) -> float:
        """Estimated density, Σ n M / (N_A V)."""
        return self.mass_g_mol / AVOGADRO / (self.volume_nm3 * 1e-21)

    @property
    def n_atoms(self) -> int:
        """Atoms in the box (without virtual sites)."""
        return sum(len(sp.get(s).atom_names) * n for s, n in self.counts.items())

    def entropy(self) -> dict[str, float]:
        """Configurational entropies (in R) of the cation, anion and solvent sublattices."""
        return {kind: config_entropy_r(sublattice(self.counts, kind)) for kind in ("cation", "anion", "solvent")}

    def summary(self) -> dict:
        """A JSON-ready description (what ``hese compose --json`` prints)."""
        s = self.entropy()
        return {
            "counts": self.counts,
            "units": self.units,
            "concentration_unit": self.unit,
            "requested": self.requested,
            "reached": {k: round(v, 6) for k, v in self.reached.items()},
            "n_atoms": self.n_atoms,
            "volume_nm3": round(self.volume_nm3, 4),
            "box_nm": round(self.box_nm, 4),
            "density_g_cm3": round(self.density_g_cm3, 4),
            **{f"s_config_{k}_r": round(v, 6) for k, v in s.items()},
            **{f"s_config_{k}_j_mol_k": round(v * R_J_MOL_K, 4) for k, v in s.items()},
            "entropy_class_cation": entropy_class(s["cation"]),
            "entropy_class_anion": entropy_class(s["anion"]),
        }


def counts_from(units: Mapping[str, float]) -> dict[str, int]:
    """Species counts from formula units of salts and molecules of species.

    ``{"LiCl": 2, "ZnCl2": 1, "water": 9}`` gives
    ``{"Li": 2, "Cl": 4, "Zn": 1, "water": 9}``.
    """
    total: Counter[str] = Counter()
    for name, n in units.items():
        for species, per_unit in sp.resolve(name).items():
            total[species] += per_unit * n
    return dict(total)


def net_charge(counts: Mapping[str, int]) -> int:
    """Total formal charge of a box with these counts."""
    return sum(sp.get(name).charge * n for name, n in counts.items())


def check_neutral(counts: Mapping[str, int], source: str = "composition") -> None:
    """Refuse a box whose formal charge is not zero."""
    q = net_charge(counts)
    if q != 0:
        raise HeseInputError(
            f"{source}: the box has a net charge of {q:+d} e; add counter-ions or give salts "
            f"by formula (e.g. LiFSI) so that they are neutral"
        )


def total_mass_g_mol(counts: Mapping[str, float]) -> float:
    """Σ n_i M_i in g/mol."""
    return sum(sp.get(name).molar_mass * n for name, n in counts.items())


def sublattice(counts: Mapping[str, float], kind: str) -> dict[str, float]:
    """Counts of the species of one kind (cation, anion or solvent)."""
    return {s: n for s, n in counts.items() if sp.get(s).kind == kind and n > 0}


def config_entropy_r(amounts: Mapping[str, float]) -> float:
    """:math:`-\\sum_i x_i \\ln x_i` (in units of R) over the mole fractions of ``amounts``."""
    total = sum(amounts.values())
    s = -sum(n / total * math.log(n / total) for n in amounts.values() if n > 0) if total else 0.0
    return s + 0.0  # no negative zero


def entropy_class(s_r: float) -> str:
    """low (< 1 R), medium (1–1.5 R) or high (≥ 1.5 R)."""
    return "low" if s_r < 1 else ("medium" if s_r < 1.5 else "high")


def molecular_volume_nm3(counts: Mapping[str, float], family: str,
                         ionic_strength_mol_kg: float | None = None) -> float:
    """Estimated volume of a mixture (nm³) in a force-field family: see the module docstring.

    ``ionic_strength_mol_kg`` sets the I of the ions' volumes (default: that of ``counts``).
    """
    solvents = sublattice(counts, "solvent")
    v_solvent = sum(n * solvent_volume_nm3(s) for s, n in solvents.items())
    vdw_solvent = sum(n * sp.get(s).vdw_volume_nm3 for s, n in solvents.items())
    packing = vdw_solvent / v_solvent if v_solvent else DEFAULT_PACKING
    strength = ionic_strength(counts) if ionic_strength_mol_kg is None else ionic_strength_mol_kg
    return v_solvent + sum(n * ion_volume_nm3(s, family, packing, strength) for s, n in counts.items()
                           if sp.get(s).kind != "solvent")


def ionic_strength(counts: Mapping[str, float]) -> float:
    """Molal ionic strength :math:`I = \\tfrac12 \\sum_i m_i z_i^2` (mol/kg), :math:`m_i = n_i / m_{solvent}`.

    0 without solvent (Masson's law then does not apply; the ions take their φ⁰).
    """
    kg = total_mass_g_mol(sublattice(counts, "solvent")) / 1000
    if kg <= 0:
        return 0.0
    return 0.5 * sum(n * sp.get(s).charge ** 2 for s, n in counts.items() if sp.get(s).kind != "solvent") / kg


def ion_volume_nm3(name: str, family: str, packing: float = DEFAULT_PACKING,
                   ionic_strength_mol_kg: float = 0.0) -> float:
    """Volume one ion adds to a solution (nm³): φ(I) / N_A, or V_vdW / packing without a fitted φ."""
    phi = sp.get(name).apparent_molar_volume_cm3_mol(family, ionic_strength_mol_kg)
    return phi / AVOGADRO * 1e21 if phi is not None else sp.get(name).vdw_volume_nm3 / packing


def solvent_volume_nm3(name: str) -> float:
    """Volume of one solvent molecule in its neat liquid, M / (ρ N_A)."""
    s = sp.get(name)
    return s.molar_mass / (s.density_g_cm3 * AVOGADRO) * 1e21


def solvent_mole_fractions(fractions: Mapping[str, float], basis: str, source: str) -> dict[str, float]:
    """Mole fractions of a solvent mixture given by mole, mass or volume fractions."""
    total = sum(fractions.values())
    if abs(total - 1) > 1e-6:
        raise HeseInputError(f"{source}: composition.solvent: fractions sum to {total:g}, not 1")
    for name in fractions:
        if sp.get(name).kind != "solvent":
            raise HeseInputError(f"{source}: composition.solvent: {name!r} is not a solvent")
    weight = {
        "mole": lambda s: 1.0,
        "mass": lambda s: 1 / sp.get(s).molar_mass,
        "volume": lambda s: sp.get(s).density_g_cm3 / sp.get(s).molar_mass,
    }[basis]
    raw = {s: f * weight(s) for s, f in fractions.items()}
    norm = sum(raw.values())
    return {s: v / norm for s, v in raw.items()}


def split(total: int, fractions: Mapping[str, float]) -> dict[str, int]:
    """Integers summing to ``total`` closest to ``total × fractions`` (largest remainder)."""
    exact = {k: total * f for k, f in fractions.items()}
    out = {k: math.floor(v) for k, v in exact.items()}
    for k in sorted(exact, key=lambda k: exact[k] - out[k], reverse=True)[: total - sum(out.values())]:
        out[k] += 1
    return out


def compose(composition: Mapping, size: Mapping, source: str = "system", family: str | None = None) -> Formulation:
    """Molecule counts for a composition and a size (see the system schema).

    ``family`` is the force-field family whose ion volumes size the box (None: aqueous when water
    is the only solvent, organic otherwise).

    Raises
    ------
    HeseInputError
        Two or no composition modes, a size that does not fit the mode,
        fractions that do not sum to 1, a salt that rounds to zero molecules
        (naming the size that would fit it), a box that is not neutral.
    """
    modes = [m for m in MODES if m in composition]
    if len(modes) != 1:
        what = "two composition modes at once: " + " and ".join(modes) if modes else "no composition mode"
        raise HeseInputError(f"{source}: composition: {what}; give exactly one of {', '.join(MODES)}")
    mode = modes[0]
    amounts = composition[mode]
    species = {s for key in (*amounts, *composition.get("solvent", {})) for s in sp.resolve(key)}
    family = family or default_family({s: 1 for s in species})
    sizes = [k for k in ("solvent_molecules", "formula_units", "atoms") if k in size]
    allowed = SIZES[mode]
    if len(sizes) > 1 or (sizes and sizes[0] not in allowed) or (allowed and not sizes):
        raise HeseInputError(
            f"{source}: size: {mode} needs exactly one of {', '.join(allowed)}"
            if allowed else f"{source}: size: counts take no {sizes[0]}"
        )
    if mode == "counts":
        return _formulation(dict(amounts), amounts, amounts, "count", source, family)
    if mode == "ratio":
        return _scaled(lambda t: {k: r * t for k, r in amounts.items()}, size, "formula_units",
                       amounts, "per formula unit", source, family)
    if "solvent" not in composition:
        raise HeseInputError(f"{source}: composition: {mode} needs 'solvent' (solvent mole, mass or volume fractions)")
    x = solvent_mole_fractions(composition["solvent"], composition.get("solvent_basis", "mole"), source)
    for salt in amounts:
        if all(sp.get(s).kind == "solvent" for s in sp.resolve(salt)):
            raise HeseInputError(f"{source}: composition.{mode}: {salt!r} is a solvent, not a salt")

    def units_for(n_solvent: float) -> dict[str, float]:
        solvent = {s: n_solvent * f for s, f in x.items()}
        if mode == "molality":
            kg = total_mass_g_mol(solvent) / 1000
            salts = {k: m * kg for k, m in amounts.items()}
        else:
            salts = _salts_at_molarity(amounts, solvent, family)
        return {**salts, **solvent}

    unit = "mol/L" if mode == "molarity" else "mol/kg"
    return _scaled(units_for, size, "solvent_molecules", amounts, unit, source, family, solvent_fractions=x)


def _salts_at_molarity(molarity: Mapping[str, float], solvent: Mapping[str, float], family: str) -> dict[str, float]:
    """Formula units of each salt that make ``molarity`` (mol/L) with ``solvent``.

    :math:`V = V_{solvent} / (1 - \\sum_k c_k N_A v_k)`, :math:`n_k = c_k N_A V`, with each salt's
    volume :math:`v_k` at the ionic strength of the solution; as that depends on the :math:`n_k`,
    the two are iterated to a fixed point (the Masson terms are small: a few steps).
    """
    v_solvent = molecular_volume_nm3(solvent, family)
    per_nm3 = {k: c * AVOGADRO / NM3_PER_L for k, c in molarity.items()}
    strength, salts = 0.0, {}
    for _ in range(50):
        v_salt = {k: molecular_volume_nm3({**counts_from({k: 1}), **solvent}, family, strength) - v_solvent
                  for k in molarity}
        volume = v_solvent / (1 - sum(per_nm3[k] * v_salt[k] for k in molarity))
        salts = {k: per_nm3[k] * volume for k in molarity}
        new = ionic_strength(counts_from({**salts, **solvent}))
        if abs(new - strength) <= 1e-9 * max(1.0, new):
            break
        strength = new
    return salts


def default_family(counts: Mapping[str, float]) -> str:
    """aqueous when water is the only solvent of ``counts``, organic otherwise."""
    return "aqueous" if set(sublattice(counts, "solvent")) == {"water"} else "organic"


def _scaled(units_for, size, size_key, requested, unit, source, family, solvent_fractions=None) -> Formulation:
    """Counts at the requested size: t formula units or solvent molecules, or ≈ N atoms."""
    if "atoms" in size:
        per_t = sum(len(sp.get(s).atom_names) * n for s, n in counts_from(units_for(1000.0)).items()) / 1000
        t = max(1, round(size["atoms"] / per_t))
        key = "atoms"
    else:
        t = size[size_key]
        key = size_key
    exact = units_for(float(t))
    units = {k: round(v) for k, v in exact.items()}
    if solvent_fractions is not None:
        units.update(split(t, solvent_fractions))
    for k, n in units.items():
        if n == 0 and requested.get(k, 1) > 0:
            per_unit = exact[k] / t
            need = math.ceil(0.5 / per_unit * (1 if key != "atoms" else per_t))
            raise HeseInputError(
                f"{source}: {k} rounds to zero molecules at size.{key} = {size[key]}; "
                f"size.{key} ≥ {need} would fit it"
            )
    return _formulation(units, requested, _reached(units, requested, unit, family), unit, source, family)


def _reached(units: Mapping[str, int], requested: Mapping[str, float], unit: str, family: str) -> dict[str, float]:
    counts = counts_from(units)
    if unit == "mol/L":
        per_l = molecular_volume_nm3(counts, family) / NM3_PER_L * AVOGADRO
        return {k: units[k] / per_l for k in requested}
    if unit == "mol/kg":
        kg = total_mass_g_mol(sublattice(counts, "solvent")) / 1000
        return {k: units[k] / kg for k in requested}
    # ratio: formula units per unit of the first key
    first = next(iter(requested))
    scale = units[first] / requested[first]
    return {k: units[k] / scale for k in requested}


def _formulation(units, requested, reached, unit, source, family) -> Formulation:
    counts = counts_from(units)
    check_neutral(counts, f"{source}: composition")
    return Formulation(counts, dict(units), dict(requested), reached, unit, molecular_volume_nm3(counts, family))

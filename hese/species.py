"""The species registry and salt formulas.

Every molecule or ion hese knows is one entry of ``hese/data/species.yaml``: its
canonical name, kind, formal charge, SMILES, residue name, coordinating atoms and
its force-field file per family with the source of the parameters. Salts are
named by formula from their ions (``LiFSI``, ``ZnCl2``, ``Zn(ClO4)2``,
``Mg(TFSI)2``) and resolve to ions with the stoichiometry from the charges.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Literal

import yaml

from hese.errors import HeseInputError

Kind = Literal["cation", "anion", "solvent"]
FAMILIES = ("organic", "aqueous")
WATER_MODELS = ("spce", "tip4pew", "opc")
#: Melting point of ice Ih at 1 bar in each water model (K; None: no source read). SPC/E 215 K and
#: TIP4P-Ew 245 K: C. Vega et al., J. Phys.: Condens. Matter 17, S3283 (2005), as read in its abstract
#: (free-energy calculations; C. Vega & S. Blazquez, J. Chem. Phys. 156, 216101 (2022) review the
#: values). Real water melts at 273.15 K, so a run at T is T − T_m from its own model's melting point.
WATER_MODEL_MELTING_K: dict[str, float | None] = {"spce": 215.0, "tip4pew": 245.0, "opc": None}


@dataclass(frozen=True)
class ForceFieldEntry:
    """Where a species' parameters live for one force-field family."""

    file: str
    source: str

    def path(self, water_model: str) -> str:
        """The file below ``force_fields/`` with the water model filled in."""
        return self.file.format(water_model=water_model)


@dataclass(frozen=True)
class Species:
    """One molecule or ion of the registry.

    Atom names follow the SMILES atom order after adding hydrogens, numbered
    per element (``C1, C2, O1, H1, ...``); the force-field templates and the
    coordinating atoms use the same names.
    """

    name: str
    kind: Kind
    charge: int
    smiles: str
    residue: str
    coordinating: tuple[str, ...]
    force_field: dict[str, ForceFieldEntry] = field(hash=False)
    geometry: tuple[tuple[float, float, float], ...] | None = None
    density_g_cm3: float | None = None
    density_source: str | None = None

    @property
    def atom_names(self) -> tuple[str, ...]:
        """Atom names in registry order (see the class docstring)."""
        return tuple(_atom_names(self.smiles))

    @property
    def elements(self) -> tuple[str, ...]:
        """Element symbols in registry order."""
        return tuple(re.sub(r"\d+$", "", n) for n in self.atom_names)

    @property
    def molar_mass(self) -> float:
        """Molar mass in g/mol, from the SMILES (rdkit average atomic masses)."""
        from rdkit.Chem import Descriptors

        return float(Descriptors.MolWt(_rdkit_mol(self.smiles)))

    @property
    def vdw_volume_nm3(self) -> float:
        """Van der Waals volume of one molecule (nm³): rdkit grid volume, Bondi-type radii.

        Read from ``hese/data/vdw_volumes.yaml`` (computed once by :func:`vdw_volume_a3`, since the
        fine grid takes seconds per molecule); computed here for a species missing there.
        """
        stored = _stored_vdw_volumes_a3().get(self.name)
        return (stored if stored is not None else vdw_volume_a3(self.smiles)) / 1000.0

    def apparent_molar_volume_cm3_mol(self, family: str, ionic_strength_mol_kg: float = 0.0) -> float | None:
        """Apparent molar volume φ of an ion (cm³/mol) in the force field it uses in ``family``.

        Read from ``hese/data/ion_volumes.yaml`` (fitted to NPT boxes by
        ``force_fields/derivations/ion_volumes.py``; Li⁺ = 0 by convention). Ions whose volume
        changes with concentration in the reference boxes (Zn²⁺: hydrated when dilute, in
        chlorozincates when concentrated) follow Masson's law in the molal ionic strength I,

        .. math:: \\phi(I) = \\phi^0 + S_v \\sqrt{I};

        the others have :math:`S_v = 0`. The ion's own parameters decide which family's value
        applies (an ion without parameters in ``family`` uses the other family's, as in the force
        field), then the other family's value stands in; None where neither has one.
        """
        stored = _stored_ion_volumes()
        own = family if family in self.force_field else next(iter(self.force_field), family)
        for fam in (own, *sorted(set(stored) - {own})):
            if self.name in stored.get(fam, {}):
                phi0, slope = stored[fam][self.name]
                return phi0 + slope * math.sqrt(ionic_strength_mol_kg)
        return None

    def as_dict(self) -> dict:
        """A JSON-ready description (for ``hese species --json``)."""
        return {
            "name": self.name,
            "kind": self.kind,
            "charge": self.charge,
            "smiles": self.smiles,
            "residue": self.residue,
            "coordinating": list(self.coordinating),
            "molar_mass_g_mol": round(self.molar_mass, 4),
            "force_field": {fam: e.file for fam, e in self.force_field.items()},
            "source": {fam: e.source for fam, e in self.force_field.items()},
        }


@cache
def _rdkit_mol(smiles: str):
    from rdkit import Chem

    return Chem.AddHs(Chem.MolFromSmiles(smiles))


@cache
def _stored_vdw_volumes_a3() -> dict[str, float]:
    text = resources.files("hese").joinpath("data/vdw_volumes.yaml").read_text()
    return {name: float(v) for name, v in (yaml.safe_load(text) or {}).items()}


@cache
def _stored_ion_volumes() -> dict[str, dict[str, tuple[float, float]]]:
    """family → ion → (φ⁰, S_v): a plain number is φ⁰ with S_v = 0, a mapping gives ``phi0`` and ``masson_slope``."""
    text = resources.files("hese").joinpath("data/ion_volumes.yaml").read_text()
    data = yaml.safe_load(text) or {}
    return {fam: {name: (float(v["phi0"]), float(v["masson_slope"])) if isinstance(v, dict) else (float(v), 0.0)
                  for name, v in (ions or {}).items()} for fam, ions in data.items()}


def write_vdw_volumes(path: str) -> None:
    """Compute :func:`vdw_volume_a3` of every registry species and write them as YAML to ``path``."""
    lines = [
        "# Van der Waals volumes (Å³) of the registry species, computed by hese.species.vdw_volume_a3:",
        "# rdkit AllChem.ComputeMolVolume (grid spacing 0.1 Å) on an ETKDG conformer (random seed 1).",
        "# Used only to estimate initial box volumes. Regenerate: python -m hese.species hese/data/vdw_volumes.yaml",
    ]
    lines += [f"{name}: {vdw_volume_a3(s.smiles):.3f}" for name, s in registry().items()]
    Path(path).write_text("\n".join(lines) + "\n")


@cache
def vdw_volume_a3(smiles: str) -> float:
    """Van der Waals volume (Å³) of the molecule ``smiles``: rdkit grid volume (0.1 Å) of one conformer."""
    from rdkit import Chem
    from rdkit.Chem import AllChem

    mol = Chem.Mol(_rdkit_mol(smiles))
    if mol.GetNumAtoms() == 1:
        mol.AddConformer(Chem.Conformer(1))
    else:
        AllChem.EmbedMolecule(mol, randomSeed=1)
    return float(AllChem.ComputeMolVolume(mol, gridSpacing=0.1))


@cache
def _atom_names(smiles: str) -> list[str]:
    count: Counter[str] = Counter()
    names = []
    for atom in _rdkit_mol(smiles).GetAtoms():
        count[atom.GetSymbol()] += 1
        names.append(f"{atom.GetSymbol()}{count[atom.GetSymbol()]}")
    return names


@cache
def registry() -> dict[str, Species]:
    """All species by canonical name, in registry order."""
    text = resources.files("hese").joinpath("data/species.yaml").read_text()
    species = {}
    for raw in yaml.safe_load(text):
        ff = {fam: ForceFieldEntry(**e) for fam, e in raw.pop("force_field").items()}
        raw["coordinating"] = tuple(raw["coordinating"])
        if "geometry" in raw:
            raw["geometry"] = tuple(tuple(xyz) for xyz in raw["geometry"])
        species[raw["name"]] = Species(force_field=ff, **raw)
    return species


ALIASES = {"H2O": "water", "HOH": "water"}


def get(name: str) -> Species:
    """Look a species up by name in any letter case (``Li``, ``li``, ``LI``), or by an alias (``H2O``).

    An exact spelling wins; otherwise the name must match exactly one species (or alias) when
    letter case is ignored, and a name that matches several is an error naming them.
    """
    reg = registry()
    key = ALIASES.get(name, name)
    if key in reg:
        return reg[key]
    spellings = {**{n: n for n in reg}, **ALIASES}
    found = sorted({target for spelling, target in spellings.items() if spelling.casefold() == name.casefold()})
    if len(found) > 1:
        raise HeseInputError(f"species {name!r} is ambiguous: it matches {' and '.join(found)} when letter case is "
                             "ignored; spell it exactly")
    if not found:
        raise HeseInputError(f"unknown species {name!r}; known species: {', '.join(reg)}")
    return reg[found[0]]


@dataclass(frozen=True)
class Salt:
    """A salt resolved to its ions: ``n_cation`` cations and ``n_anion`` anions."""

    formula: str
    cation: Species
    anion: Species
    n_cation: int
    n_anion: int

    @property
    def ions(self) -> dict[str, int]:
        """Ions per formula unit, by species name."""
        return {self.cation.name: self.n_cation, self.anion.name: self.n_anion}


_TERM = re.compile(r"\((?P<paren>[A-Za-z0-9]+)\)(?P<pn>\d*)|(?P<bare>[A-Za-z0-9]+)")


def _split_count(token: str, names: list[str]) -> tuple[str, int | None] | None:
    """``Cl2`` → (``Cl``, 2); ``NO3`` → (``NO3``, None); unknown → None."""
    if token in names:
        return token, None
    m = re.fullmatch(r"(.*?)(\d+)", token)
    if m and m.group(1) in names:
        return m.group(1), int(m.group(2))
    return None


def salt(formula: str) -> Salt:
    """Resolve a salt formula to its ions.

    The stoichiometry follows from the charges: for a cation of charge
    :math:`z_+` and an anion of charge :math:`z_-`,
    :math:`n_+ = \\mathrm{lcm}(z_+, |z_-|)/z_+` and
    :math:`n_- = \\mathrm{lcm}(z_+, |z_-|)/|z_-|`. Counts written in the formula
    (``ZnCl2``, ``Li2SO4``, ``Zn(ClO4)2``) must agree with them.

    Raises
    ------
    HeseInputError
        If the formula is not a known cation followed by a known anion, or its
        written counts do not balance the charges.
    """
    reg = registry()
    cations = sorted((s.name for s in reg.values() if s.kind == "cation"), key=len, reverse=True)
    anions = [s.name for s in reg.values() if s.kind == "anion"]
    allowed = f"a cation ({', '.join(cations)}) followed by an anion ({', '.join(anions)})"
    for cat in cations:
        if not formula.startswith(cat):
            continue
        rest = formula[len(cat):]
        n_cat_written = None
        m = re.match(r"\d+", rest)
        if m:
            n_cat_written, rest = int(m.group()), rest[m.end():]
        term = _TERM.fullmatch(rest)
        if not term:
            continue
        if term.group("paren"):
            an, n_an_written = term.group("paren"), int(term.group("pn") or 1)
            if an not in anions:
                continue
        else:
            split = _split_count(term.group("bare"), anions)
            if split is None:
                continue
            an, n_an_written = split
        z_cat, z_an = reg[cat].charge, -reg[an].charge
        lcm = math.lcm(z_cat, z_an)
        n_cat, n_an = lcm // z_cat, lcm // z_an
        if (n_cat_written or 1) != n_cat or (n_an_written or 1) != n_an:
            expect = _formula(cat, n_cat, an, n_an)
            raise HeseInputError(
                f"salt {formula!r}: charges do not balance ({cat} is {z_cat:+d}, {an} is "
                f"{-z_an:+d}); the neutral salt is {expect!r}"
            )
        return Salt(formula, reg[cat], reg[an], n_cat, n_an)
    raise HeseInputError(f"unknown salt {formula!r}; a salt formula is {allowed}")


def _formula(cation: str, n_cat: int, anion: str, n_an: int) -> str:
    cat = cation + (str(n_cat) if n_cat > 1 else "")
    if n_an == 1:
        return cat + anion
    if re.search(r"\d$", anion) or sum(c.isupper() for c in anion) > 1:
        return f"{cat}({anion}){n_an}"
    return f"{cat}{anion}{n_an}"


def resolve(name: str) -> dict[str, int]:
    """Species counts for one unit of ``name``: a species (1 of itself) or a salt."""
    try:
        return {get(name).name: 1}
    except HeseInputError:
        pass
    try:
        return salt(name).ions
    except HeseInputError as err:
        if "do not balance" in str(err):
            raise
        raise HeseInputError(
            f"unknown species or salt {name!r}; species: {', '.join(registry())}; "
            f"salts are a cation followed by an anion, e.g. LiFSI, ZnCl2, Zn(ClO4)2"
        ) from None


if __name__ == "__main__":
    import sys

    write_vdw_volumes(sys.argv[1])

"""Build a simulation box: conformers (rdkit) → packmol → OpenMM Topology and System.

``build(definition, out_dir, seed)`` writes ``system.xml`` (OpenMM
XmlSerializer), ``topology.pdb`` (box vectors, one residue per molecule,
residue names from the registry) and ``build.json`` (counts, charge scale,
force-field files and their checksums, seed, hese version); ``build.json`` is
written last and marks a finished build.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import sysconfig
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import openmm as mm
from openmm import app, unit

import hese
from hese import composition, forcefield, ion_models, layout
from hese import species as sp
from hese.config import check_name, load_yaml, validate
from hese.errors import HeseInputError
from hese.io import atomic_write, exclusive, replaced_folder, write_json

#: Extra room, beyond twice the cutoff, that a box edge must have (nm): NPT shrinks boxes.
BOX_MARGIN_NM = 0.2
PACKMOL_TOLERANCE_NM = 0.2


@dataclass
class SystemDefinition:
    """A validated system definition (see ``hese/schemas/system.schema.yaml``)."""

    name: str
    formulation: composition.Formulation
    family: str
    water_model: str
    charge_scale: float
    cutoff_nm: float
    box_nm: float
    source: str
    divalent_model: str

    @property
    def counts(self) -> dict[str, int]:
        """Species → molecules in the box."""
        return self.formulation.counts

    @classmethod
    def load(cls, path: str | Path) -> SystemDefinition:
        """Read and validate a system YAML file."""
        return cls.from_dict(load_yaml(path), source=str(path))

    @classmethod
    def from_dict(cls, data: object, source: str = "system") -> SystemDefinition:
        """Validate a parsed system definition and resolve it to species counts."""
        data = validate(data, "system", source)
        name = check_name(data["name"], "name", source)
        ff = data["force_field"]
        try:
            formulation = composition.compose(data["composition"], data["size"], source, ff["family"])
            scale = ff.get("charge_scale", forcefield.DEFAULT_CHARGE_SCALE[ff["family"]])
            files = {s: forcefield.species_file(sp.get(s), ff["family"], ff["water_model"]) for s in formulation.counts}
            divalent_model = ff.get("divalent_model") or ion_models.default_model(ff["family"])
            model = ion_models.model_path(divalent_model, ff["water_model"], forcefield.force_field_dir())
            if model:
                families = {s: forcefield.family_of(f) for s, f in files.items()}
                divalent = ion_models.load(model)
                ion_models.check_families(divalent, families)
                divalent.check_species(formulation.counts)
        except HeseInputError as err:
            msg = str(err)
            raise HeseInputError(msg if msg.startswith(source) else f"{source}: {msg}") from None
        box = data["size"].get("box_nm") or formulation.box_nm
        need = 2 * ff["cutoff_nm"] + BOX_MARGIN_NM
        if box < need:
            raise HeseInputError(
                f"{source}: size: the box edge {box:.2f} nm is smaller than 2 × cutoff + "
                f"{BOX_MARGIN_NM} nm = {need:.2f} nm; use more molecules (about "
                f"{(need / box) ** 3:.1f}× as many) or a smaller force_field.cutoff_nm"
            )
        return cls(name, formulation, ff["family"], ff["water_model"], float(scale), ff["cutoff_nm"], box, source,
                   divalent_model)


def conformer(species: sp.Species, seed: int = 0) -> np.ndarray:
    """3-D coordinates (nm) of one molecule, atoms in registry order.

    Single atoms sit at the origin, species with a fixed geometry in the
    registry take it; other molecules get an rdkit ETKDG conformer with the
    given random seed (deterministic), refined with MMFF where rdkit can.
    """
    from rdkit.Chem import AllChem

    if species.geometry is not None:
        return np.asarray(species.geometry) / 10.0
    mol = sp._rdkit_mol(species.smiles)
    if mol.GetNumAtoms() == 1:
        return np.zeros((1, 3))
    mol = type(mol)(mol)
    params = AllChem.ETKDGv3()
    params.randomSeed = seed
    if AllChem.EmbedMolecule(mol, params) != 0:
        raise HeseInputError(f"rdkit could not embed a conformer of {species.name} ({species.smiles})")
    if AllChem.MMFFHasAllMoleculeParams(mol):
        AllChem.MMFFOptimizeMolecule(mol)
    return mol.GetConformer().GetPositions() / 10.0


def _pdb_lines(species: sp.Species, xyz_nm: np.ndarray) -> str:
    out = io.StringIO()
    rows = zip(species.atom_names, species.elements, xyz_nm * 10, strict=True)
    for k, (name, elem, (x, y, z)) in enumerate(rows, 1):
        out.write(
            f"HETATM{k:5d} {name:<4s} {species.residue:>3s} A   1    "
            f"{x:8.3f}{y:8.3f}{z:8.3f}  1.00  0.00          {elem:>2s}\n"
        )
    out.write("END\n")
    return out.getvalue()


def packmol_binary() -> str:
    """The packmol executable shipped by the ``packmol`` wheel (or on PATH)."""
    here = Path(sysconfig.get_path("scripts")) / "packmol"
    found = str(here) if here.exists() else shutil.which("packmol")
    if not found:
        raise HeseInputError("packmol not found: install the 'packmol' package (pip install packmol)")
    return found


def pack(
    counts: Mapping[str, int],
    box_nm: float,
    seed: int = 0,
    tolerance_nm: float = PACKMOL_TOLERANCE_NM,
    timeout_s: float = 600,
) -> np.ndarray:
    """Pack molecules into a periodic cubic box with packmol.

    Returns the coordinates (nm) of all atoms, molecules in the order of
    ``counts``, atoms of each molecule in registry order. No two atoms of
    different molecules are closer than ``tolerance_nm`` (across the periodic
    boundary too).
    """
    edge = box_nm * 10
    with tempfile.TemporaryDirectory(prefix="hese-packmol-") as tmp:
        lines = [
            f"tolerance {tolerance_nm * 10:.4f}",
            "filetype pdb",
            "output packed.pdb",
            f"seed {seed + 1}",
            f"pbc 0. 0. 0. {edge:.4f} {edge:.4f} {edge:.4f}",
        ]
        for k, (name, n) in enumerate(counts.items()):
            s = sp.get(name)
            Path(tmp, f"m{k}.pdb").write_text(_pdb_lines(s, conformer(s, seed)))
            lines += [f"structure m{k}.pdb", f"  number {n}", "end structure"]
        # packmol rewinds its standard input, so it must be a file, not a pipe
        Path(tmp, "pack.inp").write_text("\n".join(lines) + "\n")
        try:
            with open(Path(tmp, "pack.inp")) as stdin:
                run = subprocess.run(
                    [packmol_binary()], stdin=stdin, capture_output=True, text=True, cwd=tmp, timeout=timeout_s
                )
        except subprocess.TimeoutExpired:
            raise HeseInputError(
                f"packmol did not finish within {timeout_s:.0f} s; lower the density or enlarge the box"
            ) from None
        if "Success!" not in run.stdout:
            said = [ln.strip() for ln in (run.stdout + run.stderr).splitlines() if ln.strip().strip("#-")]
            raise HeseInputError(f"packmol failed (exit status {run.returncode}): {' '.join(said[-3:])}")
        xyz = [
            (float(ln[30:38]), float(ln[38:46]), float(ln[46:54]))
            for ln in Path(tmp, "packed.pdb").read_text().splitlines()
            if ln.startswith(("ATOM", "HETATM"))
        ]
    return np.asarray(xyz) / 10.0


def topology_for(counts: Mapping[str, int], box_nm: float | None = None) -> app.Topology:
    """An OpenMM Topology with one residue per molecule, in the order of ``counts``.

    Periodic with a cubic box of edge ``box_nm`` unless that is None.
    """
    top = app.Topology()
    chain = top.addChain()
    for name, n in counts.items():
        s = sp.get(name)
        mol = sp._rdkit_mol(s.smiles)
        bonds = [(b.GetBeginAtomIdx(), b.GetEndAtomIdx()) for b in mol.GetBonds()]
        for _ in range(n):
            res = top.addResidue(s.residue, chain)
            atoms = [
                top.addAtom(a, app.Element.getBySymbol(e), res)
                for a, e in zip(s.atom_names, s.elements, strict=True)
            ]
            for i, j in bonds:
                top.addBond(atoms[i], atoms[j])
    if box_nm is not None:
        top.setPeriodicBoxVectors(np.eye(3) * box_nm * unit.nanometer)
    return top


MAX_SEED = 2**31 - 1  # rdkit's and packmol's seeds are 32-bit signed integers


def build(definition: SystemDefinition, out_dir: str | Path, seed: int = 0) -> dict:
    """Build the box of ``definition`` into ``out_dir``; return the build record.

    The folder is replaced as a whole (:func:`hese.io.replaced_folder`): a build killed half way
    leaves the previous build, or none.

    Raises
    ------
    HeseInputError
        A seed outside 0 … 2³¹ − 1 (what rdkit and packmol take).
    """
    if not (isinstance(seed, int) and 0 <= seed <= MAX_SEED):
        raise HeseInputError(f"seed: {seed!r} is not a whole number from 0 to {MAX_SEED}")
    out = Path(out_dir)
    counts = definition.counts
    top = topology_for(counts, definition.box_nm)
    xyz = pack(counts, definition.box_nm, seed)
    modeller = app.Modeller(top, xyz * unit.nanometer)
    files = forcefield.files_for(counts, definition.family, definition.water_model)
    model_file = ion_models.model_path(definition.divalent_model, definition.water_model, forcefield.force_field_dir())
    uses_model = model_file is not None and bool(set(ion_models.load(model_file).lj) & set(counts))
    recorded = files + ([model_file] if uses_model else [])  # the files that gave this box parameters
    if any("<VirtualSite" in f.read_text() for f in files):
        modeller.addExtraParticles(app.ForceField(*[str(f) for f in files]))
    system = forcefield.create_system(
        modeller.topology,
        definition.family,
        water_model=definition.water_model,
        charge_scale=definition.charge_scale,
        cutoff_nm=definition.cutoff_nm,
        divalent_model=definition.divalent_model,
    )
    pdb = io.StringIO()
    app.PDBFile.writeFile(modeller.topology, modeller.positions, pdb, keepIds=False)
    record = {
        "name": definition.name,
        "definition": definition.source,
        "counts": dict(counts),
        "composition": definition.formulation.summary(),
        "n_atoms": system.getNumParticles(),
        "box_nm": round(definition.box_nm, 6),
        "family": definition.family,
        "water_model": definition.water_model,
        "divalent_model": definition.divalent_model,
        "charge_scale": definition.charge_scale,
        "cutoff_nm": definition.cutoff_nm,
        "total_charge_e": round(total_charge(system), 9),
        "force_field_files": {_relative(f): forcefield.checksum(f) for f in recorded},
        "species_force_field": {
            s: _relative(forcefield.species_file(sp.get(s), definition.family, definition.water_model)) for s in counts
        },
        "packmol_tolerance_nm": PACKMOL_TOLERANCE_NM,
        "seed": seed,
        "hese_version": hese.__version__,
        "openmm_version": mm.__version__,
    }
    with exclusive(out.parent / f".{out.name}.lock", "hese build"), replaced_folder(out) as new:
        atomic_write(new / layout.SYSTEM, mm.XmlSerializer.serialize(system))
        atomic_write(new / layout.TOPOLOGY, pdb.getvalue())
        write_json(new / layout.BUILD_RECORD, record)
    return record


def _relative(path: Path) -> str:
    return f"{forcefield.family_of(path)}/{path.name}"


def total_charge(system: mm.System) -> float:
    """Sum of the NonbondedForce charges (e)."""
    nb = next(f for f in system.getForces() if isinstance(f, mm.NonbondedForce))
    charges = (nb.getParticleParameters(i)[0] for i in range(nb.getNumParticles()))
    return sum(q.value_in_unit(unit.elementary_charge) for q in charges)

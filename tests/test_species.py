import json
import math

import numpy as np
import pytest

from hese import cli
from hese import species as sp
from hese.errors import HeseInputError

ISSUE_SPECIES = {
    "organic": ["Li", "Mg", "FSI", "TFSI", "DFOB", "NO3", "OTf", "PF6", "Cl", "DME", "TMP", "DMSO", "EG", "EA", "EC"],
    "aqueous": ["water", "Li", "Cl", "Br", "Zn", "ClO4", "SO4", "NO3"],
}


def test_registry_has_every_required_species_per_family(registry):
    for family, names in ISSUE_SPECIES.items():
        for name in names:
            assert family in registry[name].force_field, (name, family)


def test_registry_entries_are_consistent(registry):
    residues = [s.residue for s in registry.values()]
    assert len(residues) == len(set(residues))
    for s in registry.values():
        assert s.kind in ("cation", "anion", "solvent")
        assert (s.charge > 0) == (s.kind == "cation") and (s.charge < 0) == (s.kind == "anion")
        assert 1 <= len(s.residue) <= 3
        assert set(s.coordinating) <= set(s.atom_names), s.name
        assert s.molar_mass > 0
        for entry in s.force_field.values():
            assert entry.source.strip()


def test_atom_names_follow_smiles_order():
    dme = sp.get("DME")
    assert dme.atom_names[:6] == ("C1", "O1", "C2", "C3", "O2", "C4")
    assert dme.atom_names[-1] == "H10"
    assert sp.get("water").atom_names == ("O1", "H1", "H2")


def test_molar_masses_against_formula_masses():
    # IUPAC standard atomic weights: Li 6.94, C 12.011, H 1.008, O 15.999, N 14.007, S 32.06, F 18.998
    assert sp.get("DME").molar_mass == pytest.approx(4 * 12.011 + 10 * 1.008 + 2 * 15.999, abs=0.02)
    assert sp.get("FSI").molar_mass == pytest.approx(2 * 18.998 + 2 * 32.06 + 4 * 15.999 + 14.007, abs=0.02)
    assert sp.get("water").molar_mass == pytest.approx(18.015, abs=0.01)


@pytest.mark.parametrize(
    "formula, ions",
    [
        ("LiFSI", {"Li": 1, "FSI": 1}),
        ("LiTFSI", {"Li": 1, "TFSI": 1}),
        ("LiDFOB", {"Li": 1, "DFOB": 1}),
        ("LiNO3", {"Li": 1, "NO3": 1}),
        ("LiCl", {"Li": 1, "Cl": 1}),
        ("ZnCl2", {"Zn": 1, "Cl": 2}),
        ("ZnBr2", {"Zn": 1, "Br": 2}),
        ("Zn(ClO4)2", {"Zn": 1, "ClO4": 2}),
        ("ZnSO4", {"Zn": 1, "SO4": 1}),
        ("LiOTf", {"Li": 1, "OTf": 1}),
        ("LiPF6", {"Li": 1, "PF6": 1}),
        ("Mg(TFSI)2", {"Mg": 1, "TFSI": 2}),
        ("Li2SO4", {"Li": 2, "SO4": 1}),
    ],
)
def test_salts_resolve_with_stoichiometry_from_charges(formula, ions):
    salt = sp.salt(formula)
    assert salt.ions == ions
    assert sum(sp.get(n).charge * k for n, k in salt.ions.items()) == 0


@pytest.mark.parametrize("formula", ["ZnCl", "LiCl2", "MgTFSI", "Zn2Cl2"])
def test_unbalanced_salts_name_the_neutral_formula(formula):
    with pytest.raises(HeseInputError, match="do not balance.*neutral salt"):
        sp.salt(formula)


@pytest.mark.parametrize("formula", ["NaCl", "LiXYZ", "FSILi", "Li"])
def test_unknown_salts_list_what_is_allowed(formula):
    with pytest.raises(HeseInputError, match="unknown salt.*followed by an anion"):
        sp.salt(formula)


def test_resolve_species_and_salts():
    assert sp.resolve("H2O") == {"water": 1}
    assert sp.resolve("ZnCl2") == {"Zn": 1, "Cl": 2}
    with pytest.raises(HeseInputError, match="unknown species or salt 'Unobtainium'.*known|species:"):
        sp.resolve("Unobtainium")


def test_species_json_lists_every_species_with_source(capsys, registry):
    assert cli.main(["species", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["name"] for r in rows} == set(registry)
    for r in rows:
        assert {"name", "charge", "kind", "residue", "force_field", "source", "family"} <= set(r)
        assert r["source"] and r["force_field"].endswith(".xml")
        assert isinstance(r["charge"], int) and math.isfinite(r["molar_mass_g_mol"])


def test_species_table_prints_every_species(capsys, registry):
    assert cli.main(["species"]) == 0
    out = capsys.readouterr().out
    for name in registry:
        assert f"\n{name} " in out


def test_fixed_geometries_have_one_row_per_atom(registry):
    for s in registry.values():
        if s.geometry is not None:
            assert len(s.geometry) == len(s.atom_names), s.name


def test_pf6_starts_octahedral():
    from hese.build import conformer

    xyz = conformer(sp.get("PF6"))
    p = xyz[1]
    bonds = np.linalg.norm(xyz - p, axis=1)
    assert np.allclose(np.delete(bonds, 1), 0.1606)
    # opposite pairs F1/F6, F2/F5, F3/F4
    for a, b in [(0, 6), (2, 5), (3, 4)]:
        assert np.allclose(xyz[a] + xyz[b], 2 * p)


def test_stored_vdw_volumes_cover_the_registry_and_match_the_computation(registry):
    from hese.species import _stored_vdw_volumes_a3, vdw_volume_a3

    stored = _stored_vdw_volumes_a3()
    assert set(stored) == set(registry)
    for name in ("Li", "Cl", "water", "NO3"):
        assert stored[name] == pytest.approx(vdw_volume_a3(registry[name].smiles), abs=1e-3)


def test_names_match_in_any_letter_case_and_an_ambiguous_match_names_both(monkeypatch):
    assert sp.get("li") is sp.get("Li") and sp.get("pf6") is sp.get("PF6") and sp.get("h2o") is sp.get("water")
    monkeypatch.setitem(sp.ALIASES, "li", "Zn")  # a registry in which "LI" could mean Li or Zn
    assert sp.get("Li").name == "Li"  # the exact spelling wins
    with pytest.raises(HeseInputError, match=r"species 'LI' is ambiguous: it matches Li and Zn"):
        sp.get("LI")
    with pytest.raises(HeseInputError, match=r"unknown species 'Lix'"):
        sp.get("Lix")

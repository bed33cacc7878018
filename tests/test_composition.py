"""Compositions → counts, worked by hand; configurational entropy against closed forms."""

import json
import math

import pytest

from hese import cli
from hese import composition as c
from hese.errors import HeseInputError

AVOGADRO = 6.02214076e23


def test_li2zncl4_9h2o_counts_by_hand():
    # 60 formula units of 2 LiCl : 1 ZnCl2 : 9 water → 120 Li+, 60 Zn2+, 120 + 120 Cl-, 540 water
    f = c.compose({"ratio": {"LiCl": 2, "ZnCl2": 1, "water": 9}}, {"formula_units": 60})
    assert f.counts == {"Li": 120, "Cl": 240, "Zn": 60, "water": 540}
    assert f.reached == {"LiCl": 2.0, "ZnCl2": 1.0, "water": 9.0}


def test_he_dme_molarity_counts_by_hand():
    """0.15 M of each salt in 500 DME, volume = DME + salt volumes (module docstring)."""
    f = c.compose({"molarity": {"LiFSI": 0.15, "LiTFSI": 0.15, "LiDFOB": 0.15, "LiNO3": 0.15}, "solvent": {"DME": 1}},
                  {"solvent_molecules": 500})
    # hand: DME molecular volume M/(ρ N_A) with ρ = 0.8683 g/cm³, M = 90.122 g/mol
    v_dme = 90.122 / (0.8683 * AVOGADRO) * 1e21
    assert c.solvent_volume_nm3("DME") == pytest.approx(v_dme, rel=1e-4)
    v_solvent = 500 * v_dme
    v_salts = c.molecular_volume_nm3({"DME": 500, "Li": 4, "FSI": 1, "TFSI": 1, "DFOB": 1, "NO3": 1}, "organic") - v_solvent
    # n = c N_A V with V = V_solvent + n v_salt, solved: V = V_solvent / (1 − c N_A Σ v_salt)
    per_nm3 = 0.15 * AVOGADRO / 1e24
    volume = v_solvent / (1 - per_nm3 * v_salts)
    n = round(per_nm3 * volume)
    assert f.units == {"LiFSI": n, "LiTFSI": n, "LiDFOB": n, "LiNO3": n, "DME": 500}
    assert f.counts["Li"] == 4 * n and f.counts["DME"] == 500
    # the concentration the integer counts give back, within rounding of the requested one
    for got in f.reached.values():
        assert got == pytest.approx(0.15, rel=0.5 / n + 1e-3)
        assert got == pytest.approx(n / (AVOGADRO * f.volume_nm3 / 1e24), rel=1e-9)


def test_molality_counts_by_hand():
    # 1 mol/kg ZnCl2 in 1000 waters: kg of water = 1000 × 18.015 / N_A / 1000 → n = 18.015 → 18
    f = c.compose({"molality": {"ZnCl2": 1.0}, "solvent": {"water": 1}}, {"solvent_molecules": 1000})
    assert f.counts == {"Zn": 18, "Cl": 36, "water": 1000}
    assert f.reached["ZnCl2"] == pytest.approx(18 / 18.0153, rel=1e-3)


def test_solvent_fractions_by_mole_mass_and_volume():
    mole = c.compose({"molality": {"LiFSI": 1}, "solvent": {"DME": 0.5, "EC": 0.5}}, {"solvent_molecules": 400})
    assert mole.counts["DME"] == 200 and mole.counts["EC"] == 200
    # equal masses: x_DME ∝ 1/90.12, x_EC ∝ 1/88.06 → x_DME = 0.4942 → 198 of 400
    mass = c.compose({"molality": {"LiFSI": 1}, "solvent": {"DME": 0.5, "EC": 0.5}, "solvent_basis": "mass"},
                     {"solvent_molecules": 400})
    assert mass.counts["DME"] == round(400 * (1 / 90.122) / (1 / 90.122 + 1 / 88.062))
    # equal volumes: x ∝ ρ/M
    vol = c.compose({"molality": {"LiFSI": 1}, "solvent": {"DME": 0.5, "EC": 0.5}, "solvent_basis": "volume"},
                    {"solvent_molecules": 400})
    x_dme = (0.8683 / 90.122) / (0.8683 / 90.122 + 1.3214 / 88.062)
    assert vol.counts["DME"] == round(400 * x_dme)
    assert vol.counts["DME"] + vol.counts["EC"] == 400


def test_size_in_atoms_is_the_nearest_box():
    f = c.compose({"ratio": {"LiCl": 2, "ZnCl2": 1, "water": 9}}, {"atoms": 2000})
    # 34 atoms per formula unit (2 Li, 1 Zn, 4 Cl, 27 water atoms): 2000/34 = 58.8 → 59
    assert f.units["ZnCl2"] == 59 and f.n_atoms == 59 * 34


def test_four_equimolar_anions_are_medium_entropy():
    f = c.compose({"molarity": {"LiFSI": 0.15, "LiTFSI": 0.15, "LiDFOB": 0.15, "LiNO3": 0.15}, "solvent": {"DME": 1}},
                  {"solvent_molecules": 500})
    s = f.entropy()
    assert s["anion"] == pytest.approx(math.log(4), abs=1e-12)  # 1.386 R
    assert s["cation"] == 0 and s["solvent"] == 0
    assert c.entropy_class(s["anion"]) == "medium"


@pytest.mark.parametrize(
    "amounts, expected, cls",
    [
        ({"a": 1}, 0.0, "low"),
        ({"a": 1, "b": 1}, math.log(2), "low"),
        ({"a": 1, "b": 1, "c": 1}, math.log(3), "medium"),
        ({"a": 1, "b": 1, "c": 1, "d": 1, "e": 1}, math.log(5), "high"),
        ({"a": 1, "b": 3}, -(0.25 * math.log(0.25) + 0.75 * math.log(0.75)), "low"),
    ],
)
def test_config_entropy_closed_forms(amounts, expected, cls):
    assert c.config_entropy_r(amounts) == pytest.approx(expected, abs=1e-12)
    assert c.entropy_class(c.config_entropy_r(amounts)) == cls


def test_li2zncl4_cation_entropy():
    # cations 120 Li : 60 Zn → x = 2/3, 1/3
    f = c.compose({"ratio": {"LiCl": 2, "ZnCl2": 1, "water": 9}}, {"formula_units": 60})
    assert f.entropy()["cation"] == pytest.approx(-(2 / 3 * math.log(2 / 3) + 1 / 3 * math.log(1 / 3)))


def test_split_keeps_the_total():
    assert c.split(10, {"a": 1 / 3, "b": 1 / 3, "c": 1 / 3}) == {"a": 4, "b": 3, "c": 3}
    assert sum(c.split(7, {"a": 0.5, "b": 0.5}).values()) == 7


BAD = [
    ({"molarity": {"LiFSI": 0.1}, "ratio": {"LiCl": 1}}, {"solvent_molecules": 10}, "two composition modes at once: molarity and ratio"),
    ({}, {}, "no composition mode"),
    ({"molarity": {"LiFSI": 0.1}, "solvent": {"DME": 0.6, "EC": 0.3}}, {"solvent_molecules": 10}, "fractions sum to 0.9, not 1"),
    ({"molarity": {"LiFSI": 0.1}}, {"solvent_molecules": 10}, "molarity needs 'solvent'"),
    ({"molarity": {"LiFSI": 0.01}, "solvent": {"DME": 1}}, {"solvent_molecules": 100}, r"LiFSI rounds to zero molecules at size.solvent_molecules = 100; size.solvent_molecules ≥ \d+ would fit it"),
    ({"ratio": {"LiCl": 1, "water": 9}}, {"solvent_molecules": 100}, "ratio needs exactly one of formula_units, atoms"),
    ({"molarity": {"DME": 1.0}, "solvent": {"DME": 1}}, {"solvent_molecules": 100}, "'DME' is a solvent, not a salt"),
    ({"molarity": {"LiFSI": 1.0}, "solvent": {"LiCl": 1}}, {"solvent_molecules": 100}, "'LiCl' is not a solvent|unknown species"),
    ({"counts": {"Li": 1}}, {}, "net charge of \\+1 e"),
]


@pytest.mark.parametrize("comp, size, message", BAD)
def test_bad_compositions(comp, size, message):
    with pytest.raises(HeseInputError, match=message):
        c.compose(comp, size, "s.yaml")


def test_rounding_to_zero_suggests_a_size_that_works():
    with pytest.raises(HeseInputError) as err:
        c.compose({"molarity": {"LiFSI": 0.01}, "solvent": {"DME": 1}}, {"solvent_molecules": 100})
    need = int(str(err.value).split("≥ ")[1].split()[0])
    f = c.compose({"molarity": {"LiFSI": 0.01}, "solvent": {"DME": 1}}, {"solvent_molecules": need})
    assert f.counts["Li"] >= 1


def test_compose_json_for_the_shipped_files(capsys):
    assert cli.main(["compose", "systems/li2zncl4-9h2o.yaml", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["counts"] == {"Li": 120, "Cl": 240, "Zn": 60, "water": 540}
    assert {"box_nm", "s_config_cation_r", "s_config_anion_r", "s_config_solvent_r"} <= set(out)
    assert out["s_config_anion_r"] == 0 and out["box_nm"] > 2.2


def test_ion_volumes_are_the_fitted_apparent_molar_volumes():
    """V = Σ N_j v_j + Σ n_i φ_i / N_A, with φ from hese/data/ion_volumes.yaml (Li⁺ = 0)."""
    from hese import species as sp

    phi_cl = sp.get("Cl").apparent_molar_volume_cm3_mol("aqueous")
    assert sp.get("Li").apparent_molar_volume_cm3_mol("aqueous") == 0.0 and phi_cl > 0
    v = c.molecular_volume_nm3({"Li": 120, "Cl": 120, "water": 360}, "aqueous")
    assert v == pytest.approx(360 * c.solvent_volume_nm3("water") + 120 * phi_cl / AVOGADRO * 1e21)
    # Zn has aqueous parameters only: its aqueous φ serves in an organic box too
    assert sp.get("Zn").apparent_molar_volume_cm3_mol("organic") == sp.get("Zn").apparent_molar_volume_cm3_mol("aqueous")
    assert sp.get("FSI").apparent_molar_volume_cm3_mol("organic") is not None


def test_every_registry_ion_has_a_fitted_volume():
    """No ion falls back to the crude van der Waals estimate (it misses electrostriction by 10–30 %)."""
    from hese import species as sp

    missing = [name for name, s in sp.registry().items() if s.kind != "solvent"
               and s.apparent_molar_volume_cm3_mol(next(iter(s.force_field))) is None]
    assert not missing


def test_ionic_strength_by_hand():
    """I = ½ Σ m_i z_i²: ZnCl₂ at 1 mol/kg is 3 mol/kg, LiCl at 2 mol/kg is 2; no solvent is 0."""
    from hese import species as sp

    kg_water = 1000 / sp.get("water").molar_mass  # molecules in 1 kg, per mole of ions
    assert c.ionic_strength({"Zn": 1, "Cl": 2, "water": kg_water}) == pytest.approx(3.0)
    assert c.ionic_strength({"Li": 2, "Cl": 2, "water": kg_water}) == pytest.approx(2.0)
    assert c.ionic_strength({"Li": 1, "Cl": 1}) == 0.0


def test_masson_volume_follows_the_square_root_of_the_ionic_strength():
    """φ(I) = φ⁰ + S_v √I for an ion with a Masson slope in ion_volumes.yaml, φ⁰ at every I otherwise."""
    from hese import species as sp

    stored = sp._stored_ion_volumes()["aqueous"]
    for name, (phi0, slope) in stored.items():
        assert sp.get(name).apparent_molar_volume_cm3_mol("aqueous", 9.0) == pytest.approx(phi0 + 3 * slope)
    assert any(slope != 0 for _, slope in stored.values()), "no ion has a Masson slope: the test would not test it"
    assert stored["Cl"][1] == 0.0
    # the box volume takes each ion's volume at the box's own ionic strength
    counts = {"Zn": 16, "Cl": 32, "water": 450}
    strength = c.ionic_strength(counts)
    v = c.molecular_volume_nm3(counts, "aqueous")
    by_hand = 450 * c.solvent_volume_nm3("water") + sum(
        n * sp.get(s).apparent_molar_volume_cm3_mol("aqueous", strength) / AVOGADRO * 1e21 for s, n in counts.items()
        if s != "water")
    assert v == pytest.approx(by_hand, rel=1e-12)
    assert v != pytest.approx(c.molecular_volume_nm3(counts, "aqueous", 0.0), rel=1e-6)


def test_molarity_is_reached_with_concentration_dependent_volumes():
    """The counts of a molarity composition give back the molarity at the box's own ionic strength."""
    f = c.compose({"molarity": {"ZnCl2": 2.0}, "solvent": {"water": 1}}, {"solvent_molecules": 100000})
    assert f.reached["ZnCl2"] == pytest.approx(2.0, rel=2e-4)  # counts are whole molecules

"""Pieces of the engine without MD: hydrogen mass repartitioning, density convergence, molarity, volume scaling."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import openmm as mm
import pandas as pd
import pytest
from openmm import unit

from hese import build, forcefield
from hese.md import equilibration as eq
from hese.md.inputs import repartition_hydrogen_mass

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import equilibration_judge as judge_bench  # noqa: E402


def test_hydrogen_mass_repartitioning_keeps_mass_and_leaves_rigid_water():
    top = build.topology_for({"DME": 1, "water": 1})
    system = forcefield.create_system(top, "organic")
    before = np.array([system.getParticleMass(i).value_in_unit(unit.dalton) for i in range(system.getNumParticles())])
    n = repartition_hydrogen_mass(system, top, 3.024)
    after = np.array([system.getParticleMass(i).value_in_unit(unit.dalton) for i in range(system.getNumParticles())])
    symbols = [a.element.symbol for a in top.atoms()]
    residue = [a.residue.index for a in top.atoms()]
    dme_h = [i for i, (s, r) in enumerate(zip(symbols, residue, strict=True)) if s == "H" and r == 0]
    water = [i for i, r in enumerate(residue) if r == 1]
    assert n == len(dme_h) == 10
    assert after.sum() == pytest.approx(before.sum())
    assert np.allclose(after[dme_h], 3.024)
    assert np.allclose(after[water], before[water])
    methyl_c = [i for i, (s, r) in enumerate(zip(symbols, residue, strict=True)) if s == "C" and r == 0]
    assert after[methyl_c].min() == pytest.approx(12.011 - 3 * (3.024 - 1.008), abs=0.01)


def _thermo(series: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({"density_g_cm3": series, "volume_nm3": 30 / series, "temperature_k": 300.0,
                         "potential_energy_kj_mol": -1.0})


def test_density_convergence_accepts_a_plateau_and_rejects_a_drift():
    rng = np.random.default_rng(1)
    plateau = np.concatenate([np.linspace(0.80, 0.95, 20), 0.95 + 0.003 * rng.standard_normal(180)])
    drift = np.linspace(0.80, 0.95, 200) + 0.001 * rng.standard_normal(200)
    for series, ok in ((plateau, True), (drift, False)):
        res = eq.density_convergence(_thermo(series), 0.5, 20)
        assert res["converged"] is ok
        assert res["verdict"].startswith("converged" if ok else "not converged")
        assert res["drift_bound_g_cm3"] >= abs(res["drift_g_cm3"]) and res["drift_horizon_ps"] == 100
    assert res["n_samples"] == 200 and res["npt_ps"] == 100
    assert res["drift_bound_g_cm3"] > res["drift_tolerance_g_cm3"] == pytest.approx(0.005 * res["density_g_cm3"])
    converged = eq.density_convergence(_thermo(plateau), 0.5, 20)
    # the retained part starts after the transient (20 of 200 samples), on the candidate grid
    assert converged["equilibration_time_ps"] == 10.0
    assert converged["density_g_cm3"] == pytest.approx(0.95, abs=3 * converged["density_err_g_cm3"])


def test_drift_of_a_straight_line_is_its_slope_times_the_horizon():
    series = 1.0 + 1e-4 * np.arange(100) + 1e-6 * np.sin(np.arange(100))
    test = eq.drift_test(series, 40, 100)
    assert test["drift"] == pytest.approx(1e-2, rel=1e-3)
    assert test["drift_bound"] > test["drift"]


def test_a_flat_series_needs_enough_uncorrelated_samples_and_a_small_enough_bound():
    flat = 1.0 + 0.005 * np.random.default_rng(3).standard_normal(300)
    assert eq.density_convergence(_thermo(flat), 1.0, 20)["converged"]
    assert not eq.density_convergence(_thermo(flat), 1.0, 400)["converged"]          # 300 samples < 400
    tight = eq.density_convergence(_thermo(flat), 1.0, 20, tolerance=1e-4)
    assert not tight["converged"] and "> tolerance" in tight["verdict"]
    few = eq.density_convergence(_thermo(flat[:3]), 1.0, 1)
    assert not few["converged"] and "too few" in few["verdict"]


def test_the_judge_is_right_on_synthetic_relaxations_with_known_plateaus():
    """A small version of benchmarks/equilibration_judge.py (fixed seeds: the same series every run)."""
    drifting = judge_bench.drifting_suite(judge_bench_hese, seed=0, trials=1)
    assert len(drifting) > 500
    assert drifting["false_converged"].mean() <= 0.02
    assert judge_bench.flat_acceptance(judge_bench_hese, seed=0, trials=40) >= 0.95
    for case in judge_bench.issue_cases(judge_bench_hese, seed=0, trials=20)[:2]:  # the issue's two short runs
        assert case["wrong_when_converged"] == 0


def judge_bench_hese(rows, every_ps, n_min):
    return eq.density_convergence(rows, every_ps, n_min)


def test_molarity_reached_uses_formula_units_and_volume():
    counts = {"Li": 4, "FSI": 2, "TFSI": 2, "DME": 100}
    units = {"LiFSI": 2, "LiTFSI": 2, "DME": 100}
    res = eq.molarities(counts, units, volume_nm3=20.0)
    litres = 20.0e-24
    assert res["salt_molarity_mol_l"]["LiFSI"] == pytest.approx(2 / 6.02214076e23 / litres)
    assert "DME" not in res["salt_molarity_mol_l"]
    assert res["ion_molarity_mol_l"]["Li"] == pytest.approx(4 / 6.02214076e23 / litres)


def test_scaling_to_a_volume_moves_molecule_centres_only():
    system = mm.System()
    system.setDefaultPeriodicBoxVectors(mm.Vec3(3, 0, 0), mm.Vec3(0, 3, 0), mm.Vec3(0, 0, 3))
    for _ in range(4):
        system.addParticle(1.0)
    system.addConstraint(0, 1, 0.1)
    system.addConstraint(2, 3, 0.1)
    context = mm.Context(system, mm.VerletIntegrator(0.001), mm.Platform.getPlatformByName("Reference"))
    xyz = np.array([[1.0, 1, 1], [1.1, 1, 1], [2.0, 2, 2], [2.0, 2.1, 2]])
    context.setPositions(xyz * unit.nanometer)
    s = eq.scale_to_volume(context, 2 * 27.0)
    state = context.getState(getPositions=True)
    new = state.getPositions(asNumpy=True).value_in_unit(unit.nanometer)
    box = state.getPeriodicBoxVectors(asNumpy=True).value_in_unit(unit.nanometer)
    assert s == pytest.approx(2 ** (1 / 3))
    assert np.linalg.det(box) == pytest.approx(54.0)
    assert np.linalg.norm(new[1] - new[0]) == pytest.approx(0.1)
    assert new[:2].mean(0) == pytest.approx(s * xyz[:2].mean(0))

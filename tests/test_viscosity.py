"""Periodic-perturbation viscosity: the integrator, the estimator and ``hese viscosity``, on known answers."""

from __future__ import annotations

import json
import math

import numpy as np
import openmm as mm
import pandas as pd
import pytest
from openmm import unit

from hese.cli import main
from hese.md import perturbation as pt
from hese.md.engine import simulate
from hese.md.settings import Settings
from tests.md_helpers import QUICK, water_box

KT_300 = pt.KB_KJ_MOL_K * 300.0


def free_particles(n: int, lz: float, mass: float) -> tuple[mm.System, np.ndarray]:
    """``n`` particles without forces in a 5 × 5 × ``lz`` nm box, z on a regular grid (Σ cos² = n/2)."""
    system = mm.System()
    system.setDefaultPeriodicBoxVectors(mm.Vec3(5, 0, 0), mm.Vec3(0, 5, 0), mm.Vec3(0, 0, lz))
    for _ in range(n):
        system.addParticle(mass)
    rng = np.random.default_rng(0)
    xyz = np.column_stack([rng.uniform(0, 5, n), rng.uniform(0, 5, n), (np.arange(n) + 0.5) * lz / n])
    return system, xyz


def context_of(system: mm.System, integrator: mm.Integrator, xyz: np.ndarray, v: np.ndarray) -> mm.Context:
    context = mm.Context(system, integrator, mm.Platform.getPlatformByName("Reference"))
    context.setPositions(xyz)
    context.setVelocities(v)
    return context


def test_the_driving_is_the_cosine_the_settings_ask_for():
    """Free particles at rest, no friction: after n steps v_x = n Δt A cos(2πz/L_z), exactly."""
    lz, a, dt, n = 4.0, 0.3, 0.002, 25
    system, xyz = free_particles(64, lz, 12.0)
    integrator = pt.cosine_integrator(dt, 300.0, 0.0, a, lz)
    context = context_of(system, integrator, xyz, np.zeros_like(xyz))
    integrator.step(n)
    state = context.getState(getVelocities=True, getPositions=True)
    v = state.getVelocities(asNumpy=True).value_in_unit(unit.nanometer / unit.picosecond)
    z = state.getPositions(asNumpy=True).value_in_unit(unit.nanometer)[:, 2]
    np.testing.assert_allclose(z, xyz[:, 2], atol=1e-12)  # the flow is along x only
    np.testing.assert_allclose(v[:, 0], n * dt * a * np.cos(2 * np.pi * z / lz), atol=1e-9)
    np.testing.assert_allclose(v[:, 1:], 0, atol=1e-12)
    masses = np.full(len(z), 12.0)
    assert pt.flow_amplitude(masses, z, v[:, 0], lz) == pytest.approx(n * dt * a, rel=1e-9)
    # the integrator's own running mean of V: the amplitude after each step, k Δt A, averaged over k = 1..n
    assert pt.take_mean_amplitude(integrator) == pytest.approx(dt * a * (n + 1) / 2, rel=1e-9)
    assert math.isnan(pt.take_mean_amplitude(integrator))  # the sums were reset


def test_the_thermostat_leaves_the_flow_alone():
    """A flow V₀ cos(kz) of heavy free particles, no driving, strong friction (20/ps): the relative
    thermostat keeps V₀ (nothing else damps it here); OpenMM's Langevin integrator damps it as e^(−γt)."""
    lz, v0, gamma, dt, steps = 100.0, 0.5, 20.0, 0.002, 500  # 1 ps: e^(-20) of the flow left by plain Langevin
    system, xyz = free_particles(2000, lz, 1000.0)
    rng = np.random.default_rng(1)
    thermal = rng.normal(0, math.sqrt(KT_300 / 1000.0), xyz.shape)
    v = thermal + np.column_stack([v0 * np.cos(2 * np.pi * xyz[:, 2] / lz), np.zeros(len(xyz)), np.zeros(len(xyz))])
    masses = np.full(len(xyz), 1000.0)
    remaining = {}
    for name, integrator in (("relative", pt.cosine_integrator(dt, 300.0, gamma, 0.0, lz)),
                             ("plain", mm.LangevinMiddleIntegrator(300.0, gamma, dt))):
        integrator.setRandomNumberSeed(5)
        context = context_of(system, integrator, xyz, v)
        integrator.step(steps)
        state = context.getState(getVelocities=True, getPositions=True)
        z = state.getPositions(asNumpy=True).value_in_unit(unit.nanometer)[:, 2]
        vx = state.getVelocities(asNumpy=True).value_in_unit(unit.nanometer / unit.picosecond)[:, 0]
        remaining[name] = pt.flow_amplitude(masses, z, vx, lz) / v0
        kinetic = 0.5 * 1000.0 * ((vx - remaining[name] * v0 * np.cos(2 * np.pi * z / lz))**2).mean()
        assert kinetic / (0.5 * KT_300) == pytest.approx(1.0, abs=0.1)  # the thermal part is at 300 K
    assert remaining["relative"] == pytest.approx(1.0, abs=0.05)
    assert abs(remaining["plain"]) < 0.05


def test_viscosity_of_a_known_flow():
    """η = A ρ L²/(4π² V) by hand: water-like numbers give the SPC/E value back."""
    rho = 0.997 / pt.AMU_PER_NM3_IN_G_CM3  # amu/nm³
    a, lz, eta = 0.05, 3.0, 0.729
    v = a * rho * lz**2 / (4 * math.pi**2 * eta / pt.AMU_PER_NM_PS_IN_MPA_S)
    v_si = 5e13 * 997.0 * 9e-18 / (4 * math.pi**2 * 0.729e-3)  # the same in SI: m/s² · kg/m³ · m² / Pa s
    assert v * 1000 == pytest.approx(v_si, rel=1e-6)  # 1 nm/ps = 1000 m/s
    assert pt.viscosity_mpa_s(a, rho, lz, v) == pytest.approx(eta, rel=1e-12)


def synthetic_series(rng: np.random.Generator, mean: float, n: int, tau_samples: float, sigma: float) -> np.ndarray:
    """An AR(1) series around ``mean`` with correlation time ``tau_samples`` and stationary σ."""
    phi = math.exp(-1 / tau_samples)
    noise = rng.normal(0, sigma * math.sqrt(1 - phi**2), n)
    x = np.empty(n)
    x[0] = rng.normal(0, sigma)
    for i in range(1, n):
        x[i] = phi * x[i - 1] + noise[i]
    return mean + x


def test_estimate_is_calibrated_on_synthetic_flows():
    """Truth within 2 reported σ in about 95 % of 300 realisations (10 blocks: 92 % expected from Student's t)."""
    rho, a, lz, eta = 600.0, 0.05, 3.0, 0.73
    v_true = a * rho * lz**2 / (4 * math.pi**2 * eta / pt.AMU_PER_NM_PS_IN_MPA_S)
    rng = np.random.default_rng(11)
    z = []
    for _ in range(300):
        series = synthetic_series(rng, v_true, 2000, tau_samples=3.0, sigma=0.6 * v_true)
        est = pt.estimate(series, 0.1, 20.0, a, rho, lz)
        assert est["n_blocks"] == 10 and est["resolved"]
        z.append((est["viscosity_mpa_s"] - eta) / est["viscosity_err_mpa_s"])
    z = np.array(z)
    within = np.mean(np.abs(z) < 2)
    assert 0.88 <= within <= 0.99, within
    assert 0.8 <= np.sqrt(np.mean(z**2)) <= 1.3


def test_estimate_refuses_fewer_than_two_blocks():
    with pytest.raises(Exception, match="at least 2 are needed"):
        pt.estimate(np.ones(150), 0.1, 10.0, 0.05, 600.0, 3.0)


def test_combine_weights_by_variance_and_checks_linearity():
    one = {"viscosity_mpa_s": 1.0, "viscosity_err_mpa_s": 0.1, "resolved": True}
    two = {"viscosity_mpa_s": 1.2, "viscosity_err_mpa_s": 0.2, "resolved": True}
    c = pt.combine([one, two])
    assert c["viscosity_mpa_s"] == pytest.approx((1.0 / 0.01 + 1.2 / 0.04) / (1 / 0.01 + 1 / 0.04))
    assert c["viscosity_err_mpa_s"] == pytest.approx(1 / math.sqrt(1 / 0.01 + 1 / 0.04))
    assert c["linear"] and c["resolved"]
    far = {**two, "viscosity_mpa_s": 2.0}
    assert not pt.combine([one, far])["linear"]
    noisy = {"viscosity_mpa_s": 50.0, "viscosity_err_mpa_s": 80.0, "resolved": False}
    c = pt.combine([one, noisy])
    assert c["viscosity_mpa_s"] == 1.0 and not c["resolved"]
    assert math.isnan(pt.combine([noisy])["viscosity_mpa_s"])


def test_default_amplitudes_keep_the_shear_rate_of_a_3_nm_box():
    assert pt.default_amplitudes(3.0) == pytest.approx((0.05, 0.025))
    assert pt.default_amplitudes(6.0) == pytest.approx((0.025, 0.0125))


@pytest.fixture(scope="module")
def water_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("viscosity")
    build = water_box(root / "build")
    simulate(build, root / "md", Settings.from_mapping(QUICK))
    return root


def test_a_flow_in_water_decays_at_the_viscous_rate_whatever_the_friction(water_run):
    """Undriven, a flow V₀ cos(kz) in water decays by viscosity alone (ηk²/ρ ≈ 8/ps in this 1.86 nm
    box, slower at first: the liquid is viscoelastic): with the relative thermostat at the production
    friction as in Newtonian dynamics (no thermostat), and even at γ = 50/ps far from the e^(−γt) with
    which OpenMM's Langevin integrator removes it."""
    state = mm.XmlSerializer.deserialize((water_run / "md" / "final_state.xml").read_text())
    system = mm.XmlSerializer.deserialize((water_run / "build" / "system.xml").read_text())
    masses = np.array([system.getParticleMass(i).value_in_unit(unit.dalton) for i in range(system.getNumParticles())])
    lz = state.getPeriodicBoxVectors()[2][2].value_in_unit(unit.nanometer)
    xyz = state.getPositions(asNumpy=True).value_in_unit(unit.nanometer)
    v = state.getVelocities(asNumpy=True).value_in_unit(unit.nanometer / unit.picosecond)
    v0 = 1.0
    v[:, 0] += v0 * np.cos(2 * np.pi * xyz[:, 2] / lz)
    dt, steps = 0.002, 50  # 0.1 ps
    left = {}
    for name, integrator in (("newtonian", mm.VerletIntegrator(dt)),
                             ("relative, γ = 1", pt.cosine_integrator(dt, 298.15, 1.0, 0.0, lz)),
                             ("relative, γ = 50", pt.cosine_integrator(dt, 298.15, 50.0, 0.0, lz)),
                             ("plain, γ = 50", mm.LangevinMiddleIntegrator(298.15, 50.0, dt))):
        if hasattr(integrator, "setRandomNumberSeed"):
            integrator.setRandomNumberSeed(3)
        context = mm.Context(system, integrator, mm.Platform.getPlatformByName("CPU"), {"Threads": "1"})
        context.setPeriodicBoxVectors(*state.getPeriodicBoxVectors())
        context.setPositions(xyz)
        context.setVelocities(v)
        integrator.step(steps)
        now = context.getState(getPositions=True, getVelocities=True)
        z = now.getPositions(asNumpy=True).value_in_unit(unit.nanometer)[:, 2]
        vx = now.getVelocities(asNumpy=True).value_in_unit(unit.nanometer / unit.picosecond)[:, 0]
        left[name] = pt.flow_amplitude(masses, z, vx, lz) / v0
    # noise of V̂ here: √(2kT/M) ≈ 0.04 nm/ps; e^(-ηk²t/ρ) = 0.43 for SPC/E's η = 0.729 mPa s
    assert 0.3 < left["newtonian"] < 0.95, left  # decayed, by viscosity (viscoelastic: slowly at first)
    assert abs(left["relative, γ = 1"] - left["newtonian"]) < 0.1, left  # the thermostat leaves it alone
    assert left["relative, γ = 50"] > 0.4, left  # γ = 50/ps would leave e^(-5) = 0.007
    assert abs(left["plain, γ = 50"]) < 0.1, left  # e^(-(γ + ηk²/ρ) t): the thermostat ate the flow


TINY = ["--discard-ps", "0.4", "--run-ps", "2", "--block-ps", "0.5", "--sample-every-ps", "0.02",
        "--profile-every-ps", "0.1", "--profile-bins", "6"]


def test_hese_viscosity_from_a_finished_run(water_run, capsys):
    out = water_run / "visc"
    assert main(["viscosity", str(water_run / "build"), "--md", str(water_run / "md"), "--out", str(out),
                 "--amplitudes-nm-ps2", "0.2", "0.1", "--seed", "3", "--platform", "CPU", *TINY]) == 0
    assert "η =" in capsys.readouterr().out
    record = json.loads((out / "viscosity.json").read_text())
    done = json.loads((water_run / "md" / "done.json").read_text())
    assert record["temperature_k"] == done["settings"]["temperature_k"]
    assert record["density_g_cm3"] == pytest.approx(done["density_g_cm3"], rel=1e-3)  # NVT at the equilibrated volume
    assert [e["amplitude_nm_ps2"] for e in record["amplitudes"]] == [0.2, 0.1]
    assert all(e["n_blocks"] == 4 for e in record["amplitudes"])
    for key in ("viscosity_mpa_s", "viscosity_err_mpa_s", "linear", "resolved", "run_ps", "box_nm"):
        assert key in record
    series = pd.read_parquet(out / "viscosity_series.parquet")
    assert len(series) == 2 * (20 + 100) and series["measured"].sum() == 200
    assert series["temperature_k"].between(200, 400).all()
    profile = pd.read_parquet(out / "viscosity_profile.parquet")
    assert len(profile) == 12 and set(profile.columns) >= {"z_nm", "vx_nm_ps", "v_cosine_nm_ps", "amplitude_nm_ps2"}
    assert (out / "viscosity_profile.png").stat().st_size > 1000
    assert not list(water_run.glob(".visc.new-*"))


def triclinic_run(water_run, tmp_path):
    """A copy of the md folder whose final state has a tilted box."""
    md = tmp_path / "md"
    md.mkdir()
    (md / "done.json").write_text((water_run / "md" / "done.json").read_text())
    state = mm.XmlSerializer.deserialize((water_run / "md" / "final_state.xml").read_text())
    system = mm.System()
    a, b, c = state.getPeriodicBoxVectors()
    system.setDefaultPeriodicBoxVectors(a, b + mm.Vec3(0.3, 0, 0) * unit.nanometer, c)
    for _ in range(len(state.getPositions())):
        system.addParticle(1.0)
    context = mm.Context(system, mm.VerletIntegrator(0.001), mm.Platform.getPlatformByName("Reference"))
    context.setPositions(state.getPositions())
    (md / "final_state.xml").write_text(mm.XmlSerializer.serialize(context.getState(getPositions=True,
                                                                                      getVelocities=True)))
    return md


@pytest.mark.parametrize("case, extra, message", [
    ("zero amplitude", ["--amplitudes-nm-ps2", "0"], "amplitudes_nm_ps2.0: 0.0 is less than or equal to the minimum"),
    ("too short for two blocks", ["--run-ps", "2", "--block-ps", "1.5"], "run_ps: 2 ps holds 1 block(s)"),
    ("physics given beside --md", ["--temperature-k", "350"], "--temperature-k: taken from the production run"),
    ("tilted box", ["--triclinic"], "the box is not orthorhombic"),
])
def test_bad_input_is_one_line(water_run, tmp_path, capsys, case, extra, message):
    md = water_run / "md"
    if extra == ["--triclinic"]:
        md, extra = triclinic_run(water_run, tmp_path), []
    argv = ["viscosity", str(water_run / "build"), "--md", str(md), "--out", str(tmp_path / "v"), "--platform", "CPU",
            *TINY, *extra]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "v").exists()

"""``hese viscosity``: shear viscosity of a built box by periodic perturbation (see :mod:`hese.md.perturbation`).

Layout of ``OUT``, written into a fresh folder and swapped in whole when every amplitude is done
(a killed run leaves no half-finished folder)::

    viscosity.json            η ± σ (combined over amplitudes), every amplitude's estimate, the run
    viscosity_series.parquet  the flow amplitude and temperature every sample_every_ps
    viscosity_profile.parquet the measured velocity profile u_x(z) per amplitude, beside V cos(kz)
    viscosity_profile.png     that profile as a plot
    viscosity.log             the log

Starting state: the end of a finished ``hese simulate`` run (``--md``: NVT at its equilibrated
volume, its temperature, time step, HMR and friction), or the minimised build (its estimated
density) when no md folder is given.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import openmm as mm
import pandas as pd
from openmm import unit

import hese
from hese import layout
from hese.analysis import columns as col
from hese.analysis.tables import json_number
from hese.config import load_yaml, validate
from hese.errors import HeseInputError
from hese.io import exclusive, read_json, replaced_folder, write_json
from hese.md import perturbation as pt
from hese.md.engine import log_to
from hese.md.inputs import BuildInputs, repartition_hydrogen_mass
from hese.md.platforms import choose_platform
from hese.md.reporters import Thermo, parquet_bytes
from hese.md.settings import VISCOSITY_SCHEMA, Settings
from hese.md.stages import apply_state, load_state

log = logging.getLogger("hese.md")
SCHEMA = VISCOSITY_SCHEMA
#: simulate settings that come from the production run when an md folder is given
PHYSICS = ("temperature_k", "timestep_fs", "hmr", "hydrogen_mass_amu", "friction_per_ps")


@dataclass(frozen=True)
class ViscositySettings:
    """Settings of ``hese viscosity``; ``hese/schemas/viscosity.schema.yaml`` documents every field."""

    amplitudes_nm_ps2: tuple[float, ...] | None = None
    run_ps: float = 200.0
    discard_ps: float = 10.0
    block_ps: float = 10.0
    sample_every_ps: float = 0.1
    profile_every_ps: float = 1.0
    profile_bins: int = 20

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any] | None, source: str = "viscosity") -> ViscositySettings:
        """Validate a mapping with the schema's keys (missing keys take their defaults)."""
        if data is not None and not isinstance(data, Mapping):
            raise HeseInputError(f"{source}: expected a mapping of settings, got {type(data).__name__}")
        values = validate(dict(data or {}), SCHEMA, source)
        if values["amplitudes_nm_ps2"] is not None:
            values["amplitudes_nm_ps2"] = tuple(float(a) for a in values["amplitudes_nm_ps2"])
        return cls(**values)

    @classmethod
    def load(cls, path: str | Path, overrides: Mapping[str, Any] | None = None) -> ViscositySettings:
        """The ``viscosity:`` section of a YAML file (a study or a settings file), then ``overrides``."""
        doc = load_yaml(path)
        section = (doc.get("viscosity") if isinstance(doc, Mapping) else None) or {}
        if not isinstance(section, Mapping):
            raise HeseInputError(f"{path}: viscosity: expected a mapping of settings, got {section!r}")
        return cls.from_mapping({**section, **(overrides or {})}, f"{path}: viscosity")

    def as_dict(self) -> dict[str, Any]:
        """The settings as a JSON-ready mapping."""
        d = dataclasses.asdict(self)
        d["amplitudes_nm_ps2"] = None if self.amplitudes_nm_ps2 is None else list(self.amplitudes_nm_ps2)
        return d


def production_settings(md_dir: str | os.PathLike, runtime: Settings) -> Settings:
    """The physics settings of a finished ``hese simulate`` run, with the runtime ones of ``runtime``."""
    done = read_json(Path(md_dir) / layout.DONE, f"finish the simulation first (hese simulate … --out {md_dir})",
                     ("settings",))
    physics = {k: done["settings"][k] for k in PHYSICS if k in done["settings"]}
    return dataclasses.replace(runtime, **physics, source=f"{md_dir}/done.json")


def run_viscosity(build_dir: str | os.PathLike, out_dir: str | os.PathLike, settings: Settings,
                  viscosity: ViscositySettings, md_dir: str | os.PathLike | None = None) -> dict:
    """Drive the cosine flow at each amplitude, measure it, and write the outputs; return viscosity.json.

    Raises
    ------
    HeseInputError
        A build or md folder that is not finished, a box that is not orthorhombic, settings whose
        times are not whole numbers of samples, a measured time shorter than two blocks.
    """
    if md_dir is not None:
        settings = production_settings(md_dir, settings)
        if not (Path(md_dir) / layout.FINAL_STATE).is_file():
            raise HeseInputError(f"{md_dir}: no {layout.FINAL_STATE}; rerun hese simulate … --out {md_dir}")
    plan = _Plan.of(settings, viscosity)
    inputs = BuildInputs.read(build_dir)
    out = Path(out_dir)
    with exclusive(out.parent / f".{out.name}.lock", "hese viscosity"), replaced_folder(out) as new:
        with log_to(new / "viscosity.log"):
            record = _Measurement(inputs, settings, viscosity, plan, md_dir).run(new)
            write_json(new / layout.VISCOSITY, record)
    return record


@dataclass(frozen=True)
class _Plan:
    """The step counts of one amplitude's run."""

    dt_ps: float
    sample_steps: int
    discard_samples: int
    run_samples: int
    profile_every: int  # samples between profiles

    @classmethod
    def of(cls, settings: Settings, v: ViscositySettings) -> _Plan:
        dt = settings.dt_ps

        def whole(field: str, value: float, unit_ps: float, what: str) -> int:
            n = value / unit_ps
            if (n < 0.5 and value > 0) or abs(n - round(n)) > 1e-6 * max(1.0, n):
                raise HeseInputError(f"viscosity: {field}: {value:g} ps is not a whole multiple of {what} "
                                     f"({unit_ps:g} ps)")
            return round(n)

        sample_steps = whole("sample_every_ps", v.sample_every_ps, dt, "the time step")
        sample = sample_steps * dt
        plan = cls(dt, sample_steps, whole("discard_ps", v.discard_ps, sample, "sample_every_ps"),
                   whole("run_ps", v.run_ps, sample, "sample_every_ps"),
                   whole("profile_every_ps", v.profile_every_ps, sample, "sample_every_ps"))
        blocks = v.run_ps / v.block_ps
        if blocks < 2:
            raise HeseInputError(f"viscosity: run_ps: {v.run_ps:g} ps holds {math.floor(blocks)} block(s) of "
                                 f"block_ps = {v.block_ps:g} ps; at least 2 are needed for an error")
        return plan


class _Measurement:
    """The runs at every amplitude in one context."""

    def __init__(self, inputs: BuildInputs, settings: Settings, viscosity: ViscositySettings, plan: _Plan,
                 md_dir: str | os.PathLike | None):
        self.inputs, self.settings, self.v, self.plan, self.md_dir = inputs, settings, viscosity, plan, md_dir
        self.system = inputs.system
        if settings.hmr:
            self.system = mm.XmlSerializer.clone(self.system)
            repartition_hydrogen_mass(self.system, inputs.topology, settings.hydrogen_mass_amu)
        self.thermo = Thermo(self.system)
        self.masses = np.array([self.system.getParticleMass(i).value_in_unit(unit.dalton)
                                for i in range(self.system.getNumParticles())])
        self.seed = settings.seed if settings.seed is not None else secrets.randbelow(2**31 - 2) + 1

    def _start_state(self) -> mm.State | None:
        return load_state(Path(self.md_dir) / layout.FINAL_STATE) if self.md_dir is not None else None

    def run(self, out: Path) -> dict:
        s, v, plan = self.settings, self.v, self.plan
        state = self._start_state()
        box = (state.getPeriodicBoxVectors() if state is not None else
               self.inputs.topology.getPeriodicBoxVectors()).value_in_unit(unit.nanometer)
        box = np.array([[float(c) for c in row] for row in box])
        if np.abs(box - np.diag(np.diag(box))).max() > 1e-9:
            raise HeseInputError(f"{self.md_dir or self.inputs.folder}: the box is not orthorhombic; the periodic "
                                 f"perturbation needs a rectangular box (its z axis normal to the flow)")
        lx, ly, lz = np.diag(box)
        density = self.masses.sum() / (lx * ly * lz)  # amu/nm³
        density_g_cm3 = density * pt.AMU_PER_NM3_IN_G_CM3
        amplitudes = v.amplitudes_nm_ps2 or pt.default_amplitudes(lz)
        choice = choose_platform(s.platform, s.precision, s.device_index, s.jobs_per_gpu)
        try:
            integrator = pt.cosine_integrator(plan.dt_ps, s.temperature_k, s.friction_per_ps, amplitudes[0], lz)
            integrator.setRandomNumberSeed(self.seed)
            context = mm.Context(self.system, integrator, choice.platform, choice.properties)
            start = "the end of production in " + str(self.md_dir)
            if state is not None:
                apply_state(context, state)
            else:
                start = "the minimised build (its estimated density)"
                context.setPeriodicBoxVectors(*self.inputs.topology.getPeriodicBoxVectors())
                context.setPositions(self.inputs.positions)
                mm.LocalEnergyMinimizer.minimize(context, s.minimize_tolerance_kj_mol_nm, s.minimize_max_iterations)
                context.setVelocitiesToTemperature(s.temperature_k * unit.kelvin, self.seed)
            log.info("hese viscosity %s: %d atoms, box %.4f × %.4f × %.4f nm, %.4f g/cm³, %g K, time step %g fs%s; "
                     "from %s; amplitudes %s nm/ps², %g ps each after %g ps; on %s; seed %d",
                     self.inputs.record.get("name", "?"), len(self.masses), lx, ly, lz, density_g_cm3,
                     s.temperature_k, s.dt_fs, " (HMR)" if s.hmr else "", start,
                     ", ".join(f"{a:.4g}" for a in amplitudes), v.run_ps, v.discard_ps, choice.describe(), self.seed)
            series, profiles, estimates = [], [], []
            t_start = time.monotonic()
            total = len(amplitudes) * (plan.discard_samples + plan.run_samples)
            for i, a in enumerate(amplitudes):
                rows, profile = self._drive(context, integrator, a, lz, i * (plan.discard_samples + plan.run_samples),
                                            total, t_start)
                series.append(rows)
                measured = rows[rows[col.MEASURED]]
                est = pt.estimate(measured[col.V_AMPLITUDE_NM_PS], v.sample_every_ps, v.block_ps, a, density, lz)
                est |= _heating(measured, s.temperature_k, v.sample_every_ps)
                estimates.append(est)
                profile = profile.assign(**{col.AMPLITUDE_NM_PS2: a, col.V_COSINE_NM_PS: est["v_amplitude_nm_ps"]
                                            * np.cos(2 * np.pi * profile[col.Z_NM] / lz)})
                profiles.append(profile[list(col.TABLES["viscosity_profile"])])
                log.info("A = %.4g nm/ps²: V = %.5f ± %.5f nm/ps, η = %.4f ± %.4f mPa s, %.2f K above the set "
                         "temperature", a, est["v_amplitude_nm_ps"], est["v_amplitude_err_nm_ps"],
                         est["viscosity_mpa_s"], est["viscosity_err_mpa_s"], est["temperature_rise_k"])
        finally:
            choice.release()
        combined = {k: json_number(v) for k, v in pt.combine(estimates).items()}  # NaN (nothing resolved) → null
        estimates = [{k: json_number(v) for k, v in e.items()} for e in estimates]
        wall = time.monotonic() - t_start
        record = {
            "name": self.inputs.record.get("name"),
            "build": str(self.inputs.folder),
            "md": None if self.md_dir is None else str(self.md_dir),
            "start": start,
            **combined,
            "method": "periodic perturbation (Hess, J. Chem. Phys. 116, 209 (2002)): a_x = A cos(2π z/L_z), "
                      "η = A ρ L_z² / (4π² V); Langevin thermostat on the velocity relative to the flow; error from "
                      "block means of V, combined over amplitudes by inverse variance",
            "amplitudes": estimates,
            "temperature_k": s.temperature_k,
            "density_g_cm3": density_g_cm3,
            "box_nm": [lx, ly, lz],
            "run_ps": v.run_ps,
            "discard_ps": v.discard_ps,
            "timestep_fs": s.dt_fs,
            "hmr": s.hmr,
            "friction_per_ps": s.friction_per_ps,
            "platform": choice.name,
            "wall_s": round(wall, 2),
            "ns_per_day": round(len(amplitudes) * (v.run_ps + v.discard_ps) / 1000 / (wall / 86400), 3),
            "seed": self.seed,
            "settings": self.v.as_dict(),
            "hese_version": hese.__version__,
            "openmm_version": mm.__version__,
            "finished": time.strftime("%Y-%m-%dT%H:%M:%S"),
        }
        verdict = ("linear response" if combined["linear"] else "NOT linear: the amplitudes disagree, use smaller ones")
        if not combined["resolved"]:
            verdict += "; some amplitudes not resolved from the noise (|V| < 3σ; left out): run longer"
        log.info("η = %s ± %s mPa s (%s); %.0f s", combined["viscosity_mpa_s"], combined["viscosity_err_mpa_s"],
                 verdict, wall)
        table = pd.concat(series, ignore_index=True)
        (out / "viscosity_series.parquet").write_bytes(parquet_bytes(table))
        profile = pd.concat(profiles, ignore_index=True)
        (out / "viscosity_profile.parquet").write_bytes(parquet_bytes(profile))
        profile_figure(profile, record, out / "viscosity_profile.png")
        return record

    def _drive(self, context: mm.Context, integrator: mm.CustomIntegrator, amplitude: float, lz: float,
               done_before: int, total: int, t_start: float) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Discard, then measure, at one amplitude: the sample rows and the mean velocity profile."""
        plan, v = self.plan, self.v
        integrator.setGlobalVariableByName("A", amplitude)
        pt.take_mean_amplitude(integrator)
        bins = np.linspace(0.0, lz, v.profile_bins + 1)
        momentum, mass = np.zeros(v.profile_bins), np.zeros(v.profile_bins)
        rows = []
        last_log = time.monotonic()
        n = plan.discard_samples + plan.run_samples
        for k in range(1, n + 1):
            integrator.step(plan.sample_steps)
            v_mean = pt.take_mean_amplitude(integrator)
            measured = k > plan.discard_samples
            want_profile = measured and (k - plan.discard_samples) % plan.profile_every == 0
            state = context.getState(getEnergy=True, getPositions=want_profile, getVelocities=want_profile)
            ke = state.getKineticEnergy().value_in_unit(unit.kilojoule_per_mole)
            flow_ke = 0.25 * self.masses.sum() * v_mean**2  # Σ ½ m (V cos kz)² for a uniform liquid
            temperature = 2 * (ke - flow_ke) / (self.thermo.dof * pt.KB_KJ_MOL_K)
            rows.append((amplitude, k * plan.sample_steps * plan.dt_ps, v_mean, temperature,
                         state.getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole), measured))
            if want_profile:
                z = np.mod(state.getPositions(asNumpy=True).value_in_unit(unit.nanometer)[:, 2], lz)
                vx = state.getVelocities(asNumpy=True).value_in_unit(unit.nanometer / unit.picosecond)[:, 0]
                where = np.clip(np.digitize(z, bins) - 1, 0, v.profile_bins - 1)
                momentum += np.bincount(where, self.masses * vx, v.profile_bins)
                mass += np.bincount(where, self.masses, v.profile_bins)
            now = time.monotonic()
            if now - last_log >= self.settings.log_every_s:
                last_log = now
                done = done_before + k
                eta_s = (now - t_start) / done * (total - done)
                log.info("A = %.4g nm/ps²: %.1f of %.1f ps; V %.5f nm/ps, T %.1f K; ETA %.0f min", amplitude,
                         k * plan.sample_steps * plan.dt_ps, n * plan.sample_steps * plan.dt_ps, v_mean, temperature,
                         eta_s / 60)
        table = pd.DataFrame(rows, columns=list(col.TABLES["viscosity_series"]))
        with np.errstate(invalid="ignore"):
            profile = pd.DataFrame({col.Z_NM: 0.5 * (bins[1:] + bins[:-1]), col.VX_NM_PS: momentum / mass})
        return table, profile


def _heating(measured: pd.DataFrame, temperature_k: float, sample_ps: float) -> dict:
    """Mean temperature rise over the set value and the potential-energy drift of the measured part."""
    t = measured[col.TIME_PS].to_numpy()
    pe = measured[col.POTENTIAL_ENERGY_KJ_MOL].to_numpy()
    slope = float(np.polyfit(t - t[0], pe, 1)[0]) if len(t) > 1 else math.nan
    mean = float(measured[col.TEMPERATURE_K].mean())
    return {"temperature_mean_k": mean, "temperature_rise_k": mean - temperature_k,
            "potential_energy_drift_kj_mol_ps": slope}


def profile_figure(profile: pd.DataFrame, record: dict, path: Path) -> None:
    """The measured u_x(z) of each amplitude, points, beside the fitted V cos(2πz/L_z), lines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 3.6), layout="constrained")
    lz = record["box_nm"][2]
    z = np.linspace(0, lz, 200)
    for (a, part), est in zip(profile.groupby(col.AMPLITUDE_NM_PS2, sort=False), record["amplitudes"], strict=True):
        line, = ax.plot(part[col.Z_NM], part[col.VX_NM_PS], "o", ms=4,
                        label=f"A = {a:.3g} nm/ps²: η = {est['viscosity_mpa_s']:.3f} ± "
                              f"{est['viscosity_err_mpa_s']:.3f} mPa s")
        ax.plot(z, est["v_amplitude_nm_ps"] * np.cos(2 * np.pi * z / lz), color=line.get_color(), lw=1)
    ax.axhline(0, color="0.6", lw=0.5)
    ax.set_xlabel("z (nm)")
    ax.set_ylabel("mean $v_x$ (nm/ps)")
    ax.set_title(f"{record['name']}: flow profile (points) and V cos(2πz/L$_z$) (lines)", fontsize=9)
    fig.legend(loc="outside lower center", fontsize=8, frameon=False)
    fig.savefig(path, dpi=150)
    plt.close(fig)

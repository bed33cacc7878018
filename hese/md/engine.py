"""``hese simulate``: minimisation, NVT heating, optional annealing, NPT equilibration, production, with restart.

Layout of ``MD_DIR``::

    trajectory.xtc           production frames every save_every_ps (molecules whole), nm
    thermo.parquet           production thermo rows every thermo_every_ps
    equilibration.parquet    heating, annealing and NPT thermo rows (column ``stage``; time from the stage start)
    equilibration.json       detected equilibration time, mean density, molarity reached, production box
    final_state.xml          OpenMM State at the end of production
    simulate.log             the log of every job that worked on the run
    done.json                completion marker, written last
    restart/                 stage folders with checkpoints and chunks (deleted once done.json exists)

Running the same command again continues from the last checkpoint of the unfinished stage (see
:mod:`hese.md.stages`); a finished run is not redone.
"""

from __future__ import annotations

import copy
import logging
import os
import secrets
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import openmm as mm
import pandas as pd
from openmm import unit

import hese
from hese import layout
from hese.errors import HeseInputError
from hese.io import atomic_write, exclusive, read_json, remove_stale_temporaries, write_json
from hese.md import equilibration as eq
from hese.md.control import SimulationError, StopFlag, StopRequested, stop_on_signals
from hese.md.inputs import BuildInputs, repartition_hydrogen_mass
from hese.md.platforms import PlatformChoice, choose_platform
from hese.md.reporters import concatenate_xtc, parquet_bytes, read_thermo, thermo_frame, xtc_times
from hese.md.settings import RUNTIME, Settings
from hese.md.stages import (
    END_STATE,
    Stage,
    StageRunner,
    StageStats,
    apply_state,
    load_state,
    make_context,
    state_xml,
)

log = logging.getLogger("hese.md")
RESTART = "restart"
MD_STAGES = ("heating", "anneal", "npt", "production")
#: Offset of each stage's random seed from the run's (anneal last, so runs without it keep their noise).
SEED_OFFSET = {"heating": 1, "npt": 2, "production": 3, "anneal": 4}


@contextmanager
def log_to(path: Path) -> Iterator[None]:
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%Y-%m-%d %H:%M:%S"))
    log.addHandler(handler)
    if log.level == logging.NOTSET or log.level > logging.INFO:
        log.setLevel(logging.INFO)
    try:
        yield
    finally:
        log.removeHandler(handler)
        handler.close()


def simulate(build_dir: str | os.PathLike, out_dir: str | os.PathLike, settings: Settings,
             stop: StopFlag | None = None) -> dict:
    """Run (or continue) the simulation of a built box; return the completion record.

    Raises
    ------
    HeseInputError
        Bad build folder, settings that differ from those the run was started with, a folder in
        use by another job.
    SimulationError
        NaN or exploding energy, density not converged in ``max_equilibration_ps``.
    StopRequested
        A signal asked the run to stop (a checkpoint was written first).
    """
    inputs = BuildInputs.read(build_dir)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with exclusive(out / ".lock", "hese simulate"), log_to(out / "simulate.log"):
        remove_stale_temporaries(out)  # left by a job killed while writing (the lock makes them stale)
        try:
            return MDRun(inputs, out, settings, stop or StopFlag()).run()
        except SimulationError as err:
            log.error("failed: %s", err)
            raise
        except StopRequested as err:
            log.info("%s; run the same command again to continue", err)
            raise


class MDRun:
    """One run: the stages of :func:`simulate` on one build, in one output folder."""

    def __init__(self, inputs: BuildInputs, out: Path, settings: Settings, stop: StopFlag):
        self.inputs = inputs
        self.out = Path(out)
        self.restart = self.out / RESTART
        self.settings = settings
        self.stop = stop
        self.choice: PlatformChoice | None = None
        self.seed = 0
        self.system = inputs.system

    # --- orchestration -----------------------------------------------------------------------
    def run(self) -> dict:
        """All stages, then the outputs and the completion marker."""
        done = self._finished()
        if done is not None:
            return done
        self._start_or_continue()
        try:
            s = self.settings
            self.choice = choose_platform(s.platform, s.precision, s.device_index, s.jobs_per_gpu)
            for reason in self.choice.reasons:
                log.info("platform %s", reason)
            log.info("running on %s", self.choice.describe())
            with stop_on_signals(self.stop):
                self.minimize()
                if self.stop:
                    raise_stop(self.stop, "after minimisation")
                stats = {name: self.runner(name).run() for name in MD_STAGES if self._stage(name) is not None}
            return self.finish(stats)
        finally:
            if self.choice is not None:
                self.choice.release()

    def _finished(self) -> dict | None:
        path = self.out / layout.DONE
        if not path.exists():
            return None
        done = read_json(path, "delete the md folder and rerun hese simulate", ("settings", "n_frames"))
        self._check_same(done["settings"], done.get("build_system_sha256"), f"{path}")
        shutil.rmtree(self.restart, ignore_errors=True)  # left by a job killed while cleaning up
        log.info("%s: already finished (%d frames); nothing to do", self.out, done["n_frames"])
        return done

    def _check_same(self, before: dict, sha: str | None, where: str) -> None:
        diff = self.settings.differences(before)
        if diff:
            what = "; ".join(f"{k}: {a!r} then, {b!r} now" for k, (a, b) in diff.items())
            raise HeseInputError(f"{where}: this run was started with other settings ({what}); only "
                                 f"{', '.join(sorted(RUNTIME))} may change between jobs; use a new --out folder")
        if sha is not None and sha != self.inputs.system_sha256:
            raise HeseInputError(f"{where}: this run was started from another system.xml than the one in "
                                 f"{self.inputs.folder}; use a new --out folder")

    def _start_or_continue(self) -> None:
        path = self.restart / "run.json"
        s = self.settings
        if path.exists():
            run = read_json(path, "delete the md folder and rerun hese simulate",
                            ("settings", "seed", "build_system_sha256"))
            self._check_same(run["settings"], run["build_system_sha256"], str(path))
            self.seed = run["seed"]
            log.info("continuing the run in %s", self.out)
        else:
            self.seed = s.seed if s.seed is not None else secrets.randbelow(2**31 - 2) + 1
            self.restart.mkdir(parents=True, exist_ok=True)
            write_json(path, {"settings": s.as_dict(), "seed": self.seed,
                              "build_system_sha256": self.inputs.system_sha256,
                              "build": str(self.inputs.folder), "started": time.strftime("%Y-%m-%dT%H:%M:%S")})
        rec = self.inputs.record
        anneal = (f"; annealing {s.anneal_ps:g} ps at {s.anneal_k:g} K, cooling {s.anneal_cool_ps:g} ps"
                  if s.anneal_k is not None else "")
        log.info("hese simulate %s: %d atoms, box %.3f nm; %g K, %g bar, time step %g fs%s; heating %g ps%s, NPT "
                 "%g–%g ps, production %g ps %s; seed %d", rec.get("name", "?"), self.system.getNumParticles(),
                 rec.get("box_nm", float("nan")), s.temperature_k, s.pressure_bar, s.dt_fs,
                 " (HMR)" if s.hmr else "", s.heating_ps, anneal, s.equilibration_ps, s.max_equilibration_ps,
                 s.production_ps, s.ensemble.upper(), self.seed)
        if s.dt_fs > 2.5 and not s.hmr:
            log.info("warning: a %g fs time step without hmr is likely to be unstable", s.dt_fs)
        if s.hmr:
            self.system = copy.deepcopy(self.system)
            n = repartition_hydrogen_mass(self.system, self.inputs.topology, s.hydrogen_mass_amu)
            log.info("hydrogen mass repartitioning: %d hydrogens at %g amu", n, s.hydrogen_mass_amu)

    # --- stages ------------------------------------------------------------------------------
    def minimize(self) -> None:
        """Energy minimisation from the built positions (skipped when done before)."""
        folder = self.restart / "minimize"
        if (folder / END_STATE).exists():
            return
        s = self.settings
        context, _ = make_context(self.system, s, self.choice, False, self.seed, s.heating_start_k)
        context.setPeriodicBoxVectors(*self.inputs.topology.getPeriodicBoxVectors())
        context.setPositions(self.inputs.positions)
        before = _energy(context)
        t0 = time.monotonic()
        try:
            mm.LocalEnergyMinimizer.minimize(context, s.minimize_tolerance_kj_mol_nm, s.minimize_max_iterations)
        except Exception as err:  # OpenMM throws on NaN coordinates (atoms on top of each other)
            raise SimulationError(f"minimisation failed ({str(err).strip()[:160]}), from {before:.6g} kJ/mol; check "
                                  "the build for overlapping atoms (rebuild with another --seed)") from None
        after = _energy(context)
        if not np.isfinite(after):
            raise SimulationError(f"minimisation: the energy is {after} after minimising (from {before:.6g} kJ/mol); "
                                  f"check the build for overlapping atoms and the force field for missing terms")
        log.info("minimisation: %.6g → %.6g kJ/mol in %.1f s", before, after, time.monotonic() - t0)
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write(folder / END_STATE, state_xml(context))

    def _stage(self, name: str) -> Stage | None:
        s = self.settings
        T = s.temperature_k
        anneal = self._anneal_steps()
        later = {"heating": sum(anneal) + s.steps("equilibration_ps") + s.steps("production_ps"),
                 "anneal": s.steps("equilibration_ps") + s.steps("production_ps"),
                 "npt": s.steps("production_ps"), "production": 0}[name]
        if name == "heating":
            n = s.steps("heating_ps")
            if n == 0:
                return None
            half = n / 2

            def ramp(step: int) -> float:
                return s.heating_start_k + (T - s.heating_start_k) * min(1.0, step / half)

            return Stage("heating", n, False, ramp, self._from("minimize", velocities_k=s.heating_start_k),
                         later_steps=later)
        if name == "anneal":
            if s.anneal_k is None:
                return None
            hold, cool = anneal
            hot = s.anneal_k

            def anneal_schedule(step: int) -> float:
                return hot if step < hold or cool == 0 else hot + (T - hot) * min(1.0, (step - hold) / cool)

            start = self._from("heating") if s.steps("heating_ps") else self._from("minimize", velocities_k=hot)
            return Stage("anneal", hold + cool, False, anneal_schedule, start, later_steps=later)
        if name == "npt":
            start = (self._from("anneal") if s.anneal_k is not None else
                     self._from("heating") if s.steps("heating_ps") else
                     self._from("minimize", velocities_k=T))
            return Stage("npt", s.steps("equilibration_ps"), True, lambda step: T, start, extend=self._extend,
                         later_steps=later)
        return Stage("production", s.steps("production_ps"), s.ensemble == "npt", lambda step: T,
                     self._production_start, save_steps=s.save_steps)

    def _anneal_steps(self) -> tuple[int, int]:
        """Steps held at anneal_k and steps of the cooling (0, 0 without annealing)."""
        s = self.settings
        return (s.steps("anneal_ps"), s.steps("anneal_cool_ps")) if s.anneal_k is not None else (0, 0)

    def runner(self, name: str) -> StageRunner:
        """The runner of one MD stage."""
        return StageRunner(self._stage(name), self.system, self.settings, self.choice, self.restart / name,
                           self.stop, self.seed + SEED_OFFSET[name])  # different noise in each stage

    def _from(self, previous: str, velocities_k: float | None = None):
        def start(context: mm.Context) -> None:
            apply_state(context, load_state(self.restart / previous / END_STATE))
            if velocities_k is not None:
                context.setVelocitiesToTemperature(velocities_k * unit.kelvin, self.seed)

        return start

    def _judge(self, folder: Path, chunks: list[str]) -> dict:
        """The density verdict on the NPT rows committed so far."""
        s = self.settings
        return eq.density_convergence(read_thermo(folder, chunks), s.thermo_every_ps, s.min_uncorrelated_samples,
                                      s.density_tolerance)

    def _extend(self, folder: Path, chunks: list[str]) -> int:
        s = self.settings
        result = self._judge(folder, chunks)
        log.info("npt: %s", result["verdict"])
        if result["converged"]:
            return 0
        npt_steps = s.steps("thermo_every_ps") * result["n_samples"]
        max_steps = s.steps("max_equilibration_ps")
        if npt_steps >= max_steps:
            raise SimulationError(
                f"npt stage: the density has not converged after {result['npt_ps']:g} ps of NPT ({result['verdict']}). "
                f"No production was run. Rerun the same command with a larger --max-equilibration-ps (now "
                f"{s.max_equilibration_ps:g} ps) to continue equilibrating from here, or, if a drift of that size "
                f"does not matter to you, a larger --density-tolerance (now {s.density_tolerance:g}); a box that "
                f"keeps drifting may be phase-separating or glassy at this temperature"
            )
        return min(s.steps("equilibration_extend_ps"), max_steps - npt_steps)

    def equilibration_record(self) -> dict:
        """The contents of ``equilibration.json`` (from the NPT chunks)."""
        s = self.settings
        npt = self.runner("npt")
        result = self._judge(npt.folder, npt.progress.chunks)
        comp = self.inputs.record.get("composition", {})
        record = {
            **result,
            "heating_ps": s.heating_ps,
            "temperature_set_k": s.temperature_k,
            "pressure_bar": s.pressure_bar,
            **eq.molarities(self.inputs.record.get("counts", {}), comp.get("units", {}), result["volume_nm3"]),
            "requested": comp.get("requested", {}),
            "requested_unit": comp.get("concentration_unit"),
            "estimated_density_g_cm3": comp.get("density_g_cm3"),
            "production_ensemble": s.ensemble,
            "production_volume_nm3": result["volume_nm3"] if s.ensemble == "nvt" else None,
            "production_box_nm": result["box_nm"] if s.ensemble == "nvt" else None,
            "method": "equivalence test on the NPT density drift: a line fitted from a start in the first half "
                      "(0-50 %), its drift over the whole NPT time bounded (one-sided, correlation-corrected) below "
                      "density_tolerance, with at least min_uncorrelated_samples uncorrelated samples",
        }
        return record

    def _production_start(self, context: mm.Context) -> None:
        apply_state(context, load_state(self.restart / "npt" / END_STATE))
        record = self.equilibration_record()
        write_json(self.out / layout.EQUILIBRATION, record)
        if self.settings.ensemble == "nvt":
            factor = eq.scale_to_volume(context, record["volume_nm3"])
            log.info("production: NVT at the mean equilibrated volume %.4f nm³ (box %.4f nm, scaled by %.5f); "
                     "density %.4f g/cm³ (the build estimated %s)", record["volume_nm3"], record["box_nm"], factor,
                     record["density_g_cm3"], record["estimated_density_g_cm3"])

    # --- outputs -------------------------------------------------------------------------------
    def finish(self, stats: dict[str, StageStats]) -> dict:
        """Assemble the outputs from the chunks, check them, write ``done.json`` last, drop ``restart/``."""
        s = self.settings
        prod = self.runner("production")
        chunks = prod.progress.chunks
        concatenate_xtc([prod.folder / c for c in chunks if c.endswith(".xtc")], self.out / layout.TRAJECTORY)
        thermo = read_thermo(prod.folder, chunks)
        atomic_write(self.out / layout.THERMO, parquet_bytes(thermo))
        parts = []
        for name in MD_STAGES[:-1]:  # the stages before production
            r = self.runner(name) if self._stage(name) is not None else None
            if r is not None and r.progress is not None:
                parts.append(read_thermo(r.folder, r.progress.chunks).assign(stage=name))
        equil = pd.concat(parts, ignore_index=True) if parts else thermo_frame([]).assign(stage=[])
        atomic_write(self.out / layout.EQUILIBRATION_THERMO, parquet_bytes(equil[["stage", *thermo.columns]]))
        if not (self.out / layout.EQUILIBRATION).exists():
            write_json(self.out / layout.EQUILIBRATION, self.equilibration_record())
        atomic_write(self.out / layout.FINAL_STATE, (prod.folder / END_STATE).read_bytes())
        steps, _ = xtc_times(self.out / layout.TRAJECTORY)
        self._verify(steps, thermo["step"].to_numpy())
        eq_record = read_json(self.out / layout.EQUILIBRATION, "delete the md folder and rerun hese simulate")
        done = {
            "name": self.inputs.record.get("name"),
            "build": str(self.inputs.folder),
            "build_system_sha256": self.inputs.system_sha256,
            "n_atoms": self.system.getNumParticles(),
            "n_frames": int(len(steps)),
            "frame_interval_ps": s.save_every_ps,
            "n_thermo_rows": int(len(thermo)),
            "production_ps": s.production_ps,
            "timestep_fs": s.dt_fs,
            "ensemble": s.ensemble,
            "density_g_cm3": eq_record.get("density_g_cm3"),
            "equilibration_time_ps": eq_record.get("equilibration_time_ps"),
            "npt_ps": eq_record.get("npt_ps"),
            "platform": self.choice.name if self.choice else None,
            "platform_properties": self.choice.properties if self.choice else {},
            "stages": {name: {"ps": round(st.steps * s.dt_ps, 6), "wall_s": round(st.wall_s, 2),
                              "ns_per_day": round(st.ns_per_day(s.dt_ps), 3), "jobs": st.resumed + 1,
                              "hese_overhead": round(st.overhead, 4)}
                       for name, st in stats.items()},
            "seed": self.seed,
            "settings": s.as_dict(),
            "hese_version": hese.__version__,
            "openmm_version": mm.__version__,
            "finished": time.strftime("%Y-%m-%dT%H:%M:%S"),
        }
        write_json(self.out / layout.DONE, done)
        shutil.rmtree(self.restart, ignore_errors=True)
        ns = done["stages"]["production"]["ns_per_day"]
        log.info("done: %d frames, %d thermo rows, production at %.3g ns/day (%.2f %% of it outside OpenMM); "
                 "outputs in %s", done["n_frames"], done["n_thermo_rows"], ns,
                 100 * done["stages"]["production"]["hese_overhead"], self.out)
        return done

    def _verify(self, frame_steps: np.ndarray, thermo_steps: np.ndarray) -> None:
        s = self.settings
        want_frames = s.save_steps * np.arange(1, s.n_frames + 1)
        want_rows = s.thermo_steps * np.arange(1, s.steps("production_ps") // s.thermo_steps + 1)
        checks = (("trajectory frames", frame_steps, want_frames), ("thermo rows", thermo_steps, want_rows))
        for what, got, want in checks:
            if len(got) != len(want) or not np.array_equal(got, want):
                raise RuntimeError(f"internal error: the {what} are not the {len(want)} expected steps "
                                   f"(got {len(got)}); the restart folder {self.restart} is kept for inspection")


def _energy(context: mm.Context) -> float:
    return context.getState(getEnergy=True).getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole)


def raise_stop(stop: StopFlag, where: str) -> None:
    """Raise :class:`StopRequested` for a signal that came between stages."""
    raise StopRequested(stop.signum, f"stopped by {stop.name} {where}; state saved")

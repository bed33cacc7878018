"""One MD stage (heating, NPT equilibration, production) with reports, checkpoints and restart.

A stage works in its own folder. ``progress.json`` (written atomically, last) says how far the
stage got: the step of the last checkpoint, the stage's target step, the committed chunks of
frames and thermo rows (see :mod:`hese.md.reporters`) and the checkpoint files. Whatever else
is in the folder was written after that checkpoint by a job that died, and is deleted when the
stage starts again; the stage then continues from the checkpoint, so the frames and rows it
produces have no gap and no duplicate.

Checkpoints are taken every ``checkpoint_every_min`` of wall time, when a stop is requested
(SIGTERM, SIGINT) and at the stage's target. Each holds the platform's binary checkpoint
(exact, same platform only) and a portable state XML (used when the binary one cannot be
loaded, e.g. on another kind of GPU).
"""

from __future__ import annotations

import copy
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import openmm as mm
from openmm import unit

from hese.io import atomic_write, read_json, write_json
from hese.md.control import SimulationError, StopFlag, StopRequested
from hese.md.platforms import PlatformChoice
from hese.md.reporters import OutputChunk, Thermo
from hese.md.settings import Settings

log = logging.getLogger("hese.md")
PROGRESS = "progress.json"
END_STATE = "end.xml"
#: Wall time one call of ``integrator.step`` aims at: bounds the delay before a stop request is seen.
CALL_SECONDS = 2.0
#: An instantaneous temperature above max(FACTOR × target, target + MARGIN) counts as an explosion.
HOT_FACTOR, HOT_MARGIN_K = 3.0, 1000.0


@dataclass
class Stage:
    """What one stage does.

    Attributes
    ----------
    name
        Stage name (folder name, log prefix, messages).
    n_steps
        Initial target step; ``extend`` may move it on.
    barostat
        Whether the Monte Carlo barostat acts (NPT).
    save_steps
        Steps between trajectory frames; None writes no trajectory.
    temperature
        Thermostat temperature (K) for the interval that starts at a step.
    start
        Puts the stage's first state into a context (positions, box, velocities).
    extend
        Called with the stage folder and the committed chunk names when the target is reached;
        returns the steps to add (0: the stage is done) or raises :class:`SimulationError`.
    later_steps
        Steps of the stages after this one (for the time left in the run).
    """

    name: str
    n_steps: int
    barostat: bool
    temperature: Callable[[int], float]
    start: Callable[[mm.Context], None]
    save_steps: int | None = None
    extend: Callable[[Path, list[str]], int] | None = None
    later_steps: int = 0


@dataclass
class StageStats:
    """Wall time and steps run by the stage, summed over every job that worked on it.

    ``md_s`` is the part of ``wall_s`` spent in OpenMM's ``integrator.step`` and in the
    ``getState`` calls of the reports (what a bare OpenMM loop does too); the rest is hese's own
    work (rows, frames, checks, checkpoints, logs).
    """

    steps: int = 0
    wall_s: float = 0.0
    md_s: float = 0.0
    resumed: int = 0

    def ns_per_day(self, dt_ps: float) -> float:
        """Simulated ns per wall-clock day."""
        return self.steps * dt_ps / 1000 / (self.wall_s / 86400) if self.wall_s > 0 else math.nan

    @property
    def overhead(self) -> float:
        """Fraction of the wall time spent outside OpenMM: 1 − md_s / wall_s."""
        return 1 - self.md_s / self.wall_s if self.wall_s > 0 else math.nan


@dataclass
class _Progress:
    step: int = 0
    target: int = 0
    chunks: list[str] = field(default_factory=list)
    checkpoint: str | None = None
    done: bool = False
    stats: StageStats = field(default_factory=StageStats)

    def as_dict(self) -> dict:
        return {"step": self.step, "target": self.target, "chunks": self.chunks, "checkpoint": self.checkpoint,
                "done": self.done, "stats": vars(self.stats)}

    @classmethod
    def read(cls, path: Path) -> _Progress | None:
        """The progress record at ``path`` (None when there is none yet)."""
        if not path.exists():
            return None
        d = read_json(path, "delete the md/restart folder and rerun hese simulate",
                      ("step", "target", "chunks", "checkpoint", "done", "stats"))
        return cls(d["step"], d["target"], d["chunks"], d["checkpoint"], d["done"], StageStats(**d["stats"]))


def load_state(path: Path) -> mm.State:
    """A State from its XML file."""
    return mm.XmlSerializer.deserialize(Path(path).read_text())


def apply_state(context: mm.Context, state: mm.State) -> None:
    """Box, positions and velocities of a state (which may come from a system with other forces)."""
    context.setPeriodicBoxVectors(*state.getPeriodicBoxVectors())
    context.setPositions(state.getPositions())
    context.setVelocities(state.getVelocities())


def state_xml(context: mm.Context) -> str:
    """The context's positions, velocities, box and parameters as XML."""
    state = context.getState(getPositions=True, getVelocities=True, getParameters=True)
    return mm.XmlSerializer.serialize(state)


def make_context(
    system: mm.System, settings: Settings, choice: PlatformChoice, barostat: bool, seed: int, temperature_k: float
) -> tuple[mm.Context, mm.LangevinMiddleIntegrator]:
    """A context on the chosen platform: Langevin middle integrator, Monte Carlo barostat if asked."""
    system = copy.deepcopy(system)
    if barostat:
        b = mm.MonteCarloBarostat(settings.pressure_bar * unit.bar, settings.temperature_k * unit.kelvin,
                                  settings.barostat_interval_steps)
        b.setRandomNumberSeed(seed)
        system.addForce(b)
    integrator = mm.LangevinMiddleIntegrator(temperature_k * unit.kelvin, settings.friction_per_ps / unit.picosecond,
                                             settings.dt_ps * unit.picosecond)
    integrator.setRandomNumberSeed(seed)
    return mm.Context(system, integrator, choice.platform, choice.properties), integrator


class StageRunner:
    """Runs one :class:`Stage` in ``folder``, continuing from its last checkpoint if there is one."""

    def __init__(
        self,
        stage: Stage,
        system: mm.System,
        settings: Settings,
        choice: PlatformChoice,
        folder: Path,
        stop: StopFlag,
        seed: int,
    ):
        self.stage = stage
        self.system = system
        self.settings = settings
        self.choice = choice
        self.folder = Path(folder)
        self.stop = stop
        self.seed = seed
        self.thermo = Thermo(system)
        self.dt_ps = settings.dt_ps
        self.thermo_steps = settings.thermo_steps

    # --- public ------------------------------------------------------------------------------
    @property
    def progress(self) -> _Progress | None:
        """The stage's progress record, None before its first checkpoint."""
        return _Progress.read(self.folder / PROGRESS)

    def done(self) -> bool:
        """Whether the stage has finished."""
        p = self.progress
        return bool(p and p.done)

    def end_state(self) -> mm.State:
        """The state the stage ended in."""
        return load_state(self.folder / END_STATE)

    def run(self) -> StageStats:
        """Run (or finish) the stage; return its statistics.

        Raises
        ------
        SimulationError
            NaN or exploding energy, or ``extend`` gave up.
        StopRequested
            After writing a checkpoint, when a signal asked the run to stop.
        """
        self.folder.mkdir(parents=True, exist_ok=True)
        progress = self.progress
        if progress and progress.done:
            return progress.stats
        context, integrator = make_context(self.system, self.settings, self.choice, self.stage.barostat,
                                           self.seed, self.stage.temperature(progress.step if progress else 0))
        try:
            if progress:
                self._clean(progress)
                self._restore(context, progress)
                progress.stats.resumed += 1
                log.info("%s: continuing from the checkpoint at step %d (%.3f ps) of %d",
                         self.stage.name, progress.step, progress.step * self.dt_ps, progress.target)
            else:
                self._clean(_Progress())
                self.stage.start(context)
                context.setTime(0.0)
                context.setStepCount(0)
                progress = _Progress(target=self.stage.n_steps)
            return self._loop(context, integrator, progress)
        finally:
            del context, integrator

    # --- restart -----------------------------------------------------------------------------
    def _clean(self, progress: _Progress) -> None:
        keep = {PROGRESS, *progress.chunks}
        if progress.checkpoint:
            keep |= {f"{progress.checkpoint}.chk", f"{progress.checkpoint}.xml"}
        for p in self.folder.iterdir():
            if p.name not in keep and p.is_file():
                p.unlink()

    def _restore(self, context: mm.Context, progress: _Progress) -> None:
        base = self.folder / progress.checkpoint
        try:
            context.loadCheckpoint(base.with_suffix(".chk").read_bytes())
        except Exception as err:  # another platform or device: the portable state
            log.info("%s: binary checkpoint not loadable here (%s); using the state XML",
                     self.stage.name, str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__)
            context.setState(load_state(base.with_suffix(".xml")))
        context.setStepCount(progress.step)
        context.setTime(progress.step * self.dt_ps)

    def _checkpoint(self, context: mm.Context, progress: _Progress, chunk: OutputChunk) -> OutputChunk:
        """Commit the chunk, write the checkpoint, then the progress record that names both."""
        progress.chunks += chunk.commit()
        old = progress.checkpoint
        name = f"ckpt-{progress.step:012d}"
        atomic_write(self.folder / f"{name}.chk", context.createCheckpoint())
        atomic_write(self.folder / f"{name}.xml", state_xml(context))
        progress.checkpoint = name
        write_json(self.folder / PROGRESS, progress.as_dict())
        if old and old != name:
            for suffix in (".chk", ".xml"):
                (self.folder / f"{old}{suffix}").unlink(missing_ok=True)
        return OutputChunk(self.folder, progress.step, self.stage.save_steps is not None)

    # --- the MD loop ---------------------------------------------------------------------------
    def _loop(self, context: mm.Context, integrator: mm.LangevinMiddleIntegrator, progress: _Progress) -> StageStats:
        stage, thermo_steps, save_steps = self.stage, self.thermo_steps, self.stage.save_steps
        chunk = OutputChunk(self.folder, progress.step, save_steps is not None)
        every_s = self.settings.checkpoint_every_min * 60
        t_start = t_ckpt = t_log = time.monotonic()
        wall_before, steps_before, step0 = progress.stats.wall_s, progress.stats.steps, progress.step
        md_s = progress.stats.md_s
        cap = 10  # steps per call until the speed is known
        step = progress.step
        kelvin = None
        try:
            while True:
                while step < progress.target and not self.stop:
                    nxt = min((step // thermo_steps + 1) * thermo_steps, progress.target, step + cap)
                    if stage.temperature(step) != kelvin:
                        kelvin = stage.temperature(step)
                        integrator.setTemperature(kelvin * unit.kelvin)
                    t0 = time.monotonic()
                    try:
                        integrator.step(nxt - step)
                    except mm.OpenMMException as err:
                        where = f"{step}–{nxt}" if nxt - step > 1 else f"{nxt}"
                        self._fail(step, str(err).strip().splitlines()[0], where)
                    took = time.monotonic() - t0
                    md_s += took
                    cap = max(1, min(10 * cap, int(CALL_SECONDS * (nxt - step) / took) if took > 0 else 10 * cap))
                    step = nxt
                    if step % thermo_steps == 0:
                        md_s += self._report(context, chunk, step, save_steps is not None and step % save_steps == 0)
                    now = time.monotonic()
                    progress.step = step
                    progress.stats.wall_s = wall_before + now - t_start
                    progress.stats.md_s = md_s
                    progress.stats.steps = steps_before + step - step0
                    if now - t_ckpt >= every_s:
                        chunk = self._checkpoint(context, progress, chunk)
                        t_ckpt = time.monotonic()
                    if now - t_log >= self.settings.log_every_s:
                        self._log_progress(progress, step - step0, now - t_start)
                        t_log = now
                if self.stop:
                    chunk = self._checkpoint(context, progress, chunk)
                    raise StopRequested(self.stop.signum, f"stopped by {self.stop.name} in stage {stage.name} at step "
                                        f"{step} ({step * self.dt_ps:.3f} ps); checkpoint written")
                chunk = self._checkpoint(context, progress, chunk)
                extra = stage.extend(self.folder, list(progress.chunks)) if stage.extend else 0
                if extra <= 0:
                    break
                progress.target += extra
                write_json(self.folder / PROGRESS, progress.as_dict())
        except BaseException:
            chunk.discard()
            raise
        self._log_progress(progress, step - step0, time.monotonic() - t_start)
        atomic_write(self.folder / END_STATE, state_xml(context))
        progress.done = True
        write_json(self.folder / PROGRESS, progress.as_dict())
        return progress.stats

    def _report(self, context: mm.Context, chunk: OutputChunk, step: int, frame: bool) -> float:
        """Add a thermo row (and a frame); return the seconds spent in ``getState``."""
        t0 = time.monotonic()
        state = context.getState(getEnergy=True, getPositions=frame, enforcePeriodicBox=frame)
        took = time.monotonic() - t0
        time_ps = round(step * self.dt_ps, 9)
        row = self.thermo.row(state, step, time_ps)
        self._check(row, step)
        chunk.add_row(row)
        if frame:
            xyz = state.getPositions(asNumpy=True).value_in_unit(unit.nanometer)
            box = np.asarray(state.getPeriodicBoxVectors(asNumpy=True).value_in_unit(unit.nanometer))
            chunk.add_frame(xyz, box, step, time_ps)
        return took

    def _check(self, row: tuple, step: int) -> None:
        temperature, pe, ke = row[2], row[3], row[4]
        target = self.stage.temperature(step)
        if not (math.isfinite(pe) and math.isfinite(ke)):
            self._fail(step, "the energy is NaN")
        hot = max(HOT_FACTOR * target, target + HOT_MARGIN_K)
        if temperature > hot:
            self._fail(step, f"the temperature exploded to {temperature:.0f} K (thermostat at {target:.0f} K)")
        if pe > 1e4 * self.thermo.n_particles:
            self._fail(step, f"the potential energy exploded to {pe:.3g} kJ/mol")

    def _fail(self, step: int, what: str, steps: str | None = None) -> None:
        s = self.settings
        smaller = f"{s.dt_fs / 2:g} fs" + ("" if s.hmr else " or --hmr with 4 fs")
        where = f"steps {steps} (from {step * self.dt_ps:.3f} ps)" if steps and "–" in steps else \
            f"step {steps or step} ({int(steps or step) * self.dt_ps:.3f} ps)"
        raise SimulationError(
            f"{self.stage.name} stage, {where}: {what}. Try a smaller time step "
            f"(--timestep-fs, now {s.dt_fs:g} fs; e.g. {smaller}), a longer minimisation (--minimize-max-iterations 0, "
            f"--minimize-tolerance-kj-mol-nm below {s.minimize_tolerance_kj_mol_nm:g}) or a gentler heating "
            f"(--heating-ps above {s.heating_ps:g}); check the build for overlapping atoms. No completion marker was "
            f"written; new settings need a new --out folder"
        )

    def _log_progress(self, progress: _Progress, steps_here: int, wall_here: float) -> None:
        done = progress.step / progress.target if progress.target else 1.0
        rate = steps_here / wall_here if wall_here > 0 else 0.0
        ns_day = rate * self.dt_ps / 1000 * 86400
        left = (progress.target - progress.step) / rate if rate > 0 else math.inf
        run_left = (progress.target - progress.step + self.stage.later_steps) / rate if rate > 0 else math.inf
        log.info("%s: %5.1f%%  %.1f/%.1f ps  %.3g ns/day  %s left in this stage, about %s in the run",
                 self.stage.name, 100 * done, progress.step * self.dt_ps, progress.target * self.dt_ps,
                 ns_day, format_seconds(left), format_seconds(run_left))


def format_seconds(seconds: float) -> str:
    """``1h02m``, ``3m05s``, ``12s``."""
    if not math.isfinite(seconds):
        return "?"
    s = int(round(seconds))
    if s >= 3600:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    if s >= 60:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s}s"

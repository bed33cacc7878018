"""``hese simulate`` end to end on a 648-atom water box (CPU platform, stages of a few ps)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import threading
import time

import numpy as np
import openmm as mm
import pandas as pd
import pytest
from md_helpers import QUICK, start, wait_for, water_box
from openmm import unit

from hese.errors import HeseInputError
from hese.md import SimulationError, StopRequested, simulate
from hese.md.control import StopFlag
from hese.md.engine import MDRun
from hese.md.inputs import BuildInputs
from hese.md.reporters import THERMO_COLUMNS, xtc_times
from hese.md.settings import Settings


@pytest.fixture(scope="module")
def box(tmp_path_factory):
    return water_box(tmp_path_factory.mktemp("water"))


def _check_outputs(out, settings: Settings):
    steps, times = xtc_times(out / "trajectory.xtc")
    n = settings.n_frames
    assert len(steps) == n
    assert np.array_equal(steps, settings.save_steps * np.arange(1, n + 1))
    assert np.allclose(times, settings.save_every_ps * np.arange(1, n + 1), atol=1e-4)
    thermo = pd.read_parquet(out / "thermo.parquet")
    assert tuple(thermo.columns) == THERMO_COLUMNS
    rows = round(settings.production_ps / settings.thermo_every_ps)
    assert np.array_equal(thermo["step"], settings.thermo_steps * np.arange(1, rows + 1))
    assert np.allclose(thermo["time_ps"], settings.thermo_every_ps * np.arange(1, rows + 1))
    assert np.isfinite(thermo.drop(columns="step").to_numpy()).all()
    return steps, thermo


def test_stages_run_end_to_end_and_a_finished_run_is_not_redone(box, tmp_path):
    out = tmp_path / "md"
    settings = Settings.from_mapping(QUICK)
    done = simulate(box, out, settings)
    _, thermo = _check_outputs(out, settings)

    assert done["n_frames"] == 10 and done["n_thermo_rows"] == 20 and done["platform"] == "CPU"
    assert set(done["stages"]) == {"heating", "npt", "production"}
    assert not (out / "restart").exists()
    eq = json.loads((out / "equilibration.json").read_text())
    assert eq["converged"] and 0 <= eq["equilibration_time_ps"] <= eq["npt_ps"] / 2
    assert 0.9 < eq["density_g_cm3"] < 1.1 and eq["density_err_g_cm3"] > 0
    # NVT production at the mean equilibrated volume
    assert np.allclose(thermo["volume_nm3"], eq["volume_nm3"])
    equil = pd.read_parquet(out / "equilibration.parquet")
    assert list(equil["stage"].unique()) == ["heating", "npt"]
    assert (equil["stage"] == "npt").sum() == eq["n_samples"]
    assert equil.loc[equil["stage"] == "npt", "volume_nm3"].std() > 0  # the barostat acted
    assert mm.XmlSerializer.deserialize((out / "final_state.xml").read_text()).getPositions()
    log = (out / "simulate.log").read_text()
    assert "ns/day" in log and "left in this stage" in log and "platform CPU: chosen" in log

    # molecules are whole in every frame (O–H of SPC/E water: 0.1 nm)
    from MDAnalysis.lib.formats.libmdaxdr import XTCFile

    with XTCFile(str(out / "trajectory.xtc")) as f:
        for frame in f:
            xyz = frame.x.reshape(-1, 3, 3)
            assert np.linalg.norm(xyz[:, 1:] - xyz[:, :1], axis=2).max() < 0.11

    before = (out / "done.json").stat().st_mtime_ns
    again = simulate(box, out, Settings.from_mapping({**QUICK, "platform": "Reference"}))
    assert again == done and (out / "done.json").stat().st_mtime_ns == before
    with pytest.raises(HeseInputError, match=r"other settings \(temperature_k: 298.15 then, 310 now\)"):
        simulate(box, out, Settings.from_mapping({**QUICK, "temperature_k": 310}))


def test_npt_production_and_hmr(box, tmp_path):
    settings = Settings.from_mapping({**QUICK, "ensemble": "npt", "hmr": True, "heating_ps": 0,
                                      "production_ps": 1.6, "save_every_ps": 0.4, "thermo_every_ps": 0.2})
    done = simulate(box, tmp_path / "md", settings)
    assert done["timestep_fs"] == 4.0 and set(done["stages"]) == {"npt", "production"}
    _, thermo = _check_outputs(tmp_path / "md", settings)
    assert thermo["volume_nm3"].std() > 0


def test_annealing_holds_then_cools_before_npt(box, tmp_path):
    settings = Settings.from_mapping({**QUICK, "anneal_k": 450, "anneal_ps": 2.0, "anneal_cool_ps": 1.0})
    done = simulate(box, tmp_path / "md", settings)
    assert list(done["stages"]) == ["heating", "anneal", "npt", "production"]
    assert done["stages"]["anneal"]["ps"] == 3.0
    equil = pd.read_parquet(tmp_path / "md" / "equilibration.parquet")
    assert list(equil["stage"].unique()) == ["heating", "anneal", "npt"]
    anneal = equil[equil["stage"] == "anneal"]
    assert len(anneal) == 30
    # the thermostat (1/ps) reaches 450 K within the first ps of the hold: 216 waters fluctuate by
    # about 18 K a sample, so the mean of the second ps is some 8σ of its mean above 380 K
    assert anneal["temperature_k"].iloc[10:20].mean() > 380
    schedule = MDRun(BuildInputs.read(box), tmp_path / "x", settings, StopFlag())._stage("anneal").temperature
    steps = settings.steps("anneal_ps")
    assert [schedule(0), schedule(steps - 1), schedule(steps + settings.steps("anneal_cool_ps") // 2),
            schedule(steps + settings.steps("anneal_cool_ps"))] == pytest.approx([450, 450, (450 + 298.15) / 2, 298.15])


def test_kill_9_then_rerun_gives_an_exact_gap_free_trajectory(box, tmp_path):
    out = tmp_path / "md"
    quick = {**QUICK, "production_ps": 4.0, "checkpoint_every_min": 0.005}
    proc = start(box, out, quick)
    progress = out / "restart" / "production" / "progress.json"
    wait_for(lambda: progress.exists() and json.loads(progress.read_text())["step"] > 0, proc=proc)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    killed_at = json.loads(progress.read_text())["step"]
    assert not (out / "done.json").exists()

    rerun = start(box, out, quick)
    _, err = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, err
    assert "production: continuing from the checkpoint at step" in err
    settings = Settings.from_mapping(quick)
    _check_outputs(out, settings)
    done = json.loads((out / "done.json").read_text())
    assert done["stages"]["production"]["jobs"] == 2
    assert 0 < killed_at < settings.steps("production_ps")


def _signal_when(path, text: str, signum: int) -> threading.Thread:
    """Send ``signum`` to this process once ``path`` contains ``text`` (as SLURM would before a kill)."""
    def watch():
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if path.exists() and text in path.read_text():
                os.kill(os.getpid(), signum)
                return
            time.sleep(0.05)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_writes_a_checkpoint_and_the_run_continues(box, tmp_path, signum):
    out = tmp_path / "md"
    settings = Settings.from_mapping({**QUICK, "heating_ps": 2.0, "checkpoint_every_min": 60})
    watcher = _signal_when(out / "simulate.log", "heating: ", signum)  # the first progress line of heating
    with pytest.raises(StopRequested, match=f"stopped by {signal.Signals(signum).name} in stage heating at step"):
        simulate(box, out, settings)
    watcher.join()
    progress = json.loads((out / "restart" / "heating" / "progress.json").read_text())
    stage = out / "restart" / "heating"
    assert (stage / f"{progress['checkpoint']}.chk").exists() and (stage / f"{progress['checkpoint']}.xml").exists()
    assert progress["step"] > 0 and not progress["done"]
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL  # handlers restored
    if signum == signal.SIGINT:
        return
    simulate(box, out, settings)
    assert f"heating: continuing from the checkpoint at step {progress['step']} " in (out / "simulate.log").read_text()
    _check_outputs(out, settings)


def test_nan_stops_the_run_with_stage_step_and_advice(box, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(box, broken)
    system = mm.XmlSerializer.deserialize((broken / "system.xml").read_text())
    stiff = mm.HarmonicBondForce()  # a bond far too stiff for a 2 fs step: it must blow up
    stiff.addBond(0, 3, 0.3 * unit.nanometer, 1e8 * unit.kilojoule_per_mole / unit.nanometer**2)
    system.addForce(stiff)
    (broken / "system.xml").write_text(mm.XmlSerializer.serialize(system))
    out = tmp_path / "md"
    with pytest.raises(SimulationError, match=r"heating stage, steps? \d+(–\d+)? \((from )?[\d.]+ ps\): .*(NaN|exploded).* Try a smaller "
                                              r"time step .*longer minimisation"):
        simulate(broken, out, Settings.from_mapping(QUICK))
    assert not (out / "done.json").exists()
    assert "failed: heating stage" in (out / "simulate.log").read_text()


def test_a_density_that_never_converges_stops_before_production_with_what_to_change(box, tmp_path):
    """A tolerance no noisy series can meet (1e-9 of the density): the run stops at the cap, by construction."""
    out = tmp_path / "md"
    never = {**QUICK, "density_tolerance": 1e-9, "max_equilibration_ps": 3.0}
    with pytest.raises(SimulationError, match=r"not converged after 3 ps of NPT .*bound .* > tolerance .*No production "
                                              r"was run.*--max-equilibration-ps \(now 3 ps\).*--density-tolerance"):
        simulate(box, out, Settings.from_mapping(never))
    assert not (out / "done.json").exists() and not (out / "restart" / "production").exists()
    # both are runtime settings: the same run continues from its NPT state and finishes
    done = simulate(box, out, Settings.from_mapping({**never, "density_tolerance": 1.0, "max_equilibration_ps": 10.0}))
    assert done["npt_ps"] == 3.0 and (out / "done.json").exists()


def test_a_seeded_run_repeats_exactly(box, tmp_path):
    """Every random number (velocities, thermostat, barostat) comes from the run's seed: on one CPU
    thread (the tests' setting, conftest.py) the same seed gives the same numbers, in-process or not."""
    quick = {**QUICK, "heating_ps": 0.2, "equilibration_ps": 1.0, "production_ps": 0.4, "save_every_ps": 0.2}
    simulate(box, tmp_path / "a", Settings.from_mapping(quick))
    proc = start(box, tmp_path / "b", quick)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    for table in ("equilibration.parquet", "thermo.parquet"):
        pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "a" / table), pd.read_parquet(tmp_path / "b" / table))
    proc = start(box, tmp_path / "c", {**quick, "seed": 8})
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    other = pd.read_parquet(tmp_path / "c" / "thermo.parquet")
    assert not np.allclose(other["temperature_k"], pd.read_parquet(tmp_path / "a" / "thermo.parquet")["temperature_k"])

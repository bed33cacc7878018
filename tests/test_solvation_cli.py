"""``hese analyze solvation``: a real hese run (built, then a short OpenMM trajectory), foreign files, bad input."""

import json
import re
import shutil

import numpy as np
import openmm as mm
import pandas as pd
import pytest
from analysis_helpers import run_cli, truncated_copy, write_trajectory
from openmm import app, unit

from hese import build
from hese.analysis import columns as col

TABLES = ("rdf", "coordination", "speciation", "shell_entropy", "ion_pairing", "bound_fraction", "clusters",
          "residence", "coordination_timeseries", "zn_chains")


@pytest.fixture(scope="module")
def hese_run(tmp_path_factory):
    """A tiny Li–Zn–Cl–water box built by hese and 12 frames of OpenMM dynamics in md/trajectory.xtc."""
    folder = tmp_path_factory.mktemp("run")
    definition = build.SystemDefinition.from_dict({
        "name": "tiny-li-zn-cl", "composition": {"counts": {"LiCl": 4, "ZnCl2": 4, "water": 60}},
        "size": {"box_nm": 1.6}, "force_field": {"family": "aqueous", "cutoff_nm": 0.7},
    })
    build.build(definition, folder / "build", seed=1)
    system = mm.XmlSerializer.deserialize((folder / "build" / "system.xml").read_text())
    pdb = app.PDBFile(str(folder / "build" / "topology.pdb"))
    integrator = mm.LangevinMiddleIntegrator(300 * unit.kelvin, 1 / unit.picosecond, 0.002 * unit.picoseconds)
    simulation = app.Simulation(pdb.topology, system, integrator, mm.Platform.getPlatformByName("CPU"),
                                {"Threads": "1"})
    simulation.context.setPositions(pdb.positions)
    simulation.minimizeEnergy(maxIterations=200)
    (folder / "md").mkdir()
    simulation.reporters.append(app.XTCReporter(str(folder / "md" / "trajectory.xtc"), 25))
    simulation.step(25 * 12)
    (folder / "md" / "done.json").write_text("{}")  # as hese simulate marks a finished run
    return folder


def test_run_folder_gives_every_documented_table(hese_run, tmp_path, capsys):
    out = tmp_path / "out"
    assert run_cli(["analyze", "solvation", "--run", str(hese_run / "md"), "--out", str(out), "--blocks", "3",
                    "--cutoff", "water=0.3", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary == json.loads((out / "summary.json").read_text())
    assert summary["n_frames"] == 12 and summary["n_blocks"] == 3
    assert summary["species"]["Zn"] == {"kind": "cation", "count": 4, "charge": 2}
    assert summary["species"]["Cl"] == {"kind": "anion", "count": 12, "charge": -1}
    assert summary["species"]["water"]["kind"] == "solvent"
    assert summary["cutoffs"]["Zn"]["water"] == {"cutoff_nm": 0.3, "source": "user"}
    assert summary["cutoffs"]["Zn"]["Cl"]["source"] in ("auto", "none")
    assert summary["s_config_anion_r"] == 0.0 and summary["entropy_class"] == "low"
    tables = {name: pd.read_parquet(out / f"{name}.parquet") for name in TABLES}
    for name, table in tables.items():
        expected = col.speciation_columns(["water", "Cl"]) if name == "speciation" else col.TABLES[name]
        assert tuple(table.columns) == expected, name
    coordination = tables["coordination"].set_index([col.CATION, col.PARTNER])
    assert set(coordination.index) == {("Li", "water"), ("Li", "Cl"), ("Zn", "water"), ("Zn", "Cl")}
    assert 2 <= coordination.loc[("Zn", "water"), col.CN_MOLECULES] <= 7
    for _, rows in tables["speciation"].groupby(col.CATION):
        assert rows[col.FRACTION].sum() == pytest.approx(1.0) and rows[col.COUNT].sum() == 4 * 12
    clusters = tables["clusters"]
    assert (clusters[col.COUNT] * clusters[col.N_IONS]).sum() == (4 + 4 + 12) * 12  # every ion in one cluster
    chains = tables["zn_chains"]
    assert (chains[col.N_ZN] * chains[col.COUNT]).sum() == 4 * 12 and chains[col.ZN_FRACTION].sum() == pytest.approx(1)
    rdf = tables["rdf"]
    assert (rdf.groupby([col.CATION, col.PARTNER])[col.CN_RUNNING].diff().dropna() >= 0).all()


def test_run_folder_rejects_foreign_species_options(hese_run, tmp_path, capsys):
    argv = ["analyze", "solvation", "--run", str(hese_run), "--out", str(tmp_path / "o"), "--cation", "Li=name Li1"]
    assert run_cli(argv) == 2
    assert "go with --topology" in capsys.readouterr().err


@pytest.fixture(scope="module")
def foreign(tmp_path_factory):
    folder = tmp_path_factory.mktemp("foreign")
    rng = np.random.default_rng(0)
    molecules = [("LI", ["Li"], 4), ("SOL", ["O1", "C1"], 30), ("ANI", ["O1", "O2"], 4)]
    top, traj = write_trajectory(folder, molecules, rng.uniform(0, 3, (8, 72, 3)), np.full(3, 3.0))
    base = ["analyze", "solvation", "--topology", str(top), "--trajectory", str(traj), "--cation", "Li=resname LI",
            "--solvent", "SOL=resname SOL and name O1", "--out", str(folder / "out"), "--blocks", "2"]
    return folder, base, top, traj


def test_foreign_trajectory_prints_tables(foreign, capsys):
    folder, base, _, _ = foreign
    assert run_cli(base + ["--cutoff", "Li:SOL=0.3", "--workers", "2", "--step", "2"]) == 0
    printed = capsys.readouterr().out
    assert "cn_molecules" in printed and "s_shell_r" in printed and "ion clusters" in printed
    summary = json.loads((folder / "out" / "summary.json").read_text())
    assert summary["n_frames"] == 4 and summary["frames"]["step"] == 2
    assert summary["cutoffs"] == {"Li": {"SOL": {"cutoff_nm": 0.3, "source": "user"}}}
    assert not (folder / "out" / "zn_chains.parquet").exists()


def test_registry_names_in_any_case_give_their_charge(foreign, capsys):
    folder, base, _, _ = foreign
    argv = [a if a != "Li=resname LI" else "li=resname LI" for a in base] + ["--anion", "pf6=resname ANI and name O1"]
    assert run_cli(argv + ["--out", str(folder / "out-case")]) == 0
    summary = json.loads((folder / "out-case" / "summary.json").read_text())
    assert summary["species"]["li"]["charge"] == 1 and summary["species"]["pf6"]["charge"] == -1


def test_an_unfinished_simulation_is_refused_unless_asked_for_then_marked_partial(hese_run, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(hese_run, run)
    (run / "md" / "done.json").unlink()
    argv = ["analyze", "solvation", "--run", str(run), "--out", str(tmp_path / "out"), "--blocks", "2"]
    assert run_cli(argv) == 2
    err = capsys.readouterr().err
    assert "the simulation has not finished (no md/done.json)" in err and "--allow-unfinished" in err
    assert not (tmp_path / "out").exists()
    assert run_cli(argv + ["--allow-unfinished"]) == 0
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["partial"] is True and any("partial" in w for w in summary["warnings"])


def _bad_files(folder, top, traj):
    """Files for the bad-input cases: atom counts that differ, a truncated XTC, a trajectory without a box."""
    rng = np.random.default_rng(1)
    molecules = [("LI", ["Li"], 4), ("SOL", ["O1", "C1"], 30), ("ANI", ["O1", "O2"], 4)]
    _, more_atoms = write_trajectory(folder / "more", [("LI", ["Li"], 5), *molecules[1:]],
                                     rng.uniform(0, 3, (3, 73, 3)), np.full(3, 3.0))
    truncated = truncated_copy(traj, folder / "truncated.xtc", int(traj.stat().st_size * 0.7))
    _, boxless = write_trajectory(folder / "boxless", molecules, rng.uniform(0, 3, (3, 72, 3)), np.full(3, 3.0),
                                  trajectory="trajectory.xyz")
    return {"more": more_atoms, "truncated": truncated, "boxless": boxless}


BAD = {
    "matches nothing": (["--anion", "X=resname NOPE", "--charge", "X=-1"],
                        "--anion X: selection 'resname NOPE' matches no atom"),
    "partner overlaps cation": (["--anion", "X=resname LI", "--charge", "X=-1"], "shares atoms with --cation Li"),
    "partners overlap": (["--anion", "X=resname SOL and name O1", "--charge", "X=-1"], "shares atoms"),
    "atom counts differ": ("more", "don't have the same number of atoms"),
    "truncated trajectory": ("truncated", "truncated.xtc: truncated: "),
    "no box": ("boxless", "has no periodic box"),
    "two atoms per cation": (["--cation", "Mg=resname ANI"], "picks 8 atoms in 4 molecules; select one atom per"),
    "cutoff syntax": (["--cutoff", "SOL"], "--cutoff: 'SOL' is not NAME=VALUE"),
    "cutoff partner": (["--cutoff", "DME=0.3"], "'DME' is not a partner"),
    "cutoff cation": (["--cutoff", "Na:SOL=0.3"], "'Na' is not a cation"),
    "cutoff value": (["--cutoff", "SOL=-1"], "not a positive distance"),
    "cutoff too long": (["--cutoff", "SOL=1.6"], "need less than half the smallest box edge"),
    "rdf range": (["--rdf-range-nm", "2"], "--rdf-range-nm: 2.0; need 0 < range < half"),
    "blocks": (["--blocks", "20"], "--blocks: 20; need 2 ≤ blocks ≤ the 8 analysed frames"),
    "workers": (["--workers", "0"], "--workers: 0; need at least 1"),
    "blocks of one frame": (["--blocks", "5"], "--blocks: 5; residence times need at least 2 blocks of at least 2 "
                                               "analysed frames each, and there are 8 frames"),
    "residence tolerance": (["--residence-tolerance-ps", "-1"], "--residence-tolerance-ps: -1.0; need a time ≥ 0 ps"),
    "rdf bin": (["--rdf-bin-nm", "1e-7"], "--rdf-bin-nm: 1e-07; need 0.0001 ≤ bin width ≤ 0.06 nm"),
    "frames": (["--start", "5", "--stop", "3"], "--start/--stop/--step"),
    "unknown charge": (["--anion", "X=resname SOL and name C1"], "give it with --charge X=Z"),
    "no cation": ("no cation", "--cation: missing"),
    "run and topology": (["--run", "somewhere"], "give either --run DIR or --topology"),
}


@pytest.mark.filterwarnings("ignore:Reader has no dt")
@pytest.mark.parametrize("case", BAD)
def test_bad_input_is_one_line_and_exit_2(case, foreign, capsys):
    folder, base, top, traj = foreign
    extra, message = BAD[case]
    argv = list(base)
    if extra == "no cation":
        argv = [a for a in argv if a not in ("--cation", "Li=resname LI")]
    elif isinstance(extra, str):
        argv[argv.index(str(traj))] = str(_bad_files(folder, top, traj)[extra])
    else:
        argv += extra
    assert run_cli(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("hese: error: ")
    assert re.search(re.escape(message), err), err

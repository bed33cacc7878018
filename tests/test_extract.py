"""``hese extract shells``: constructed trajectories with known shells, across the periodic boundary."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from analysis_helpers import write_run, write_trajectory
from MDAnalysis.lib import qcprot
from scipy.spatial.transform import Rotation

from hese.analysis.shell_sampling import farthest_points, shell_rmsd
from hese.cli import main

BOX = 3.0
SOL = ["O1", "H1", "H2"]  # water-like; O1 coordinates
ANI = ["O1", "N1", "O2"]  # a bent anion; O1 and O2 may coordinate, O2 is never close
LI1 = np.array([0.02, 0.02, 1.5])  # in a corner: its shell straddles the x and y boundaries
LI2 = np.array([1.5, 1.5, 1.5])
N_FRAMES = 10
#: Directions (and distances of the coordinating atom, nm) of Li2's shell SOL, SOL, ANI in three
#: shapes; every shape is rotated anew in each frame.
SHAPES = {
    "G1": [((1, 0, 0), 0.19), ((0, 1, 0), 0.22), ((0, 0, 1), 0.21)],
    "G2": [((1, 0, 0), 0.19), ((-1, 0, 0), 0.22), ((0, 1, 0), 0.21)],
    "G3": [((1, 0, 0), 0.19), ((1, 1, 0), 0.22), ((1, 0, 1), 0.21)],
}
SHAPE_OF_FRAME = ["G1"] * 5 + ["G2"] * 3 + ["G3"] * 2


def _molecule(names, anchor, u):
    """Atoms of a SOL or ANI molecule whose first atom sits at ``anchor``, pointing away along ``u``."""
    u = np.asarray(u, float) / np.linalg.norm(u)
    v = np.cross(u, [0.3, 0.5, 0.8])
    v /= np.linalg.norm(v)
    if names is SOL:
        return np.array([anchor, anchor + 0.08 * u + 0.06 * v, anchor + 0.08 * u - 0.06 * v])
    return np.array([anchor, anchor + 0.12 * u, anchor + 0.24 * u + 0.1 * v])


def _parked(j):
    """A molecule far from both lithium ions."""
    return np.array([0.8, 0.9 + 0.35 * j, 0.4])


@pytest.fixture(scope="module")
def system(tmp_path_factory):
    """Two Li, six SOL, two ANI, one far-away FAR atom; 10 frames of known shells (unwrapped truth kept).

    Li1 (atom 0): frames 0–1 SOL0, SOL1, ANI0 (shape G1); frames 2–7 SOL0, SOL1, SOL2; frames 8–9 bare.
    Li2 (atom 1): SOL3, SOL4, ANI1 in every frame, shapes G1 ×5, G2 ×3, G3 ×2, each rotated anew.
    So for Li: Li(SOL)2(ANI)1 12 of 20, Li(SOL)3 6 of 20, bare 2 of 20.
    """
    folder = tmp_path_factory.mktemp("shells")
    rng = np.random.default_rng(7)
    frames = []
    for f in range(N_FRAMES):
        sol = [_molecule(SOL, _parked(j), (1, 0, 0)) for j in range(6)]
        ani = [_molecule(ANI, _parked(6 + j), (1, 0, 0)) for j in range(2)]
        turn = Rotation.random(random_state=rng).as_matrix()
        for (u, d), k in zip(SHAPES[SHAPE_OF_FRAME[f]], ("sol3", "sol4", "ani1"), strict=True):
            u = turn @ (np.asarray(u, float) / np.linalg.norm(u))
            mol = _molecule(SOL if k != "ani1" else ANI, LI2 + d * u, u)
            (sol if k != "ani1" else ani)[int(k[-1])] = mol
        if f < 2:
            turn = Rotation.random(random_state=rng).as_matrix()
            for (u, d), target in zip(SHAPES["G1"], ((sol, 0), (sol, 1), (ani, 0)), strict=True):
                u = turn @ np.asarray(u, float)
                target[0][target[1]] = _molecule(SOL if target[0] is sol else ANI, LI1 + d * u, u)
        elif f < 8:
            for j, (u, d) in enumerate((((-1, 0, 0), 0.19), ((0, -1, 0), 0.21), ((-1, -1, 1), 0.25))):
                u = np.asarray(u, float) / np.linalg.norm(u)
                sol[j] = _molecule(SOL, LI1 + d * u, u)
        frames.append(np.vstack([LI1, LI2, *sol, *ani, [[2.2, 2.2, 0.5]]]))
    truth = np.array(frames)
    wrapped = truth - BOX * np.floor(truth / BOX)
    molecules = [("LI", ["Li"], 2), ("SOL", SOL, 6), ("ANI", ANI, 2), ("FAR", ["Ar"], 1)]
    top, traj = write_trajectory(folder, molecules, wrapped, np.full(3, BOX), dt_ps=2.0)
    base = ["extract", "shells", "--topology", str(top), "--trajectory", str(traj), "--cation", "Li=resname LI",
            "--solvent", "SOL=resname SOL and name O1", "--anion", "ANI=resname ANI and name O1 O2",
            "--charge", "ANI=-1"]
    return folder, base, truth


def _read_xyz(path):
    lines = path.read_text().splitlines()
    n = int(lines[0])
    header = dict(item.split("=", 1) for item in lines[1].split())
    atoms = [line.split() for line in lines[2:]]
    assert len(atoms) == n
    return header, [a[0] for a in atoms], np.array([[float(x) for x in a[1:]] for a in atoms])


@pytest.fixture(scope="module")
def extracted(system, tmp_path_factory):
    folder, base, _ = system
    out = tmp_path_factory.mktemp("out") / "shells"
    assert main(base + ["--cutoff", "SOL=0.3", "--cutoff", "ANI=0.3", "--out", str(out)]) == 0
    return out, pd.read_csv(out / "shells.csv")


def test_index_lists_the_compositions_most_frequent_first_with_their_fractions(extracted):
    out, index = extracted
    assert list(index.columns) == ["composition", "fraction", "example", "frame", "time_ps", "cation_index",
                                   "charge", "multiplicity", "n_atoms", "file"]
    assert list(dict.fromkeys(index["composition"])) == ["Li(SOL)2(ANI)1", "Li(SOL)3"]  # the bare Li never
    fractions = index.groupby("composition", sort=False)["fraction"].first()
    assert fractions.to_dict() == pytest.approx({"Li(SOL)2(ANI)1": 0.6, "Li(SOL)3": 0.3})
    assert index.groupby("composition", sort=False)["example"].apply(list).to_dict() == {
        "Li(SOL)2(ANI)1": [1, 2, 3], "Li(SOL)3": [1, 2, 3]}
    assert (index["time_ps"] == 2.0 * index["frame"]).all()
    assert sorted(p.name for p in out.iterdir()) == sorted([*index["file"], "shells.csv", "summary.json"])
    summary = json.loads((out / "summary.json").read_text())
    assert summary["cutoffs"]["Li"] == {"SOL": {"cutoff_nm": 0.3, "source": "user"},
                                        "ANI": {"cutoff_nm": 0.3, "source": "user"}}


def test_farthest_point_sampling_picks_one_example_of_each_shape(extracted):
    _, index = extracted
    mixed = index[index["composition"] == "Li(SOL)2(ANI)1"]
    first = mixed.iloc[0]
    assert (first["frame"], first["cation_index"]) == (0, 0)  # the first observation starts the sampling
    shapes = {SHAPE_OF_FRAME[f] for f in mixed["frame"]}
    assert shapes == {"G1", "G2", "G3"}
    assert len(set(zip(mixed["frame"], mixed["cation_index"], strict=True))) == 3


#: Atoms of each shell in the order written: the cation, then its partners by species and distance.
SHELL_ATOMS = {(0, "Li(SOL)2(ANI)1"): [0, 2, 3, 4, 5, 6, 7, 20, 21, 22],
               (1, "Li(SOL)2(ANI)1"): [1, 11, 12, 13, 14, 15, 16, 23, 24, 25],
               (0, "Li(SOL)3"): [0, 2, 3, 4, 5, 6, 7, 8, 9, 10]}


def test_xyz_files_hold_whole_molecules_placed_around_the_cation(system, extracted):
    _, _, truth = system
    out, index = extracted
    elements_of = {"Li(SOL)2(ANI)1": ["Li", "O", "H", "H", "O", "H", "H", "O", "N", "O"],
                   "Li(SOL)3": ["Li"] + ["O", "H", "H"] * 3}
    for _, row in index.iterrows():
        header, elements, xyz = _read_xyz(out / row["file"])
        charge = {"Li(SOL)2(ANI)1": 0, "Li(SOL)3": 1}[row["composition"]]  # 46 and 32 electrons: singlets
        assert float(header.pop("time_ps")) == row["time_ps"]
        assert header == {"charge": str(charge), "multiplicity": "1", "composition": row["composition"],
                          "frame": str(row["frame"]), "cation": str(row["cation_index"])}
        assert elements == elements_of[row["composition"]] and row["n_atoms"] == len(elements)
        assert row["charge"] == charge and row["multiplicity"] == 1
        # every atom where the unwrapped truth has it, relative to the cation: whole molecules, no box jumps
        frame = truth[row["frame"]]
        atoms = SHELL_ATOMS[(row["cation_index"], row["composition"])]
        assert np.abs(xyz - (frame[atoms] - frame[row["cation_index"]]) * 10.0).max() < 0.02  # XTC precision


def test_an_odd_electron_count_gives_a_doublet(system, tmp_path):
    _, base, _ = system
    argv = [a if a != "ANI=-1" else "ANI=-2" for a in base]
    assert main(argv + ["--cutoff", "SOL=0.3", "--cutoff", "ANI=0.3", "--top", "1", "--examples", "1",
                        "--out", str(tmp_path / "o")]) == 0
    row = pd.read_csv(tmp_path / "o" / "shells.csv").iloc[0]
    assert row["composition"] == "Li(SOL)2(ANI)1" and row["charge"] == -1 and row["multiplicity"] == 2
    header, _, _ = _read_xyz(tmp_path / "o" / row["file"])
    assert header["charge"] == "-1" and header["multiplicity"] == "2"


def test_elements_are_guessed_from_names_where_the_topology_has_none(system, tmp_path):
    """A GRO topology has no elements: they come from the atom names (Li, O1, H1, N1 …)."""
    _, base, truth = system
    molecules = [("LI", ["Li"], 2), ("SOL", SOL, 6), ("ANI", ANI, 2), ("FAR", ["Ar"], 1)]
    top, traj = write_trajectory(tmp_path, molecules, truth - BOX * np.floor(truth / BOX), np.full(3, BOX),
                                 topology="topology.gro")
    argv = [str(top) if a.endswith("topology.pdb") else str(traj) if a.endswith(".xtc") else a for a in base]
    assert main(argv + ["--cutoff", "SOL=0.3", "--cutoff", "ANI=0.3", "--top", "1", "--examples", "1",
                        "--out", str(tmp_path / "o")]) == 0
    _, elements, _ = _read_xyz(tmp_path / "o" / "Li_1_1.xyz")
    assert elements == ["Li", "O", "H", "H", "O", "H", "H", "O", "N", "O"]


def test_a_hese_run_takes_species_charges_and_whole_molecules_from_build_json(tmp_path):
    """Li with two waters and an FSI, the waters broken across the boundary; molecules by count."""
    from hese import species

    li = np.array([0.03, 1.5, 1.5])
    water = [np.array([[-0.18, 1.5, 1.5], [-0.24, 1.58, 1.5], [-0.24, 1.42, 1.5]]) + [0.03, 0, 0],
             np.array([[0.03, 1.5, 1.3], [0.03, 1.58, 1.24], [0.03, 1.42, 1.24]])]
    fsi = np.array([li + [0.2, 0, 0] + [0.1 * k, 0.05 * (k % 2), 0] for k in range(9)])
    fsi[[0, 2]] = fsi[[2, 0]]  # O1 (atom 2) coordinates: put it nearest
    truth = np.vstack([li, *water, fsi])
    positions = np.repeat(truth[None], 3, axis=0)
    run = write_run(tmp_path / "run", {"Li": 1, "water": 2, "FSI": 1}, 1.0,
                    positions - BOX * np.floor(positions / BOX), np.full(3, BOX))
    out = tmp_path / "out"
    assert main(["extract", "shells", "--run", str(run), "--out", str(out), "--cutoff", "water=0.3",
                 "--cutoff", "FSI=0.3"]) == 0
    index = pd.read_csv(out / "shells.csv")
    assert list(index["composition"]) == ["Li(water)2(FSI)1"] * 3 and list(index["frame"]) == [0, 1, 2]
    assert (index["fraction"] == 1.0).all() and (index["charge"] == 0).all()
    header, elements, xyz = _read_xyz(out / index["file"][0])
    assert elements == ["Li", "O", "H", "H", "O", "H", "H", *species.get("FSI").elements]
    assert header["charge"] == "0" and header["multiplicity"] == "1"  # 3 + 2 × 10 + 89 electrons
    assert np.abs(xyz - (truth - li) * 10).max() < 0.02  # the water at 0.18 nm, across the boundary, first


def test_shell_rmsd_is_the_kabsch_minimum_and_ignores_rotations():
    rng = np.random.default_rng(3)
    shells = rng.normal(size=(6, 4, 3))
    reference = rng.normal(size=(4, 3))
    for shell, value in zip(shells, shell_rmsd(shells, reference), strict=True):
        rotation = np.zeros(9)
        expected = qcprot.CalcRMSDRotationalMatrix(reference.astype(np.float64), shell.astype(np.float64), 4,
                                                   rotation, None)
        assert value == pytest.approx(expected, abs=1e-9)
    turned = shells @ Rotation.random(random_state=rng).as_matrix().T
    assert np.allclose(shell_rmsd(turned, shells[2])[2], 0.0, atol=1e-7)
    assert np.allclose(shell_rmsd(shells, reference), shell_rmsd(turned, reference))


def test_farthest_points_start_at_the_first_and_take_the_farthest_then_the_earliest():
    line = np.array([[[x, 0.0, 0.0]] for x in (1.0, 1.0, 2.0, 5.0, 5.0, 3.0)])
    assert farthest_points(line, 3).tolist() == [0, 3, 5]
    assert farthest_points(line, 10).tolist() == [0, 3, 5, 2, 1, 4]  # ties to the earliest
    assert farthest_points(line[:1], 3).tolist() == [0]


def test_cutoffs_of_an_earlier_solvation_analysis_are_reused_unless_given(system, tmp_path, capsys):
    _, base, _ = system
    files = base[2:]
    assert main(["analyze", "solvation", *files, "--cutoff", "SOL=0.3", "--cutoff", "ANI=0.29", "--blocks", "2",
                 "--out", str(tmp_path / "solvation")]) == 0
    assert main(base + ["--solvation", str(tmp_path / "solvation"), "--cutoff", "Li:ANI=0.28", "--top", "1",
                        "--examples", "1", "--out", str(tmp_path / "o")]) == 0
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert {p: c["cutoff_nm"] for p, c in summary["cutoffs"]["Li"].items()} == {"SOL": 0.3, "ANI": 0.28}
    assert summary["cutoffs_from"] == str(tmp_path / "solvation")
    capsys.readouterr()
    other = tmp_path / "other"
    other.mkdir()
    (other / "summary.json").write_text(json.dumps({"cutoffs": {"Zn": {"SOL": {"cutoff_nm": 0.3}}}}))
    assert main(base + ["--solvation", str(other), "--out", str(tmp_path / "o2")]) == 2
    err = capsys.readouterr().err
    assert "--solvation: " in err and "Zn–SOL, not a pair of this input" in err and err.count("\n") == 1
    assert main(base + ["--solvation", str(tmp_path), "--out", str(tmp_path / "o2")]) == 2
    assert "summary.json: missing; give the output folder of hese analyze solvation" in capsys.readouterr().err


@pytest.mark.parametrize(("extra", "message"), [
    (["--top", "0"], "--top: 0; need at least 1 composition"),
    (["--examples", "0"], "--examples: 0; need at least 1 example per composition"),
    (["--only", "Na"], "--only: 'Na' is not a cation; cations: Li"),
    (["--solvent", "FAR=resname FAR"], "--cutoff: Li–FAR has no cutoff: no peak standing out"),
    (["--cutoff", "SOL=0.05", "--cutoff", "ANI=0.05"], "no shell found: no Li has a partner within its cutoff"),
    (["--cutoff", "Na:SOL=0.3"], "'Na' is not a cation"),
])
def test_bad_input_is_one_line_and_status_2(system, tmp_path, capsys, extra, message):
    _, base, _ = system
    argv = base + ["--cutoff", "SOL=0.3", "--cutoff", "ANI=0.3", "--out", str(tmp_path / "o")]
    if "--cutoff" in extra:
        argv = base + ["--out", str(tmp_path / "o")]
    assert main(argv + extra) == 2
    err = capsys.readouterr().err
    assert err.startswith("hese: error: ") and message in err and err.count("\n") == 1
    assert not (tmp_path / "o").exists()

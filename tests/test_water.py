"""Water structure: tetrahedral order on known arrangements, entropy from P(q), hydrogen bonds, CLI, bad input."""

import itertools
import json
import re

import numpy as np
import pandas as pd
import pytest
from analysis_helpers import run_cli, truncated_copy, write_run, write_trajectory

from hese.analysis import columns as col
from hese.analysis import threads
from hese.analysis.inputs import file_source
from hese.analysis.water import Q_BIN, analyze_water, tetrahedral_order
from hese.errors import HeseInputError

WATER = ("HOH", ["O1", "H1", "H2"])
OH = 0.1  # nm


def _ice_ic(cells, a=0.6358):
    """Proton-ordered cubic ice: oxygens on a diamond lattice, every hydrogen on an O···O bond.

    Sublattice A bonds to B along d ∈ {(1,1,1), (1,−1,−1), (−1,1,−1), (−1,−1,1)}·a/4; each
    oxygen donates along its two bonds that point up in z, so each bond carries one hydrogen.
    Returns the A and B molecules (n, 3 atoms, 3) and the box edge.
    """
    fcc = np.array([[0, 0, 0], [0, 0.5, 0.5], [0.5, 0, 0.5], [0.5, 0.5, 0]])
    cells_xyz = np.array(list(itertools.product(range(cells), repeat=3)))
    a_sites = (cells_xyz[:, None] + fcc[None]).reshape(-1, 3) * a
    b_sites = a_sites + a / 4
    up_a = np.array([[1, 1, 1], [-1, -1, 1]]) / np.sqrt(3)  # A → B bonds with d_z > 0
    up_b = np.array([[-1, 1, 1], [1, -1, 1]]) / np.sqrt(3)  # B → A bonds (−d) with −d_z > 0

    def molecules(o, up):
        return np.concatenate([o[:, None], o[:, None] + OH * up[None]], axis=1)

    return molecules(a_sites, up_a), molecules(b_sites, up_b), cells * a


def _write_waters(tmp_path, molecules, box, n_frames=1, extra=None):
    """Water molecules (F, n, 3, 3) or (n, 3, 3), plus optional single-oxygen molecules (F, k, 3)."""
    molecules = np.broadcast_to(molecules, (n_frames, *molecules.shape[-3:]))
    positions = molecules.reshape(n_frames, -1, 3)
    spec = [(*WATER, molecules.shape[1])]
    if extra is not None:
        positions = np.concatenate([positions, np.broadcast_to(extra, (n_frames, *extra.shape[-2:]))], axis=1)
        spec.append(("OXA", ["O1"], extra.shape[-2]))
    return write_trajectory(tmp_path, spec, positions, np.full(3, box))


def test_kernel_perfect_tetrahedron_and_random_directions():
    tetrahedron = np.array([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]], dtype=float)
    rng = np.random.default_rng(0)
    rotations = np.linalg.qr(rng.normal(size=(50, 3, 3)))[0]
    scaled = tetrahedron[None] * rng.uniform(0.5, 2.0, (50, 4, 1))  # q depends on directions only
    np.testing.assert_allclose(tetrahedral_order(scaled @ rotations), 1.0, atol=1e-12)
    q = tetrahedral_order(rng.normal(size=(40000, 4, 3)))
    assert q.min() >= -3 and q.max() <= 1
    assert abs(q.mean()) < 3 * q.std() / np.sqrt(len(q))


def test_ice_is_perfectly_tetrahedral_with_four_hydrogen_bonds(tmp_path):
    a_mol, b_mol, box = _ice_ic(2)
    top, traj = _write_waters(tmp_path, np.concatenate([a_mol, b_mol]), box, n_frames=3)
    result = analyze_water(file_source(top, [traj], ["water=resname HOH"]))
    row = result.water_entropy.iloc[0]
    assert row[col.N_MOLECULES] == 64 and row[col.N_FRAMES] == 3
    assert row[col.Q_MEAN] == pytest.approx(1.0, abs=1e-3)  # XTC keeps 0.001 nm
    p = result.tetrahedral.set_index(col.Q)[col.P_Q]
    assert p[p.index > 1 - 2 * Q_BIN].sum() * Q_BIN == pytest.approx(1.0)
    assert row[col.S_Q_KB] == pytest.approx(1.5 * np.log(Q_BIN / 2), rel=0.2)  # all of P(q) in the last bin or two
    assert result.hbonds.iloc[0][col.HBONDS_PER_MOLECULE] == pytest.approx(4.0)
    assert result.hbonds.iloc[0][col.HBONDS_PER_MOLECULE_ERR] == 0.0


def test_any_oxygen_counts_anion_oxygens_as_neighbours(tmp_path):
    # waters on sublattice A, bare oxygens of another molecule on sublattice B
    a_mol, b_mol, box = _ice_ic(2)
    top, traj = _write_waters(tmp_path, a_mol, box, extra=b_mol[:, 0])
    result = analyze_water(file_source(top, [traj], ["water=resname HOH"]), neighbours=("water", "any_oxygen"))
    q = result.water_entropy.set_index(col.NEIGHBOURS)[col.Q_MEAN]
    assert q["any_oxygen"] == pytest.approx(1.0, abs=1e-3)
    assert q["water"] < 0.5  # fcc neighbours of water alone are not tetrahedral
    assert list(result.tetrahedral[col.NEIGHBOURS].unique()) == ["water", "any_oxygen"]


def test_random_oxygens_have_zero_mean_q_within_error(tmp_path, monkeypatch):
    rng = np.random.default_rng(1)
    n, frames = 400, 25
    box = (n / 33.4) ** (1 / 3)  # water's number density
    o = rng.uniform(0, box, (frames, n, 1, 3))
    h = rng.normal(size=(frames, n, 2, 3))
    h = o + OH * h / np.linalg.norm(h, axis=-1, keepdims=True)
    top, traj = _write_waters(tmp_path, np.concatenate([o, h], axis=2), box, n_frames=frames)
    result = analyze_water(file_source(top, [traj], ["water=resname HOH"]))
    row = result.water_entropy.iloc[0]
    assert 0 < row[col.Q_MEAN_ERR] < 0.02
    assert abs(row[col.Q_MEAN]) < 3 * row[col.Q_MEAN_ERR]
    # the entropy is the P(q) integral of the table
    table = result.tetrahedral
    integral = 1.5 * np.sum(np.log(1 - table[col.Q]) * table[col.P_Q]) * Q_BIN
    assert row[col.S_Q_KB] == pytest.approx(integral, rel=1e-9)
    assert row[col.S_Q_J_MOL_K] == pytest.approx(8.314462618 * integral, rel=1e-9)
    assert np.sum(table[col.P_Q]) * Q_BIN == pytest.approx(1.0)
    assert row[col.S_Q_ERR_KB] > 0
    # frames on several threads give the same tables
    monkeypatch.setattr(threads, "usable_threads", lambda: 3)
    threaded = analyze_water(file_source(top, [traj], ["water=resname HOH"]), chunk_frames=7)
    for name in ("tetrahedral", "water_entropy", "hbonds"):
        pd.testing.assert_frame_equal(getattr(threaded, name), getattr(result, name), check_exact=True)


def _donor_pair(origin, r_oo, angle_deg):
    """Two waters: the first donates one H at ``angle_deg`` off the O···O axis; the acceptor's H point away."""
    o1, o2 = origin, origin + np.array([r_oo, 0, 0])
    t = np.radians(angle_deg)
    h_bond = o1 + OH * np.array([np.cos(t), np.sin(t), 0])
    h_free = o1 + OH * np.array([-0.33, -0.94, 0])
    away = np.array([[0.33, 0.94, 0], [0.33, -0.94, 0]]) * OH + o2
    return [[o1, h_bond, h_free], [o2, *away]]


def test_hydrogen_bond_geometric_criterion(tmp_path):
    pairs = [(0.30, 25.0), (0.30, 35.0), (0.36, 0.0), (0.34, 0.0)]  # bonded, angle too wide, too far, bonded
    molecules = np.array([m for k, (r, angle) in enumerate(pairs)
                          for m in _donor_pair(np.array([0.5 + 1.2 * k, 1.0, 1.0]), r, angle)])
    top, traj = _write_waters(tmp_path, molecules, 5.0)
    result = analyze_water(file_source(top, [traj], ["water=resname HOH"]))
    assert result.hbonds.iloc[0][col.HBONDS_PER_MOLECULE] == pytest.approx(2 * 2 / len(molecules))
    assert result.summary["warnings"] == ["one frame only: no uncertainties"]
    assert np.isnan(result.water_entropy.iloc[0][col.Q_MEAN_ERR])


def _liquid_like_run(tmp_path, seed=2, frames=6):
    rng = np.random.default_rng(seed)
    n_water, n_ions, box = 60, 4, 1.3
    o = rng.uniform(0, box, (frames, n_water, 1, 3))
    h = rng.normal(size=(frames, n_water, 2, 3))
    water = np.concatenate([o, o + OH * h / np.linalg.norm(h, axis=-1, keepdims=True)], axis=2)
    ions = rng.uniform(0, box, (frames, 2 * n_ions, 3))
    positions = np.concatenate([ions, water.reshape(frames, -1, 3)], axis=1)
    return write_run(tmp_path / "run", {"Li": n_ions, "Cl": n_ions, "water": n_water}, 1.0, positions, np.full(3, box))


def test_cli_on_a_run_and_on_foreign_files(tmp_path, capsys):
    run = _liquid_like_run(tmp_path)
    out = tmp_path / "out"
    assert run_cli(["analyze", "water", "--run", str(run), "--out", str(out), "--neighbours", "water",
                    "--neighbours", "any_oxygen", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["n_molecules"] == 60 and summary["n_frames"] == 6 and summary["n_other_oxygens"] == 0
    assert "any_oxygen: the system has no oxygen outside water" in summary["warnings"][0]
    for name in ("tetrahedral", "water_entropy", "hbonds"):
        assert tuple(pd.read_parquet(out / f"{name}.parquet").columns) == col.TABLES[name]
    entropy = pd.read_parquet(out / "water_entropy.parquet")
    assert list(entropy[col.NEIGHBOURS]) == ["water", "any_oxygen"]
    foreign = ["analyze", "water", "--topology", str(run / "build/topology.pdb"), "--trajectory",
               str(run / "md/trajectory.xtc"), "--water", "resname HOH", "--out", str(tmp_path / "f"), "--stop", "4"]
    assert run_cli(foreign) == 0
    assert "hbonds_per_molecule" in capsys.readouterr().out
    again = pd.read_parquet(tmp_path / "f" / "water_entropy.parquet")
    assert again.iloc[0][col.N_FRAMES] == 4


def test_a_truncated_trajectory_is_refused(tmp_path):
    run = _liquid_like_run(tmp_path)
    traj = run / "md/trajectory.xtc"
    cut = truncated_copy(traj, traj.with_name("cut.xtc"), -5)  # the last frame a few bytes short
    with pytest.raises(HeseInputError, match=re.escape(f"{cut}: truncated")):
        analyze_water(file_source(run / "build/topology.pdb", [cut], ["water=resname HOH"]))


BAD = {
    "four waters": (lambda t: _four_waters(t), "holds 4 water molecules; the tetrahedral order needs at least 5"),
    "empty selection": (lambda t: ["--water", "resname SOL"], "selection 'resname SOL' matches no atom"),
    "not water": (lambda t: ["--water", "resname LI or resname HOH"], "are not water (one O, two H)"),
    "missing water": (lambda t: [], "--water: missing"),
}


def _four_waters(tmp_path):
    a_mol, _, box = _ice_ic(1)
    top, traj = _write_waters(tmp_path / "four", a_mol, box)
    return ["--water", "resname HOH", "--topology", str(top), "--trajectory", str(traj)]


@pytest.mark.parametrize("case", BAD)
def test_bad_input_is_one_line_and_exit_2(case, tmp_path, capsys):
    run = _liquid_like_run(tmp_path, frames=2)
    extra, message = BAD[case]
    args = extra(tmp_path)
    if "--topology" not in args:
        args += ["--topology", str(run / "build/topology.pdb"), "--trajectory", str(run / "md/trajectory.xtc")]
    assert run_cli(["analyze", "water", "--out", str(tmp_path / "out"), *args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("hese: error: ")
    assert re.search(re.escape(message), err), err
    assert not (tmp_path / "out").exists()

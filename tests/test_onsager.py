"""Collective transport on known answers: Onsager coefficients, transference numbers, calibrated errors."""

import json

import MDAnalysis as mda
import numpy as np
import pandas as pd
import pytest
from analysis_helpers import run_cli, wrap, write_trajectory

from hese.analysis import columns as col
from hese.analysis import onsager
from hese.analysis.inputs import file_source
from hese.analysis.transport import analyze_transport

KB = 1.380649e-23
E = 1.602176634e-19
NM2_PS = 1e-6  # m²/s per nm²/ps


def _pair_system(rng, n_frames, n_free_cation, n_free_anion, n_pairs, d_cation, d_anion, d_pair, dt=1.0):
    """Collective displacements (F, 3) of cations and anions: free ions plus cation–anion pairs that move as one.

    A sum of independent Gaussian walks is one Gaussian walk whose step variance is the sum, so each
    species' collective walk is drawn directly (D in nm²/ps); the pairs' walk is shared by both.
    """
    def walk(variance_per_axis):
        steps = rng.normal(0.0, np.sqrt(variance_per_axis), (n_frames - 1, 3))
        return np.concatenate([np.zeros((1, 3)), np.cumsum(steps, axis=0)])

    pairs = walk(2 * n_pairs * d_pair * dt)
    return {"Li": walk(2 * n_free_cation * d_cation * dt) + pairs, "X": walk(2 * n_free_anion * d_anion * dt) + pairs}


def _truth(n_free_cation, n_free_anion, n_pairs, d_cation, d_anion, d_pair, volume_nm3, temperature_k):
    """σ_ij (S/m) of the pair system: 6 D summed over the walkers that species i and j share."""
    factor = E**2 / (volume_nm3 * 1e-27 * KB * temperature_k) * NM2_PS
    shared = {("Li", "Li"): n_free_cation * d_cation + n_pairs * d_pair,
              ("X", "X"): n_free_anion * d_anion + n_pairs * d_pair,
              ("Li", "X"): n_pairs * d_pair}
    z = {"Li": 1, "X": -1}
    sigma = {(i, j): factor * z[i] * z[j] * shared[tuple(sorted((i, j)))] for i in z for j in z}
    return sigma


# the reviewer's case: 100 free Li⁺ (D = 1e-9 m²/s), 100 free anions (4e-9), 400 pairs (0.2e-9), 8 nm, 300 K
CASE = dict(n_free_cation=100, n_free_anion=100, n_pairs=400, d_cation=1e-3, d_anion=4e-3, d_pair=0.2e-3)
VOLUME, T = 512.0, 300.0


def test_the_truth_of_the_pair_system():
    sigma = _truth(**CASE, volume_nm3=VOLUME, temperature_k=T)
    assert sum(sigma.values()) == pytest.approx(6.05, abs=0.01)  # the Einstein–Helfand σ of the review
    t_li = (sigma["Li", "Li"] + sigma["Li", "X"]) / sum(sigma.values())
    assert t_li == pytest.approx(0.2)  # (1.8 − 0.8) / 5: paired Li⁺ carries no current
    assert 1.8 / (1.8 + 4.8) == pytest.approx(0.2727, abs=1e-4)  # what Nernst–Einstein would say


def test_onsager_coefficients_sum_to_einstein_helfand_and_recover_the_truth():
    rng = np.random.default_rng(11)
    runs = [_pair_system(rng, 20000, **CASE)]
    coll = onsager.collective(runs, {"Li": 1, "X": -1}, 1.0, VOLUME, T, start_lag=1, max_lag=2000, min_blocks=5)
    truth = _truth(**CASE, volume_nm3=VOLUME, temperature_k=T)
    eh, eh_err = coll.einstein_helfand()
    assert eh == pytest.approx(sum(coll.sigma(i, j)[0] for i in coll.ions for j in coll.ions), rel=1e-12)
    assert abs(eh - 6.05) < 3 * eh_err and eh_err < 0.05 * eh
    for (i, j), value in truth.items():
        est, blocks = coll.sigma(i, j)
        assert abs(est - value) < 3 * np.std(blocks, ddof=1) / np.sqrt(len(blocks)), (i, j)
    t = coll.transference()
    assert abs(t["Li"][0] - 0.2) < 3 * t["Li"][1] and t["Li"][1] < 0.05
    assert t["Li"][0] + t["X"][0] == pytest.approx(1.0)
    assert coll.window[0] == 1 and coll.n_blocks == onsager.MAX_BLOCKS


def test_error_bars_are_calibrated_over_independent_realisations():
    """The truth within 2 reported σ in about 95 % of 300 realisations (σ_EH, σ_Li–X, t_Li)."""
    rng = np.random.default_rng(2024)
    truth = _truth(**CASE, volume_nm3=VOLUME, temperature_k=T)
    t_li = (truth["Li", "Li"] + truth["Li", "X"]) / sum(truth.values())
    z = {"eh": [], "cross": [], "t": []}
    for _ in range(300):
        coll = onsager.collective([_pair_system(rng, 4000, **CASE)], {"Li": 1, "X": -1}, 1.0, VOLUME, T,
                                  start_lag=1, max_lag=400, min_blocks=5)
        eh, eh_err = coll.einstein_helfand()
        cross, blocks = coll.sigma("Li", "X")
        t, t_err = coll.transference()["Li"]
        z["eh"].append((eh - sum(truth.values())) / eh_err)
        z["cross"].append((cross - truth["Li", "X"]) / (np.std(blocks, ddof=1) / np.sqrt(len(blocks))))
        z["t"].append((t - t_li) / t_err)
    for name, values in z.items():
        values = np.array(values)
        inside = np.mean(np.abs(values) < 2)
        assert 0.92 <= inside <= 0.98, (name, inside)
        assert 0.85 < np.sqrt(np.mean(values**2)) < 1.15, name


def test_ratio_by_the_delta_method():
    num = np.array([1.0, 1.2, 0.8, 1.1])
    den = np.array([2.0, 2.1, 1.9, 2.0])
    r, err = onsager.ratio(num.mean(), num, den.mean(), den)
    assert r == pytest.approx(num.mean() / den.mean())
    assert err == pytest.approx(np.std(num - r * den, ddof=1) / 2 / den.mean())
    assert np.isnan(onsager.ratio(1.0, num, 0.0, den)[0])


def test_centre_of_mass_frame():
    rng = np.random.default_rng(5)
    positions = {"Li": rng.normal(size=(6, 3, 3)), "S": rng.normal(size=(6, 2, 3))}
    masses = {"Li": np.full(3, 7.0), "S": np.full(2, 90.0)}
    drift = np.arange(6)[:, None, None] * np.array([0.3, -0.1, 0.2])
    moved = {n: p + drift for n, p in positions.items()}  # the whole system drifts: R_i does not change
    before = onsager.collective_displacements(positions, masses, ["Li"])["Li"]
    after = onsager.collective_displacements(moved, masses, ["Li"])["Li"]
    np.testing.assert_allclose(after, before, atol=1e-12)
    centre = (np.einsum("fma,m->fa", positions["Li"], masses["Li"])
              + np.einsum("fma,m->fa", positions["S"], masses["S"])) / 201.0
    np.testing.assert_allclose(before, positions["Li"].sum(axis=1) - 3 * centre)


def _pair_trajectory(tmp_path, rng, n_frames=3000):
    """A real trajectory: 12 free Li, 12 free Cl, 24 bound Li–Cl pairs and a heavy solvent (uranium atoms, to
    weigh much) whose molecules move together against the ions, so that the centre of mass stays put and the
    lab frame is the centre-of-mass frame. Returns the files, the true slopes d⟨ΔR_i·ΔR_j⟩/dt (nm²/ps) and V."""
    n_free, n_pairs, n_solvent, box = 12, 24, 64, 3.0
    mass = {"Li": 6.94, "Cl": 35.45, "U": 238.029}  # MDAnalysis's masses of these elements (checked below)
    step = {"free_li": 0.045, "free_cl": 0.09, "pair": 0.02}  # per-axis rms per 1-ps frame (nm)

    def walks(n, rms):
        start = rng.uniform(0, box, (1, n, 3))
        return start + np.concatenate([np.zeros((1, n, 3)), np.cumsum(rng.normal(0, rms, (n_frames - 1, n, 3)), 0)])

    li, cl, pair = walks(n_free, step["free_li"]), walks(n_free, step["free_cl"]), walks(n_pairs, step["pair"])
    ions = np.concatenate([li, pair, cl, pair + np.array([0.25, 0.0, 0.0])], axis=1)  # Li first, then Cl
    masses = np.repeat([mass["Li"], mass["Cl"]], n_free + n_pairs)
    shift = -np.einsum("fia,i->fa", ions - ions[:1], masses) / (n_solvent * mass["U"])
    solvent = rng.uniform(0, box, (1, n_solvent, 3)) + shift[:, None, :]
    n_li = n_free + n_pairs
    top, traj = write_trajectory(tmp_path, [("LI", ["Li1"], n_li), ("CL", ["Cl1"], n_li), ("SOL", ["U1"], n_solvent)],
                                 wrap(np.concatenate([ions, solvent], axis=1), np.full(3, box)), np.full(3, box))
    u = mda.Universe(str(top))
    for element, m in mass.items():
        assert u.select_atoms(f"element {element}").masses == pytest.approx(m, abs=0.01)
    slopes = {("Li", "Li"): 3 * (n_free * step["free_li"] ** 2 + n_pairs * step["pair"] ** 2),
              ("Cl", "Cl"): 3 * (n_free * step["free_cl"] ** 2 + n_pairs * step["pair"] ** 2),
              ("Cl", "Li"): 3 * n_pairs * step["pair"] ** 2}
    return top, traj, slopes, box**3


@pytest.fixture
def pair_run(tmp_path):
    return _pair_trajectory(tmp_path, np.random.default_rng(8))


def test_transport_writes_onsager_and_transference_tables(pair_run, tmp_path):
    top, traj, slopes, volume = pair_run
    species = ["Li=resname LI", "Cl=resname CL", "SOL=resname SOL"]
    out = tmp_path / "out"
    assert run_cli(["analyze", "transport", "--topology", str(top), "--trajectory", str(traj), "--temperature-k",
                    "300", "--out", str(out), "--charge", "SOL=0", *sum((["--species", s] for s in species), [])]) == 0
    table = pd.read_parquet(out / "onsager.parquet")
    transference = pd.read_parquet(out / "transference.parquet")
    conductivity = pd.read_parquet(out / "conductivity.parquet")
    summary = json.loads((out / "summary.json").read_text())
    assert tuple(table.columns) == col.TABLES["onsager"] and tuple(transference.columns) == col.TABLES["transference"]
    formal = table[table[col.CHARGES] == "formal"].set_index([col.SPECIES_I, col.SPECIES_J])
    assert len(formal) == 4 and formal.loc[("Li", "Cl"), col.SIGMA_IJ_S_M] == formal.loc[("Cl", "Li"), col.SIGMA_IJ_S_M]
    eh = conductivity.set_index([col.METHOD, col.CHARGES]).loc[("einstein_helfand", "formal"), col.SIGMA_S_M]
    assert formal[col.SIGMA_IJ_S_M].sum() == pytest.approx(eh, rel=1e-9)
    factor = E**2 / (volume * 1e-27 * KB * 300.0) * NM2_PS / 6
    for (i, j), slope in slopes.items():
        row = formal.loc[(i, j)]
        z = 1 if i == j else -1
        assert abs(row[col.SIGMA_IJ_S_M] - z * factor * slope) < 3 * row[col.SIGMA_IJ_ERR_S_M], (i, j)
        assert row[col.ONSAGER_L_MOL2_J_M_S] == pytest.approx(z * row[col.SIGMA_IJ_S_M] / (E * 6.02214076e23) ** 2)
    t = transference.set_index([col.SPECIES, col.METHOD, col.CHARGES])[col.T]
    true_t = (slopes["Li", "Li"] - slopes["Cl", "Li"]) / (slopes["Li", "Li"] + slopes["Cl", "Cl"] - 2 * slopes["Cl", "Li"])
    t_err = transference.set_index([col.SPECIES, col.METHOD, col.CHARGES])[col.T_ERR]
    assert abs(t["Li", "onsager", "formal"] - true_t) < 3 * t_err["Li", "onsager", "formal"]
    assert t["Li", "onsager", "formal"] == t["Li", "onsager", "scaled"]
    assert t["Li", "nernst_einstein", "formal"] + t["Cl", "nernst_einstein", "formal"] == pytest.approx(1.0)
    assert summary["transference"]["Li_onsager"]["t"] == pytest.approx(t["Li", "onsager", "formal"])
    assert summary["collective_blocks_per_run"] >= 5


def test_no_ions_no_collective_tables(tmp_path):
    rng = np.random.default_rng(1)
    walk = np.cumsum(rng.normal(0, 0.03, (400, 8, 3)), axis=0) + 1.0
    top, traj = write_trajectory(tmp_path, [("SOL", ["U1"], 8)], wrap(walk, np.full(3, 2.0)), np.full(3, 2.0))
    result = analyze_transport([file_source(top, [traj], ["SOL=resname SOL"], ["SOL=0"])], 300.0)
    assert result.onsager.empty and result.transference.empty and result.summary["transference"] == {}

"""Transport: MSD by FFT, diffusion with its window, conductivity, the CLI and its bad input."""

import json
import re
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pytest
from analysis_helpers import random_walk, run_cli, truncated_copy, wrap, write_run, write_trajectory
from MDAnalysis.analysis.msd import EinsteinMSD

from hese.analysis import columns as col
from hese.analysis import frames, msd, threads
from hese.analysis.inputs import file_source
from hese.analysis.msd import SLOPE_TOLERANCE, msd_fft, msd_fft_blocks
from hese.analysis.transport import analyze_transport
from hese.errors import HeseInputError

KB = 1.380649e-23
E = 1.602176634e-19


def _direct_msd(x):
    """O(F²) reference: per-axis MSD averaged over molecules and all time origins."""
    out = np.zeros((len(x), 3))
    for lag in range(1, len(x)):
        out[lag] = ((x[lag:] - x[:-lag]) ** 2).mean(axis=(0, 1))
    return out


def _ions(tmp_path, unwrapped, box, dt=1.0, name="ions"):
    """Write Li (first half) and Cl (second half) single-atom ions, wrapped, as a foreign trajectory."""
    n = unwrapped.shape[1] // 2
    return write_trajectory(tmp_path / name, [("LI", ["Li1"], n), ("CL", ["Cl1"], n)], wrap(unwrapped, box), box, dt)


def _sigma(result, method, charges="formal"):
    row = result.conductivity.set_index([col.METHOD, col.CHARGES]).loc[(method, charges)]
    return row[col.SIGMA_S_M], row[col.SIGMA_ERR_S_M]


def test_msd_fft_equals_direct_computation():
    x = np.random.default_rng(0).normal(size=(64, 9, 3)).cumsum(axis=0) + 40.0  # far from the origin
    expected = _direct_msd(x)
    np.testing.assert_allclose(msd_fft(x), expected, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(msd_fft(x, batch_bytes=1), expected, rtol=1e-10, atol=1e-10)  # one molecule per batch
    np.testing.assert_allclose(msd_fft(x, max_lag=20), expected[:21], rtol=1e-10, atol=1e-10)  # shorter FFT


def test_msd_and_block_msds_in_one_pass_on_threads():
    x = np.random.default_rng(1).normal(size=(70, 11, 3)).cumsum(axis=0) + 40.0
    bounds = np.array([[0, 23], [23, 46], [46, 69]])
    with ThreadPoolExecutor(3) as pool:
        for executor in (None, pool):
            full, blocks = msd_fft_blocks(x, bounds, 9, batch_bytes=1, executor=executor)  # one molecule per job
            np.testing.assert_allclose(full, _direct_msd(x), rtol=1e-10, atol=1e-10)
            assert blocks.shape == (3, 10, 3)
            for (a, b), block in zip(bounds, blocks, strict=True):
                np.testing.assert_allclose(block, _direct_msd(x[a:b])[:10], rtol=1e-10, atol=1e-10)
        threaded = msd_fft_blocks(x, bounds, 9, batch_bytes=1, executor=pool)
    serial = msd_fft_blocks(x, bounds, 9, batch_bytes=1)
    for a, b in zip(threaded, serial, strict=True):
        np.testing.assert_array_equal(a, b)  # the same sums in the same order


def test_msd_equals_mdanalysis_einstein_fft(tmp_path):
    rng = np.random.default_rng(1)
    # positions on XTC's 0.001 nm grid and a box of whole grid steps, so both files store exactly the same walk
    steps = rng.integers(-40, 41, (199, 20, 3))
    unwrapped = np.concatenate([rng.integers(0, 2500, (1, 20, 3)), steps]).cumsum(axis=0) / 1000.0
    box = np.array([2.5, 2.5, 2.5])
    top, traj = write_trajectory(tmp_path / "w", [("LI", ["Li1"], 20)], wrap(unwrapped, box), box, dt_ps=0.5)
    _, unwrapped_traj = write_trajectory(tmp_path / "u", [("LI", ["Li1"], 20)], unwrapped, box, dt_ps=0.5)
    result = analyze_transport([file_source(top, [traj], ["Li=resname LI"])], 300.0)
    reference = EinsteinMSD(frames.open_universe(top, [unwrapped_traj]), select="resname LI", msd_type="xyz", fft=True)
    reference.run()
    np.testing.assert_allclose(result.msd[col.MSD_NM2], reference.results.timeseries / 100.0, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(result.msd[col.LAG_PS], reference.results.delta_t_values, atol=1e-4)
    np.testing.assert_allclose(result.msd[col.MSD_NM2], _direct_msd(unwrapped).sum(axis=1), rtol=1e-5, atol=1e-6)
    assert "net charge of +20 e: ions are missing" in result.summary["warnings"][0]  # only the cations analysed
    as_is = analyze_transport([file_source(top, [unwrapped_traj], ["Li=resname LI"])], 300.0, unwrap=False)
    np.testing.assert_allclose(as_is.msd[col.MSD_NM2], result.msd[col.MSD_NM2], rtol=1e-5, atol=1e-6)
    assert as_is.summary["unwrapping"].startswith("none")


def _persistent_walk(rng, n_frames, n, d, dt, tau, box):
    """Random walks whose steps are correlated over ``tau`` (AR(1)): ballistic below tau, D = d above."""
    a = np.exp(-dt / tau)
    rms = np.sqrt(2 * d * dt * (1 - a) / (1 + a))  # per-axis step rms giving D = d at long times
    steps = np.empty((n_frames - 1, n, 3))
    s = rng.normal(0, rms, (n, 3))
    for t in range(n_frames - 1):
        steps[t] = s
        s = a * s + np.sqrt(1 - a * a) * rng.normal(0, rms, (n, 3))
    start = rng.uniform(0, box, (1, n, 3))
    return np.concatenate([start, start + steps.cumsum(axis=0)]), a, rms


def _analytic_loglog_slope(lags, a):
    """d ln MSD / d ln τ of the AR(1) walk: MSD(n) ∝ n + 2 Σ_{k<n} (n − k) aᵏ."""
    k = np.arange(1, lags.max() + 2)
    ak = a**k
    sum_a, sum_ka = np.concatenate([[0], ak.cumsum()]), np.concatenate([[0], (k * ak).cumsum()])

    def msd(n):
        return n + 2 * (n * sum_a[n - 1] - sum_ka[n - 1])

    return (np.log(msd(lags + 1)) - np.log(msd(lags - 1))) / (np.log(lags + 1) - np.log(lags - 1))


def test_random_walk_with_ballistic_start_gives_known_d(tmp_path):
    d_true, dt, tau, box = 2e-3, 0.2, 1.0, np.full(3, 3.0)  # nm²/ps, ps, ps, nm
    walk, a, _ = _persistent_walk(np.random.default_rng(2), 2500, 300, d_true, dt, tau, box)
    top, traj = write_trajectory(tmp_path, [("AAA", ["C1"], 300)], wrap(walk, box), box, dt)
    source = file_source(top, [traj], ["A=resname AAA"], charges=["A=0"])
    result = analyze_transport([source], 298.0, viscosity_mpa_s=0.89)
    row = result.diffusion.iloc[0]
    d_si = d_true * 1e-6
    assert abs(row[col.D_M2_S] - d_si) < 0.04 * d_si
    assert abs(row[col.D_M2_S] - d_si) < 3 * row[col.D_ERR_M2_S] and row[col.D_ERR_M2_S] < 0.05 * d_si
    assert abs(row[col.SLOPE_LOGLOG] - 1) < SLOPE_TOLERANCE
    # the window starts after the ballistic regime and ends within half a block
    start, end = round(row[col.FIT_START_PS] / dt), round(row[col.FIT_END_PS] / dt)
    slope = _analytic_loglog_slope(np.arange(2, end + 1), a)
    assert slope[0] > 1.5  # the walk does have a ballistic start ...
    assert _analytic_loglog_slope(np.array([start]), a)[0] < 1 + 1.5 * SLOPE_TOLERANCE  # ... which is excluded
    assert row[col.FIT_START_PS] > dt * (2 + np.argmax(slope < 1 + 2 * SLOPE_TOLERANCE))
    assert row[col.FIT_END_PS] <= result.summary["max_fit_lag_ps"] == pytest.approx(dt * (2500 // 5 // 2))
    assert result.summary["diffusion"]["A"]["diffusive_window_found"] is True
    correction = 2.837297 * KB * 298.0 / (6 * np.pi * 0.89e-3 * 3.0e-9)
    assert row[col.D_YH_M2_S] - row[col.D_M2_S] == pytest.approx(correction, rel=1e-4)
    assert result.conductivity.empty and result.summary["haven"] == {}


def test_uncorrelated_ions_conduct_as_nernst_einstein(tmp_path):
    box = np.full(3, 3.0)
    walk = random_walk(np.random.default_rng(3), 8000, 128, 0.04, 3.0)
    top, traj = _ions(tmp_path, walk, box)
    # the collective estimate is one random walk: its relative error per block does not shrink with more ions
    result = analyze_transport([file_source(top, [traj], ["Li=resname LI", "Cl=resname CL"])], 300.0, n_blocks=40)
    ne, ne_err = _sigma(result, "nernst_einstein")
    eh, eh_err = _sigma(result, "einstein_helfand")
    d_mean = result.diffusion[col.D_M2_S].mean()
    assert ne == pytest.approx(E**2 * 128 * d_mean / (27e-27 * KB * 300.0), rel=1e-9)
    assert eh_err < 0.2 * eh
    assert abs(eh - ne) < 3 * np.hypot(eh_err, ne_err)
    haven = result.summary["haven"]["formal"]
    assert abs(haven["haven_ratio"] - 1) < 3 * haven["haven_ratio_err"]


def test_same_tables_on_one_thread_and_on_several(tmp_path, monkeypatch):
    box = np.full(3, 2.5)
    walk = random_walk(np.random.default_rng(7), 700, 40, 0.03, 2.5)
    top, traj = _ions(tmp_path, walk, box)
    sources = [file_source(top, [traj], ["Li=resname LI", "Cl=resname CL"])] * 2  # replicas too
    results = []
    for n_threads in (1, 3):
        monkeypatch.setattr(threads, "usable_threads", lambda n_threads=n_threads: n_threads)
        # small chunks and batches: block MSDs start while frames are still read, many jobs per MSD
        monkeypatch.setattr(msd, "FFT_BATCH_BYTES", 48 * 2048 * 7)
        results.append(analyze_transport(sources, 300.0, chunk_frames=50))
    for table in ("msd", "diffusion", "conductivity"):
        pd.testing.assert_frame_equal(getattr(results[0], table), getattr(results[1], table), check_exact=True)


def test_bound_ion_pairs_do_not_conduct(tmp_path):
    box = np.full(3, 3.0)
    cation = random_walk(np.random.default_rng(4), 1000, 40, 0.04, 3.0)
    walk = np.concatenate([cation, cation + np.array([0.25, 0.0, 0.0])], axis=1)  # each Cl rides with one Li
    top, traj = _ions(tmp_path, walk, box)
    result = analyze_transport([file_source(top, [traj], ["Li=resname LI", "Cl=resname CL"])], 300.0)
    ne, _ = _sigma(result, "nernst_einstein")
    eh, _ = _sigma(result, "einstein_helfand")
    assert abs(eh) < 0.01 * ne
    assert result.summary["haven"]["formal"]["haven_ratio"] > 10


def test_cli_on_replica_runs_with_scaled_charges(tmp_path, capsys):
    box = np.full(3, 2.5)
    runs = []
    for seed in (5, 6):
        walk = random_walk(np.random.default_rng(seed), 400, 60, 0.03, 2.5)
        runs.append(str(write_run(tmp_path / f"r{seed}", {"Li": 30, "Cl": 30}, 0.8, wrap(walk, box), box, dt_ps=2.0)))
    out = tmp_path / "out"
    runs[1] += "/md"  # a run's md/ folder finds its build/ sibling
    argv = ["analyze", "transport", "--run", *runs, "--temperature-k", "298", "--viscosity-mpa-s", "0.9",
            "--out", str(out), "--per-axis", "--json"]
    assert run_cli(argv) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["runs"] == runs and summary["charge_scale"] == 0.8 and summary["warnings"] == []
    assert summary == json.loads((out / "summary.json").read_text())
    msd = pd.read_parquet(out / "msd.parquet")
    diffusion = pd.read_parquet(out / "diffusion.parquet")
    conductivity = pd.read_parquet(out / "conductivity.parquet")
    assert tuple(msd.columns) == col.msd_columns(per_axis=True)
    assert tuple(diffusion.columns) == col.TABLES["diffusion"]
    assert tuple(conductivity.columns) == col.TABLES["conductivity"]
    np.testing.assert_allclose(msd[list(col.MSD_AXES_NM2)].sum(axis=1), msd[col.MSD_NM2])
    assert list(diffusion[col.SPECIES]) == ["Li", "Cl"] and set(diffusion[col.N_MOLECULES]) == {60}
    assert (diffusion[col.VISCOSITY_MPA_S] == 0.9).all() and (diffusion[col.D_YH_M2_S] > diffusion[col.D_M2_S]).all()
    c = conductivity.set_index([col.METHOD, col.CHARGES])[col.SIGMA_S_M]
    for method in ("nernst_einstein", "einstein_helfand"):
        assert c[(method, "scaled")] == pytest.approx(0.64 * c[(method, "formal")], rel=1e-12)


def test_cli_on_foreign_trajectory_prints_tables(tmp_path, capsys):
    box = np.full(3, 2.5)
    top, traj = _ions(tmp_path, random_walk(np.random.default_rng(7), 200, 20, 0.03, 2.5), box)
    out = tmp_path / "out"
    argv = ["analyze", "transport", "--topology", str(top), "--trajectory", str(traj), "--species", "Na=resname LI",
            "--species", "X=resname CL", "--charge", "Na=1", "--charge", "X=-1", "--temperature-k", "300",
            "--out", str(out), "--step", "2"]
    assert run_cli(argv) == 0
    printed = capsys.readouterr().out
    assert "Haven ratio (formal charges)" in printed and "einstein_helfand" in printed
    summary = json.loads((out / "summary.json").read_text())
    assert summary["n_frames"] == 100 and summary["dt_ps"] == pytest.approx(2.0)
    assert summary["viscosity_mpa_s"] is None
    assert pd.read_parquet(out / "diffusion.parquet")[col.D_YH_M2_S].isna().all()


@pytest.fixture
def small(tmp_path):
    """A valid small foreign trajectory and the arguments that analyse it."""
    box = np.full(3, 2.5)
    top, traj = _ions(tmp_path, random_walk(np.random.default_rng(8), 100, 10, 0.03, 2.5), box)
    base = ["analyze", "transport", "--topology", str(top), "--trajectory", str(traj), "--species", "Li=resname LI",
            "--out", str(tmp_path / "out")]
    return tmp_path, base, top, traj


def _far_apart(tmp_path):
    rng = np.random.default_rng(9)
    box = np.full(3, 2.5)
    positions = rng.uniform(0, 2.5, (100, 10, 3))  # wrapped only and far apart: every frame anywhere
    top, traj = write_trajectory(tmp_path / "far", [("LI", ["Li1"], 10)], positions, box)
    return ["--topology", str(top), "--trajectory", str(traj)]


BAD = {
    "missing temperature": ([], "--temperature-k: missing"),
    "zero viscosity": (["--temperature-k", "300", "--viscosity-mpa-s", "0"], "--viscosity-mpa-s: 0.0 is not a positive"),
    "negative viscosity": (["--temperature-k", "300", "--viscosity-mpa-s", "-1"], "--viscosity-mpa-s: -1.0 is not"),
    "negative temperature": (["--temperature-k", "-5"], "--temperature-k: -5.0 is not a positive temperature"),
    "empty selection": (["--temperature-k", "300", "--species", "Cl=resname XX"], "selection 'resname XX' matches no"),
    "unknown charge": (["--temperature-k", "300", "--species", "Foo=resname CL"], "--charge Foo=Z"),
    "too few frames": (["--temperature-k", "300", "--blocks", "10"], "100 frames are too few for 10 blocks"),
    "bad step": (["--temperature-k", "300", "--step", "0"], "need start ≥ 0, step ≥ 1"),
    "run and topology": (["--temperature-k", "300", "--run", "x"], "either --run DIR or --topology"),
}


@pytest.mark.parametrize("case", BAD)
def test_bad_input_is_one_line_and_exit_2(case, small, capsys):
    tmp_path, base, _, _ = small
    extra, message = BAD[case]
    assert run_cli(base + extra) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("hese: error: ")
    assert re.search(re.escape(message), err), err
    assert not (tmp_path / "out").exists()


def test_a_truncated_trajectory_is_refused(small):
    _, _, top, traj = small
    cut = truncated_copy(traj, traj.with_name("cut.xtc"), -5)  # the last frame a few bytes short
    with pytest.raises(HeseInputError, match=re.escape(f"{cut}: truncated: its last frame (frame ") +
                       r"\d+\) is cut short by 5 bytes$"):
        analyze_transport([file_source(top, [cut], ["Li=resname LI"])], 300.0)


def test_frames_too_far_apart_and_uneven_frames(small, capsys):
    tmp_path, base, top, traj = small
    far = ["analyze", "transport", *_far_apart(tmp_path), "--species", "Li=resname LI", "--temperature-k", "300",
           "--out", str(tmp_path / "out")]
    assert run_cli(far) == 2
    assert "unwrapping needs at most 0.0625" in capsys.readouterr().err
    repeated = base[:5] + [str(traj), str(traj)] + base[6:] + ["--temperature-k", "300"]  # times restart at 0
    assert run_cli(repeated) == 2
    assert "frame times are not evenly spaced" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()

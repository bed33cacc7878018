"""Residence times and the coordination number per frame: the kernel against its definition and known
answers (two-state Markov shells), end to end on a written trajectory, and bad input."""

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest
from analysis_helpers import write_trajectory

from hese import plots, results
from hese.analysis import columns as col
from hese.analysis import residence as rt
from hese.analysis.blocks import block_of_frame
from hese.analysis.inputs import file_source
from hese.analysis.solvation import HeseInputError, analyze_solvation, conclude


def _markov(rng, n_pairs, n_frames, p_stay, p_enter):
    """0/1 shell memberships (n_pairs, n_frames) of a two-state chain started in its stationary state:
    in → in with probability p_stay, out → in with p_enter."""
    state = rng.random(n_pairs) < p_enter / (1 - p_stay + p_enter)
    h = np.empty((n_pairs, n_frames), dtype=bool)
    u = rng.random((n_frames, n_pairs))
    for t in range(n_frames):
        h[:, t] = state
        state = np.where(state, u[t] < p_stay, u[t] < p_enter)
    return h


def _kernel(h, dt, n_blocks, tolerance_ps=0.0):
    pair, frame = np.nonzero(h)
    return rt.residence(frame, pair, h.shape[0], h.shape[1], dt, n_blocks, tolerance_ps)


def _definition(h, n_blocks, gap=0):
    """C_c and C_i pooled over the blocks, origin by origin and lag by lag as docs/theory.md defines them."""
    n_pairs, n_frames = h.shape
    block = block_of_frame(n_frames, n_blocks)
    n_lags = np.bincount(block).min()
    filled = h.astype(bool).copy()
    for j in range(n_pairs):  # absences of at most `gap` frames inside a block count as presence
        ones = np.flatnonzero(h[j])
        for a, b in zip(ones[:-1], ones[1:], strict=True):
            if 1 < b - a <= gap + 1 and block[a] == block[b]:
                filled[j, a:b] = True
    stay = np.zeros(n_lags)
    origin = np.zeros(n_lags)
    product = np.zeros(n_lags)
    pairs_origins = np.zeros(n_lags)
    for b in range(n_blocks):
        seg, raw = filled[:, block == b], h[:, block == b].astype(float)
        for k in range(n_lags):
            for t0 in range(seg.shape[1] - k):
                origin[k] += seg[:, t0].sum()
                stay[k] += seg[:, t0:t0 + k + 1].all(axis=1).sum()
                product[k] += (raw[:, t0] * raw[:, t0 + k]).sum()
                pairs_origins[k] += n_pairs
    m = h.mean()
    with np.errstate(invalid="ignore"):  # no origin at the longest lags: undefined, as in the kernel
        return stay / origin, (product / pairs_origins - m ** 2) / (m - m ** 2)


def test_the_kernel_evaluates_the_definitions():
    rng = np.random.default_rng(7)
    h = _markov(rng, 5, 31, 0.8, 0.3)
    for gap, tolerance in ((0, 0.0), (2, 0.5)):  # Δt = 0.2 ps: t* = 0.5 ps bridges absences of 1 and 2 frames
        r = _kernel(h, 0.2, 3, tolerance)
        c_c, c_i = _definition(h, 3, gap)
        np.testing.assert_allclose(r.continuous, c_c, rtol=1e-12)
        np.testing.assert_allclose(r.intermittent, c_i, rtol=1e-12)
        np.testing.assert_allclose(r.lag_ps, 0.2 * np.arange(10))
        assert r.occupancy == pytest.approx(h.mean())
        end = np.argmax(~(c_c > 0)) if (~(c_c > 0)).any() else len(c_c)
        assert r.tau_continuous_ps == pytest.approx(0.2 * c_c[:end].sum())


def test_markov_shell_gives_the_mean_stay_and_sensible_errors():
    """p_stay = 0.9, p_enter = 0.02: mean stay 1/(1 − p_stay) = 10 frames, C_i = (p_stay − p_enter)^k so
    τ_i = 1/(1 − p_stay + p_enter) = 8.33 frames, occupancy p_enter/(1 − p_stay + p_enter) = 1/6."""
    p, q, dt = 0.9, 0.02, 0.5
    truth = {"continuous": dt / (1 - p), "intermittent": dt / (1 - p + q)}
    found = {"continuous": [], "intermittent": []}
    errors = {"continuous": [], "intermittent": []}
    for seed in range(20):
        r = _kernel(_markov(np.random.default_rng(seed), 40, 10_000, p, q), dt, 5)
        assert r.decayed is True and r.occupancy == pytest.approx(q / (1 - p + q), abs=0.01)
        for kind in found:
            found[kind].append(getattr(r, f"tau_{kind}_ps"))
            errors[kind].append(getattr(r, f"tau_{kind}_err_ps"))
    for kind, tau in found.items():
        tau, err = np.array(tau), np.array(errors[kind])
        assert abs(tau[0] - truth[kind]) < 3 * err[0], kind  # one trajectory: within its reported error
        assert abs(tau.mean() - truth[kind]) < 3 * tau.std(ddof=1) / np.sqrt(len(tau)), kind  # unbiased
        assert 0.6 < tau.std(ddof=1) / err.mean() < 1.6, kind  # the error is the scatter between trajectories


def test_a_partner_that_never_leaves_has_not_decayed():
    h = np.zeros((3, 40), dtype=bool)
    h[0] = True  # one of three pairs always in contact, the others never
    r = _kernel(h, 1.0, 4)
    assert r.decayed is False and r.tau_continuous_ps == 10.0 and r.tau_continuous_err_ps == 0.0  # lower bound
    np.testing.assert_allclose(r.intermittent, 1.0)
    never = _kernel(np.zeros((2, 40), dtype=bool), 1.0, 4)
    assert np.isnan(never.tau_continuous_ps) and np.isnan(never.tau_intermittent_ps) and never.decayed is None


def test_the_tolerance_merges_absences_of_at_most_t_star():
    h = np.zeros(20, dtype=bool)
    h[[0, 1, 2, 3, 4, 6, 7, 8, 9, 13, 14, 15]] = True  # absences of 1 frame (5) and 3 frames (10–12)
    frame = np.flatnonzero(h)
    pair = np.zeros_like(frame)
    assert rt.stays(frame, pair, 20, 2)[3].tolist() == [5, 4, 3]
    assert rt.stays(frame, pair, 20, 2, gap_frames=1)[3].tolist() == [10, 3]
    assert rt.stays(frame, pair, 20, 1, gap_frames=3)[3].tolist() == [16]
    assert rt.stays(frame, pair, 20, 2, gap_frames=3)[3].tolist() == [10, 3]  # never across a block boundary
    one, two = (_kernel(h[None], 0.5, 2, t) for t in (0.0, 0.5))  # t* = Δt bridges one frame
    assert two.tau_continuous_ps > one.tau_continuous_ps and two.tau_intermittent_ps == one.tau_intermittent_ps


def test_even_spacing_and_bad_input_name_the_parameter():
    assert rt.frame_interval_ps(np.arange(5) * 2.0) == 2.0
    assert rt.frame_interval_ps(np.float32(1e5 + np.arange(5) * 0.1)) == pytest.approx(0.1, rel=1e-2)  # XTC times
    assert rt.frame_interval_ps(np.array([0.0, 1.0, 3.0])) is None
    assert rt.frame_interval_ps(np.zeros(4)) is None
    with pytest.raises(HeseInputError, match=r"^n_blocks: 3; residence times need at least 2 blocks of at least 2"):
        rt.residence([0], [0], 1, 5, 1.0, 3)
    with pytest.raises(HeseInputError, match=r"^dt_ps: 0"):
        rt.residence([0], [0], 1, 10, 0.0, 2)
    with pytest.raises(HeseInputError, match=r"^tolerance_ps: -1"):
        rt.residence([0], [0], 1, 10, 1.0, 2, -1.0)
    with pytest.raises(HeseInputError, match=r"^pair: values from 0 to 3; need 0 … 1"):
        rt.residence([0, 1], [0, 3], 2, 10, 1.0, 2)


# ---------------------------------------------------------------------------------------------
# end to end

LI, SOL, ANI, FAR = ("LI", ["Li"]), ("SOL", ["O1", "C1"]), ("ANI", ["O1", "S1"]), ("FAR", ["O1"])
BOX, CENTRE = 3.0, np.array([1.5, 1.5, 1.5])
N_FRAMES = 16
VISITS = [1, 2, 3, 9, 10, 11]  # SOL 0 in the shell: a stay of 3 frames in each block of 8


def _positions():
    """One Li; SOL 0 at 0.2 nm in VISITS, 1.2 nm away otherwise; SOL 1 always 1.2 nm away; ANI 0 bound
    in every frame, ANI 1 never; FAR (no shell: nothing within the RDF range) 1.3 nm away."""
    frames = []
    for t in range(N_FRAMES):
        sol0 = CENTRE + ([0.2, 0, 0] if t in VISITS else [-1.2, 0, 0])
        atoms = [CENTRE, sol0, sol0 + [0, 0, 0.14], CENTRE + [0, 1.2, 0], CENTRE + [0, 1.2, 0.14],
                 CENTRE + [0, -0.2, 0], CENTRE + [0, -0.3, 0], CENTRE + [0, 0, 1.2], CENTRE + [0.1, 0, 1.2],
                 CENTRE + [0.9, 0.9, -0.9]]
        frames.append(np.array(atoms))
    return np.array(frames)


@pytest.fixture(scope="module")
def visits(tmp_path_factory):
    molecules = [(*LI, 1), (*SOL, 2), (*ANI, 2), (*FAR, 1)]
    top, traj = write_trajectory(tmp_path_factory.mktemp("visits"), molecules, _positions(), np.full(3, BOX),
                                 dt_ps=0.5)
    source = file_source(top, [traj], cations=["Li=resname LI"], anions=["ANI=resname ANI and name O1"],
                        solvents=["SOL=resname SOL and name O1", "FAR=resname FAR"], charges=["ANI=-1"])
    return source, analyze_solvation(source, {(None, "SOL"): 0.3, (None, "ANI"): 0.3}, n_blocks=2)


def test_a_known_stay_gives_its_residence_times(visits, tmp_path):
    _, result = visits
    table = result.residence.set_index(col.PARTNER)
    assert list(result.residence.columns) == list(col.TABLES["residence"])
    # one stay of L = 3 frames per block, far from the block's end: C_c = 1, 2/3, 1/3, 0 and
    # τ_c = Δt (L + 1)/2 = 1 ps in both blocks (error 0)
    assert table.loc["SOL", col.TAU_CONTINUOUS_PS] == pytest.approx(1.0)
    assert table.loc["SOL", col.TAU_CONTINUOUS_ERR_PS] == 0.0 and table.loc["SOL", col.DECAYED]
    h = np.zeros((2, N_FRAMES), dtype=bool)
    h[0, VISITS] = True
    c_i = _definition(h, 2)[1]
    end = np.argmax(~(c_i > 0))
    assert table.loc["SOL", col.TAU_INTERMITTENT_PS] == pytest.approx(0.5 * c_i[:end].sum())
    assert not table.loc["ANI", col.DECAYED] and table.loc["ANI", col.TAU_CONTINUOUS_PS] == pytest.approx(4.0)
    assert any(w.startswith("Li–ANI: the residence correlations have not decayed") for w in result.summary["warnings"])
    assert pd.isna(table.loc["FAR", col.DECAYED]) and np.isnan(table.loc["FAR", col.TAU_CONTINUOUS_PS])
    assert result.summary["residence"]["Li"]["SOL"]["tau_continuous_ps"] == pytest.approx(1.0)
    assert result.summary["residence"]["Li"]["FAR"] == dict.fromkeys(
        ["tau_continuous_ps", "tau_continuous_err_ps", "tau_intermittent_ps", "tau_intermittent_err_ps", "decayed"])
    result.write(tmp_path)
    written = pd.read_parquet(tmp_path / "residence.parquet").set_index(col.PARTNER)[col.DECAYED]
    assert written["SOL"] and not written["ANI"] and pd.isna(written["FAR"])
    json.loads((tmp_path / "summary.json").read_text())  # null, not NaN


def test_the_coordination_time_series_is_exact_per_frame(visits):
    _, result = visits
    series = result.coordination_timeseries
    assert list(series.columns) == list(col.TABLES["coordination_timeseries"])
    sol = series[series[col.PARTNER] == "SOL"]
    np.testing.assert_allclose(sol[col.TIME_PS], 0.5 * np.arange(N_FRAMES), atol=1e-6)
    assert sol[col.CN_MOLECULES].tolist() == [1.0 if t in VISITS else 0.0 for t in range(N_FRAMES)]
    assert (series.loc[series[col.PARTNER] == "ANI", col.CN_MOLECULES] == 1.0).all()
    assert series.loc[series[col.PARTNER] == "FAR", col.CN_MOLECULES].isna().all()
    mean = result.coordination.set_index(col.PARTNER).loc["SOL", col.CN_MOLECULES]
    assert sol[col.CN_MOLECULES].mean() == pytest.approx(mean)


def test_uneven_frames_and_short_blocks(visits):
    source, result = visits
    uneven = dataclasses.replace(result.data, times_ps=result.data.times_ps ** 1.5)
    again = conclude(uneven, result.system, result.settings)
    assert again.residence[col.TAU_CONTINUOUS_PS].isna().all() and again.residence[col.DECAYED].isna().all()
    assert any("residence times need evenly spaced frames" in w for w in again.summary["warnings"])
    with pytest.raises(HeseInputError, match=r"^n_blocks: 9; residence times need at least 2 blocks of at least 2 "
                                             r"analysed frames each, and there are 16 frames"):
        analyze_solvation(source, {(None, "SOL"): 0.3}, n_blocks=9)
    with pytest.raises(HeseInputError, match=r"^residence_tolerance_ps: -1"):
        analyze_solvation(source, {(None, "SOL"): 0.3}, n_blocks=2, residence_tolerance_ps=-1.0)
    bridged = analyze_solvation(source, {(None, "SOL"): 0.3, (None, "ANI"): 0.3}, n_blocks=2,
                                residence_tolerance_ps=0.5)
    assert bridged.summary["residence_tolerance_ps"] == 0.5


def test_gather_pivots_residence_times_and_the_figures_draw(visits, tmp_path):
    _, result = visits
    pd.DataFrame({"study": ["s"], "run": ["a_r0"], "system": ["a"], "temperature_k": [298.15], "replica": [0],
                  "seed": [0], "s_config_anion_r": [0.0]}).to_csv(tmp_path / "runs.csv", index=False)
    run = tmp_path / "a_r0"
    (run / "md").mkdir(parents=True)
    (run / "md/equilibration.json").write_text(json.dumps({"density_g_cm3": 1.0}))
    (run / "md/done.json").write_text(json.dumps({"production_ps": 8.0, "n_frames": 16, "n_atoms": 10,
                                                  "platform": "CPU", "stages": {"production": {"ns_per_day": 1}}}))
    (run / "analysis/solvation").mkdir(parents=True)
    result.write(run / "analysis/solvation")
    results.gather(tmp_path)
    res = results.load(tmp_path)
    summary = res.summary.set_index("run")
    assert summary.loc["a_r0", "tau_continuous_Li_SOL_ps"] == pytest.approx(1.0)
    assert summary.loc["a_r0", "tau_continuous_Li_SOL_err_ps"] == 0.0
    for name in ("coordination_timeseries", "residence"):
        png, svg = plots.plot(res, name)
        assert png.stat().st_size > 1000 and svg.read_text().lstrip().startswith("<?xml")

"""RDFs: numpy-identical binning, g(r) against MDAnalysis InterRDF, automatic cutoffs."""

import warnings

import MDAnalysis as mda
import numpy as np
import pytest
from analysis_helpers import write_trajectory
from MDAnalysis.analysis.rdf import InterRDF

from hese.analysis import columns as col
from hese.analysis import rdf
from hese.analysis.inputs import file_source
from hese.analysis.solvation import analyze_solvation


def test_histogram_counts_equal_numpy_histogram():
    rng = np.random.default_rng(3)
    edges = rdf.rdf_edges(0.75, 0.01)
    d = np.concatenate([rng.uniform(0, 0.8, 5000), edges[[0, 10, 37, -1]]])  # exact edges too
    kind = rng.integers(0, 3, len(d))
    counts = rdf.histogram_counts(kind, d, edges, 3)
    for k in range(3):
        np.testing.assert_array_equal(counts[k], np.histogram(d[kind == k], bins=75, range=(0, 0.75))[0])


def test_g_r_and_running_cn_equal_mdanalysis_interrdf(tmp_path):
    rng = np.random.default_rng(11)
    box = 3.0
    positions = rng.uniform(0, box, (12, 20 + 2 * 120, 3))
    molecules = [("LI", ["Li"], 20), ("SOL", ["O1", "C1"], 120)]
    top, traj = write_trajectory(tmp_path, molecules, positions, np.full(3, box), trajectory="trajectory.dcd")
    source = file_source(top, [traj], cations=["Li=resname LI"], solvents=["SOL=resname SOL and name O1"])
    result = analyze_solvation(source, {(None, "SOL"): 0.3}, n_blocks=3, rdf_range_nm=0.9, rdf_bin_nm=0.015)
    table = result.rdf
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        u = mda.Universe(str(top), str(traj))
        ref = InterRDF(u.select_atoms("resname LI"), u.select_atoms("resname SOL and name O1"), nbins=60,
                       range=(0.0, 9.0), norm="rdf").run()
    np.testing.assert_allclose(table[col.R_NM], ref.results.bins / 10, rtol=1e-12)
    np.testing.assert_allclose(table[col.G_R], ref.results.rdf, rtol=1e-9)
    np.testing.assert_allclose(table[col.CN_RUNNING], np.cumsum(ref.results.count) / (12 * 20), rtol=1e-12)
    # the running CN is the integral of g: 4π ρ Σ g r² Δr over the bins
    rho = 120 / box ** 3
    shells = 4 / 3 * np.pi * np.diff(np.linspace(0, 0.9, 61) ** 3)
    np.testing.assert_allclose(table[col.CN_RUNNING], np.cumsum(rho * table[col.G_R] * shells), rtol=1e-9)
    assert table[col.G_R].iloc[20:].mean() == pytest.approx(1.0, abs=0.1)  # an ideal gas


def _model_g(r):
    """A coordination shell: peak at 0.2 nm, empty to 0.28 nm, second shell at 0.45 nm, bulk 1."""
    first = 12 * np.exp(-((r - 0.2) / 0.015) ** 2)
    bulk = 1 / (1 + np.exp(-(r - 0.33) / 0.02)) + 0.5 * np.exp(-((r - 0.45) / 0.04) ** 2)
    return first + bulk


def _noisy(g, norm, rng):
    return rng.poisson(g * norm) / norm


def test_cutoff_is_the_first_minimum_on_noisy_data_and_any_normalisation():
    r = np.arange(0.0025, 0.8, 0.005)
    g = _model_g(r)
    true_min = r[(r > 0.2) & (r < 0.35)][np.argmin(g[(r > 0.2) & (r < 0.35)])]
    rng = np.random.default_rng(5)
    norm = 4000 * (r / 0.3) ** 2  # counts per unit g grow as r²
    running = np.cumsum(g * norm)
    for _ in range(10):
        noisy = _noisy(g, norm, rng)
        found = rdf.find_cutoff(r, noisy, norm)
        assert found.cutoff_nm == pytest.approx(true_min, abs=0.025)  # within the depleted region …
        k, k_min = np.searchsorted(r, found.cutoff_nm), np.searchsorted(r, true_min)
        assert running[k] == pytest.approx(running[k_min], rel=0.01)  # … where the count hardly changes
        assert found.peak_nm == pytest.approx(0.2, abs=0.01)
        scaled = rdf.find_cutoff(r, 0.1 * noisy, norm / 0.1)  # the same counts, g of all atoms of a partner
        assert scaled.cutoff_nm == found.cutoff_nm
    exact = rdf.find_cutoff(r, g)
    assert exact.cutoff_nm == pytest.approx(true_min, abs=0.02) and exact.reason is None


def test_no_cutoff_without_a_coordination_shell():
    r = np.arange(0.0025, 0.8, 0.005)
    rising = 1 / (1 + np.exp(-(r - 0.35) / 0.03))  # excluded volume, then bulk: no shell
    found = rdf.find_cutoff(r, rising)
    assert found.cutoff_nm is None and "does not coordinate" in found.reason
    separated = rising + 0.8 * np.exp(-((r - 0.5) / 0.04) ** 2) * (r > 0.3)  # solvent-separated first peak
    found = rdf.find_cutoff(r, separated)
    assert found.cutoff_nm is None and "beyond contact distance" in found.reason
    assert rdf.find_cutoff(r, np.zeros_like(r)).cutoff_nm is None
    rng = np.random.default_rng(2)
    norm = np.full_like(r, 3.0)  # very few counts: only noise
    assert rdf.find_cutoff(r, _noisy(rising, norm, rng), norm).cutoff_nm is None
    packing = 1 / (1 + np.exp(-(r - 0.25) / 0.015)) * (1 + 0.3 * np.exp(-((r - 0.3) / 0.03) ** 2)
                                                         - 0.3 * np.exp(-((r - 0.38) / 0.03) ** 2))
    found = rdf.find_cutoff(r, packing)  # a packing bump at contact distance, without depletion after it
    assert found.cutoff_nm is None and "shallow" in found.reason
    truncated = _model_g(r)[r < 0.25]  # the minimum lies beyond the range
    found = rdf.find_cutoff(r[r < 0.25], truncated)
    assert found.cutoff_nm is None and "no clear minimum" in found.reason


def test_a_cutoff_in_an_empty_gap_is_at_the_gap_start():
    r = np.arange(0.0025, 0.6, 0.005)
    shell = np.exp(-((r - 0.2) / 0.015) ** 2) * 20
    bulk = 1 / (1 + np.exp(-(r - 0.47) / 0.01))
    g = np.where((r > 0.27) & (r < 0.44), 0.0, shell + bulk)  # no pair between 0.27 and 0.44 nm
    found = rdf.find_cutoff(r, g)
    assert found.cutoff_nm == pytest.approx(r[r > 0.27][0])

"""Ion clusters and Zn–Cl chains from contact lists: known graphs, frames batched or not."""

import numpy as np
import pytest

from hese.analysis import clusters
from hese.analysis import columns as col


def _rows(table):
    return {(r[col.N_CATION], r[col.N_ANION], r[col.NET_CHARGE]): r[col.COUNT] for _, r in table.iterrows()}


def test_two_cations_bridged_by_one_anion_and_free_ions():
    # frame 0: cations 0 and 1 share anion 0, cation 2 and anion 1 are free; frame 1: nothing in contact
    frame, cation, anion = np.array([0, 0]), np.array([0, 1]), np.array([0, 0])
    result = clusters.ion_clusters(frame, cation, anion, 2, np.array([1, 1, 2]), np.array([-1, -1]),
                                   np.array([0, 0, 1]), np.array([0, 0]), ["Li", "Zn"], ["X"])
    assert _rows(result.table) == {(2, 1, 1): 1, (1, 0, 1): 2, (1, 0, 2): 2, (0, 1, -1): 3}
    table = result.table
    assert list(table.columns) == list(col.TABLES["clusters"])
    assert table[col.FRACTION].sum() == pytest.approx(1.0)
    assert (table[col.N_IONS] == table[col.N_CATION] + table[col.N_ANION]).all()
    assert result.summary["free_fraction"] == {"Li": 0.5, "Zn": 1.0, "X": 0.75}
    assert result.summary["largest_ions"] == 3


def test_components_counted_per_frame():
    frame, cation, anion = np.array([0, 0]), np.array([0, 1]), np.array([0, 0])
    result = clusters.ion_clusters(frame, cation, anion, 2, np.array([1, 1, 2]), np.array([-1, -1]),
                                   np.array([0, 0, 1]), np.array([0, 0]))
    # frame 0: {c0, c1, a0}, {c2}, {a1}; frame 1: five single ions
    assert result.summary["n_clusters"] == 3 + 5
    assert result.summary["mean_size_ions"] == pytest.approx(10 / 8)
    assert result.summary["ion_weighted_mean_size_ions"] == pytest.approx((9 + 1 + 1 + 5) / 10)


def test_zn_cl_zn_chain_lengths():
    # Zn0–Cl0–Zn1–Cl1–Zn2 (+ terminal Cl2 on Zn2), Zn3–Cl3 alone, Cl4 free; the same in 3 frames
    contacts = [(0, 0), (1, 0), (1, 1), (2, 1), (2, 2), (3, 3)]
    frame = np.repeat(np.arange(3), len(contacts))
    zn = np.tile([z for z, _ in contacts], 3)
    cl = np.tile([c for _, c in contacts], 3)
    result = clusters.zn_chains(frame, zn, cl, 3, 4, 5)
    table = result.table.set_index(col.N_ZN)
    assert list(result.table.columns) == list(col.TABLES["zn_chains"])
    assert table[col.COUNT].to_dict() == {1: 3, 3: 3}
    assert table[col.FRACTION].to_dict() == {1: 0.5, 3: 0.5}
    assert table[col.ZN_FRACTION].to_dict() == {1: 0.25, 3: 0.75}
    assert result.summary == {"n_chains": 6, "mean_length_zn": 2.0, "zn_weighted_mean_length_zn": 2.5,
                              "longest_zn": 3, "bridged_zn_fraction": 0.75}


def test_frames_in_small_batches_give_the_same_clusters(monkeypatch):
    rng = np.random.default_rng(4)
    n_frames, n_cat, n_an = 40, 12, 15
    frame = np.sort(rng.integers(0, n_frames, 200))
    cation, anion = rng.integers(0, n_cat, 200), rng.integers(0, n_an, 200)
    args = (frame, cation, anion, n_frames, np.ones(n_cat, int), -np.ones(n_an, int),
            np.zeros(n_cat, int), np.zeros(n_an, int))
    whole = clusters.ion_clusters(*args)
    monkeypatch.setattr(clusters, "MAX_NODES", 60)  # two frames per batch
    batched = clusters.ion_clusters(*args)
    assert whole.table.equals(batched.table) and whole.summary == batched.summary
    assert whole.table[col.COUNT].mul(whole.table[col.N_IONS]).sum() == n_frames * (n_cat + n_an)

"""Periodic neighbour search (KD-tree and cell list) against brute-force minimum-image distances."""

import numpy as np
import pytest

from hese.analysis import neighbors as nb

BOX = np.array([2.0, 2.5, 3.0])


def _distances(a, b, box):
    d = a[:, None, :] - b[None, :, :]
    d -= box * np.round(d / box)
    return np.linalg.norm(d, axis=-1)


@pytest.fixture
def points():
    rng = np.random.default_rng(7)
    return rng.uniform(-3, 6, (300, 3))  # many outside the box: wrapped by the functions


def test_nearest_matches_brute_force_with_self_excluded(points):
    tree = nb.periodic_tree(points, BOX)
    index = nb.nearest(tree, points, 4, np.arange(len(points)))
    dist = _distances(points, points, BOX)
    np.fill_diagonal(dist, np.inf)
    expected = np.sort(dist, axis=1)[:, :4]
    got = np.take_along_axis(dist, index, axis=1)
    np.testing.assert_allclose(got, expected, atol=1e-12)
    assert not np.any(index == np.arange(len(points))[:, None])


def test_nearest_of_outside_queries(points):
    tree = nb.periodic_tree(points[:200], BOX)
    index = nb.nearest(tree, points[200:], 3)
    dist = _distances(points[200:], points[:200], BOX)
    np.testing.assert_allclose(np.take_along_axis(dist, index, axis=1), np.sort(dist, axis=1)[:, :3], atol=1e-12)


def test_pairs_within_and_between_match_brute_force(points):
    cutoff = 0.4
    tree = nb.periodic_tree(points, BOX)
    pairs = nb.pairs_within(tree, cutoff)
    dist = _distances(points, points, BOX)
    i, j = np.nonzero(np.triu(dist < cutoff, 1))
    assert sorted(map(tuple, pairs.tolist())) == sorted(zip(i.tolist(), j.tolist(), strict=True))
    a, b = points[:100], points[100:]
    ia, jb, d = nb.pairs_between(nb.periodic_tree(a, BOX), nb.periodic_tree(b, BOX), cutoff)
    ref = _distances(a, b, BOX)
    assert set(zip(ia.tolist(), jb.tolist(), strict=True)) == set(zip(*map(np.ndarray.tolist, np.nonzero(ref < cutoff)),
                                                                       strict=True))
    np.testing.assert_allclose(d, ref[ia, jb], atol=1e-12)


def test_drop_self_with_coincident_points():
    index = np.array([[5, 2, 3], [2, 7, 8], [9, 1, 4]])  # row 0: a twin listed first; row 2: self absent
    np.testing.assert_array_equal(nb.drop_self(index, np.array([2, 2, 3])), [[5, 3], [7, 8], [9, 1]])


def test_wrap_keeps_points_inside_the_box():
    x = np.array([[-1e-17, 2.0, 3.0 + 1e-9], [-2.0, -2.5, 6.0]])
    w = nb.wrap(x, BOX)
    assert np.all((w >= 0) & (w < BOX))
    np.testing.assert_allclose(nb.minimum_image(w - x, BOX), 0, atol=1e-8)
    with pytest.raises(ValueError, match="4 neighbours"):
        nb.nearest(nb.periodic_tree(x, BOX), x, 4)


def _brute_force_pairs(centres, points, box, r_max):
    dist = _distances(centres, points, box)
    c, p = np.nonzero(dist <= r_max)
    return set(zip(c.tolist(), p.tolist(), strict=True)), dist


@pytest.mark.parametrize("seed", range(6))
def test_centre_pairs_equal_brute_force_in_changing_and_small_boxes(seed):
    rng = np.random.default_rng(seed)
    n_frames, n_c, n_p = rng.integers(1, 5), rng.integers(1, 25), rng.integers(1, 300)
    edges = rng.uniform(1.0, 4.0, 3)
    boxes = edges * rng.uniform(0.95, 1.05, (n_frames, 1))  # NPT-like
    r_max = rng.uniform(0.05, 0.49) * boxes.min()
    centres = rng.uniform(-3, 6, (n_frames, n_c, 3))  # not wrapped
    points = rng.uniform(-3, 6, (n_frames, n_p, 3))
    frame, c, p, d = nb.centre_pairs(centres, points, boxes, r_max, budget=int(rng.integers(10, 3000)))
    for f in range(n_frames):
        expected, dist = _brute_force_pairs(centres[f], points[f], boxes[f], r_max)
        mine = frame == f
        assert set(zip(c[mine].tolist(), p[mine].tolist(), strict=True)) == expected
        np.testing.assert_allclose(d[mine], dist[c[mine], p[mine]], rtol=1e-12)

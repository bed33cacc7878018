"""Cation–partner radial distribution functions, running coordination numbers and automatic cutoffs.

Definitions (DESIGN.md, Observables):

- Radial distribution function of the coordinating atoms b of a partner around the cations a,
  from the pair counts :math:`n_k` in the distance bin :math:`[r_k, r_{k+1})` summed over the
  :math:`F` analysed frames, with :math:`N_a` cations, :math:`N_b` partner atoms and the mean
  box volume :math:`\\bar V` (the normalisation of MDAnalysis' ``InterRDF``):

  .. math:: g_{ab}(r_k) = \\frac{n_k}{F N_a (N_b / \\bar V)\\, \\tfrac43 \\pi (r_{k+1}^3 - r_k^3)}

- Running coordination number, the mean number of partner atoms within the upper edge of bin k:

  .. math:: n_{ab}(r_{k+1}) = \\frac{1}{F N_a} \\sum_{j \\le k} n_j
            = 4 \\pi \\frac{N_b}{\\bar V} \\int_0^{r_{k+1}} g_{ab}(r) r^2 dr

- Cutoff :math:`r_c`: the first minimum after the first peak of g(r) (:func:`find_cutoff`).

Pair distances come from :func:`centre_pairs`, a cell-list search vectorised over many frames at
once (no Python loop over frames, atoms or cells).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter1d
from scipy.signal import find_peaks

RDF_RANGE_NM = 0.6
RDF_BIN_NM = 0.005
SMOOTH_NM = 0.01  # Gaussian smoothing (standard deviation) before looking for extrema
CONTACT_PEAK_MAX_NM = 0.4  # a first peak further out is solvent-separated, not a coordination shell
REL_PROMINENCE = 0.1  # peak and minimum stand out by at least this fraction of the peak height …
NOISE_SIGMAS = 4.0  # … and by at least this many standard errors of the smoothed g(r)
TROUGH_RATIO = 0.5  # the minimum is at most this fraction of the peak height
MAX_CELLS_PER_AXIS = 40  # keeps a frame's cell index below 2**16 (radix sort)
CANDIDATE_BUDGET = 2_000_000  # candidate pairs examined at once (memory ~ 100 bytes each)


@dataclass(frozen=True)
class CutoffSearch:
    """Result of :func:`find_cutoff`.

    Attributes
    ----------
    cutoff_nm
        The first minimum after the first peak (a bin centre), or None if there is none.
    peak_nm, g_peak
        Position and height (smoothed) of the first peak, or None.
    g_min
        Smoothed g at the cutoff, or None.
    reason
        Why there is no cutoff (None if there is one).
    """

    cutoff_nm: float | None
    peak_nm: float | None = None
    g_peak: float | None = None
    g_min: float | None = None
    reason: str | None = None


def find_cutoff(r_nm: np.ndarray, g: np.ndarray, norm: np.ndarray | None = None,
                smooth_nm: float = SMOOTH_NM) -> CutoffSearch:
    """The first minimum after the first peak of a (noisy) radial distribution function.

    1. g is smoothed with a Gaussian of standard deviation ``smooth_nm``: :math:`s = G * g`.
    2. The first peak is the first local maximum of s whose topographic prominence (height above
       the higher of its two bases, :func:`scipy.signal.find_peaks`) is at least
       :math:`\\max(\\text{REL\\_PROMINENCE}\\, s_\\mathrm{peak}, \\text{NOISE\\_SIGMAS}\\, \\sigma_s)`.
       It must lie within :data:`CONTACT_PEAK_MAX_NM`: a first peak further out belongs to
       solvent-separated partners, which do not coordinate.
    3. The cutoff is the first local minimum of s after that peak whose prominence (the smaller of
       the drop from the peak and the rise after it) is at least
       :math:`\\max(\\text{REL\\_PROMINENCE}\\, \\bar s_\\mathrm{outer}, \\text{NOISE\\_SIGMAS}\\, \\sigma_s)`,
       with :math:`\\bar s_\\mathrm{outer}` the mean of s over the outer third of the range (the
       bulk level, 1 for a converged g), at least three smoothing widths before the end of the
       range (where the smoothing is one-sided). It must be a real depletion between shell and
       bulk: :math:`s_\\mathrm{min} \\le` :data:`TROUGH_RATIO` :math:`s_\\mathrm{peak}`.

    The criteria are relative to the peak height and the bulk level, so they hold for g(r) of any
    normalisation (also of all atoms of a partner, whose first peak can stay below 1). The noise
    :math:`\\sigma_s` is estimated from Poisson statistics of the pair counts
    :math:`n_k = g_k\\, \\mathrm{norm}_k`: :math:`\\mathrm{var}\\, g_k = g_k / \\mathrm{norm}_k`, and
    smoothing divides a variance by about :math:`2 \\sqrt\\pi\\, \\sigma_{\\mathrm{bins}}`. Frames
    are correlated, hence the generous :data:`NOISE_SIGMAS`.

    Parameters
    ----------
    r_nm
        Bin centres (K,), equally spaced, nm.
    g
        g(r) at the bin centres (K,).
    norm
        Expected pair count per unit of g in each bin (K,), i.e. counts = g × norm; without it
        only the relative thresholds apply.
    smooth_nm
        Standard deviation of the smoothing Gaussian, nm.
    """
    r_nm, g = np.asarray(r_nm, dtype=float), np.asarray(g, dtype=float)
    width = r_nm[1] - r_nm[0]
    sigma_bins = smooth_nm / width
    s = gaussian_filter1d(g, sigma_bins, mode="nearest")
    if norm is None:
        noise = np.zeros_like(s)
    else:
        norm = np.asarray(norm, dtype=float)
        variance = np.divide(g, norm, out=np.zeros_like(g), where=norm > 0)
        noise = np.sqrt(gaussian_filter1d(variance, sigma_bins, mode="nearest") / (2 * np.sqrt(np.pi) * sigma_bins))
    peaks, peak_props = find_peaks(s, prominence=0.0)
    good = peak_props["prominences"] >= np.maximum(REL_PROMINENCE * s[peaks], NOISE_SIGMAS * noise[peaks])
    good &= s[peaks] > 0
    if not good.any():
        return CutoffSearch(None, reason=(
            f"no peak standing out of the noise within {r_nm[-1] + width / 2:.3g} nm "
            f"(smoothed g(r) reaches {s.max(initial=0.0):.3g}): the partner does not coordinate"))
    peak = int(peaks[np.argmax(good)])
    if r_nm[peak] > CONTACT_PEAK_MAX_NM:
        return CutoffSearch(None, float(r_nm[peak]), float(s[peak]), reason=(
            f"the first peak of g(r) lies at {r_nm[peak]:.3f} nm, beyond contact distance "
            f"({CONTACT_PEAK_MAX_NM} nm): solvent-separated, the partner does not coordinate"))
    troughs, trough_props = find_peaks(-s, prominence=0.0)
    last = len(s) - 1 - int(np.ceil(3 * sigma_bins))
    outer = s[len(s) * 2 // 3:]
    bulk = float(outer.mean()) if len(outer) and outer.mean() > 0 else float(s[peak])
    threshold = np.maximum(REL_PROMINENCE * bulk, NOISE_SIGMAS * noise[troughs])
    ok = (troughs > peak) & (troughs <= last) & (trough_props["prominences"] >= threshold)
    if not ok.any():
        return CutoffSearch(None, float(r_nm[peak]), float(s[peak]), reason=(
            f"g(r) has a peak at {r_nm[peak]:.3f} nm but no clear minimum after it within "
            f"{r_nm[max(last, 0)]:.3f} nm: no distinct shell, or the RDF range is too short"))
    trough = int(troughs[np.argmax(ok)])
    if s[trough] > TROUGH_RATIO * s[peak]:
        return CutoffSearch(None, float(r_nm[peak]), float(s[peak]), float(s[trough]), reason=(
            f"the minimum of g(r) after its peak at {r_nm[peak]:.3f} nm is shallow ({s[trough]:.3g} against "
            f"{s[peak]:.3g}; a shell needs at most {TROUGH_RATIO:g} of the peak): no distinct shell"))
    return CutoffSearch(float(r_nm[trough]), float(r_nm[peak]), float(s[peak]), float(s[trough]))


# ---------------------------------------------------------------------------------------------
# kernels


def rdf_edges(range_nm: float, bin_nm: float) -> np.ndarray:
    """Bin edges from 0 to ``range_nm`` in ``round(range_nm / bin_nm)`` equal bins (as ``np.histogram``)."""
    n_bins = max(1, int(round(range_nm / bin_nm)))
    return np.linspace(0.0, range_nm, n_bins + 1)


def histogram_counts(kind: np.ndarray, distances: np.ndarray, edges: np.ndarray, n_kinds: int) -> np.ndarray:
    """Pair counts (n_kinds, n_bins) of ``distances`` (P,) per ``kind`` (P,) on equal bins ``edges``.

    Bins are assigned exactly as :func:`numpy.histogram` does for equal bins (the last bin
    includes its upper edge), so the counts equal those of MDAnalysis' ``InterRDF``.
    """
    n_bins = len(edges) - 1
    inside = (distances >= edges[0]) & (distances <= edges[-1])
    d, kind = distances[inside], kind[inside]
    index = ((d - edges[0]) * (n_bins / (edges[-1] - edges[0]))).astype(np.intp)
    index[index == n_bins] -= 1
    index[d < edges[index]] -= 1
    index[(d >= edges[index + 1]) & (index != n_bins - 1)] += 1
    return np.bincount(kind * n_bins + index, minlength=n_kinds * n_bins).reshape(n_kinds, n_bins)


def rdf_from_counts(counts: np.ndarray, edges: np.ndarray, n_centres: int, n_points: int, n_frames: int,
                    mean_volume_nm3: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """g(r), running coordination number and ``norm`` (pair count per unit g) of one pair's counts (K,).

    .. math:: g_k = \\frac{n_k}{\\mathrm{norm}_k}, \\quad
              \\mathrm{norm}_k = F N_a \\frac{N_b}{\\bar V} \\frac43 \\pi (r_{k+1}^3 - r_k^3), \\quad
              n(r_{k+1}) = \\frac{\\sum_{j \\le k} n_j}{F N_a}
    """
    shell = 4.0 / 3.0 * np.pi * np.diff(edges ** 3)
    norm = n_frames * n_centres * (n_points / mean_volume_nm3) * shell
    g = counts / norm
    running = np.cumsum(counts) / (n_frames * n_centres)
    return g, running, norm


def centre_pairs(
    centres: np.ndarray, points: np.ndarray, boxes: np.ndarray, r_max: float,
    budget: int = CANDIDATE_BUDGET,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Every (centre, point) pair at most ``r_max`` apart in each frame of an orthorhombic periodic box.

    A cell list over all frames at once: points are binned into cells of edge at least
    :math:`r_{max}/k` (k = 2, or 1 in small boxes), each centre looks at the cells that can hold
    points within :math:`r_{max}` of its own cell, with the periodic image of the centre that
    faces each such cell, so distances need no minimum-image rounding:

    .. math:: d = \\lVert \\mathbf w_p - (\\mathbf w_c - \\mathbf s \\odot \\mathbf L) \\rVert

    with :math:`\\mathbf w` the positions wrapped into the box and :math:`\\mathbf s \\in
    \\{-1, 0, 1\\}^3` the image of the neighbouring cell. Requires :math:`r_{max} < L/2`.

    Parameters
    ----------
    centres
        Positions (F, C, 3), nm.
    points
        Positions (F, P, 3), nm.
    boxes
        Box edges (F, 3), nm.
    r_max
        Largest distance, nm.
    budget
        Candidate pairs examined at once; frames are processed in groups that fit.

    Returns
    -------
    frame, centre, point, distance
        Arrays of equal length: the frame (0 … F−1), centre and point indices and the distance (nm).
    """
    n_frames, n_centres, n_points = centres.shape[0], centres.shape[1], points.shape[1]
    empty = (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0))
    if n_frames == 0 or n_centres == 0 or n_points == 0:
        return empty
    cells, offsets = _cell_grid(boxes.min(axis=0), r_max, n_centres, n_points)
    expected = n_centres * len(offsets) * n_points / np.prod(cells)  # candidates per frame, uniform density
    group = int(max(1, min(n_frames, budget // max(expected, 1.0))))
    found = []
    for start in range(0, n_frames, group):
        part = slice(start, start + group)
        f, c, p, d = _cell_pairs(centres[part], points[part], boxes[part], r_max, cells, offsets)
        found.append((f + start, c, p, d))
    if len(found) == 1:
        return found[0]
    return tuple(np.concatenate(a) for a in zip(*found, strict=True))  # type: ignore[return-value]


def _cell_grid(box: np.ndarray, r_max: float, n_centres: int, n_points: int) -> tuple[np.ndarray, np.ndarray]:
    """Cells per axis (3,) and neighbour offsets (O, 3) of the cheapest grid with cells ≥ r_max / k, k = 1, 2, 3.

    Cost model in array passes per frame: 12 per (centre, neighbour cell) entry, 3 per cell and
    20 per candidate pair (a centre and a point in one of its neighbour cells).
    """
    best = None
    for k in (1, 2, 3):
        cells = np.clip(np.floor(box / (r_max / k)), 1, MAX_CELLS_PER_AXIS).astype(np.int64)
        if k > 1 and (cells < 2 * k + 1).any():
            break
        offsets = _neighbour_offsets(k)
        n_cells = int(np.prod(cells))
        cost = n_centres * len(offsets) * (12 + 20 * n_points / n_cells) + 3 * n_cells
        if best is None or cost < best[0]:
            best = (cost, cells, offsets)
    return best[1], best[2]


def _neighbour_offsets(k: int) -> np.ndarray:
    """Cell offsets (O, 3) within reach of a centre when cells are at least r/k wide."""
    r = np.arange(-k, k + 1)
    o = np.stack(np.meshgrid(r, r, r, indexing="ij"), -1).reshape(-1, 3)
    gap = np.maximum(np.abs(o) - 1, 0)  # whole cells between the centre's cell and the other
    return o[(gap ** 2).sum(axis=1) <= k * k]


def _wrapped_cells(positions: np.ndarray, boxes: np.ndarray, cells: np.ndarray) -> tuple[np.ndarray, list]:
    """Cell index (F, N) within each frame (z fastest), and the wrapped coordinates per axis [(F, N)] × 3."""
    inverse = 1.0 / boxes
    index = np.zeros(positions.shape[:2], dtype=np.int64)
    wrapped = []
    for axis in range(3):
        u = positions[:, :, axis] * inverse[:, axis, None]
        u -= np.floor(u)
        column = (u * cells[axis]).astype(np.int64)
        np.minimum(column, cells[axis] - 1, out=column)
        index *= cells[axis]
        index += column
        u *= boxes[:, axis, None]
        wrapped.append(u)
    return index, wrapped
def _cell_pairs(centres, points, boxes, r_max, cells, offsets):
    n_frames, n_centres, n_points = centres.shape[0], centres.shape[1], points.shape[1]
    n_cells = int(np.prod(cells))
    frame_base = (np.arange(n_frames) * n_cells)[:, None]
    point_cell, point_xyz = _wrapped_cells(points, boxes, cells)
    point_cell += frame_base
    centre_cell, centre_xyz = _wrapped_cells(centres, boxes, cells)
    # one entry per (frame, centre, offset): the neighbouring cell and the centre's image facing it
    strides = np.array([cells[1] * cells[2], cells[2], 1])
    unravelled = np.stack(np.unravel_index(centre_cell, tuple(cells)), axis=-1)
    neighbour = unravelled[:, :, None, :] + offsets[None, None]
    shift = np.floor_divide(neighbour, cells)
    neighbour -= shift * cells
    target = (neighbour @ strides).reshape(n_frames, -1)
    order = np.argsort(target.astype(np.uint16), axis=1, kind="stable")
    per_frame = n_centres * len(offsets)
    flat_order = (order + (np.arange(n_frames) * per_frame)[:, None]).ravel()
    target = (np.take_along_axis(target, order, axis=1) + frame_base).ravel()
    entry_centre = (flat_order // len(offsets)) % n_centres
    entry_xyz = []
    for axis in range(3):
        image = centre_xyz[axis][:, :, None] - shift[..., axis] * boxes[:, axis, None, None]
        entry_xyz.append(image.ravel()[flat_order])
    cover = np.bincount(target, minlength=n_frames * n_cells)
    cover_start = np.cumsum(cover) - cover
    # candidates: every point against every entry of its cell (per axis: 1-d takes are the fastest gathers)
    point_cell = point_cell.ravel()
    count = cover[point_cell]
    has = np.flatnonzero(count)
    count = count[has]
    total = int(count.sum())
    first = np.cumsum(count) - count
    entry = np.repeat(cover_start[point_cell[has]] - first, count)
    entry += np.arange(total)
    point = np.repeat(has, count)
    d2 = np.zeros(total)
    for axis in range(3):
        diff = np.take(point_xyz[axis].ravel(), point)
        diff -= np.take(entry_xyz[axis], entry)
        diff *= diff
        d2 += diff
    keep = np.flatnonzero(d2 <= r_max * r_max)
    point = point[keep]
    return point // n_points, entry_centre[entry[keep]], point % n_points, np.sqrt(d2[keep])

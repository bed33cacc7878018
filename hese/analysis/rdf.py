"""Cation–partner radial distribution functions, running coordination numbers and automatic cutoffs.

Definitions (docs/theory.md):

- Radial distribution function of the coordinating atoms b of a partner around the cations a,
  from the pair counts :math:`n_k` in the distance bin :math:`[r_k, r_{k+1})` summed over the
  :math:`F` analysed frames, with :math:`N_a` cations, :math:`N_b` partner atoms and the mean
  box volume :math:`\\bar V` (the normalisation of MDAnalysis' ``InterRDF``):

  .. math:: g_{ab}(r_k) = \\frac{n_k}{F N_a (N_b / \\bar V)\\, \\tfrac43 \\pi (r_{k+1}^3 - r_k^3)}

- Running coordination number, the mean number of partner atoms within the upper edge of bin k:

  .. math:: n_{ab}(r_{k+1}) = \\frac{1}{F N_a} \\sum_{j \\le k} n_j
            = 4 \\pi \\frac{N_b}{\\bar V} \\int_0^{r_{k+1}} g_{ab}(r) r^2 dr

- Cutoff :math:`r_c`: the first minimum after the first peak of g(r) (:func:`find_cutoff`).

Pair distances come from :func:`hese.analysis.neighbors.centre_pairs`, a cell-list search
vectorised over many frames at once (no Python loop over frames, atoms or cells).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

RDF_RANGE_NM = 0.6
RDF_BIN_NM = 0.005
SMOOTH_NM = 0.01  # Gaussian smoothing (standard deviation) before looking for extrema
CONTACT_PEAK_MAX_NM = 0.4  # a first peak further out is solvent-separated, not a coordination shell
REL_PROMINENCE = 0.1  # peak and minimum stand out by at least this fraction of the peak height …
NOISE_SIGMAS = 4.0  # … and by at least this many standard errors of the smoothed g(r)
TROUGH_RATIO = 0.5  # the minimum is at most this fraction of the peak height


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
       the higher of its two bases, :func:`maxima`) is at least
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
    4. A minimum inside a gap where no pair was counted (g = 0 over several bins, as between a
       tight first shell and the next) moves to the first empty bin of the gap: every point of
       the gap gives the same shells, and the start of the gap is where a reader looks for it.

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
    s = smooth(g, sigma_bins)
    if norm is None:
        noise = np.zeros_like(s)
    else:
        norm = np.asarray(norm, dtype=float)
        variance = np.divide(g, norm, out=np.zeros_like(g), where=norm > 0)
        noise = np.sqrt(smooth(variance, sigma_bins) / (2 * np.sqrt(np.pi) * sigma_bins))
    peaks, peak_prominence = maxima(s)
    good = peak_prominence >= np.maximum(REL_PROMINENCE * s[peaks], NOISE_SIGMAS * noise[peaks])
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
    troughs, trough_prominence = maxima(-s)
    last = len(s) - 1 - int(np.ceil(3 * sigma_bins))
    outer = s[len(s) * 2 // 3:]
    bulk = float(outer.mean()) if len(outer) and outer.mean() > 0 else float(s[peak])
    threshold = np.maximum(REL_PROMINENCE * bulk, NOISE_SIGMAS * noise[troughs])
    ok = (troughs > peak) & (troughs <= last) & (trough_prominence >= threshold)
    if not ok.any():
        return CutoffSearch(None, float(r_nm[peak]), float(s[peak]), reason=(
            f"g(r) has a peak at {r_nm[peak]:.3f} nm but no clear minimum after it within "
            f"{r_nm[max(last, 0)]:.3f} nm: no distinct shell, or the RDF range is too short"))
    trough = int(troughs[np.argmax(ok)])
    if s[trough] > TROUGH_RATIO * s[peak]:
        return CutoffSearch(None, float(r_nm[peak]), float(s[peak]), float(s[trough]), reason=(
            f"the minimum of g(r) after its peak at {r_nm[peak]:.3f} nm is shallow ({s[trough]:.3g} against "
            f"{s[peak]:.3g}; a shell needs at most {TROUGH_RATIO:g} of the peak): no distinct shell"))
    cutoff = trough
    while cutoff > peak + 1 and g[cutoff] == 0 and g[cutoff - 1] == 0:  # a gap without pairs: its start
        cutoff -= 1
    return CutoffSearch(float(r_nm[cutoff]), float(r_nm[peak]), float(s[peak]), float(s[trough]))


# ---------------------------------------------------------------------------------------------
# kernels


def smooth(values: np.ndarray, sigma_bins: float, truncate: float = 4.0) -> np.ndarray:
    """Gaussian smoothing with the edge values repeated outward (as ``scipy.ndimage.gaussian_filter1d``, mode nearest).

    .. math:: s_k = \\sum_{j=-J}^{J} w_j\\, g_{k+j}, \\qquad w_j \\propto e^{-j^2 / 2\\sigma^2},
              \\quad J = \\lfloor \\text{truncate}\\, \\sigma + \\tfrac12 \\rfloor
    """
    radius = int(truncate * sigma_bins + 0.5)
    if radius == 0 or len(values) == 0:
        return np.asarray(values, dtype=float).copy()
    j = np.arange(-radius, radius + 1)
    weights = np.exp(-0.5 * (j / sigma_bins) ** 2)
    weights /= weights.sum()
    padded = np.pad(np.asarray(values, dtype=float), radius, mode="edge")
    return np.convolve(padded, weights, mode="valid")


def maxima(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Local maxima of ``x`` (the middle of a flat top) and their topographic prominences.

    The prominence of a maximum is its height above the higher of its two bases, the lowest
    points between it and the nearest higher point on either side (or the end of ``x``), as in
    :func:`scipy.signal.peak_prominences`. The ends of ``x`` are never maxima.
    """
    x = np.asarray(x, dtype=float)
    rises = np.flatnonzero(np.diff(x) != 0)  # indices where the value changes next
    peaks = []
    for a, b in zip(rises[:-1], rises[1:], strict=True):  # a flat run x[a+1 … b] between two changes
        if x[a] < x[a + 1] and x[b + 1] < x[b]:
            peaks.append((a + 1 + b) // 2)
    prominence = []
    for i in peaks:
        left = x[: i + 1][::-1]
        higher = np.flatnonzero(left > x[i])
        left_base = left[: higher[0] if len(higher) else len(left)].min()
        right = x[i:]
        higher = np.flatnonzero(right > x[i])
        right_base = right[: higher[0] if len(higher) else len(right)].min()
        prominence.append(x[i] - max(left_base, right_base))
    return np.array(peaks, dtype=int), np.array(prominence, dtype=float)


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
    d = distances
    if len(d) and (d.min() < edges[0] or d.max() > edges[-1]):
        inside = (d >= edges[0]) & (d <= edges[-1])
        d, kind = d[inside], kind[inside]
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

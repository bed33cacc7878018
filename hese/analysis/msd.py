"""Mean squared displacements by FFT, their time blocks, and the fit window of a diffusive regime.

The kernels of :mod:`hese.analysis.transport`, :mod:`hese.analysis.diffusion` and
:mod:`hese.analysis.onsager`: an MSD averaged over molecules and all time origins in
:math:`O(F \\log F)` for F frames (Kneller et al., Comput. Phys. Commun. 91, 191 (1995);
Calandrini et al., École thématique SFN 12, 201 (2011)), least-squares slopes, and the diffusive
window (where the log–log slope of the MSD is 1).
"""

from __future__ import annotations

import threading
from collections import deque
from concurrent.futures import Executor
from dataclasses import dataclass

import numpy as np
import scipy.fft

SLOPE_TOLERANCE = 0.1  # |d ln MSD / d ln τ − 1| allowed in the diffusive window
MIN_WINDOW_FACTOR = 2.0  # the window spans at least this factor in lag
POINTS_PER_DECADE = 10  # log-spaced lags on which the local slope is measured
SLOPE_HALF_WIDTH = 2  # local slope: regression over 2 × 2 + 1 neighbouring log-spaced lags
FFT_BATCH_BYTES = 16 * 2**20
M2_S_PER_NM2_PS = 1e-6  # an MSD slope in nm²/ps, in m²/s
M3_PER_NM3 = 1e-27


def msd_fft(
    positions: np.ndarray,
    max_lag: int | None = None,
    batch_bytes: int | None = None,
    executor: Executor | None = None,
) -> np.ndarray:
    """Per-axis mean squared displacement (L + 1, 3) of unwrapped positions (F, N, 3), averaged over N.

    Lags 0 to L = ``max_lag`` (default F − 1). For one coordinate x of one molecule, with
    :math:`S_{xx}(m) = \\sum_{t=0}^{F-1-m} x_t x_{t+m}` from an FFT of the series zero-padded to
    at least F + L points (so that no circular term reaches lags ≤ L):

    .. math:: \\mathrm{MSD}(m) = \\frac{1}{F-m}\\Big[\\sum_{t=0}^{F-1-m} (x_{t+m}^2 + x_t^2)
              - 2 S_{xx}(m)\\Big]

    The inverse transform is linear, so the power spectra of all molecules are summed first and
    transformed back once per axis. Molecules are processed in batches, centred on their mean
    position and laid out time-last in one zero-padded work array, so that the real FFTs run on
    contiguous rows and the FFT's output stays below ``batch_bytes`` (default :data:`FFT_BATCH_BYTES`).
    Batches run as jobs of ``executor`` if given; their sums are added in batch order, so the result
    does not depend on it.
    """
    return _msd_of_batches(positions, np.empty((0, 2), dtype=int), max_lag, None, batch_bytes, executor)[0]


def msd_fft_blocks(
    positions: np.ndarray,
    bounds: np.ndarray,
    block_max_lag: int | None = None,
    batch_bytes: int | None = None,
    executor: Executor | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The MSD (F, 3) of :func:`msd_fft` at every lag and the MSDs (B, L + 1, 3) of the time blocks ``bounds``.

    Block b is frames ``bounds[b, 0]`` to ``bounds[b, 1]`` (exclusive), its lags 0 to L =
    ``block_max_lag`` (default: all; blocks of equal length); each is :func:`msd_fft` of that slice,
    up to rounding (the blocks are centred on the mean of the whole series). Every batch of
    molecules is laid out once for the series and its blocks, and batches run as jobs of
    ``executor`` (in turn without one); their sums are added in batch order, so the result does not
    depend on the threads.
    """
    return _msd_of_batches(positions, np.asarray(bounds, dtype=int).reshape(-1, 2), None, block_max_lag,
                           batch_bytes, executor)


def _msd_of_batches(positions, bounds, max_lag, block_max_lag, batch_bytes, executor):
    n_frames, n_molecules, _ = positions.shape
    batch_bytes = FFT_BATCH_BYTES if batch_bytes is None else batch_bytes
    full = _FFTPlan(n_frames, max_lag)
    plans = [_FFTPlan(b - a, block_max_lag) for a, b in bounds]
    batch = max(1, min(n_molecules, batch_bytes // (3 * 16 * full.n_fft)))
    mean = positions.mean(axis=0)
    work = threading.local()  # each thread's padded arrays, reused from batch to batch
    args = [(positions[:, lo : lo + batch], mean[lo : lo + batch], full, bounds, plans, batch, work)
            for lo in range(0, n_molecules, batch)]
    jobs = deque(executor.submit(_batch_sums, *a) for a in args) if executor else None
    total = None
    for a in args:  # added in batch order
        sums = jobs.popleft().result() if jobs else _batch_sums(*a)
        total = sums if total is None else [t + s for t, s in zip(total, sums, strict=True)]
    power, sq = total[:2]
    blocks = [plan.msd(total[2 + 2 * k], total[3 + 2 * k], n_molecules) for k, plan in enumerate(plans)]
    return full.msd(power, sq, n_molecules), np.array(blocks) if blocks else np.empty((0, 0, 3))


@dataclass(frozen=True)
class _FFTPlan:
    """The FFT length of a series of ``n_frames`` frames for lags 0 to ``max_lag`` (default: all), and the MSD."""

    n_frames: int
    max_lag: int | None

    @property
    def n_lags(self) -> int:
        return self.n_frames if self.max_lag is None else min(self.max_lag + 1, self.n_frames)

    @property
    def n_fft(self) -> int:
        return scipy.fft.next_fast_len(self.n_frames + self.n_lags - 1, real=True)

    def msd(self, power: np.ndarray, sq: np.ndarray, n_molecules: int) -> np.ndarray:
        """The MSD (L + 1, 3) from the summed power spectra (3, 2K: Re², Im² interleaved) and squares (3, F)."""
        n_fft, n_lags = self.n_fft, self.n_lags
        acf = scipy.fft.irfft(power[:, 0::2] + power[:, 1::2], n=n_fft, axis=-1)[:, :n_lags]  # Σ_molecules S_xx(m)
        head = np.concatenate([np.zeros((3, 1)), np.cumsum(sq, axis=1)], axis=1)  # Σ_{t<m} x_t²
        tail = np.concatenate([np.zeros((3, 1)), np.cumsum(sq[:, ::-1], axis=1)], axis=1)  # Σ_{t<m} x_{F-1-t}²
        total = 2 * head[:, -1:] - head[:, :n_lags] - tail[:, :n_lags] - 2 * acf
        return total.T / (n_molecules * (self.n_frames - np.arange(n_lags)))[:, None]


def _batch_sums(positions, mean, full: _FFTPlan, bounds, plans: list[_FFTPlan], batch: int, work: threading.local):
    """Summed over a batch of molecules (F, b, 3): power spectra and squares of the series, then of each block."""
    n = positions.shape[1]
    padded = _padded(work, batch, full.n_fft)[:n]
    series = padded[..., : full.n_frames]
    np.subtract(positions.transpose(1, 2, 0), mean[:, :, None], out=series)  # centred, time last
    sq = np.einsum("baf,baf->af", series, series)
    sums = [_power_sum(padded, full.n_fft), sq]
    for (a, b), plan in zip(bounds, plans, strict=True):  # the same centred series: its squares are summed
        sums += [_power_sum(series[..., a:b], plan.n_fft), sq[:, a:b]]
    return sums


def _power_sum(series: np.ndarray, n_fft: int) -> np.ndarray:
    """Σ over the batch of the real FFT's (Re², Im²) (3, 2K), interleaved, of series (b, 3, F) zero-padded to n_fft."""
    spectrum = scipy.fft.rfft(series, n=n_fft, axis=-1).view(np.float64)  # (b, 3, 2K): Re, Im, Re, …
    return np.einsum("bak,bak->ak", spectrum, spectrum)


def _padded(work: threading.local, batch: int, n_fft: int) -> np.ndarray:
    """This thread's zero-padded work array (batch, 3, n_fft); only its first frames are ever written."""
    if getattr(work, "padded", None) is None:
        work.padded = np.zeros((batch, 3, n_fft))
    return work.padded


def linear_slopes(x: np.ndarray, y: np.ndarray) -> np.ndarray | float:
    """Least-squares slopes of ``y`` (…, K) against ``x`` (K,), with an intercept.

    .. math:: a = \\frac{\\sum_k (x_k - \\bar x)(y_k - \\bar y)}{\\sum_k (x_k - \\bar x)^2}
    """
    dx = x - x.mean()
    return (y - y.mean(axis=-1, keepdims=True)) @ dx / (dx @ dx)


def local_slopes(x: np.ndarray, y: np.ndarray, half_width: int = SLOPE_HALF_WIDTH) -> np.ndarray:
    """Slope at every point of a regression over its ``half_width`` neighbours on each side (fewer at the ends)."""
    n = len(x)
    lo = np.clip(np.arange(n) - half_width, 0, n)
    hi = np.clip(np.arange(n) + half_width + 1, 0, n)

    def window_sums(v: np.ndarray) -> np.ndarray:
        c = np.concatenate([[0.0], np.cumsum(v)])
        return c[hi] - c[lo]

    m = hi - lo
    sx, sy, sxx, sxy = (window_sums(v) for v in (x, y, x * x, x * y))
    return (m * sxy - sx * sy) / (m * sxx - sx * sx)


def diffusive_window(msd: np.ndarray, max_lag: int, tolerance: float = SLOPE_TOLERANCE) -> tuple[int, int, bool]:
    """The diffusive window (first lag, last lag, found) of an MSD indexed by lag in frames.

    On log-spaced lags from 1 to ``max_lag`` (:data:`POINTS_PER_DECADE` per decade) the local
    log–log slope :math:`\\beta = d \\ln \\mathrm{MSD} / d \\ln \\tau` is measured by
    :func:`local_slopes`. The window is the longest run of consecutive lags with
    :math:`|\\beta - 1| \\le` ``tolerance``: the ballistic start (β ≈ 2) and any sub-diffusive
    cage regime are excluded, and ``max_lag`` (half a time block) excludes the noisy tail. If
    no run spans a factor :data:`MIN_WINDOW_FACTOR` in lag, the last quarter of the range,
    ``[max_lag // 4, max_lag]``, is returned with ``found = False``.
    """
    n_points = int(np.ceil(POINTS_PER_DECADE * np.log10(max_lag))) + 1
    lags = np.unique(np.round(np.geomspace(1, max_lag, n_points)).astype(int))
    x = np.log(lags)
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = local_slopes(x, np.log(msd[lags]))
    ok = np.abs(slope - 1) <= tolerance
    edges = np.diff(np.concatenate([[0], ok.astype(int), [0]]))
    starts, stops = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1
    if len(starts):
        best = np.argmax(x[stops] - x[starts])
        if x[stops[best]] - x[starts[best]] >= np.log(MIN_WINDOW_FACTOR):
            return int(lags[starts[best]]), int(lags[stops[best]]), True
    return max(1, max_lag // 4), max_lag, False

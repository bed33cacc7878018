"""Residence times of partner molecules in cation shells, and the coordination number per frame.

Definitions (docs/theory.md, "Residence times"). For one (cation species, partner species) group,
:math:`h_{ij}(t) = 1` while partner molecule j is in the shell of cation i in analysed frame t
(the shell memberships of :class:`hese.analysis.shells.Shells`), and :math:`H_{ij}(t_0, t) = 1`
while it has been there at every frame from :math:`t_0` to :math:`t_0 + t`:

- continuous (survival) correlation and residence time (Impey, Madden & McDonald,
  J. Phys. Chem. 87, 5071 (1983)), absences of at most :math:`t^*` first counted as presence:

  .. math:: C_c(t) = \\frac{\\langle h_{ij}(t_0) H_{ij}(t_0, t)\\rangle}{\\langle h_{ij}(t_0)\\rangle},
            \\qquad \\tau_c = \\Delta t \\sum_{k \\ge 0} C_c(k \\Delta t)

- intermittent correlation and time (Rapaport, Mol. Phys. 50, 1151 (1983)), with the mean
  occupancy :math:`\\langle h \\rangle` subtracted so that it decays to zero:

  .. math:: C_i(t) = \\frac{\\langle h_{ij}(t_0) h_{ij}(t_0 + t)\\rangle - \\langle h\\rangle^2}
            {\\langle h\\rangle - \\langle h\\rangle^2}, \\qquad \\tau_i = \\Delta t \\sum_{k \\ge 0} C_i(k \\Delta t)

Averages run over every (cation, partner molecule) pair of the group and every time origin
:math:`t_0` inside one time block with :math:`t_0 + t` in the same block; the blocks give the
standard errors. The sums stop at the first lag where C is no longer positive or the last lag of
the shortest block; a C that has not fallen to :data:`DECAY_THRESHOLD` by then has not decayed
and its τ is a lower bound.

How it runs: the memberships are sorted once by (block, pair, frame); stays are runs of
consecutive frames (``np.diff``), the continuous correlation follows from the histogram of their
lengths, the intermittent one from FFTs of the 0/1 series of the pairs that occur, a bounded
number of pairs at a time. Nothing loops over frames or pairs in Python.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from hese.analysis import columns as col
from hese.analysis.blocks import block_of_frame, standard_error
from hese.analysis.tables import json_number
from hese.errors import HeseInputError

if TYPE_CHECKING:
    from hese.analysis.contacts import SolvationSystem
    from hese.analysis.shells import Shells

#: t*: absences from the shell of at most this long do not end a stay (ps). 0: every absence
#: seen in a frame ends it, so τ_c does not depend on a setting that acts only once it exceeds
#: the frame interval; the intermittent time is the measure that ignores brief excursions.
RESIDENCE_TOLERANCE_PS = 0.0
#: A correlation function has decayed once it has fallen to this value (for an exponential the
#: part of τ beyond that lag is this fraction of τ).
DECAY_THRESHOLD = 0.05
#: Relative spread of the frame spacings still taken as even (XTC times are single precision).
SPACING_TOLERANCE = 1e-3
MAX_CELLS = 1 << 22  # pair × frame cells of the 0/1 series transformed at once


@dataclass(frozen=True)
class Residence:
    """Residence times of one (cation species, partner species) group.

    Attributes
    ----------
    lag_ps
        Lags :math:`k \\Delta t`, k = 0 … (frames of the shortest block) − 1.
    continuous, intermittent
        :math:`C_c` and :math:`C_i` at those lags, pooled over the blocks (NaN where undefined).
    tau_continuous_ps, tau_intermittent_ps
        :math:`\\tau_c` and :math:`\\tau_i` from the pooled correlations (NaN without a stay).
    tau_continuous_err_ps, tau_intermittent_err_ps
        Standard errors from the same sums over each block alone.
    occupancy
        :math:`\\langle h \\rangle`: the fraction of (cation, partner molecule) pairs in contact.
    decayed
        Whether both correlations fell to :data:`DECAY_THRESHOLD` within the lags (None without a stay).
    """

    lag_ps: np.ndarray
    continuous: np.ndarray
    intermittent: np.ndarray
    tau_continuous_ps: float
    tau_continuous_err_ps: float
    tau_intermittent_ps: float
    tau_intermittent_err_ps: float
    occupancy: float
    decayed: bool | None


def check_blocks(n_frames: int, n_blocks: int) -> None:
    """Refuse blocks of fewer than two frames: a block of one frame has no lag to correlate.

    Raises
    ------
    HeseInputError
        Naming ``n_blocks``.
    """
    if n_blocks < 2 or n_frames // n_blocks < 2:
        fewer = f", or at most {n_frames // 2} blocks" if n_frames >= 4 else ""
        raise HeseInputError(f"n_blocks: {n_blocks}; residence times need at least 2 blocks of at least 2 analysed "
                             f"frames each, and there are {n_frames} frames (analyse more frames{fewer})")


def frame_interval_ps(times_ps: np.ndarray) -> float | None:
    """The spacing Δt of evenly spaced frame times, or None if they are not evenly spaced.

    Spacings count as even when each differs from their mean by at most
    :data:`SPACING_TOLERANCE` × Δt plus the single-precision resolution of the largest time.
    """
    times = np.asarray(times_ps, dtype=float)
    if len(times) < 2:
        return None
    dt = (times[-1] - times[0]) / (len(times) - 1)
    slack = SPACING_TOLERANCE * abs(dt) + 4 * np.finfo(np.float32).eps * np.abs(times).max()
    if not dt > 0 or np.abs(np.diff(times) - dt).max() > slack:
        return None
    return float(dt)


def stays(frame: np.ndarray, pair: np.ndarray, n_frames: int, n_blocks: int,
          gap_frames: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Uninterrupted stays: runs of consecutive frames of one pair within one block.

    Absences of at most ``gap_frames`` frames between two frames of a pair are bridged (counted
    as presence); a stay never crosses a block boundary.

    Parameters
    ----------
    frame, pair
        Analysed-frame index and pair id of each membership (K,), in any order, duplicates allowed.

    Returns
    -------
    block, pair, first, length
        Block, pair id, first frame and length in frames :math:`L = t_\\mathrm{last} - t_\\mathrm{first} + 1`
        of each stay, sorted by (block, pair, first frame).
    """
    block, pair, f = _sorted_rows(frame, pair, n_frames, n_blocks)
    new = np.ones(len(f), dtype=bool)
    new[1:] = (block[1:] != block[:-1]) | (pair[1:] != pair[:-1]) | (np.diff(f) - 1 > gap_frames)
    starts = np.flatnonzero(new)
    ends = np.append(starts[1:] - 1, len(f) - 1)[:len(starts)]
    return block[starts], pair[starts], f[starts], f[ends] - f[starts] + 1


def _sorted_rows(frame: np.ndarray, pair: np.ndarray, n_frames: int,
                 n_blocks: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Block, pair and frame of the distinct memberships, sorted by (block, pair, frame)."""
    frame, pair = np.asarray(frame, dtype=np.int64), np.asarray(pair, dtype=np.int64)
    block = block_of_frame(n_frames, n_blocks)[frame]
    order = np.lexsort((frame, pair, block))
    block, pair, frame = block[order], pair[order], frame[order]
    distinct = np.ones(len(frame), dtype=bool)
    distinct[1:] = (pair[1:] != pair[:-1]) | (frame[1:] != frame[:-1])
    return block[distinct], pair[distinct], frame[distinct]


def residence(frame: np.ndarray, pair: np.ndarray, n_pairs: int, n_frames: int, dt_ps: float, n_blocks: int,
              tolerance_ps: float = RESIDENCE_TOLERANCE_PS) -> Residence:
    """Continuous and intermittent residence times of one group of (cation, partner molecule) pairs.

    .. math:: \\tau_c = \\Delta t \\sum_k C_c(k \\Delta t), \\qquad \\tau_i = \\Delta t \\sum_k C_i(k \\Delta t)

    (module docstring). The frames are cut into ``n_blocks`` contiguous blocks
    (:func:`hese.analysis.blocks.block_of_frame`); origin and lag frame lie in one block. The
    pooled correlations (sums over the blocks of numerators and of denominators) give τ, the
    blocks one by one its standard error. For memoryless (exponentially distributed) stays
    :math:`\\tau_c` is the mean stay, :math:`\\Delta t / (1 - p)` for a partner that stays from
    one frame to the next with probability p; in general it is the mean remaining stay of a
    partner found in the shell at a random time.

    Parameters
    ----------
    frame, pair
        Analysed-frame index (0 … n_frames − 1) and pair id (0 … n_pairs − 1) of every
        membership (K,): pair j in the shell in that frame.
    n_pairs
        Pairs of the group (cations × partner molecules), in contact or not: the normalisation
        of :math:`\\langle h \\rangle`.
    n_frames
        Analysed frames, spaced ``dt_ps`` apart.
    dt_ps
        Frame interval Δt (ps).
    n_blocks
        Time blocks (≥ 2, of at least 2 frames each).
    tolerance_ps
        t*: absences of at most t* (gaps of at most ⌊t*/Δt⌋ frames) do not end a stay.

    Raises
    ------
    HeseInputError
        Too few frames per block, a non-positive ``dt_ps``, a negative ``tolerance_ps``, or
        frames or pairs out of range (each naming the parameter).
    """
    check_blocks(n_frames, n_blocks)
    if not (np.isfinite(dt_ps) and dt_ps > 0):
        raise HeseInputError(f"dt_ps: {dt_ps}; need a positive frame interval")
    if not (np.isfinite(tolerance_ps) and tolerance_ps >= 0):
        raise HeseInputError(f"tolerance_ps: {tolerance_ps}; need a time ≥ 0 ps")
    frame, pair = np.asarray(frame, dtype=np.int64), np.asarray(pair, dtype=np.int64)
    for name, values, bound in (("frame", frame, n_frames), ("pair", pair, n_pairs)):
        if len(values) and not (values.min() >= 0 and values.max() < bound):
            raise HeseInputError(f"{name}: values from {values.min()} to {values.max()}; need 0 … {bound - 1}")
    lengths = np.bincount(block_of_frame(n_frames, n_blocks), minlength=n_blocks)
    first = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    lags = np.arange(lengths.min())
    gap = int(np.floor(tolerance_ps / dt_ps * (1 + 1e-9)))
    num_c, den_c = _continuous_sums(*stays(frame, pair, n_frames, n_blocks, gap), n_frames, lengths, first, lags)
    num_i, occupied = _intermittent_sums(*_sorted_rows(frame, pair, n_frames, n_blocks), lengths, first, lags)
    origins = (lengths[:, None] - lags[None, :]) * float(n_pairs)
    cells = lengths * float(n_pairs)
    continuous = _ratio(num_c.sum(axis=0), den_c.sum(axis=0))
    intermittent = _subtracted(num_i.sum(axis=0) / origins.sum(axis=0), occupied.sum() / cells.sum())
    tau_c, decayed_c = _integral(continuous, dt_ps)
    tau_i, decayed_i = _integral(intermittent, dt_ps)
    blocks_c = [_integral(_ratio(n, d), dt_ps)[0] for n, d in zip(num_c, den_c, strict=True)]
    blocks_i = [_integral(_subtracted(n / o, m / c), dt_ps)[0]
                for n, o, m, c in zip(num_i, origins, occupied, cells, strict=True)]
    known = [d for d in (decayed_c, decayed_i) if d is not None]
    return Residence(lags * dt_ps, continuous, intermittent, tau_c, standard_error(blocks_c), tau_i,
                     standard_error(blocks_i), float(occupied.sum() / cells.sum()), all(known) if known else None)


def _continuous_sums(block, pair, start, length, n_frames, lengths, first, lags) -> tuple[np.ndarray, np.ndarray]:
    """Numerator :math:`\\sum h(t_0) H(t_0, t_0 + k)` and denominator :math:`\\sum h(t_0)` of
    :math:`C_c` per block and lag (n_blocks, K), from the stays; origins :math:`t_0 \\le` the
    block's last frame − k."""
    n_blocks, longest = len(lengths), int(lengths.max())
    hist = np.bincount(block * (longest + 1) + length, minlength=n_blocks * (longest + 1)).reshape(n_blocks, -1)
    at_least = np.cumsum(hist[:, ::-1], axis=1)[:, ::-1]  # stays of length ≥ L
    frames_at_least = np.cumsum((hist * np.arange(longest + 1))[:, ::-1], axis=1)[:, ::-1]
    numerator = frames_at_least[:, lags + 1] - lags * at_least[:, lags + 1]  # Σ over stays of max(L − k, 0)
    change = np.bincount(start, minlength=n_frames + 1) - np.bincount(start + length, minlength=n_frames + 1)
    present = np.concatenate([[0], np.cumsum(np.cumsum(change)[:n_frames])])  # Σ h over frames < t
    last = first + lengths - 1
    denominator = present[last[:, None] - lags[None, :] + 1] - present[first[:, None]]
    return numerator.astype(float), denominator.astype(float)


def _intermittent_sums(block, pair, frame, lengths, first, lags) -> tuple[np.ndarray, np.ndarray]:
    """:math:`\\sum h(t_0) h(t_0 + k)` per block and lag (n_blocks, K), and the memberships per block."""
    numerator = np.zeros((len(lengths), len(lags)))
    bounds = np.searchsorted(block, np.arange(len(lengths) + 1))
    for b, (lo, hi) in enumerate(zip(bounds[:-1], bounds[1:], strict=True)):
        numerator[b] = _summed_autocorrelation(pair[lo:hi], frame[lo:hi] - first[b], int(lengths[b]))[:len(lags)]
    return numerator, np.diff(bounds).astype(float)


def _summed_autocorrelation(pair: np.ndarray, t: np.ndarray, n: int) -> np.ndarray:
    """:math:`\\sum_j \\sum_{t_0} h_j(t_0) h_j(t_0 + k)`, k = 0 … n − 1, of the 0/1 series of
    length n given by their ones (pair j sorted, time t), by FFT (zero-padded: no wrap-around)."""
    size = 1 << (2 * n - 1).bit_length()
    _, index = np.unique(pair, return_inverse=True)
    n_active = int(index.max(initial=-1)) + 1
    per_chunk = max(1, MAX_CELLS // size)
    power = np.zeros(size // 2 + 1)
    for lo in range(0, n_active, per_chunk):
        rows = slice(*np.searchsorted(index, [lo, lo + per_chunk]))
        series = np.zeros((min(per_chunk, n_active - lo), size))
        series[index[rows] - lo, t[rows]] = 1.0
        spectrum = np.fft.rfft(series, axis=1)
        power += (spectrum.real ** 2 + spectrum.imag ** 2).sum(axis=0)
    return np.rint(np.fft.irfft(power, size)[:n])  # sums of products of 0 and 1: integers


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    out = np.full(np.shape(numerator), np.nan)
    np.divide(numerator, denominator, out=out, where=denominator > 0)
    return out


def _subtracted(mean_product: np.ndarray, occupancy: float) -> np.ndarray:
    """:math:`(\\langle h(0) h(t)\\rangle - \\langle h\\rangle^2) / (\\langle h\\rangle - \\langle h\\rangle^2)`."""
    variance = occupancy - occupancy ** 2
    if not variance > 0:
        return np.full(np.shape(mean_product), np.nan)
    return (mean_product - occupancy ** 2) / variance


def _integral(c: np.ndarray, dt_ps: float) -> tuple[float, bool | None]:
    """:math:`\\Delta t \\sum_k C(k)` up to the first lag where C is not positive (or undefined), and
    whether C fell to :data:`DECAY_THRESHOLD` by then (None if C(0) is undefined)."""
    stop = ~(c > 0)
    end = int(np.argmax(stop)) if stop.any() else len(c)
    if end == 0:
        return float("nan"), None
    return float(dt_ps * c[:end].sum()), bool(np.nanmin(c[:end + 1]) <= DECAY_THRESHOLD)


# ---------------------------------------------------------------------------------------------
# tables of the solvation analysis


def residence_table(sh: Shells, system: SolvationSystem, sources: Sequence[Sequence[str]], times_ps: np.ndarray,
                    n_blocks: int, tolerance_ps: float = RESIDENCE_TOLERANCE_PS) -> tuple[pd.DataFrame, list[str]]:
    """The ``residence`` table (one row per cation and partner species) and its warnings.

    A pair without a shell (cutoff source ``none``) and a pair never in contact get NaN times
    and a null ``decayed``; so does every pair when the frames are not evenly spaced.
    """
    warnings = []
    dt = frame_interval_ps(times_ps)
    if dt is None:
        steps = np.diff(np.asarray(times_ps, dtype=float))
        warnings.append(f"residence times need evenly spaced frames, and the analysed frames are "
                        f"{steps.min(initial=0):g} to {steps.max(initial=0):g} ps apart: not computed")
    rank_cation, rank_molecule = _rank(system.cation_type), _rank(system.molecule_type)
    rows = []
    for a, cation in enumerate(system.cations):
        for b, partner in enumerate(system.partners):
            row = {col.CATION: cation, col.PARTNER: partner, col.TAU_CONTINUOUS_PS: np.nan,
                   col.TAU_INTERMITTENT_PS: np.nan, col.DECAYED: None, col.TAU_CONTINUOUS_ERR_PS: np.nan,
                   col.TAU_INTERMITTENT_ERR_PS: np.nan}
            rows.append(row)
            if dt is None or sources[a][b] == "none":
                continue
            mine = (system.cation_type[sh.cation] == a) & (system.molecule_type[sh.molecule] == b)
            n_partner = int(system.n_molecules[b])
            pair = rank_cation[sh.cation[mine]] * n_partner + rank_molecule[sh.molecule[mine]]
            r = residence(sh.frame[mine], pair, int(system.n_cations[a]) * n_partner, len(times_ps), dt, n_blocks,
                          tolerance_ps)
            row.update({col.TAU_CONTINUOUS_PS: r.tau_continuous_ps, col.TAU_INTERMITTENT_PS: r.tau_intermittent_ps,
                        col.DECAYED: r.decayed, col.TAU_CONTINUOUS_ERR_PS: r.tau_continuous_err_ps,
                        col.TAU_INTERMITTENT_ERR_PS: r.tau_intermittent_err_ps})
            if r.decayed is False:
                warnings.append(f"{cation}–{partner}: the residence correlations have not decayed to "
                                f"{DECAY_THRESHOLD:g} by the longest lag of a block ({r.lag_ps[-1]:g} ps), so the "
                                f"residence times are lower bounds; analyse a longer trajectory or use fewer blocks")
    table = pd.DataFrame(rows, columns=list(col.TABLES["residence"]))
    table[col.DECAYED] = table[col.DECAYED].astype("boolean")
    return table, warnings


def timeseries_table(per_frame: np.ndarray, system: SolvationSystem, sources: Sequence[Sequence[str]],
                     times_ps: np.ndarray) -> pd.DataFrame:
    """The ``coordination_timeseries`` table from the mean partner molecules per cation in each frame
    (n_frames, n_cation_types, n_partners); NaN for a pair without a shell."""
    parts = []
    for a, cation in enumerate(system.cations):
        for b, partner in enumerate(system.partners):
            cn = np.full(len(times_ps), np.nan) if sources[a][b] == "none" else per_frame[:, a, b]
            parts.append(pd.DataFrame({col.CATION: cation, col.PARTNER: partner,
                                       col.TIME_PS: np.asarray(times_ps, dtype=float), col.CN_MOLECULES: cn}))
    return pd.concat(parts, ignore_index=True)[list(col.TABLES["coordination_timeseries"])]


def summary(table: pd.DataFrame) -> dict:
    """``summary.json``'s ``residence``: cation → partner → the residence table's values (NaN as null)."""
    names = (col.TAU_CONTINUOUS_PS, col.TAU_CONTINUOUS_ERR_PS, col.TAU_INTERMITTENT_PS, col.TAU_INTERMITTENT_ERR_PS)
    out: dict = {}
    for r in table.to_dict("records"):
        values = {n: json_number(float(r[n])) for n in names}
        values[col.DECAYED] = None if pd.isna(r[col.DECAYED]) else bool(r[col.DECAYED])
        out.setdefault(r[col.CATION], {})[r[col.PARTNER]] = values
    return out


def _rank(kind: np.ndarray) -> np.ndarray:
    """Index of every element among those of its kind (0, 1, … per kind, in order)."""
    order = np.argsort(kind, kind="stable")
    counts = np.bincount(kind)
    rank = np.empty(len(kind), dtype=np.int64)
    rank[order] = np.arange(len(kind)) - np.repeat(np.cumsum(counts) - counts, counts)
    return rank

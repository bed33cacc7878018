"""Independent time blocks: their bounds and the standard error of a mean over them."""

from __future__ import annotations

import numpy as np


def block_bounds(n_frames: int, n_blocks: int) -> np.ndarray:
    """Start and stop frame of ``n_blocks`` contiguous blocks of equal length ``n_frames // n_blocks``.

    Returns
    -------
    numpy.ndarray
        Shape ``(n_blocks, 2)``; frames after the last full block are not used.
    """
    length = n_frames // n_blocks
    starts = np.arange(n_blocks) * length
    return np.stack([starts, starts + length], axis=1)


def block_of_frame(n_frames: int, n_blocks: int) -> np.ndarray:
    """Block index of every frame when ``n_frames`` frames are split into ``n_blocks`` near-equal blocks.

    Frame ``k`` belongs to block ``⌊k n_blocks / n_frames⌋``, so block sizes differ by at most one.
    """
    return np.arange(n_frames) * n_blocks // n_frames


def standard_error(values: np.ndarray) -> float:
    """Standard error of the mean of independent block values, ``s / √n`` (NaN for fewer than two).

    .. math:: \\sigma_{\\bar x} = \\sqrt{\\frac{1}{n(n-1)} \\sum_b (x_b - \\bar x)^2}
    """
    values = np.asarray(values, dtype=float)
    if values.size < 2:
        return float("nan")
    return float(np.std(values, ddof=1) / np.sqrt(values.size))

"""Frame-to-frame unwrapping of molecule centres of mass, also under a changing (NPT) box.

Centres of mass wrapped into the box, :math:`\\mathbf w_i \\in [0, \\mathbf L_i)` in frame :math:`i`,
become continuous trajectories :math:`\\mathbf u_i` frame to frame with the box
:math:`\\mathbf L_{i+1}` of the later frame (von Bülow, Bullerjahn & Hummer, J. Chem. Phys. 153,
021101 (2020)), which stays correct when the box changes under NPT, unlike schemes that count
boundary crossings:

.. math:: \\mathbf u_{i+1} = \\mathbf u_i + \\Delta_i - \\mathbf L_{i+1} \\odot
          \\operatorname{round}(\\Delta_i \\oslash \\mathbf L_{i+1}), \\qquad
          \\Delta_i = \\mathbf w_{i+1} - \\mathbf w_i

.. warning::
   A molecule that moves more than half a box edge between two frames cannot be told apart
   from one that jumps across the boundary. Safety criterion: for every species and axis α the
   root-mean-square minimum-image step between consecutive frames, in box edges,
   :math:`\\sigma_\\alpha = \\langle (\\Delta_\\alpha / L_\\alpha)^2 \\rangle^{1/2}`, must not exceed
   :data:`MAX_RMS_STEP` = 1/16, i.e. 8σ ≤ L/2: a Gaussian step then exceeds half an edge with
   probability below 10⁻¹⁵ per molecule and frame. Frames too far apart for this (their steps
   look uniform on [−L/2, L/2), σ ≈ 0.29) raise :class:`~hese.errors.HeseInputError`, checked
   after every chunk.
"""

from __future__ import annotations

import numpy as np

from hese.analysis.neighbors import wrap
from hese.errors import HeseInputError

MAX_RMS_STEP = 1.0 / 16.0


class Unwrapper:
    """Frame-to-frame unwrapping of one species' centres of mass, chunk after chunk (see the module notes).

    Parameters
    ----------
    name
        Species name, for the error message.
    source
        Trajectory name, for the error message.
    """

    def __init__(self, name: str, source: str) -> None:
        self.name = name
        self.source = source
        self._last_wrapped: np.ndarray | None = None
        self._last_unwrapped: np.ndarray | None = None
        self._last_box: np.ndarray | None = None
        self._sum_sq = np.zeros(3)
        self._n_steps = 0

    def __call__(
        self, wrapped: np.ndarray, boxes: np.ndarray, frames: np.ndarray, out: np.ndarray | None = None
    ) -> np.ndarray:
        """Unwrapped positions (C, M, 3) of positions (C, M, 3) in boxes (C, 3) of frames (C,).

        Where the box changes, positions are wrapped into it first, where the scheme (and a
        barostat's scaling) applies; in a constant box the steps do not depend on the image.
        ``out`` (C, M, 3, float64), if given, receives the result.

        Raises
        ------
        HeseInputError
            When the steps so far break the safety criterion :data:`MAX_RMS_STEP`.
        """
        if out is None:
            out = np.empty(wrapped.shape)
        if len(wrapped) == 0:
            return out
        if self._last_wrapped is None:  # the first frame is where the unwrapped trajectory starts
            self._last_wrapped = self._last_unwrapped = wrap(wrapped[0], boxes[0])
            self._last_box = boxes[0]
            out[0] = self._last_wrapped
            self(wrapped[1:], boxes[1:], frames[1:], out[1:])
            return out
        if np.any(boxes != self._last_box):  # a changing box: steps are only right between wrapped positions
            wrapped = wrap(wrapped, boxes[:, None, :])
            self._last_wrapped = wrap(self._last_wrapped, self._last_box)
        fraction = unwrap_fractions(self._last_wrapped, wrapped, boxes, out)
        flat = fraction.reshape(len(fraction), -1)  # (C, 3M): sums over frames run on contiguous rows
        self._sum_sq += np.einsum("cj,cj->j", flat, flat).reshape(-1, 3).sum(axis=0)
        self._n_steps += fraction.shape[0] * fraction.shape[1]
        rms = np.sqrt(self._sum_sq / self._n_steps)
        if rms.max() > MAX_RMS_STEP:
            raise HeseInputError(
                f"{self.source}: centres of mass of {self.name!r} move {rms.max():.3f} box edges (rms per axis) "
                f"between consecutive frames up to frame {frames[-1]}; frame-to-frame unwrapping needs at most "
                f"{MAX_RMS_STEP:.4f} (8 rms ≤ half a box edge): use frames saved more often (smaller --step) "
                f"or an unwrapped trajectory (--already-unwrapped)"
            )
        unwrapped = scale_axes(fraction, boxes)
        unwrapped[0] += self._last_unwrapped
        for i in range(1, len(unwrapped)):  # a cumulative sum; np.cumsum along axis 0 is several times slower
            unwrapped[i] += unwrapped[i - 1]
        self._last_wrapped, self._last_unwrapped, self._last_box = wrapped[-1].copy(), unwrapped[-1].copy(), boxes[-1]
        return unwrapped



# ---------------------------------------------------------------------------------------------
# kernels


def unwrap_fractions(
    last: np.ndarray, wrapped: np.ndarray, boxes: np.ndarray, out: np.ndarray | None = None
) -> np.ndarray:
    """Minimum-image steps in box edges (C, M, 3) from ``last`` (M, 3) through ``wrapped`` (C, M, 3).

    Each step is measured in the box of its later frame, :math:`\\mathbf L_{i+1}`:

    .. math:: \\mathbf f_i = \\Delta_i \\oslash \\mathbf L_{i+1}
              - \\operatorname{round}(\\Delta_i \\oslash \\mathbf L_{i+1}),
              \\qquad \\mathbf s_i = \\mathbf L_{i+1} \\odot \\mathbf f_i

    ``out`` (C, M, 3, float64, not overlapping ``wrapped``), if given, receives the result.
    """
    fraction = np.empty(wrapped.shape) if out is None else out
    np.subtract(wrapped[0], last, out=fraction[0])
    np.subtract(wrapped[1:], wrapped[:-1], out=fraction[1:])
    scale_axes(fraction, 1.0 / boxes)
    fraction -= np.round(fraction)
    return fraction


def scale_axes(vectors: np.ndarray, factors: np.ndarray) -> np.ndarray:
    """``vectors`` (C, M, 3) times per-frame, per-axis ``factors`` (C, 3), in place; returns ``vectors``.

    The same as ``vectors *= factors[:, None, :]``, whose innermost loop would run over 3 numbers
    only: a factor constant over the frames multiplies each frame's 3M numbers at once, a changing
    one each axis's M numbers.
    """
    if vectors.flags.c_contiguous and len(factors) and np.all(factors == factors[0]):
        flat = vectors.reshape(len(vectors), -1)
        flat *= np.tile(factors[0], vectors.shape[1])
    else:
        for axis in range(3):
            column = vectors[..., axis]
            column *= factors[:, axis, None]
    return vectors

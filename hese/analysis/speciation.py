"""Speciation: shell compositions, their integer codes and labels, and the shell entropies with their
block-bootstrap interval.

Definitions: :mod:`hese.analysis.solvation` (docs/theory.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from hese.analysis.blocks import block_of_frame
from hese.analysis.contacts import SolvationSystem
from hese.analysis.shells import Shells

N_BOOTSTRAP = 1000
BOOTSTRAP_SEED = 20240607
CONFIDENCE = 0.95
#: Shell labels: partner NAME×COUNT, joined by a middle dot (``DME×2·NO3×1``).
SHELL_TIMES, SHELL_JOIN = "×", "·"


@dataclass(frozen=True)
class Speciation:
    """Shell compositions of one cation type.

    Attributes
    ----------
    compositions
        Distinct compositions (C, P): partner molecule counts, most frequent first.
    counts
        Observations of each composition (C,) over all cations of the type and frames.
    block_counts
        The same per time block (n_blocks, C).
    block_observations
        Observations per block (n_blocks,).
    """

    compositions: np.ndarray
    counts: np.ndarray
    block_counts: np.ndarray
    block_observations: np.ndarray

    @property
    def fractions(self) -> np.ndarray:
        """:math:`p_i`, the frequency of each composition."""
        return self.counts / self.counts.sum()


def speciation(sh: Shells, system: SolvationSystem, n_frames: int, n_blocks: int) -> list[Speciation]:
    """Shell compositions of the cations of each type, every cation in every frame one observation.

    Only cations with a non-empty shell are encoded (memory follows the shell memberships, not
    frames × cations); the others count as the empty shell.
    """
    n_cations = len(system.cation_atoms)
    observation = sh.frame.astype(np.int64) * n_cations + sh.cation  # non-decreasing
    starts = np.flatnonzero(np.concatenate([[True], observation[1:] != observation[:-1]])) if len(observation) \
        else np.zeros(0, dtype=np.int64)
    group = observation[starts]
    codes, decode = composition_codes(starts, system.molecule_type[sh.molecule], len(system.partners))
    frame_block = block_of_frame(n_frames, n_blocks)
    frames_per_block = np.bincount(frame_block, minlength=n_blocks)
    out = []
    for t in range(len(system.cations)):
        mine = system.cation_type[group % n_cations] == t
        observations = frames_per_block * int(system.n_cations[t])
        out.append(_speciation_of(codes[mine], frame_block[group[mine] // n_cations], observations, decode))
    return out


def _speciation_of(codes: np.ndarray, block: np.ndarray, observations: np.ndarray, decode) -> Speciation:
    """Speciation of one cation type from its non-empty shells' codes and blocks and the observations per block."""
    n_blocks = len(observations)
    key, count = np.unique(codes * n_blocks + block, return_counts=True)
    empty = observations - np.bincount(block, minlength=n_blocks)
    code = np.concatenate([key // n_blocks, np.zeros(n_blocks, dtype=np.int64)])  # code 0: the empty shell
    rows_block = np.concatenate([key % n_blocks, np.arange(n_blocks)])
    rows_count = np.concatenate([count, empty])
    unique, inverse = np.unique(code, return_inverse=True)
    totals = np.bincount(inverse, weights=rows_count, minlength=len(unique)).astype(np.int64)
    present = totals > 0
    order = np.lexsort((unique, -totals))
    order = order[present[order]]  # most frequent first, ties by code; compositions never seen dropped
    rank = np.full(len(unique), -1)
    rank[order] = np.arange(len(order))
    seen = rank[inverse] >= 0
    cell = rows_block[seen] * len(order) + rank[inverse][seen]
    block_counts = np.bincount(cell, weights=rows_count[seen], minlength=n_blocks * len(order))
    block_counts = block_counts.astype(np.int64).reshape(n_blocks, len(order))
    return Speciation(decode(unique[order]), totals[order], block_counts, block_counts.sum(axis=1))


def shell_label(counts: Sequence[int], partners: Sequence[str]) -> str:
    """A readable composition label, e.g. ``DME×2·FSI×1`` (``empty`` for an empty shell).

    Each partner in the shell is written NAME×COUNT and the partners are joined by ``·``, so a
    name that ends in a digit stays readable (``DME×2·NO3×1``, ``PF6×1``).
    """
    label = SHELL_JOIN.join(f"{p}{SHELL_TIMES}{int(n)}" for p, n in zip(partners, counts, strict=True) if n > 0)
    return label or "empty"


def shell_entropy(counts: np.ndarray) -> float:
    """Speciation entropy (units of R) of composition counts :math:`c_i`.

    .. math:: S / R = -\\sum_i p_i \\ln p_i, \\qquad p_i = c_i / \\sum_j c_j
    """
    counts = np.asarray(counts, dtype=float)
    total = counts.sum()
    if total <= 0:
        return float("nan")
    p = counts[counts > 0] / total
    return float(-(p * np.log(p)).sum()) + 0.0


def mixing_entropy(members: np.ndarray) -> float:
    """Shell mixing entropy in units of R of mean shell memberships per partner: :math:`-\\sum_s x_s \\ln x_s`."""
    return shell_entropy(members)


def bootstrap_interval(block_counts: np.ndarray, n_bootstrap: int = N_BOOTSTRAP, confidence: float = CONFIDENCE,
                       seed: int = BOOTSTRAP_SEED) -> tuple[float, float]:
    """Percentile interval of the speciation entropy (in R) from a bootstrap over time blocks.

    Each resample draws ``n_blocks`` blocks with replacement (multinomial block weights
    :math:`w_b`), pools their composition counts :math:`c_i^* = \\sum_b w_b c_{bi}` and computes
    :math:`S^* = -\\sum_i p_i^* \\ln p_i^*`; the interval spans the central ``confidence`` of the
    :math:`S^*`. A fixed seed makes it reproducible.

    Parameters
    ----------
    block_counts
        Composition counts per block (n_blocks, n_compositions).
    """
    block_counts = np.asarray(block_counts, dtype=float)
    n_blocks = len(block_counts)
    if n_blocks < 2 or block_counts.sum() == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    weights = rng.multinomial(n_blocks, np.full(n_blocks, 1.0 / n_blocks), size=n_bootstrap)
    resampled = weights @ block_counts  # (n_bootstrap, n_compositions)
    p = resampled / resampled.sum(axis=1, keepdims=True)
    terms = np.zeros_like(p)
    np.multiply(p, np.log(p, where=p > 0, out=np.zeros_like(p)), out=terms, where=p > 0)
    s = -terms.sum(axis=1)
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(s, [tail, 100 - tail])
    return float(low) + 0.0, float(high) + 0.0


def composition_codes(starts: np.ndarray, partner: np.ndarray, n_partners: int):
    """One integer per non-empty shell encoding its partner counts, and a decoder back to count vectors.

    The shell members (partner type of each, ``partner`` (K,)) come in groups, one per shell,
    starting at ``starts`` (G,). With base :math:`B` = the largest shell + 1, the code of counts
    :math:`(n_0, n_1, \\dots)` is :math:`\\sum_p n_p B^p` (exact in int64 below 2⁶³; otherwise
    the distinct count vectors are numbered from 1). Code 0 is the empty shell.

    Returns
    -------
    codes, decode
        Codes (G,) int64, and a function mapping codes (C,) to counts (C, n_partners).
    """
    sizes = np.diff(np.append(starts, len(partner)))
    base = int(sizes.max(initial=0)) + 1
    if float(base) ** n_partners < 2.0 ** 62:
        power = base ** np.arange(n_partners, dtype=np.int64)
        codes = np.add.reduceat(power[partner], starts) if len(starts) else np.zeros(0, dtype=np.int64)

        def decode(c: np.ndarray) -> np.ndarray:
            return (np.asarray(c, dtype=np.int64)[:, None] // power[None, :]) % base

        return codes.astype(np.int64), decode
    group = np.repeat(np.arange(len(starts)), sizes)
    dense = np.bincount(group * n_partners + partner, minlength=len(starts) * n_partners)
    vectors, inverse = np.unique(dense.reshape(len(starts), n_partners), axis=0, return_inverse=True)
    vectors = np.vstack([np.zeros((1, n_partners), dtype=vectors.dtype), vectors])

    def decode_dense(c: np.ndarray) -> np.ndarray:
        return vectors[np.asarray(c, dtype=np.int64)]

    return inverse.ravel().astype(np.int64) + 1, decode_dense

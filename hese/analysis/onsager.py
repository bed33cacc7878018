"""Collective transport: Onsager coefficients, their conductivity contributions, the
Einstein–Helfand conductivity and transference numbers, with calibrated block errors.

Definitions (docs/theory.md, "Onsager coefficients and transference numbers"; nm, ps, K inside):

- Collective displacement of ionic species i in the centre-of-mass frame of the analysed molecules
  (all species of a hese run):

  .. math:: \\mathbf R_i(t) = \\sum_{a \\in i} \\big[\\mathbf r_a(t) - \\mathbf r_\\mathrm{cm}(t)\\big],
            \\qquad \\mathbf r_\\mathrm{cm} = \\frac{\\sum_a m_a \\mathbf r_a}{\\sum_a m_a}

- Onsager coefficients (Fong, Self, McCloskey & Persson, Macromolecules 53, 9503 (2020)), per mole
  of each species:

  .. math:: L_{ij} = \\frac{1}{6 V k_B T N_A^2} \\lim_{t\\to\\infty} \\frac{d}{dt}
            \\langle \\Delta\\mathbf R_i(t) \\cdot \\Delta\\mathbf R_j(t) \\rangle

  and their contributions to the conductivity, :math:`\\sigma_{ij} = F^2 z_i z_j L_{ij}`, which sum
  to the Einstein–Helfand conductivity of :math:`\\mathbf M = \\sum_i z_i \\mathbf R_i`:
  :math:`\\sigma_\\mathrm{EH} = \\sum_{ij} \\sigma_{ij}` (exactly: the fit is linear in the data).
  The cross terms come from two auto-MSDs by polarisation,
  :math:`\\langle \\Delta\\mathbf R_i \\cdot \\Delta\\mathbf R_j \\rangle = \\tfrac14
  (\\langle|\\Delta(\\mathbf R_i + \\mathbf R_j)|^2\\rangle
  - \\langle|\\Delta(\\mathbf R_i - \\mathbf R_j)|^2\\rangle)`.
- Transference number of ionic species i, the fraction of the current it carries:
  :math:`t_i = \\sum_j \\sigma_{ij} / \\sum_{jk} \\sigma_{jk}` (Onsager), against the
  Nernst–Einstein estimate from self-diffusion,
  :math:`t_i^\\mathrm{NE} = N_i z_i^2 D_i / \\sum_k N_k z_k^2 D_k`.

The fit window. A collective displacement is a single random walk: its MSD is not averaged over
molecules, and its noise grows with the lag. The window therefore starts where the motion is
diffusive — at the latest start of the charged species' self-diffusion windows, or later where the
collective MSD's own log–log slope reaches 1 — and is as short as a linear fit allows, from that
lag a to :math:`\\max(2a, a + 4)`. Its error comes from many short blocks (at least
:data:`LAGS_PER_BLOCK` times the window's end, between the user's blocks and
:data:`MAX_BLOCKS` per replica, pooled over replicas), so that the standard error rests on enough
degrees of freedom for ±2σ to hold the truth about 95 % of the time (checked on synthetic
trajectories: ``tests/test_onsager.py``, ``benchmarks/onsager_calibration.py``). Ratios
(transference numbers) take their error from the same blocks by the delta method.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations_with_replacement

import numpy as np
import pandas as pd
from scipy.constants import Avogadro as AVOGADRO_MOL  # CODATA 2018
from scipy.constants import Boltzmann as BOLTZMANN_J_K
from scipy.constants import elementary_charge as ELEMENTARY_CHARGE_C

from hese.analysis import columns as col
from hese.analysis.blocks import block_bounds, standard_error
from hese.analysis.msd import (
    M2_S_PER_NM2_PS,
    M3_PER_NM3,
    diffusive_window,
    linear_slopes,
    msd_fft,
    msd_fft_blocks,
)

MIN_WINDOW_LAGS = 5  # lags in the shortest collective fit window
LAGS_PER_BLOCK = 10  # a collective block spans at least this many times the window's last lag
MAX_BLOCKS = 40  # collective blocks per replica at most


@dataclass(frozen=True)
class Collective:
    """Collective transport of one system (formal charges; scale by s² for scaled ones).

    Attributes
    ----------
    ions
        Ionic species, in the order of the pairs.
    window
        First and last lag of the fit (frames).
    n_blocks
        Blocks per replica of the error estimate.
    slopes
        Per ordered pair (i, j): :math:`\\frac{d}{dt}\\langle\\Delta\\mathbf R_i\\cdot\\Delta\\mathbf R_j\\rangle`
        of the whole trajectories (nm²/ps) and of every block (n_runs · n_blocks,).
    factor_s_m
        :math:`e^2 / (6 V k_B T)` in S/m per nm²/ps, so that σ_ij = factor · z_i z_j · slope_ij.
    """

    ions: tuple[str, ...]
    charges: Mapping[str, int]
    window: tuple[int, int]
    n_blocks: int
    slopes: Mapping[tuple[str, str], tuple[float, np.ndarray]]
    factor_s_m: float

    def sigma(self, i: str, j: str) -> tuple[float, np.ndarray]:
        """σ_ij (S/m) and its block values."""
        value, blocks = self.slopes[i, j]
        z = self.factor_s_m * self.charges[i] * self.charges[j]
        return z * value, z * blocks

    def onsager_l(self, i: str, j: str) -> tuple[float, float]:
        """L_ij (mol² J⁻¹ m⁻¹ s⁻¹) and its standard error."""
        value, blocks = self.slopes[i, j]
        to_l = self.factor_s_m / (ELEMENTARY_CHARGE_C * AVOGADRO_MOL) ** 2
        return to_l * value, to_l * standard_error(blocks)

    def einstein_helfand(self) -> tuple[float, float]:
        """σ_EH = Σ_ij σ_ij (S/m) and its standard error."""
        parts = [self.sigma(i, j) for i in self.ions for j in self.ions]
        return sum(v for v, _ in parts), standard_error(sum(b for _, b in parts))

    def transference(self) -> dict[str, tuple[float, float]]:
        """Onsager transference number of every ion and its standard error (delta method over blocks)."""
        total = [self.sigma(i, j) for i in self.ions for j in self.ions]
        den, den_blocks = sum(v for v, _ in total), sum(b for _, b in total)
        out = {}
        for i in self.ions:
            row = [self.sigma(i, j) for j in self.ions]
            out[i] = ratio(sum(v for v, _ in row), sum(b for _, b in row), den, den_blocks)
        return out


def ratio(num: float, num_blocks: np.ndarray, den: float, den_blocks: np.ndarray) -> tuple[float, float]:
    """The ratio r = num / den and its standard error from paired block values, by the delta method.

    .. math:: \\sigma_r^2 = \\frac{1}{n\\,\\bar d^{\\,2}}\\,\\mathrm{Var}_b(n_b - r\\, d_b)
    """
    if den == 0 or len(num_blocks) < 2:
        return float("nan"), float("nan")
    r = num / den
    return float(r), abs(standard_error(num_blocks - r * den_blocks) / den)


def collective_displacements(positions: Mapping[str, np.ndarray], masses: Mapping[str, np.ndarray],
                             ions: Sequence[str]) -> dict[str, np.ndarray]:
    """:math:`\\mathbf R_i(t)` (F, 3) of every ion species in the centre-of-mass frame of all ``positions``.

    Parameters
    ----------
    positions
        Unwrapped centres of mass (F, M, 3) of every species' molecules (nm).
    masses
        Molecule masses (M,) of every species (g/mol).
    ions
        Species whose collective displacement is wanted.
    """
    total = sum(float(np.sum(masses[n])) for n in positions)
    centre = sum(np.einsum("fma,m->fa", positions[n], masses[n]) for n in positions) / total
    return {n: positions[n].sum(axis=1) - positions[n].shape[1] * centre for n in ions}


def collective(
    runs: Sequence[Mapping[str, np.ndarray]],
    charges: Mapping[str, int],
    dt_ps: float,
    volume_nm3: float,
    temperature_k: float,
    start_lag: int,
    max_lag: int,
    min_blocks: int,
) -> Collective:
    """The collective slopes of every ordered pair of ions over replicas ``runs`` (``R_i(t)``, (F, 3) each).

    ``start_lag`` is the earliest lag the fit may start at (the self-diffusion windows' latest start),
    ``max_lag`` the latest it may end at; ``min_blocks`` the least blocks per replica.
    """
    ions = tuple(n for n in charges if charges[n] != 0)
    n_frames = min(len(next(iter(r.values()))) for r in runs)
    moment = [sum(charges[n] * r[n][:n_frames] for n in ions)[:, None, :] for r in runs]
    eh_msd = np.mean([msd_fft(m, max_lag) for m in moment], axis=0).sum(axis=1)
    start = max(start_lag, diffusive_window(eh_msd, max_lag)[0])
    end = min(max(2 * start, start + MIN_WINDOW_LAGS - 1), max_lag)
    start = min(start, end - 1)
    n_blocks = max(min_blocks, min(MAX_BLOCKS, n_frames // (LAGS_PER_BLOCK * end)))
    bounds = block_bounds(n_frames, n_blocks)
    lags = np.arange(start, end + 1)
    slopes = {}
    for i, j in combinations_with_replacement(ions, 2):
        full, parts = [], []
        for r in runs:
            a = r[i][:n_frames, None, :]
            m, blocks = _cross_msd(a, a if i == j else r[j][:n_frames, None, :], bounds, end)
            full.append(m.sum(axis=1)[lags])
            parts.append(blocks.sum(axis=2)[:, lags])
        value = float(linear_slopes(lags, np.mean(full, axis=0))) / dt_ps
        block_values = linear_slopes(lags, np.concatenate(parts)) / dt_ps
        slopes[i, j] = slopes[j, i] = (value, block_values)
    factor = ELEMENTARY_CHARGE_C**2 * M2_S_PER_NM2_PS / (6 * volume_nm3 * M3_PER_NM3 * BOLTZMANN_J_K * temperature_k)
    return Collective(ions, dict(charges), (int(start), int(end)), n_blocks, slopes, factor)


def _cross_msd(a: np.ndarray, b: np.ndarray, bounds: np.ndarray, max_lag: int) -> tuple[np.ndarray, np.ndarray]:
    """⟨Δa·Δb⟩ per axis of two series (F, 1, 3), whole and per block, by polarisation of two auto-MSDs."""
    if a is b:
        return msd_fft_blocks(a, bounds, max_lag)
    (plus, plus_blocks), (minus, minus_blocks) = (msd_fft_blocks(a + b, bounds, max_lag),
                                                  msd_fft_blocks(a - b, bounds, max_lag))
    return (plus - minus) / 4, (plus_blocks - minus_blocks) / 4


def onsager_table(coll: Collective, charge_scale: float) -> pd.DataFrame:
    """One row per ordered pair of ions and charge set: σ_ij, L_ij and their errors (``onsager``)."""
    rows = []
    for charge_set, s2 in (("formal", 1.0), ("scaled", charge_scale**2)):
        for i in coll.ions:
            for j in coll.ions:
                sigma, blocks = coll.sigma(i, j)
                l_ij, l_err = coll.onsager_l(i, j)
                rows.append({col.SPECIES_I: i, col.SPECIES_J: j, col.CHARGES: charge_set,
                             col.SIGMA_IJ_S_M: s2 * sigma, col.SIGMA_IJ_ERR_S_M: s2 * standard_error(blocks),
                             col.ONSAGER_L_MOL2_J_M_S: l_ij, col.ONSAGER_L_ERR_MOL2_J_M_S: l_err})
    return pd.DataFrame(rows, columns=col.TABLES["onsager"])


def transference_table(coll: Collective, nernst_einstein: Mapping[str, tuple[float, float]]) -> pd.DataFrame:
    """Transference numbers of every ion by both methods, for both charge sets (``transference``).

    Scaling every charge by s leaves them unchanged; both charge sets are listed so that the table
    joins the conductivity table row by row.
    """
    methods = {"onsager": coll.transference(), "nernst_einstein": nernst_einstein}
    rows = [{col.SPECIES: ion, col.METHOD: method, col.CHARGES: charge_set, col.T: values[ion][0],
             col.T_ERR: values[ion][1]}
            for charge_set in ("formal", "scaled") for method, values in methods.items() for ion in coll.ions]
    return pd.DataFrame(rows, columns=col.TABLES["transference"])

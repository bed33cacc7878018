"""Self-diffusion coefficients from mean squared displacements: the fit, its block error, the Yeh–Hummer correction.

Definitions (docs/theory.md; units nm, ps, K inside, SI where a column name says so):

- Self-diffusion coefficient from a linear fit :math:`\\mathrm{MSD} = 6 D \\tau + b` in the
  diffusive window, found automatically (:func:`~hese.analysis.msd.diffusive_window`); its
  standard error from independent time blocks of all replicas (:mod:`hese.analysis.blocks`).
- Yeh & Hummer, J. Phys. Chem. B 108, 15873 (2004), for a cubic box of edge L and shear
  viscosity η: :math:`D_0 = D_\\mathrm{PBC} + \\xi k_B T / (6 \\pi \\eta L)`, ξ = 2.837297
  (L is the cube root of the mean box volume).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.constants import Boltzmann as BOLTZMANN_J_K  # CODATA 2018

from hese.analysis import columns as col
from hese.analysis.blocks import standard_error
from hese.analysis.msd import M2_S_PER_NM2_PS, M3_PER_NM3, linear_slopes

YEH_HUMMER_XI = 2.837297


@dataclass(frozen=True)
class Diffusion:
    """A self-diffusion coefficient, its standard error and its value in every time block."""

    value: float  # m²/s
    err: float
    blocks: np.ndarray  # (n_runs · n_blocks,)


def fit_diffusion(msd: np.ndarray, blocks: np.ndarray, window: tuple[int, int, bool], dt: float) -> Diffusion:
    """D, its block standard error and the block values (m²/s) from MSDs (F, 3) and (n, B, 3) fitted in ``window``.

    The least-squares slope of :math:`\\mathrm{MSD}(\\tau) = 6 D \\tau + b` over the lags of
    ``window`` (start, end, found), frame spacing ``dt`` (ps).
    """
    lags = np.arange(window[0], window[1] + 1)
    d = linear_slopes(lags, msd.sum(axis=1)[lags]) / (6 * dt) * M2_S_PER_NM2_PS
    d_blocks = linear_slopes(lags, blocks.sum(axis=2)[:, lags]) / (6 * dt) * M2_S_PER_NM2_PS
    return Diffusion(float(d), standard_error(d_blocks), d_blocks)


def diffusion_table(d, windows, msd, counts, n_runs, dt, temperature_k, viscosity_mpa_s, volume_nm3) -> pd.DataFrame:
    """The table ``diffusion``: per species D, its Yeh–Hummer correction, error, fit window and log–log slope."""
    rows = []
    for name, dn in d.items():
        start, end, _ = windows[name]
        lags = np.arange(start, end + 1)
        with np.errstate(divide="ignore", invalid="ignore"):
            loglog = linear_slopes(np.log(lags), np.log(msd[name].sum(axis=1)[lags]))
        rows.append({
            col.SPECIES: name,
            col.D_M2_S: dn.value,
            col.D_YH_M2_S: yeh_hummer(dn.value, temperature_k, viscosity_mpa_s, volume_nm3),
            col.VISCOSITY_MPA_S: np.nan if viscosity_mpa_s is None else float(viscosity_mpa_s),
            col.FIT_START_PS: start * dt,
            col.FIT_END_PS: end * dt,
            col.SLOPE_LOGLOG: float(loglog),
            col.N_MOLECULES: counts[name] * n_runs,
            col.D_ERR_M2_S: dn.err,
        })
    return pd.DataFrame(rows, columns=col.TABLES["diffusion"])


def yeh_hummer(d_m2_s: float, temperature_k: float, viscosity_mpa_s: float | None, volume_nm3: float) -> float:
    """Yeh–Hummer corrected D (m²/s): :math:`D_\\mathrm{PBC} + \\xi k_B T / (6\\pi\\eta L)`, L = V^{1/3}.

    NaN without a viscosity.
    """
    if viscosity_mpa_s is None:
        return float("nan")
    edge_m = (volume_nm3 * M3_PER_NM3) ** (1 / 3)
    return d_m2_s + YEH_HUMMER_XI * BOLTZMANN_J_K * temperature_k / (6 * np.pi * viscosity_mpa_s * 1e-3 * edge_m)

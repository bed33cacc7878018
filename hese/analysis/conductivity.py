"""Ionic conductivity: Nernst–Einstein from self-diffusion, Einstein–Helfand from the collective
displacement, and their ratio.

Definitions (docs/theory.md; units nm, ps, K inside, SI where a column name says so):

- Nernst–Einstein conductivity from the box's (uncorrected) self-diffusion coefficients, so that
  it compares like with like with the collective estimate:
  :math:`\\sigma_\\mathrm{NE} = \\frac{e^2}{V k_B T} \\sum_s N_s z_s^2 D_s`.
- Einstein–Helfand conductivity from the total charge displacement
  :math:`\\mathbf M(t) = \\sum_i z_i \\mathbf r_i(t)` over all molecules:
  :math:`\\sigma_\\mathrm{EH} = \\lim_{t\\to\\infty} \\frac{e^2}{6 V k_B T}
  \\frac{d}{dt} \\langle |\\mathbf M(t) - \\mathbf M(0)|^2 \\rangle`, fitted in the window from
  the latest start to the latest end of the charged species' windows (:mod:`hese.analysis.onsager`).
- Haven ratio :math:`H = \\sigma_\\mathrm{NE} / \\sigma_\\mathrm{EH}` (1 for uncorrelated ions).

Charges are formal (z) and scaled (z times the simulation's charge scale s); scaling every charge
by s multiplies both conductivities by s² and leaves H unchanged.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.constants import Boltzmann as BOLTZMANN_J_K  # CODATA 2018
from scipy.constants import elementary_charge as ELEMENTARY_CHARGE_C

from hese.analysis import columns as col
from hese.analysis import onsager
from hese.analysis.blocks import standard_error
from hese.analysis.msd import M3_PER_NM3
from hese.analysis.tables import json_number


def conductivity_tables(runs, n_frames, n_blocks, max_lag, d, windows, counts, volume_nm3, temperature_k):
    """The conductivity, Onsager and transference tables and the collective result (None without ions).

    ``runs`` are the replicas as :mod:`hese.analysis.transport` reads them (positions, masses,
    charges, charge scale, frame spacing), ``d`` and ``windows`` the species' self-diffusion
    coefficients (:func:`~hese.analysis.diffusion.fit_diffusion`) and their fit windows.
    """
    charges = runs[0].charges
    ions = [n for n in charges if charges[n] != 0]
    if not ions:
        empty = [pd.DataFrame(columns=col.TABLES[t]) for t in ("conductivity", "onsager", "transference")]
        return *empty, None
    scale = runs[0].charge_scale
    displacements = [onsager.collective_displacements(
        {n: p[:n_frames] for n, p in r.positions.items()}, r.masses, ions) for r in runs]
    coll = onsager.collective(displacements, charges, runs[0].dt_ps, volume_nm3, temperature_k,
                              max(windows[n][0] for n in ions), max_lag, n_blocks)
    eh, eh_err = coll.einstein_helfand()
    factor = ELEMENTARY_CHARGE_C**2 / (volume_nm3 * M3_PER_NM3 * BOLTZMANN_J_K * temperature_k)
    ne_parts = {n: (factor * counts[n] * charges[n] ** 2 * d[n].value, factor * counts[n] * charges[n] ** 2
                    * d[n].blocks) for n in ions}
    ne, ne_blocks = sum(v for v, _ in ne_parts.values()), sum(b for _, b in ne_parts.values())
    rows = []
    for charge_set, s2 in (("formal", 1.0), ("scaled", scale**2)):
        rows.append({col.METHOD: "nernst_einstein", col.CHARGES: charge_set,
                     col.SIGMA_S_M: s2 * ne, col.SIGMA_ERR_S_M: s2 * standard_error(ne_blocks)})
        rows.append({col.METHOD: "einstein_helfand", col.CHARGES: charge_set,
                     col.SIGMA_S_M: s2 * eh, col.SIGMA_ERR_S_M: s2 * eh_err})
    nernst_einstein = {n: onsager.ratio(v, b, ne, ne_blocks) for n, (v, b) in ne_parts.items()}
    return (pd.DataFrame(rows, columns=col.TABLES["conductivity"]), onsager.onsager_table(coll, scale),
            onsager.transference_table(coll, nernst_einstein), coll)


def haven_ratios(conductivity: pd.DataFrame) -> dict:
    """Haven ratio :math:`H = \\sigma_\\mathrm{NE} / \\sigma_\\mathrm{EH}` and its error, per charge set
    (formal, scaled) of a table of :func:`conductivity_tables` with ions."""
    haven = {}
    for charge_set in ("formal", "scaled"):
        rows = conductivity[conductivity[col.CHARGES] == charge_set].set_index(col.METHOD)
        ne, eh = rows.loc["nernst_einstein"], rows.loc["einstein_helfand"]
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.float64(ne[col.SIGMA_S_M]) / eh[col.SIGMA_S_M]
            rel = np.hypot(ne[col.SIGMA_ERR_S_M] / ne[col.SIGMA_S_M], eh[col.SIGMA_ERR_S_M] / eh[col.SIGMA_S_M])
        haven[charge_set] = {"haven_ratio": json_number(ratio), "haven_ratio_err": json_number(abs(ratio) * rel)}
    return haven

"""Density convergence of NPT equilibration, the concentration reached, and the production volume.

The end of the transient is found in the density series :math:`\\rho_t` with the heuristic of
Chodera, J. Chem. Theory Comput. 12, 1799 (2016) (``pymbar.timeseries.detect_equilibration``):
the start :math:`t_0` that maximises the number of uncorrelated samples
:math:`N_{eff} = (T - t_0) / g`, with :math:`g` the statistical inefficiency of
:math:`\\rho_{t_0..T}`. The density has converged when :math:`t_0 \\le T/2` (the transient
ends in the first half of the series) and :math:`N_{eff}` reaches ``min_uncorrelated_samples``.
Means are over :math:`t \\ge t_0`, with standard errors :math:`s/\\sqrt{N_{eff}}`.

The molarity reached is :math:`c_i = n_i / (N_A \\langle V \\rangle)` for each salt (formula
units) and each ion species, with the mean equilibrated volume.
"""

from __future__ import annotations

import contextlib
import io
import math
import warnings
from collections.abc import Mapping

import numpy as np
import openmm as mm
import pandas as pd
from openmm import unit

from hese import species as sp
from hese.md.reporters import AVOGADRO

NM3_PER_L = 1e24


def detect_equilibration(series: np.ndarray) -> tuple[int, float, float]:
    """``pymbar.timeseries.detect_equilibration`` without pymbar's import-time notices: (t0, g, N_eff)."""
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), \
            contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        from pymbar import timeseries

        t0, g, neff = timeseries.detect_equilibration(np.asarray(series, dtype=float))
    return int(t0), float(g), float(neff)


def density_convergence(thermo: pd.DataFrame, thermo_every_ps: float, min_uncorrelated: int) -> dict:
    """Test the NPT density series for convergence (see the module docstring).

    Parameters
    ----------
    thermo
        NPT thermo rows (:data:`hese.md.reporters.THERMO_COLUMNS`), in time order.
    thermo_every_ps
        Sampling interval of the rows (ps).
    min_uncorrelated
        Uncorrelated samples the equilibrated part must hold.

    Returns
    -------
    dict
        ``converged``, ``npt_ps``, ``n_samples``, ``equilibration_time_ps`` (end of the
        transient, from the start of NPT), ``statistical_inefficiency``, ``n_uncorrelated``,
        means of density, volume, temperature and potential energy with their standard errors
        (``density_g_cm3``, ``density_err_g_cm3``, ...), and the box edge of the mean volume.
    """
    n = len(thermo)
    if n < 4:
        return {"converged": False, "npt_ps": n * thermo_every_ps, "n_samples": n}
    t0, g, neff = detect_equilibration(thermo["density_g_cm3"].to_numpy())
    eq = thermo.iloc[t0:]
    out = {
        "converged": bool(t0 <= n / 2 and neff >= min_uncorrelated),
        "npt_ps": round(n * thermo_every_ps, 6),
        "n_samples": n,
        "equilibration_time_ps": round(t0 * thermo_every_ps, 6),
        "statistical_inefficiency": g,
        "n_uncorrelated": neff,
    }
    for name, unit_ in [("density", "g_cm3"), ("volume", "nm3"), ("temperature", "k"), ("potential_energy", "kj_mol")]:
        values = eq[f"{name}_{unit_}"].to_numpy()
        out[f"{name}_{unit_}"] = float(values.mean())
        out[f"{name}_err_{unit_}"] = float(values.std(ddof=1) / math.sqrt(neff)) if len(values) > 1 else math.nan
    out["box_nm"] = out["volume_nm3"] ** (1 / 3)
    return out


def molarities(counts: Mapping[str, int], units: Mapping[str, float], volume_nm3: float) -> dict[str, dict[str, float]]:
    """Molarity (mol/L) of each salt or ion key of the composition and of each ion species.

    Parameters
    ----------
    counts
        Species → molecules in the box (``build.json`` ``counts``).
    units
        Composition key (salt formula, species) → formula units (``build.json``
        ``composition.units``); keys without ions (solvents) are left out.
    volume_nm3
        Solution volume.
    """
    litres = volume_nm3 / NM3_PER_L
    salts = {}
    for key, n in units.items():
        try:
            parts = sp.resolve(key)
        except Exception:  # not a registry name: nothing to say about it
            continue
        if any(sp.get(s).kind != "solvent" for s in parts):
            salts[key] = n / AVOGADRO / litres
    ions = {s: n / AVOGADRO / litres for s, n in counts.items() if sp.get(s).kind != "solvent"}
    return {"salt_molarity_mol_l": salts, "ion_molarity_mol_l": ions}


def scale_to_volume(context: mm.Context, volume_nm3: float) -> float:
    """Scale the box to ``volume_nm3`` and each molecule's centre with it (molecules stay rigid).

    Returns the linear scale factor :math:`s = (V/V_0)^{1/3}`; a molecule at centre
    :math:`c` moves by :math:`(s - 1)\\,c`.
    """
    state = context.getState(getPositions=True)
    xyz = state.getPositions(asNumpy=True).value_in_unit(unit.nanometer)
    box = np.asarray(state.getPeriodicBoxVectors(asNumpy=True).value_in_unit(unit.nanometer))
    s = (volume_nm3 / abs(np.linalg.det(box))) ** (1 / 3)
    molecule = np.empty(len(xyz), dtype=np.int64)
    for k, atoms in enumerate(context.getMolecules()):
        molecule[list(atoms)] = k
    n_atoms = np.bincount(molecule)
    centres = np.stack([np.bincount(molecule, weights=xyz[:, d]) for d in range(3)], axis=1) / n_atoms[:, None]
    xyz = xyz + (s - 1) * centres[molecule]
    context.setPeriodicBoxVectors(*(mm.Vec3(*(row * s)) * unit.nanometer for row in box))
    context.setPositions(xyz * unit.nanometer)
    return float(s)

"""Density convergence of NPT equilibration, the concentration reached, and the production volume.

The NPT density series :math:`\\rho_k = \\rho(k\\,\\Delta t)`, :math:`k = 0 \\dots n-1`, is judged
by an equivalence test on its drift: it has converged only when the data *bound* the drift
below a tolerance, not merely when no drift is detected (a slow relaxation hides in the noise
of a short window; a test for the absence of drift then says "converged" at a wrong density).

For each candidate end of the transient :math:`t_0` (the fractions :data:`STARTS` of the
series), the retained part :math:`\\rho_{t_0 \\dots n-1}` (length :math:`m`) is fitted with a
straight line :math:`\\rho \\approx a + b\\,t` by least squares. The slope's standard error
accounts for correlation through the statistical inefficiency :math:`g_r` of the residuals
(pymbar.timeseries.statistical_inefficiency),

.. math:: \\sigma_b^2 = g_r\\,\\frac{\\sum_k r_k^2 / (m - 2)}{\\sum_k (t_k - \\bar t)^2}.

The drift that the data allow is projected over the whole NPT time so far, :math:`H = n\\,\\Delta t`
(the density would move by at most this much in another stretch as long as the equilibration
run): :math:`D = b H` and its one-sided upper confidence bound

.. math:: D_{max} = (|b| + t_{q,\\nu}\\,\\sigma_b)\\,H, \\qquad \\nu = m / g_r - 2,

with :math:`t_{q,\\nu}` the Student-t quantile of the confidence :math:`q` (0.95: the two one-sided
tests of an equivalence test at 5 %). The density has converged when some :math:`t_0` has

.. math:: D_{max} \\le \\epsilon\\,\\bar\\rho \\quad\\text{and}\\quad N_{eff} = m / g \\ge N_{min},

:math:`\\epsilon` the relative tolerance (``density_tolerance``), :math:`g` the statistical
inefficiency of the retained densities and :math:`N_{min}` ``min_uncorrelated_samples``. Of the
starts that pass, the one with the most uncorrelated samples is kept (the criterion of Chodera,
J. Chem. Theory Comput. 12, 1799 (2016): an early transient left in inflates :math:`g`). The
reported density is the mean of the retained part with the standard error :math:`s / \\sqrt{N_{eff}}`.
On synthetic relaxations with a known plateau (``benchmarks/equilibration_judge.py``) fewer than
1 % of the drifting series are called converged with a mean more than three stated errors and
0.3 % from the plateau, and a flat series with a few hundred uncorrelated samples is accepted in
more than 99 % of the trials.

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
from scipy import stats

from hese import species as sp
from hese.md.reporters import AVOGADRO

NM3_PER_L = 1e24
#: Candidate ends of the transient, as fractions of the NPT series (the earliest that passes is taken).
STARTS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5)
#: One-sided confidence of the drift bound.
CONFIDENCE = 0.95
#: Fewest samples a retained part may have.
MIN_SAMPLES = 4
_MEANS = (("density", "g_cm3"), ("volume", "nm3"), ("temperature", "k"), ("potential_energy", "kj_mol"))


def statistical_inefficiency(series: np.ndarray) -> float:
    """:math:`g = 1 + 2\\sum_t (1 - t/N) C_t` of a series (pymbar, without its import-time notices); 1 if constant."""
    series = np.asarray(series, dtype=float)
    if np.ptp(series) == 0:
        return 1.0
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), \
            contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        from pymbar import timeseries

        return float(timeseries.statistical_inefficiency(series))


def drift_test(density: np.ndarray, start: int, horizon: int, confidence: float = CONFIDENCE) -> dict:
    """Linear drift of ``density[start:]`` projected over ``horizon`` samples, with its upper bound.

    Returns ``drift`` (:math:`bH`), ``drift_err`` (:math:`\\sigma_b H`), ``drift_bound``
    (:math:`D_{max}`), ``g_residual`` and ``g`` (statistical inefficiencies of the residuals and of
    the densities) and ``n_uncorrelated`` (:math:`m/g`); see the module docstring. Units: those
    of ``density`` per sample interval times samples.
    """
    x = np.asarray(density[start:], dtype=float)
    m = len(x)
    t = np.arange(m, dtype=float) - (m - 1) / 2
    slope = float(t @ (x - x.mean()) / (t @ t))
    residual = x - x.mean() - slope * t
    g_r = statistical_inefficiency(residual)
    slope_err = math.sqrt(g_r * (residual @ residual) / (m - 2) / (t @ t))
    quantile = float(stats.t.ppf(confidence, max(1.0, m / g_r - 2)))
    g = statistical_inefficiency(x)
    return {"drift": slope * horizon, "drift_err": slope_err * horizon,
            "drift_bound": (abs(slope) + quantile * slope_err) * horizon,
            "g_residual": g_r, "g": g, "n_uncorrelated": m / g}


def density_convergence(
    thermo: pd.DataFrame,
    thermo_every_ps: float,
    min_uncorrelated: int,
    tolerance: float = 0.005,
    confidence: float = CONFIDENCE,
) -> dict:
    """Judge the NPT density series (see the module docstring).

    Parameters
    ----------
    thermo
        NPT thermo rows (:data:`hese.md.reporters.THERMO_COLUMNS`), in time order.
    thermo_every_ps
        Sampling interval of the rows (ps).
    min_uncorrelated
        Uncorrelated samples the retained part must hold.
    tolerance
        Largest drift :math:`D_{max}` that counts as converged, as a fraction of the mean density.
    confidence
        One-sided confidence of the drift bound.

    Returns
    -------
    dict
        ``converged``; ``verdict`` (one line: what the verdict rested on); ``npt_ps``,
        ``n_samples``; ``equilibration_time_ps`` (the retained part's start, from the start of
        NPT), ``statistical_inefficiency``, ``n_uncorrelated``; the drift over the horizon
        ``drift_horizon_ps``: ``drift_g_cm3``, ``drift_err_g_cm3``, ``drift_bound_g_cm3``
        (:math:`D_{max}`) and ``drift_tolerance_g_cm3`` (:math:`\\epsilon\\bar\\rho`),
        ``density_tolerance``, ``confidence``; means of density, volume, temperature and potential
        energy of the retained part with their standard errors (``density_g_cm3``,
        ``density_err_g_cm3``, ...), and the box edge of the mean volume. Without a converged
        start, the numbers are those of the start closest to passing.
    """
    density = thermo["density_g_cm3"].to_numpy(dtype=float)
    n = len(density)
    out = {"converged": False, "npt_ps": round(n * thermo_every_ps, 6), "n_samples": n,
           "density_tolerance": tolerance, "confidence": confidence, "drift_horizon_ps": round(n * thermo_every_ps, 6)}
    starts = sorted({int(round(f * n)) for f in STARTS if n - int(round(f * n)) >= MIN_SAMPLES})
    if not starts:
        out["verdict"] = f"{n} density samples: too few to judge (need ≥ {MIN_SAMPLES})"
        return out
    candidates = []
    for start in starts:
        test = drift_test(density, start, n, confidence)
        mean = float(density[start:].mean())
        score = max(test["drift_bound"] / (tolerance * mean), min_uncorrelated / test["n_uncorrelated"])
        candidates.append((score, start, test, mean))
    passed = [c for c in candidates if c[0] <= 1.0]
    # among the starts that pass, the one with the most uncorrelated samples (Chodera's criterion);
    # otherwise the start closest to passing
    score, start, test, mean = (max(passed, key=lambda c: c[2]["n_uncorrelated"]) if passed else
                                min(candidates, key=lambda c: c[0]))
    eq = thermo.iloc[start:]
    out.update({
        "converged": bool(passed),
        "equilibration_time_ps": round(start * thermo_every_ps, 6),
        "statistical_inefficiency": test["g"],
        "n_uncorrelated": test["n_uncorrelated"],
        "drift_g_cm3": test["drift"],
        "drift_err_g_cm3": test["drift_err"],
        "drift_bound_g_cm3": test["drift_bound"],
        "drift_tolerance_g_cm3": tolerance * mean,
    })
    for name, unit_ in _MEANS:
        values = eq[f"{name}_{unit_}"].to_numpy(dtype=float)
        out[f"{name}_{unit_}"] = float(values.mean())
        out[f"{name}_err_{unit_}"] = float(values.std(ddof=1) / math.sqrt(test["n_uncorrelated"]))
    out["box_nm"] = out["volume_nm3"] ** (1 / 3)
    out["verdict"] = _verdict(out, min_uncorrelated)
    return out


def _verdict(r: dict, min_uncorrelated: int) -> str:
    """One line: the retained part, the drift bound against the tolerance, the samples against the minimum."""
    bound_ok = r["drift_bound_g_cm3"] <= r["drift_tolerance_g_cm3"]
    samples_ok = r["n_uncorrelated"] >= min_uncorrelated
    return (f"{'converged' if r['converged'] else 'not converged'}: from {r['equilibration_time_ps']:g} of "
            f"{r['npt_ps']:g} ps, density {r['density_g_cm3']:.4f} ± {r['density_err_g_cm3']:.4f} g/cm³; drift over "
            f"{r['drift_horizon_ps']:g} ps {r['drift_g_cm3']:+.4f} ± {r['drift_err_g_cm3']:.4f}, "
            f"{100 * r['confidence']:g} % bound {r['drift_bound_g_cm3']:.4f} {'≤' if bound_ok else '>'} tolerance "
            f"{r['drift_tolerance_g_cm3']:.4f} g/cm³ ({100 * r['density_tolerance']:g} %); "
            f"{r['n_uncorrelated']:.1f} uncorrelated samples {'≥' if samples_ok else '<'} {min_uncorrelated}")


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

"""Periodic perturbation (cosine acceleration): the integrator and the viscosity estimator.

Every particle is accelerated along x by a field that varies as a cosine across the box,

.. math:: a_x(z) = A \\cos(k z), \\qquad k = 2\\pi / L_z ,

and the liquid answers with a velocity profile :math:`u_x(z) = V \\cos(k z)`. In steady state the
Navier–Stokes equation balances the driving against the shear stress, :math:`\\rho A = \\eta k^2 V`, so

.. math:: \\eta = \\frac{A \\rho}{k^2 V} = \\frac{A \\rho L_z^2}{4 \\pi^2 V}

(Hess, J. Chem. Phys. 116, 209 (2002); GROMACS' ``cos-acceleration``). The amplitude is measured as
the mass-weighted projection of the velocities on the cosine,

.. math:: \\hat V = \\frac{2 \\sum_i m_i v_{x,i} \\cos(k z_i)}{\\sum_i m_i} ,

which is unbiased for a liquid of uniform density (:math:`\\langle \\cos^2 \\rangle = 1/2`). The flow
builds up and decays with the viscous time :math:`\\tau_\\eta = \\rho / (\\eta k^2)` (≈ 0.3 ps for
water in a 3 nm box).

The thermostat must not act on the imposed flow, or it damps the profile with its own rate and
:math:`V` no longer measures the viscosity. :func:`cosine_integrator` is OpenMM's Langevin middle
scheme (kick, half drift, friction and noise, half drift, constraints) written as a
``CustomIntegrator`` whose friction step acts on the velocity *relative to the flow*
:math:`v - \\hat V \\cos(kz)\\,\\hat x`, with :math:`\\hat V` measured at that moment. It runs in stock
OpenMM on every platform, with constraints, rigid water, virtual sites (massless particles are not
moved) and hydrogen mass repartitioning.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import openmm as mm

from hese.analysis.blocks import block_bounds, standard_error
from hese.errors import HeseInputError
from hese.md.reporters import KB_KJ_MOL_K

#: 1 amu nm⁻¹ ps⁻¹ (the unit of A ρ L² / V in OpenMM's units) in mPa s.
AMU_PER_NM_PS_IN_MPA_S = 1.66053906660e-27 / (1e-9 * 1e-12) * 1e3
#: 1 amu nm⁻³ in g cm⁻³.
AMU_PER_NM3_IN_G_CM3 = 1.66053906660e-3
#: Acceleration amplitude (nm ps⁻²) of the default in a 3 nm box; see :func:`default_amplitudes`.
REFERENCE_AMPLITUDE_NM_PS2, REFERENCE_EDGE_NM = 0.05, 3.0

#: Integrator globals: the flow amplitude summed over steps since the last reset, and the count.
V_SUM, N_SUM = "v_sum", "n_sum"


def cosine_integrator(dt_ps: float, temperature_k: float, friction_per_ps: float, amplitude_nm_ps2: float,
                      lz_nm: float) -> mm.CustomIntegrator:
    """A Langevin middle integrator that drives :math:`a_x = A\\cos(2\\pi z/L_z)` and thermostats
    the velocities relative to the flow it drives.

    One step of length :math:`\\Delta t`:

    .. math::

        v &\\leftarrow v + \\Delta t\\,(f/m + A\\cos(kz)\\,\\hat x) \\quad\\text{(then velocity constraints)}\\\\
        x &\\leftarrow x + \\tfrac12 \\Delta t\\, v\\\\
        v &\\leftarrow u + e^{-\\gamma\\Delta t}(v - u) + \\sqrt{(1 - e^{-2\\gamma\\Delta t})\\,k_BT/m}\\;\\xi,
            \\quad u = \\hat V\\cos(kz)\\,\\hat x\\\\
        x &\\leftarrow x + \\tfrac12 \\Delta t\\, v \\quad\\text{(then position constraints,
            } v \\leftarrow v + \\Delta x_\\text{constraint}/\\Delta t\\text{)}

    The global variables ``A`` (nm ps⁻²) and ``k`` (nm⁻¹) may be changed between steps;
    :data:`V_SUM` and :data:`N_SUM` accumulate :math:`\\hat V` (nm/ps) of every step (reset them to
    zero to start a new average).
    """
    if not lz_nm > 0:
        raise HeseInputError(f"box: L_z = {lz_nm} nm is not a positive length")
    fric = math.exp(-friction_per_ps * dt_ps)
    ig = mm.CustomIntegrator(dt_ps)
    ig.addGlobalVariable("A", amplitude_nm_ps2)
    ig.addGlobalVariable("k", 2 * math.pi / lz_nm)
    ig.addGlobalVariable("fric", fric)
    ig.addGlobalVariable("noise", math.sqrt(1 - fric * fric))
    ig.addGlobalVariable("kT", KB_KJ_MOL_K * temperature_k)
    ig.addGlobalVariable("mass_x", 0.0)
    ig.addGlobalVariable("momentum_cos", 0.0)
    ig.addGlobalVariable("V", 0.0)
    ig.addGlobalVariable(V_SUM, 0.0)
    ig.addGlobalVariable(N_SUM, 0.0)
    ig.addPerDofVariable("x_before", 0.0)
    x_hat = "vector(1, 0, 0)"
    flow = f"V*cos(k*_z(x))*{x_hat}"
    ig.addUpdateContextState()
    ig.addComputeSum("mass_x", f"m*{x_hat}")  # Σ m (x components only: once per particle)
    ig.addComputePerDof("v", f"v + dt*f/m + dt*A*cos(k*_z(x))*{x_hat}")
    ig.addConstrainVelocities()
    ig.addComputePerDof("x", "x + 0.5*dt*v")
    ig.addComputeSum("momentum_cos", f"m*v*cos(k*_z(x))*{x_hat}")
    ig.addComputeGlobal("V", "2*momentum_cos/mass_x")
    ig.addComputePerDof("v", f"{flow} + fric*(v - {flow}) + noise*sqrt(kT/m)*gaussian")
    ig.addComputePerDof("x", "x + 0.5*dt*v")
    ig.addComputePerDof("x_before", "x")
    ig.addConstrainPositions()
    ig.addComputePerDof("v", "v + (x - x_before)/dt")
    ig.addComputeGlobal(V_SUM, f"{V_SUM} + V")
    ig.addComputeGlobal(N_SUM, f"{N_SUM} + 1")
    return ig


def take_mean_amplitude(integrator: mm.CustomIntegrator) -> float:
    """The mean flow amplitude :math:`\\hat V` (nm/ps) over the steps since the last call; resets the sums."""
    n = integrator.getGlobalVariableByName(N_SUM)
    mean = integrator.getGlobalVariableByName(V_SUM) / n if n else math.nan
    integrator.setGlobalVariableByName(V_SUM, 0.0)
    integrator.setGlobalVariableByName(N_SUM, 0.0)
    return mean


def flow_amplitude(masses: np.ndarray, z_nm: np.ndarray, vx_nm_ps: np.ndarray, lz_nm: float) -> float:
    """:math:`\\hat V = 2 \\sum_i m_i v_{x,i} \\cos(2\\pi z_i/L_z) / \\sum_i m_i` (nm/ps)."""
    masses = np.asarray(masses, dtype=float)
    phase = np.cos(2 * np.pi * np.asarray(z_nm, dtype=float) / lz_nm)
    return float(2 * np.sum(masses * np.asarray(vx_nm_ps, dtype=float) * phase) / masses.sum())


def viscosity_mpa_s(amplitude_nm_ps2: float, density_amu_nm3: float, lz_nm: float, v_nm_ps: float) -> float:
    """:math:`\\eta = A \\rho L_z^2 / (4\\pi^2 V)` in mPa s (A in nm ps⁻², ρ in amu nm⁻³, V in nm/ps)."""
    return amplitude_nm_ps2 * density_amu_nm3 * lz_nm**2 / (4 * np.pi**2 * v_nm_ps) * AMU_PER_NM_PS_IN_MPA_S


def default_amplitudes(lz_nm: float) -> tuple[float, float]:
    """The default amplitudes (nm ps⁻²): :math:`A_1 = 0.05 \\cdot (3\\,\\mathrm{nm}/L_z)` and :math:`A_1/2`.

    The shear rate of the profile, :math:`kV = A\\rho/(\\eta k)`, grows as :math:`A L_z`; scaling A
    with :math:`1/L_z` keeps it at the value of Hess' water boxes (0.05 nm ps⁻² at 3 nm, shear rate
    ≈ 3·10¹⁰ s⁻¹ and a temperature rise of a few hundredths of a kelvin for water). The second, half
    amplitude checks that the response is linear.
    """
    a1 = REFERENCE_AMPLITUDE_NM_PS2 * REFERENCE_EDGE_NM / lz_nm
    return (a1, a1 / 2)


def estimate(v_nm_ps: Sequence[float], sample_ps: float, block_ps: float, amplitude_nm_ps2: float,
             density_amu_nm3: float, lz_nm: float) -> dict:
    """Viscosity and its standard error from a steady-state series of flow amplitudes.

    The series is cut into blocks of ``block_ps`` (the samples after the last whole block are not
    used); the mean amplitude :math:`\\bar V` has the standard error :math:`\\sigma_{\\bar V}` of
    the block means, and :math:`\\sigma_\\eta = \\eta\\,\\sigma_{\\bar V}/\\bar V` (first order; the
    estimate is flagged ``resolved: false`` when :math:`\\bar V` is not at least 3 σ from zero,
    where :math:`1/\\bar V` is no longer near-normal).

    Raises
    ------
    HeseInputError
        When the series holds fewer than two blocks.
    """
    v = np.asarray(v_nm_ps, dtype=float)
    per_block = max(1, round(block_ps / sample_ps))
    n_blocks = v.size // per_block
    if n_blocks < 2:
        raise HeseInputError(f"run_ps: the measured part ({v.size * sample_ps:g} ps) holds {n_blocks} block(s) of "
                             f"block_ps = {block_ps:g} ps; at least 2 are needed for an error: run longer or use "
                             f"shorter blocks")
    means = np.array([v[a:b].mean() for a, b in block_bounds(n_blocks * per_block, n_blocks)])
    v_mean, v_err = float(means.mean()), standard_error(means)
    eta = viscosity_mpa_s(amplitude_nm_ps2, density_amu_nm3, lz_nm, v_mean)
    return {
        "amplitude_nm_ps2": amplitude_nm_ps2,
        "v_amplitude_nm_ps": v_mean,
        "v_amplitude_err_nm_ps": v_err,
        "viscosity_mpa_s": eta,
        "viscosity_err_mpa_s": abs(eta) * v_err / abs(v_mean),
        "n_blocks": int(n_blocks),
        "block_ps": per_block * sample_ps,
        "resolved": bool(abs(v_mean) >= 3 * v_err),
    }


def combine(estimates: Sequence[dict]) -> dict:
    """Inverse-variance mean of the viscosities at several amplitudes, and a linear-response check.

    Only resolved estimates (:func:`estimate`) enter; ``resolved`` says whether all were, and the
    viscosity is NaN when none was (run longer, or use a larger amplitude). ``linear`` is false when
    two resolved amplitudes disagree by more than 2 combined standard errors (the response is then
    not linear in A: use smaller amplitudes).
    """
    used = [e for e in estimates if e["resolved"]]
    eta = np.array([e["viscosity_mpa_s"] for e in used])
    err = np.array([e["viscosity_err_mpa_s"] for e in used])
    linear = all(abs(eta[i] - eta[j]) <= 2 * math.hypot(err[i], err[j])
                 for i in range(len(eta)) for j in range(i + 1, len(eta)))
    if not used:
        return {"viscosity_mpa_s": math.nan, "viscosity_err_mpa_s": math.nan, "linear": linear, "resolved": False}
    w = 1 / err**2
    return {"viscosity_mpa_s": float(np.sum(w * eta) / w.sum()), "viscosity_err_mpa_s": float(1 / math.sqrt(w.sum())),
            "linear": linear, "resolved": len(used) == len(estimates)}

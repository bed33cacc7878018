"""The NPT density judge on synthetic relaxations with a known plateau: how often is it fooled?

Series :math:`\\rho_k = \\rho_\\infty \\mp A\\,f(k/\\tau) + \\xi_k` (rising and falling) with an
exponential :math:`f(x) = e^{-x}` or a stretched :math:`f(x) = e^{-\\sqrt{x}}` relaxation, τ from 3
to 100 sampling intervals, windows (series lengths) from 0.2 τ to 20 τ, amplitudes 1–30 % of the
plateau, white or AR(1)-correlated noise ξ (σ = 0.5 %, correlation time 3 samples). A "converged"
verdict is *false* when the reported mean lies more than 3 stated errors and 0.3 % from the plateau.
Flat series (plateau + noise) with a few hundred uncorrelated samples must be accepted.

Both judges run on the same series: hese's equivalence test on the drift
(:func:`hese.md.equilibration.density_convergence`) and the previous rule (pymbar's
``detect_equilibration`` start in the first half with enough uncorrelated samples). Also the two
cases of the issue that showed the old rule's failures: τ = 20 ps seen for 4 ps, and τ = 5 ps seen
for 24 ps (0.1 ps sampling, A = 0.1).

usage: python benchmarks/equilibration_judge.py [--trials 4] [--seed 0] [--tolerance 0.005]
"""

from __future__ import annotations

import argparse
import itertools
import math
import time
from collections.abc import Callable

import numpy as np
import pandas as pd

from hese.md import equilibration as eq

SIGMA = 0.005
CORRELATION = 3.0
SHAPES = {"exponential": lambda x: np.exp(-x), "stretched": lambda x: np.exp(-np.sqrt(x))}


def noise(rng: np.random.Generator, n: int, sigma: float, correlation: float) -> np.ndarray:
    """White (``correlation`` 0) or AR(1) noise of standard deviation ``sigma``, correlation time in samples."""
    if correlation == 0:
        return sigma * rng.standard_normal(n)
    phi = math.exp(-1 / correlation)
    kicks = sigma * math.sqrt(1 - phi**2) * rng.standard_normal(n)
    kicks[0] = sigma * rng.standard_normal()
    out = np.empty(n)
    out[0] = kicks[0]
    for k in range(1, n):
        out[k] = phi * out[k - 1] + kicks[k]
    return out


def thermo(density: np.ndarray) -> pd.DataFrame:
    """Thermo rows holding a density series (the other columns are placeholders the judge averages)."""
    return pd.DataFrame({"density_g_cm3": density, "volume_nm3": 30.0 / density, "temperature_k": 300.0,
                         "potential_energy_kj_mol": -1.0})


def previous_judge(rows: pd.DataFrame, every_ps: float, min_uncorrelated: int) -> dict:
    """The rule hese used before: pymbar's equilibration start in the first half, enough uncorrelated samples."""
    rho = rows["density_g_cm3"].to_numpy()
    n = len(rho)
    if n < 4:
        return {"converged": False}
    import contextlib
    import io
    import warnings

    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), \
            contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        from pymbar import timeseries

        t0, g, neff = timeseries.detect_equilibration(rho)
    kept = rho[t0:]
    return {"converged": bool(t0 <= n / 2 and neff >= min_uncorrelated), "density_g_cm3": float(kept.mean()),
            "density_err_g_cm3": float(kept.std(ddof=1) / math.sqrt(neff)) if len(kept) > 1 else math.inf}


Judge = Callable[[pd.DataFrame, float, int], dict]


def drifting_suite(judge: Judge, seed: int = 0, trials: int = 4, taus=(3, 10, 30, 100),
                   windows=(0.2, 0.5, 1, 2, 5, 10, 20), amplitudes=(0.01, 0.03, 0.1, 0.3),
                   min_uncorrelated: int = 5) -> pd.DataFrame:
    """One row per drifting series: its parameters, the verdict and whether a 'converged' was false."""
    rng = np.random.default_rng(seed)
    rows = []
    for shape, tau, window, amp, sign, corr in itertools.product(SHAPES, taus, windows, amplitudes, (1, -1),
                                                                  (0.0, CORRELATION)):
        n = int(round(window * tau))
        if n < 4:
            continue
        f = SHAPES[shape](np.arange(1, n + 1) / tau)
        for _ in range(trials):
            rho = 1.0 - sign * amp * f + noise(rng, n, SIGMA, corr)
            r = judge(thermo(rho), 1.0, min_uncorrelated)
            off = abs(r["density_g_cm3"] - 1.0) if r["converged"] else 0.0
            false = bool(r["converged"] and off > 3 * r["density_err_g_cm3"] and off > 0.003)
            rows.append({"shape": shape, "tau": tau, "window_tau": window, "amplitude": amp, "sign": sign,
                         "correlation": corr, "converged": r["converged"], "false_converged": false})
    return pd.DataFrame(rows)


def flat_acceptance(judge: Judge, seed: int = 0, trials: int = 200, min_uncorrelated: int = 20) -> float:
    """Fraction of flat series accepted: 300 white samples, and 1500 AR(1) samples (g ≈ 6, ≈ 250 uncorrelated)."""
    rng = np.random.default_rng(seed)
    accepted = 0
    for _ in range(trials):
        for corr, n in ((0.0, 300), (CORRELATION, 1500)):
            accepted += bool(judge(thermo(1.0 + noise(rng, n, SIGMA, corr)), 1.0, min_uncorrelated)["converged"])
    return accepted / (2 * trials)


def issue_cases(judge: Judge, seed: int = 0, trials: int = 100) -> list[dict]:
    """The issue's two cases (0.1 ps sampling, A = 0.1, σ = 0.005, correlation 0.3 ps, 5 uncorrelated samples)."""
    rng = np.random.default_rng(seed)
    out = []
    for tau_ps, npt_ps in ((20.0, 4.0), (5.0, 24.0), (5.0, 100.0)):
        n = int(round(npt_ps / 0.1))
        conv = wrong = 0
        for _ in range(trials):
            rho = 1.0 - 0.1 * np.exp(-0.1 * np.arange(1, n + 1) / tau_ps) + noise(rng, n, SIGMA, CORRELATION)
            r = judge(thermo(rho), 0.1, 5)
            if r["converged"]:
                conv += 1
                wrong += abs(r["density_g_cm3"] - 1.0) > 3 * r["density_err_g_cm3"]
        out.append({"tau_ps": tau_ps, "npt_ps": npt_ps, "converged": conv / trials, "wrong_when_converged": wrong})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=4, help="series per cell of the drifting grid")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tolerance", type=float, default=0.005, help="hese's density_tolerance")
    args = parser.parse_args()

    def hese_judge(rows, every_ps, n_min):
        return eq.density_convergence(rows, every_ps, n_min, args.tolerance)

    for name, judge in (("hese (drift equivalence test)", hese_judge), ("previous (detect_equilibration)",
                                                                        previous_judge)):
        t0 = time.perf_counter()
        table = drifting_suite(judge, args.seed, args.trials)
        flat = flat_acceptance(judge, args.seed)
        cases = issue_cases(judge, args.seed)
        took = time.perf_counter() - t0
        print(f"\n{name}: {len(table)} drifting series, {took:.1f} s")
        print(f"  false 'converged' (mean > 3 stated errors and 0.3 % off): {table.false_converged.mean():.2%} "
              f"of all drifting series; called converged: {table.converged.mean():.2%}")
        print(f"  flat series accepted: {flat:.2%}")
        worst = table.groupby(["shape", "amplitude"])["false_converged"].mean().unstack()
        print("  false-converged rate by shape (rows) and amplitude (columns):")
        print("   " + worst.to_string(float_format=lambda v: f"{v:.1%}").replace("\n", "\n   "))
        by_window = table.groupby("window_tau")[["converged", "false_converged"]].mean()
        print("  by window / τ:")
        print("   " + by_window.to_string(float_format=lambda v: f"{v:.1%}").replace("\n", "\n   "))
        for c in cases:
            print(f"  τ = {c['tau_ps']:g} ps, {c['npt_ps']:g} ps of NPT: converged in {c['converged']:.0%} of the "
                  f"trials, {c['wrong_when_converged']} of them more than 3 stated errors from the plateau")


if __name__ == "__main__":
    main()

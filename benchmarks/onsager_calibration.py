"""Are the collective error bars honest? The Einstein–Helfand σ, the cation–anion σ_ij and t(Li⁺) of
hese's collective estimator against the truth over many independent synthetic realisations, side by
side with the estimator hese used before (the self-diffusion fit window up to half a block, 5 blocks).

The system (a reviewer's case): 100 free Li⁺ (D = 1e-9 m²/s), 100 free anions (4e-9) and 400 Li⁺–anion
pairs moving together (0.2e-9) in an 8 nm box at 300 K, 1-ps frames; the true σ_EH = 6.05 S/m and
t(Li⁺) = 0.2 (Nernst–Einstein would say 0.27). Each species' collective displacement is a sum of
independent Gaussian walks, drawn directly as one walk.

    python benchmarks/onsager_calibration.py [--realisations 200] [--frames 20000]

Prints, per estimator and quantity, the fraction of realisations with the truth inside ±2 reported σ,
the rms of z = (estimate − truth)/σ, and the mean estimate and error.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from hese.analysis import onsager
from hese.analysis.blocks import block_bounds, standard_error
from hese.analysis.msd import linear_slopes, msd_fft_blocks

KB, E = 1.380649e-23, 1.602176634e-19
N_FREE_CATION, N_FREE_ANION, N_PAIRS = 100, 100, 400
D_CATION, D_ANION, D_PAIR = 1e-3, 4e-3, 0.2e-3  # nm²/ps
VOLUME_NM3, T_K = 512.0, 300.0
FACTOR = E**2 / (VOLUME_NM3 * 1e-27 * KB * T_K) * 1e-6  # S/m per (Σ N D in nm²/ps)
TRUE_EH = FACTOR * (N_FREE_CATION * D_CATION + N_FREE_ANION * D_ANION)
TRUE_CROSS = -FACTOR * N_PAIRS * D_PAIR
TRUE_T = (N_FREE_CATION * D_CATION) / (N_FREE_CATION * D_CATION + N_FREE_ANION * D_ANION)


def realisation(rng: np.random.Generator, n_frames: int) -> dict[str, np.ndarray]:
    def walk(n_d: float) -> np.ndarray:
        steps = rng.normal(0.0, np.sqrt(2 * n_d), (n_frames - 1, 3))
        return np.concatenate([np.zeros((1, 3)), np.cumsum(steps, axis=0)])

    pairs = walk(N_PAIRS * D_PAIR)
    return {"Li": walk(N_FREE_CATION * D_CATION) + pairs, "X": walk(N_FREE_ANION * D_ANION) + pairs}


def hese_now(run: dict[str, np.ndarray], n_frames: int) -> dict[str, tuple[float, float]]:
    coll = onsager.collective([run], {"Li": 1, "X": -1}, 1.0, VOLUME_NM3, T_K, start_lag=1,
                              max_lag=n_frames // 5 // 2, min_blocks=5)
    cross, blocks = coll.sigma("Li", "X")
    return {"sigma_eh": coll.einstein_helfand(), "sigma_li_x": (cross, standard_error(blocks)),
            "t_li": coll.transference()["Li"]}


def hese_before(run: dict[str, np.ndarray], n_frames: int) -> dict[str, tuple[float, float]]:
    """The earlier estimator: fit over lags 1 … half a block (the self-diffusion window), 5 blocks."""
    max_lag, bounds = n_frames // 5 // 2, block_bounds(n_frames, 5)
    lags = np.arange(1, max_lag + 1)

    def slope(series: np.ndarray) -> tuple[float, np.ndarray]:
        full, parts = msd_fft_blocks(series[:, None, :], bounds, max_lag)
        return float(linear_slopes(lags, full.sum(axis=1)[lags])), linear_slopes(lags, parts.sum(axis=2)[:, lags])

    li, li_b = slope(run["Li"])
    x, x_b = slope(run["X"])
    m, m_b = slope(run["Li"] - run["X"])
    cross, cross_b = -(li + x - m) / 2, -(li_b + x_b - m_b) / 2  # z_Li z_X ⟨ΔR_Li·ΔR_X⟩ by polarisation
    t, t_err = onsager.ratio(li + cross, li_b + cross_b, m, m_b)
    return {"sigma_eh": (FACTOR / 6 * m, FACTOR / 6 * standard_error(m_b)),
            "sigma_li_x": (FACTOR / 6 * cross, FACTOR / 6 * standard_error(cross_b)), "t_li": (t, t_err)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--realisations", type=int, default=200)
    parser.add_argument("--frames", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    truth = {"sigma_eh": TRUE_EH, "sigma_li_x": TRUE_CROSS, "t_li": TRUE_T}
    estimators = {"hese now": hese_now, "hese before": hese_before}
    results = {name: {q: [] for q in truth} for name in estimators}
    seconds = dict.fromkeys(estimators, 0.0)
    rng = np.random.default_rng(args.seed)
    for _ in range(args.realisations):
        run = realisation(rng, args.frames)
        for name, estimate in estimators.items():
            start = time.perf_counter()
            values = estimate(run, args.frames)
            seconds[name] += time.perf_counter() - start
            for q, v in values.items():
                results[name][q].append(v)
    print(f"{args.realisations} realisations of {args.frames} frames; truth: σ_EH = {TRUE_EH:.3f} S/m, "
          f"σ_Li–X = {TRUE_CROSS:.3f} S/m, t_Li = {TRUE_T:.3f}")
    print(f"{'estimator':<12} {'quantity':<11} {'within 2σ':>9} {'rms z':>6} {'mean':>8} {'mean σ':>8}")
    for name, per_quantity in results.items():
        for q, pairs in per_quantity.items():
            values, errors = np.array(pairs).T
            z = (values - truth[q]) / errors
            print(f"{name:<12} {q:<11} {np.mean(np.abs(z) < 2):>9.3f} {np.sqrt(np.mean(z**2)):>6.2f} "
                  f"{values.mean():>8.3f} {errors.mean():>8.3f}")
    print("time per realisation: " + ", ".join(f"{n} {s / args.realisations * 1e3:.1f} ms" for n, s in seconds.items()))


if __name__ == "__main__":
    main()

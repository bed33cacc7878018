"""How often should the Monte Carlo barostat try a volume move? Cost and density correlation, side by side.

Builds each box of a study (default: the demo's three), then for each barostat interval (default
25 steps, OpenMM's default, and 5) runs the same NPT on OpenMM's CPU platform and reports:

- speed: NPT ns/day, intervals alternated ``--repeats`` times on one thread (``--speed-ps`` each);
- with ``--npt-ps T`` (e.g. 200): one NPT run of T ps per interval from the same minimised,
  heated start, and the statistical inefficiency g of the density over its last two thirds
  (pymbar), i.e. how many ps of NPT one independent density sample costs, and the scatter of
  20-ps window means (what a short equilibration's density is uncertain by).

The ratio printed is what matters: NPT ps needed for a given density precision scale with g / speed.

usage: python benchmarks/barostat_interval.py [--config config/demo.yaml] [--intervals 25 5] [--npt-ps 200]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OPENMM_CPU_THREADS", "1")


def npt_context(build_dir: Path, interval: int, seed: int = 11):
    """A minimised, heated CPU context of a hese build with a barostat every ``interval`` steps."""
    import openmm as mm
    from openmm import app, unit

    from hese.md.inputs import repartition_hydrogen_mass

    system = mm.XmlSerializer.deserialize((build_dir / "system.xml").read_text())
    pdb = app.PDBFile(str(build_dir / "topology.pdb"))
    repartition_hydrogen_mass(system, pdb.topology, 3.024)
    barostat = mm.MonteCarloBarostat(1 * unit.bar, 298.15 * unit.kelvin, interval)
    barostat.setRandomNumberSeed(seed)
    system.addForce(barostat)
    integrator = mm.LangevinMiddleIntegrator(298.15 * unit.kelvin, 1 / unit.picosecond, 0.004 * unit.picoseconds)
    integrator.setRandomNumberSeed(seed)
    context = mm.Context(system, integrator, mm.Platform.getPlatformByName("CPU"))
    context.setPeriodicBoxVectors(*pdb.topology.getPeriodicBoxVectors())
    context.setPositions(pdb.positions)
    mm.LocalEnergyMinimizer.minimize(context, 10, 300)
    context.setVelocitiesToTemperature(298.15 * unit.kelvin, seed)
    integrator.step(250)  # 1 ps
    return system, context, integrator


def density_series(system, context, integrator, ps: float, every_ps: float = 0.1):
    import numpy as np
    from openmm import unit

    mass = sum(system.getParticleMass(i).value_in_unit(unit.dalton) for i in range(system.getNumParticles()))
    steps = round(every_ps / 0.004)
    out = []
    for _ in range(round(ps / every_ps)):
        integrator.step(steps)
        v = context.getState().getPeriodicBoxVolume().value_in_unit(unit.nanometer**3)
        out.append(mass / 602.214076 / v)
    return np.array(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default="config/demo.yaml")
    parser.add_argument("--intervals", type=int, nargs="+", default=[25, 5])
    parser.add_argument("--speed-ps", type=float, default=2.0)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--npt-ps", type=float, default=0.0)
    args = parser.parse_args()
    import numpy as np
    from pymbar import timeseries

    from hese import build, study

    runs = study.runs(study.load(args.config), args.config)
    with tempfile.TemporaryDirectory() as tmp:
        for run in runs:
            folder = Path(tmp) / run.id
            build.build(build.SystemDefinition.from_dict(run.system), folder, seed=run.seed)
            print(f"\n{run.id}")
            speed = {i: [] for i in args.intervals}
            for _ in range(args.repeats):
                for interval in args.intervals:
                    system, context, integrator = npt_context(folder, interval)
                    n = round(args.speed_ps / 0.004)
                    t0 = time.perf_counter()
                    integrator.step(n)
                    speed[interval].append(n * 0.004e-3 / ((time.perf_counter() - t0) / 86400))
            base = args.intervals[0]
            for interval in args.intervals:
                ratio = np.median(speed[interval]) / np.median(speed[base])
                print(f"  every {interval:3d} steps: {np.median(speed[interval]):6.1f} ns/day "
                      f"(×{ratio:.3f} of every {base})")
            if args.npt_ps > 0:
                g_of = {}
                for interval in args.intervals:
                    rho = density_series(*npt_context(folder, interval), args.npt_ps)[round(args.npt_ps * 10) // 3:]
                    g = timeseries.statistical_inefficiency(rho, fft=False)
                    windows = [rho[k:k + 200].mean() for k in range(0, len(rho) - 199, 200)]
                    g_of[interval] = g * 0.1
                    print(f"  every {interval:3d} steps: density {rho.mean():.4f} g/cm³, sd {rho.std():.4f}; g = "
                          f"{g * 0.1:.1f} ps; 20-ps window means scatter {np.std(windows, ddof=1):.4f} "
                          f"({len(windows)} windows)")
                for interval in args.intervals[1:]:
                    cost = (g_of[interval] / np.median(speed[interval])) / (g_of[base] / np.median(speed[base]))
                    print(f"  CPU time per independent density sample, every {interval} vs every {base}: ×{cost:.2f}")


if __name__ == "__main__":
    main()

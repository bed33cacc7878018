"""Density of pure DME and pure water (default water model) at 298.15 K, 1 bar.

Builds each liquid with hese (packmol + hese's force-field rules), runs NPT with
a Monte Carlo barostat and a Langevin middle integrator, and keeps sampling
until the standard error of the mean density (from the statistical inefficiency
of the density time series, pymbar) is below --precision of the mean, or
--max-ps is reached. Prints simulated vs experimental density and the relative
error. Experimental values (water:
IAPWS-95, 0.99705 g/cm³; DME: 0.8683 g/cm³ at 20 °C and about 0.861–0.863 at
25 °C, Pal & Sharma, J. Chem. Eng. Data 44, 212 (1999), not verified against the paper:
0.862 is used and the spread is printed).

usage: python benchmarks/density.py [--platform CPU] [--min-ps 100] [--max-ps 2000] [--precision 0.01]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import openmm as mm
from openmm import app, unit
from pymbar import timeseries

from hese.build import SystemDefinition, build

LIQUIDS = {
    # name: (counts, force-field family, experimental density g/cm3, source)
    "DME": ({"DME": 150}, "organic", 0.862, "Pal & Sharma 1999 (25 °C, 0.861–0.863; unverified in validation-data.md)"),
    "water (SPC/E)": ({"water": 500}, "aqueous", 0.99705, "IAPWS-95"),
}


def density_series(system: mm.System, pdb: app.PDBFile, platform: str, args) -> tuple[np.ndarray, float]:
    """NPT density samples (g/cm³) after equilibration, and ns/day."""
    temperature = args.temperature_k * unit.kelvin
    system.addForce(mm.MonteCarloBarostat(1.0 * unit.bar, temperature, 25))
    step = args.timestep_fs * unit.femtosecond
    integrator = mm.LangevinMiddleIntegrator(temperature, 1.0 / unit.picosecond, step)
    sim = app.Simulation(pdb.topology, system, integrator, mm.Platform.getPlatformByName(platform))
    sim.context.setPositions(pdb.positions)
    sim.minimizeEnergy(maxIterations=1000)
    sim.context.setVelocitiesToTemperature(temperature, 1)
    masses = (system.getParticleMass(i) for i in range(system.getNumParticles()))
    mass_g = sum(m.value_in_unit(unit.dalton) for m in masses) / 6.02214076e23
    steps_per_sample = int(round(args.sample_ps * 1000 / args.timestep_fs))
    t0 = time.perf_counter()
    sim.step(int(args.equilibrate_ps * 1000 / args.timestep_fs))
    speed = args.equilibrate_ps / 1000 / ((time.perf_counter() - t0) / 86400)
    eta_min = args.min_ps / 1000 / speed * 1440
    print(f"    equilibrated {args.equilibrate_ps:g} ps at {speed:.1f} ns/day; ≥ {eta_min:.0f} min of sampling left",
          flush=True)
    samples = []
    t0 = time.perf_counter()
    while True:
        sim.step(steps_per_sample)
        volume_nm3 = sim.context.getState().getPeriodicBoxVolume().value_in_unit(unit.nanometer**3)
        samples.append(mass_g / (volume_nm3 * 1e-21))
        n = len(samples)
        if n >= 50 and n % 25 == 0:
            rho = np.asarray(samples)
            t_eq, g, _ = timeseries.detect_equilibration(rho)
            prod = rho[t_eq:]
            err = prod.std(ddof=1) * np.sqrt(g / len(prod))
            simulated = n * args.sample_ps
            print(f"    {simulated:7.0f} ps: {prod.mean():.4f} ± {err:.4f} g/cm³ (g = {g:.1f})", flush=True)
            precise = err < args.precision * prod.mean() and simulated >= args.min_ps
            if precise or simulated >= args.max_ps:
                break
    elapsed = time.perf_counter() - t0
    ns_per_day = n * args.sample_ps / 1000 / (elapsed / 86400)
    return prod, err, ns_per_day


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--platform", default="CPU")
    p.add_argument("--temperature-k", type=float, default=298.15)
    p.add_argument("--timestep-fs", type=float, default=2.0)
    p.add_argument("--equilibrate-ps", type=float, default=20.0)
    p.add_argument("--sample-ps", type=float, default=1.0)
    p.add_argument("--min-ps", type=float, default=100.0, help="sample at least this long")
    p.add_argument("--max-ps", type=float, default=2000.0)
    p.add_argument("--precision", type=float, default=0.01, help="relative standard error to reach")
    p.add_argument("--only", choices=list(LIQUIDS), help="run one liquid only")
    p.add_argument("--molecules", type=int, help="number of solvent molecules (default: as in LIQUIDS)")
    args = p.parse_args()
    rows = []
    for name, (counts, family, experiment, source) in LIQUIDS.items():
        if args.only and name != args.only:
            continue
        if args.molecules:
            counts = {species: args.molecules for species in counts}
        with tempfile.TemporaryDirectory() as tmp:
            spec = {"name": "density", "composition": {"counts": counts}, "force_field": {"family": family}}
            definition = SystemDefinition.from_dict(spec)
            record = build(definition, tmp)
            system = mm.XmlSerializer.deserialize(Path(tmp, "system.xml").read_text())
            pdb = app.PDBFile(str(Path(tmp, "topology.pdb")))
        print(f"{name}: {record['n_atoms']} atoms, {args.platform}, {args.timestep_fs} fs", flush=True)
        rho, err, speed = density_series(system, pdb, args.platform, args)
        rows.append((name, rho.mean(), err, experiment, (rho.mean() - experiment) / experiment, speed, source))
    print()
    print(f"{'liquid':16s} {'simulated g/cm3':>18s} {'experiment':>10s} {'rel. error':>10s} {'ns/day':>7s}  source")
    for name, mean, err, exp, rel, speed, source in rows:
        print(f"{name:16s} {mean:9.4f} ± {err:6.4f} {exp:10.4f} {rel:+10.2%} {speed:7.1f}  {source}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

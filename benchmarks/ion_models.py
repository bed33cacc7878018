"""First hydration shell of Zn²⁺ / Mg²⁺ under each divalent model (force_field.divalent_model).

For each ion × model: one ion with 2 Cl⁻ (neutral, as hese builds boxes; the Cl⁻ stay in the box and
their distance to the ion is reported) in ``--waters`` water molecules of ``--water-model``, built
by hese (packmol, estimated density), minimised, then NVT at 298 K (Langevin middle, 1/ps, 2 fs,
rigid water, PME, 1.0 nm cutoff) for ``--equil-ps`` and ``--prod-ps``, on the CPU platform.
Every 0.1 ps of production the ion–water-oxygen distances are histogrammed (hese.analysis.rdf):

- peak: position of the maximum of g(r) on 0.002 nm bins smoothed with a 0.004 nm Gaussian;
- CN: the running coordination number at the first minimum after the peak (hese's find_cutoff).

Experiment (printed beside):
- Mg²⁺: 2.09 ± 0.04 Å, CN 6.0 ± 0.1 (X-ray diffraction), as read in Table 2 of the article at
  pmc.ncbi.nlm.nih.gov/articles/PMC9386089 (Yokoyama 1995, the average of Ohtaki & Radnai,
  Chem. Rev. 93, 1157 (1993) and Persson et al. 1995): read in that secondary source only.
- Zn²⁺: 2.08 Å, CN 6: the value usually quoted from Marcus, Chem. Rev. 88, 1475 (1988) and Ohtaki &
  Radnai (1993); NOT read in either source here (marked "not read" in the table).

usage: OPENMM_CPU_THREADS=1 nice -n 19 python benchmarks/ion_models.py [--ions Zn Mg]
           [--models cm iod 12-6-4] [--water-model spce] [--waters 500] [--equil-ps 10] [--prod-ps 40]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import openmm as mm
from openmm import app, unit

from hese import build, ion_models
from hese.analysis import rdf

EXPERIMENT = {"Zn": (2.08, "6", " (not read)"), "Mg": (2.09, "6.0 ± 0.1", "")}  # Å, CN, note (see above)
SAMPLE_PS = 0.1
TIMESTEP_PS = 0.002


def shell(ion: str, model: str, water_model: str, waters: int, equil_ps: float, prod_ps: float,
          workdir: Path, seed: int = 0) -> dict:
    """Build, equilibrate and sample one box; return peak (Å), CN and timings."""
    definition = build.SystemDefinition.from_dict({
        "name": f"{ion}-{model}", "composition": {"counts": {f"{ion}Cl2": 1, "water": waters}},
        "force_field": {"family": "aqueous", "water_model": water_model, "divalent_model": model}})
    out = workdir / f"{ion}-{model}-{water_model}"
    build.build(definition, out, seed=seed)
    system = mm.XmlSerializer.deserialize((out / "system.xml").read_text())
    pdb = app.PDBFile(str(out / "topology.pdb"))
    atoms = list(pdb.topology.atoms())
    centre = next(a.index for a in atoms if a.residue.name == ion.upper())
    oxygens = np.array([a.index for a in atoms if a.residue.name == "HOH" and a.name == "O1"])
    chlorides = np.array([a.index for a in atoms if a.residue.name == "CL"])
    integrator = mm.LangevinMiddleIntegrator(298 * unit.kelvin, 1 / unit.picosecond, TIMESTEP_PS * unit.picosecond)
    integrator.setRandomNumberSeed(seed + 1)
    platform = mm.Platform.getPlatformByName("CPU")
    threads = os.environ.get("OPENMM_CPU_THREADS", "1")
    sim = app.Simulation(pdb.topology, system, integrator, platform, {"Threads": threads})
    sim.context.setPositions(pdb.positions)
    sim.minimizeEnergy(maxIterations=500)
    sim.context.setVelocitiesToTemperature(298 * unit.kelvin, seed + 2)
    start = time.process_time()
    sim.step(int(round(equil_ps / TIMESTEP_PS)))
    every = int(round(SAMPLE_PS / TIMESTEP_PS))
    edges_fine, edges = rdf.rdf_edges(0.5, 0.002), rdf.rdf_edges(0.5, 0.005)
    fine, coarse = np.zeros(len(edges_fine) - 1), np.zeros(len(edges) - 1)
    n_frames, volume, cl_min = 0, 0.0, np.inf
    for _ in range(int(round(prod_ps / SAMPLE_PS))):
        sim.step(every)
        state = sim.context.getState(getPositions=True)
        xyz = state.getPositions(asNumpy=True).value_in_unit(unit.nanometer)
        box = np.diag(state.getPeriodicBoxVectors(asNumpy=True).value_in_unit(unit.nanometer))
        d = xyz[oxygens] - xyz[centre]
        d = np.linalg.norm(d - box * np.round(d / box), axis=1)
        fine += np.histogram(d, edges_fine)[0]
        coarse += np.histogram(d, edges)[0]
        dc = xyz[chlorides] - xyz[centre]
        cl_min = min(cl_min, float(np.linalg.norm(dc - box * np.round(dc / box), axis=1).min()))
        volume += float(np.prod(box))
        n_frames += 1
    cpu_s = time.process_time() - start
    volume /= n_frames
    g_fine, _, _ = rdf.rdf_from_counts(fine, edges_fine, 1, len(oxygens), n_frames, volume)
    r_fine = 0.5 * (edges_fine[1:] + edges_fine[:-1])
    peak_nm = float(r_fine[np.argmax(rdf.smooth(g_fine, 2.0))])
    g, running, norm = rdf.rdf_from_counts(coarse, edges, 1, len(oxygens), n_frames, volume)
    r = 0.5 * (edges[1:] + edges[:-1])
    cut = rdf.find_cutoff(r, g, norm)
    cn = float(running[np.searchsorted(r, cut.cutoff_nm)]) if cut.cutoff_nm else float("nan")
    return {"ion": ion, "model": model, "water_model": water_model, "peak_A": 10 * peak_nm, "cn": cn,
            "cutoff_A": 10 * cut.cutoff_nm if cut.cutoff_nm else float("nan"), "cl_min_A": 10 * cl_min,
            "frames": n_frames, "cpu_s": cpu_s, "ps": equil_ps + prod_ps}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ions", nargs="+", default=["Zn"], choices=sorted(EXPERIMENT))
    parser.add_argument("--models", nargs="+", default=list(ion_models.DIVALENT_MODELS),
                        choices=ion_models.DIVALENT_MODELS)
    parser.add_argument("--water-model", default="spce")
    parser.add_argument("--waters", type=int, default=500)
    parser.add_argument("--equil-ps", type=float, default=10.0)
    parser.add_argument("--prod-ps", type=float, default=40.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workdir", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hese-ion-models-") as tmp:
        workdir = args.workdir or Path(tmp)
        print("| ion | water | model | M–O peak (Å) | CN (to first min.) | first min. (Å) | experiment peak / CN "
              "| closest Cl⁻ (Å) | NVT ps | CPU s |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        for ion in args.ions:
            for model in args.models:
                row = shell(ion, model, args.water_model, args.waters, args.equil_ps, args.prod_ps, workdir, args.seed)
                exp_r, exp_cn, note = EXPERIMENT[ion]
                print(f"| {ion}²⁺ | {args.water_model} | {model} | {row['peak_A']:.2f} | {row['cn']:.2f} "
                      f"| {row['cutoff_A']:.2f} | {exp_r:.2f} / {exp_cn}{note} | {row['cl_min_A']:.1f} | {row['ps']:g} "
                      f"| {row['cpu_s']:.0f} |", flush=True)


if __name__ == "__main__":
    main()

"""One-shot GPU suite: platforms, ns/day of the seed boxes, hese's loop against a bare OpenMM loop,
the cost of the geometric-rule Lennard-Jones force, and several jobs sharing one GPU.

The boxes are built where packmol and rdkit are (``prepare``); the device machine only needs
OpenMM, its CUDA plugin and what ``hese simulate`` imports (``run``). Every number is measured in
this one run, side by side, and written to ``--out`` as ``gpu_suite.json`` and ``gpu_suite.md``.

usage:
  python benchmarks/gpu_suite.py prepare --boxes DIR [--small]          # here: build the boxes
  python benchmarks/gpu_suite.py run --boxes DIR --out DIR [--platform CUDA] [--seconds 15]
  python benchmarks/gpu_suite.py all --out DIR --platform CPU --small   # both (the CPU test of make test)

Boxes (``--small``: a few hundred atoms each, for the CPU test of ``make test``): the HE-DME four-salt box (500 DME,
LiFSI, LiTFSI, LiDFOB and LiNO₃ at 0.15 M each), its LiFSI-only control at 0.6 M, Li₂ZnCl₄·9H₂O
(60 formula units) and 4000 SPC/E waters. Timings: NVT Langevin at 298.15 K, mixed precision on
GPUs, 4 fs with hydrogen mass repartitioning and 2 fs without; each a warm-up, then ``--seconds``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform as host
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BOXES = {
    "he-dme": {"name": "he-dme", "composition": {"molarity": {"LiFSI": 0.15, "LiTFSI": 0.15, "LiDFOB": 0.15,
                                                              "LiNO3": 0.15}, "solvent": {"DME": 1}},
               "size": {"solvent_molecules": 500}, "force_field": {"family": "organic"}},
    "lifsi-dme": {"name": "lifsi-dme", "composition": {"molarity": {"LiFSI": 0.6}, "solvent": {"DME": 1}},
                  "size": {"solvent_molecules": 500}, "force_field": {"family": "organic"}},
    "li2zncl4-9h2o": {"name": "li2zncl4-9h2o", "composition": {"ratio": {"LiCl": 2, "ZnCl2": 1, "water": 9}},
                      "size": {"formula_units": 60}, "force_field": {"family": "aqueous"}},
    "water": {"name": "water", "composition": {"counts": {"water": 4000}}, "force_field": {"family": "aqueous"}},
}
SMALL = {"he-dme": {"size": {"solvent_molecules": 40}, "cutoff_nm": 0.7},
         "lifsi-dme": {"size": {"solvent_molecules": 40}, "cutoff_nm": 0.7},
         "li2zncl4-9h2o": {"size": {"formula_units": 12}, "cutoff_nm": 0.6},
         "water": {"composition": {"counts": {"water": 216}}, "cutoff_nm": 0.8}}


def prepare(boxes: Path, small: bool) -> None:
    """Build every box into ``boxes/<name>/`` (needs packmol and rdkit)."""
    from hese import build

    for name, definition in BOXES.items():
        definition = json.loads(json.dumps(definition))
        if small:
            definition.update({k: v for k, v in SMALL[name].items() if k != "cutoff_nm"})
            definition["force_field"]["cutoff_nm"] = SMALL[name]["cutoff_nm"]
        record = build.build(build.SystemDefinition.from_dict(definition), boxes / name, seed=1)
        print(f"built {name}: {record['n_atoms']} atoms, box {record['box_nm']:.2f} nm", flush=True)


# --- measurements -----------------------------------------------------------------------------

def environment() -> dict:
    import openmm as mm

    names = [mm.Platform.getPlatform(i).getName() for i in range(mm.Platform.getNumPlatforms())]
    env = {"openmm": mm.__version__, "platforms": names, "python": sys.version.split()[0], "host": host.node(),
           "plugin_load_failures": list(mm.Platform.getPluginLoadFailures()), "cpus": os.cpu_count()}
    if shutil.which("nvidia-smi"):
        query = "--query-gpu=name,driver_version,memory.total"
        out = subprocess.run(["nvidia-smi", query, "--format=csv,noheader"], capture_output=True, text=True)
        env["gpus"] = [line.strip() for line in out.stdout.splitlines() if line.strip()]
        version = subprocess.run(["nvidia-smi"], capture_output=True, text=True).stdout
        env["cuda_driver"] = next((w.split()[0] for w in version.split("CUDA Version:")[1:]), None)
    return env


def load_system(folder: Path, hmr: bool, geometric_lj_in_nonbonded: bool = False):
    """The built System (hydrogen masses repartitioned if ``hmr``), topology and positions.

    ``geometric_lj_in_nonbonded`` moves the organic Lennard-Jones terms from hese's
    CustomNonbondedForce into NonbondedForce (Lorentz–Berthelot between different atoms, so a
    different force field: for measuring cost only).
    """
    import openmm as mm
    from openmm import app

    system = mm.XmlSerializer.deserialize((folder / "system.xml").read_text())
    pdb = app.PDBFile(str(folder / "topology.pdb"))
    if hmr:
        from hese.md.inputs import repartition_hydrogen_mass

        repartition_hydrogen_mass(system, pdb.topology, 3.024)
    if geometric_lj_in_nonbonded:
        custom = [k for k, f in enumerate(system.getForces()) if isinstance(f, mm.CustomNonbondedForce)]
        if not custom:
            return None
        lj = system.getForce(custom[0])
        nb = next(f for f in system.getForces() if isinstance(f, mm.NonbondedForce))
        for i in range(lj.getNumParticles()):
            a, b = lj.getParticleParameters(i)
            q, _, _ = nb.getParticleParameters(i)
            sigma = (a / b) ** (1 / 3) if b > 0 else 0.1
            eps = b * b / (4 * sigma**6) if b > 0 else 0.0
            nb.setParticleParameters(i, q, sigma, eps)
        system.removeForce(custom[0])
    return system, pdb


def simulation_for(system, pdb, platform: str, dt_fs: float, seed: int = 1):
    """A minimised OpenMM Simulation with velocities at 298.15 K (Langevin middle, mixed precision on GPUs)."""
    import openmm as mm
    from openmm import app, unit

    integrator = mm.LangevinMiddleIntegrator(298.15 * unit.kelvin, 1 / unit.picosecond, dt_fs * unit.femtoseconds)
    integrator.setRandomNumberSeed(seed)
    props = {"Precision": "mixed"} if platform in ("CUDA", "OpenCL", "HIP") else {}
    simulation = app.Simulation(pdb.topology, system, integrator, mm.Platform.getPlatformByName(platform), props)
    simulation.context.setPositions(pdb.positions)
    simulation.minimizeEnergy(maxIterations=100)
    simulation.context.setVelocitiesToTemperature(298.15 * unit.kelvin, seed)
    return simulation


def ns_per_day(simulation, dt_fs: float, seconds: float, chunk: int = 100) -> float:
    """Steps in chunks for ``seconds`` after a warm-up chunk; ns/day of the timed part (reporters included)."""
    simulation.step(chunk)
    simulation.context.getState(getEnergy=True)  # waits for the device
    steps, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        simulation.step(chunk)
        steps += chunk
        simulation.context.getState(getEnergy=True)
    return steps * dt_fs * 1e-6 / ((time.perf_counter() - t0) / 86400)


def speeds(boxes: Path, platform: str, seconds: float) -> list[dict]:
    rows = []
    for name in BOXES:
        for hmr, dt in ((True, 4.0), (False, 2.0)):
            system, pdb = load_system(boxes / name, hmr)
            rate = ns_per_day(simulation_for(system, pdb, platform, dt), dt, seconds)
            rows.append({"box": name, "atoms": system.getNumParticles(), "dt_fs": dt, "hmr": hmr,
                         "ns_per_day": round(rate, 2)})
            print(f"{name}: {system.getNumParticles()} atoms, {dt:g} fs: {rate:.1f} ns/day", flush=True)
    return rows


def lj_cost(boxes: Path, platform: str, seconds: float) -> list[dict]:
    rows = []
    for name in ("he-dme", "lifsi-dme"):
        rates = {}
        for label, moved in (("as built (CustomNonbondedForce, geometric rule)", False),
                             ("LJ in NonbondedForce (cost only)", True)):
            system, pdb = load_system(boxes / name, True, geometric_lj_in_nonbonded=moved)
            rates[label] = ns_per_day(simulation_for(system, pdb, platform, 4.0), 4.0, seconds)
        built, moved = rates.values()
        rows.append({"box": name, **{k: round(v, 2) for k, v in rates.items()}, "cost_ratio": round(moved / built, 3)})
        print(f"{name}: custom geometric LJ {built:.1f} ns/day, NonbondedForce LJ {moved:.1f}: "
              f"×{moved / built:.2f}", flush=True)
    return rows


def hese_vs_bare(boxes: Path, platform: str, production_ps: float) -> dict:
    """Production ns/day of ``hese simulate`` against a bare OpenMM loop writing the same XTC frames."""
    from openmm import app

    box = boxes / "lifsi-dme"
    try:
        from hese.md import Settings, simulate
    except Exception as err:  # a device without hese's run-time needs
        return {"error": f"hese.md does not import here: {type(err).__name__}: {err}"}
    settings = Settings.from_mapping({"platform": platform, "hmr": True, "heating_ps": 0.4, "equilibration_ps": 2.0,
                                      "equilibration_extend_ps": 2.0, "max_equilibration_ps": 2.0,
                                      "density_tolerance": 1.0, "min_uncorrelated_samples": 1,
                                      "production_ps": production_ps, "save_every_ps": 2.0, "thermo_every_ps": 0.4,
                                      "minimize_max_iterations": 200, "seed": 1, "log_every_s": 600})
    with tempfile.TemporaryDirectory() as tmp:
        done = simulate(box, Path(tmp) / "md", settings)
        hese_rate = done["stages"]["production"]["ns_per_day"]
        system, pdb = load_system(box, True)
        simulation = simulation_for(system, pdb, platform, 4.0)
        simulation.reporters.append(app.XTCReporter(str(Path(tmp) / "bare.xtc"), round(2.0 / 0.004)))
        steps = round(production_ps / 0.004)
        t0 = time.perf_counter()
        simulation.step(steps)
        simulation.context.getState(getEnergy=True)
        bare = steps * 4e-6 / ((time.perf_counter() - t0) / 86400)
    print(f"hese production loop {hese_rate:.1f} ns/day, bare OpenMM loop {bare:.1f}: ×{hese_rate / bare:.3f}",
          flush=True)
    return {"box": "lifsi-dme", "production_ps": production_ps, "hese_ns_per_day": round(hese_rate, 2),
            "bare_ns_per_day": round(bare, 2), "ratio": round(hese_rate / bare, 3)}


def concurrency(boxes: Path, platform: str, seconds: float, counts: list[int], mps: bool) -> list[dict]:
    """Aggregate ns/day of k simultaneous processes on the one device."""
    rows = []
    runs = [(k, False) for k in counts] + ([(k, True) for k in counts] if mps else [])
    for k, with_mps in runs:
        if with_mps:
            subprocess.run(["nvidia-cuda-mps-control", "-d"], check=False)
        procs = [subprocess.Popen([sys.executable, __file__, "one", "--boxes", str(boxes), "--platform", platform,
                                   "--seconds", str(seconds)], stdout=subprocess.PIPE, text=True) for _ in range(k)]
        rates = [float(p.communicate()[0].strip().splitlines()[-1]) for p in procs]
        if with_mps:
            subprocess.run(["nvidia-cuda-mps-control"], input="quit\n", text=True, check=False)
        rows.append({"processes": k, "mps": with_mps, "aggregate_ns_per_day": round(sum(rates), 2),
                     "per_process_ns_per_day": round(sum(rates) / k, 2)})
        print(f"{k} processes{' with MPS' if with_mps else ''}: {sum(rates):.1f} ns/day in all", flush=True)
    return rows


def one(boxes: Path, platform: str, seconds: float) -> None:
    """One concurrency worker: the LiFSI box at 4 fs; prints its ns/day."""
    system, pdb = load_system(boxes / "lifsi-dme", True)
    print(ns_per_day(simulation_for(system, pdb, platform, 4.0), 4.0, seconds))


def report(out: Path, results: dict) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "gpu_suite.json").write_text(json.dumps(results, indent=2) + "\n")
    env = results["environment"]
    lines = ["# GPU suite", "", f"OpenMM {env['openmm']}; platforms {', '.join(env['platforms'])}; "
             f"GPU {', '.join(env.get('gpus', ['none']))}; platform used: {results['platform']}.", ""]
    if env["plugin_load_failures"]:
        lines += ["Plugin load failures:", "", *[f"- {f}" for f in env["plugin_load_failures"]], ""]
    lines += ["## ns/day", "", "| box | atoms | time step | ns/day |", "| --- | --- | --- | --- |"]
    lines += [f"| {r['box']} | {r['atoms']} | {r['dt_fs']:g} fs{' (HMR)' if r['hmr'] else ''} | {r['ns_per_day']} |"
              for r in results["speeds"]]
    h = results["hese_vs_bare"]
    lines += ["", "## hese's production loop against a bare OpenMM loop", "",
              h.get("error") or f"{h['hese_ns_per_day']} vs {h['bare_ns_per_day']} ns/day: ×{h['ratio']}"]
    lines += ["", "## Geometric-rule Lennard-Jones (CustomNonbondedForce) against NonbondedForce (cost only)", "",
              *[f"- {r['box']}: ×{r['cost_ratio']} faster in NonbondedForce" for r in results["lj_cost"]]]
    lines += ["", "## Several processes on one device", "", "| processes | MPS | ns/day in all | per process |",
              "| --- | --- | --- | --- |"]
    lines += [f"| {r['processes']} | {'yes' if r['mps'] else 'no'} | {r['aggregate_ns_per_day']} | "
              f"{r['per_process_ns_per_day']} |" for r in results["concurrency"]]
    lines += ["", f"Suite wall time {results['wall_s']:.0f} s."]
    (out / "gpu_suite.md").write_text("\n".join(lines) + "\n")
    print(f"report: {out / 'gpu_suite.md'}", flush=True)


def run(boxes: Path, out: Path, platform: str, seconds: float, small: bool) -> dict:
    t0 = time.perf_counter()
    results = {"platform": platform, "seconds_per_timing": seconds, "environment": environment()}
    results["speeds"] = speeds(boxes, platform, seconds)
    results["hese_vs_bare"] = hese_vs_bare(boxes, platform, 4.0 if small else 40.0)
    results["lj_cost"] = lj_cost(boxes, platform, seconds)
    mps = platform == "CUDA" and shutil.which("nvidia-cuda-mps-control") is not None
    results["concurrency"] = concurrency(boxes, platform, seconds, [1, 2] if small else [1, 2, 4, 8], mps)
    results["wall_s"] = time.perf_counter() - t0
    report(out, results)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("what", choices=("prepare", "run", "all", "one"))
    parser.add_argument("--boxes", type=Path)
    parser.add_argument("--out", type=Path, default=Path("gpu-suite"))
    parser.add_argument("--platform", default="CUDA")
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--small", action="store_true")
    args = parser.parse_args()
    if args.what == "one":
        one(args.boxes, args.platform, args.seconds)
        return
    boxes = args.boxes or args.out / "boxes"
    if args.what in ("prepare", "all"):
        prepare(boxes, args.small)
    if args.what in ("run", "all"):
        os.environ.setdefault("OPENMM_CPU_THREADS", str(max(1, (os.cpu_count() or 2) // 2)))
        run(boxes, args.out, args.platform, args.seconds, args.small)


if __name__ == "__main__":
    main()

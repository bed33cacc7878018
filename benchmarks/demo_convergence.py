"""Does every demo box converge within the demo's NPT cap, for any seed, at one density?

Builds each run of a study (default ``config/demo.yaml``) once, at its own seed, then runs
``hese simulate`` with the study's ``simulate:`` settings and ``--seeds`` different seeds
(production cut to one frame: only equilibration is judged). Prints, per box, the estimated
starting density, how many seeds converged, the NPT time used, the equilibrated densities and
their spread (max − min, and the largest distance from the mean, relative to the mean).

usage: python benchmarks/demo_convergence.py [--config config/demo.yaml] [--seeds 10] [--jobs 2]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path


def one(config: str, build_dir: str, out: str, seed: int) -> dict:
    """One seed of one box: converged, NPT ps, density (or the failure's first line)."""
    os.environ.setdefault("OPENMM_CPU_THREADS", "1")
    from hese.md import Settings, SimulationError, simulate

    settings = Settings.load(config, {"seed": seed, "production_ps": 0.1, "save_every_ps": 0.1,
                                      "thermo_every_ps": 0.1, "log_every_s": 600})
    t0 = time.perf_counter()
    try:
        simulate(build_dir, out, settings)
    except SimulationError as err:
        return {"seed": seed, "converged": False, "error": str(err).splitlines()[0][:160],
                "wall_s": time.perf_counter() - t0}
    record = json.loads((Path(out) / "equilibration.json").read_text())
    return {"seed": seed, "converged": record["converged"], "npt_ps": record["npt_ps"],
            "density_g_cm3": record["density_g_cm3"], "density_err_g_cm3": record["density_err_g_cm3"],
            "estimated_density_g_cm3": record["estimated_density_g_cm3"], "wall_s": time.perf_counter() - t0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default="config/demo.yaml")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--workdir", default=None)
    args = parser.parse_args()
    from hese import build, study

    runs = study.runs(study.load(args.config), args.config)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(args.workdir or tmp)
        jobs = []
        for run in runs:
            folder = work / run.id
            build.build(build.SystemDefinition.from_dict(run.system), folder / "build", seed=run.seed)
            jobs += [(args.config, str(folder / "build"), str(folder / f"md-{s}"), s) for s in range(1, args.seeds + 1)]
        with ProcessPoolExecutor(args.jobs) as pool:
            results = list(pool.map(one, *zip(*jobs, strict=True)))
    for run in runs:
        rows = [r for (c, b, o, s), r in zip(jobs, results, strict=True) if run.id in b]
        ok = [r for r in rows if r["converged"]]
        dens = [r["density_g_cm3"] for r in ok]
        print(f"\n{run.id}: {len(ok)}/{len(rows)} seeds converged")
        if ok:
            mean = sum(dens) / len(dens)
            print(f"  estimated start {ok[0]['estimated_density_g_cm3']:.4f} g/cm³; equilibrated {min(dens):.4f}–"
                  f"{max(dens):.4f} (mean {mean:.4f}, spread {100 * (max(dens) - min(dens)) / mean:.2f} %, farthest "
                  f"{100 * max(abs(d - mean) for d in dens) / mean:.2f} % from the mean); NPT ps "
                  f"{sorted(r['npt_ps'] for r in ok)}; wall {sum(r['wall_s'] for r in rows) / len(rows):.0f} s a seed")
        for r in rows:
            if not r["converged"]:
                print(f"  seed {r['seed']}: {r.get('error')}")


if __name__ == "__main__":
    main()

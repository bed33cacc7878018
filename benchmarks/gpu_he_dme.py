"""The HE-DME seed comparison sized for a few minutes of one GPU: the four-salt mixture against each salt alone.

Seven boxes of 500 DME (``--small``: 40, for the CPU test): LiFSI, LiTFSI, LiDFOB and LiNO₃ at 0.15 M
each (0.6 M in all), each of the four alone at 0.6 M, and, for the force field against experiment,
pure DME and 1 M LiFSI in DME. Built where packmol and rdkit are (``prepare``), then on the device
(``run``): a 20-s speed probe, all seven ``hese simulate`` runs at once on the one GPU with a
production length chosen so that the whole run fits ``--minutes``, and the solvation and transport
analyses on the CPU cores there. Writes ``he_dme.json`` and ``he_dme.md``: density, S_shell of Li⁺
with its 95 % interval, Li⁺ coordination by DME and by anions, ion-pairing fractions, mean cluster
size and D(Li⁺) per system, and the pure-DME density against experiment.

usage:
  python benchmarks/gpu_he_dme.py prepare --boxes DIR [--small]
  python benchmarks/gpu_he_dme.py run --boxes DIR --out DIR [--platform CUDA] [--minutes 6]
  python benchmarks/gpu_he_dme.py all --out DIR --platform CPU --small
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gpu_suite import load_system, ns_per_day, simulation_for  # noqa: E402

SALTS = ("LiFSI", "LiTFSI", "LiDFOB", "LiNO3")
SYSTEMS = {"mix": {s: 0.15 for s in SALTS}, **{s: {s: 0.6} for s in SALTS}, "dme": {}, "lifsi-1m": {"LiFSI": 1.0}}
#: Pure DME at 25 °C (g/cm³): 0.8683 at 20 °C and about 0.861–0.863 at 25 °C (Pal & Sharma,
#: J. Chem. Eng. Data 44, 212 (1999)); the spread is reported with it.
DME_EXPERIMENT = (0.862, 0.001)


def definition(name: str, salts: dict, small: bool) -> dict:
    composition = {"molarity": salts, "solvent": {"DME": 1}} if salts else {"counts": {"DME": 40 if small else 500}}
    out = {"name": name, "composition": composition, "force_field": {"family": "organic"}}
    if salts:
        out["size"] = {"solvent_molecules": 40 if small else 500}
    if small:
        out["force_field"]["cutoff_nm"] = 0.7
    return out


def prepare(boxes: Path, small: bool) -> None:
    from hese import build

    for name, salts in SYSTEMS.items():
        record = build.build(build.SystemDefinition.from_dict(definition(name, salts, small)), boxes / name, seed=1)
        print(f"built {name}: {record['n_atoms']} atoms", flush=True)


def settings(platform: str, production_ps: float, small: bool) -> dict:
    if small:
        return {"platform": platform, "hmr": True, "heating_ps": 0.4, "equilibration_ps": 2.0,
                "equilibration_extend_ps": 1.0, "max_equilibration_ps": 4.0, "density_tolerance": 1.0,
                "min_uncorrelated_samples": 1, "production_ps": production_ps, "save_every_ps": 0.2,
                "thermo_every_ps": 0.2, "minimize_max_iterations": 100, "seed": 1, "log_every_s": 30}
    return {"platform": platform, "hmr": True, "heating_ps": 10.0, "equilibration_ps": 60.0,
            "equilibration_extend_ps": 20.0, "max_equilibration_ps": 100.0, "density_tolerance": 0.02,
            "min_uncorrelated_samples": 10, "production_ps": production_ps, "save_every_ps": 1.0,
            "thermo_every_ps": 1.0, "minimize_max_iterations": 500, "seed": 1, "log_every_s": 30}


def production_length(rate_ns_day: float, minutes: float, small: bool) -> float:
    """Production ps per run so that all seven runs, sharing the device, fit ``minutes`` (no gain from
    sharing assumed; equilibration at most its cap, analyses about a fifth of the time)."""
    if small:
        return 8.0  # 40 frames: enough for the transport fit with 2 blocks
    per_run = rate_ns_day / len(SYSTEMS) * 1000 / 86400  # ps per second each, sharing the device
    budget_s = 0.8 * minutes * 60
    production = per_run * budget_s - 110.0  # heating 10 + NPT up to 100 ps
    return max(20.0, round(production / 20.0) * 20.0)


def simulate_all(boxes: Path, out: Path, config: dict) -> dict:
    def one(name: str) -> tuple[str, int]:
        args = [sys.executable, "-m", "hese.cli", "simulate", str(boxes / name), "--out", str(out / name / "md")]
        for key, value in config.items():
            args += [f"--{key.replace('_', '-')}", str(value)] if not isinstance(value, bool) else (
                [f"--{key}"] if value else [])
        log = (out / f"{name}.simulate.log").open("w")
        return name, subprocess.run(args, stdout=log, stderr=subprocess.STDOUT).returncode

    out.mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(len(SYSTEMS)) as pool:
        return dict(pool.map(one, SYSTEMS))


def analyse_all(boxes: Path, out: Path, small: bool) -> None:
    workers = max(1, (os.cpu_count() or 2) // len(SYSTEMS))

    def one(name: str) -> None:
        run = out / name
        for link in ("build",):
            if not (run / link).exists():
                (run / link).symlink_to((boxes / name).resolve())
        blocks = "2" if small else "5"
        analyses = (("solvation", ["--workers", str(workers)]), ("transport", ["--temperature-k", "298.15"]))
        for analysis, extra in analyses:
            if analysis == "solvation" and not SYSTEMS[name]:
                continue
            subprocess.run([sys.executable, "-m", "hese.cli", "analyze", analysis, "--run", str(run), "--out",
                            str(run / "analysis" / analysis), "--blocks", blocks, *extra],
                           stdout=subprocess.DEVNULL, stderr=(out / f"{name}.{analysis}.log").open("w"), check=False)

    with ThreadPoolExecutor(len(SYSTEMS)) as pool:
        list(pool.map(one, SYSTEMS))


def collect(out: Path) -> list[dict]:
    rows = []
    for name in SYSTEMS:
        run = out / name
        row: dict = {"system": name}
        eq = run / "md" / "equilibration.json"
        if eq.is_file():
            record = json.loads(eq.read_text())
            row.update(density_g_cm3=record["density_g_cm3"], density_err_g_cm3=record["density_err_g_cm3"],
                       npt_ps=record["npt_ps"], converged=record["converged"])
        solvation = run / "analysis" / "solvation" / "summary.json"
        if solvation.is_file():
            s = json.loads(solvation.read_text())
            li = s["shell_entropy"].get("Li", {})
            cn = s["coordination"].get("Li", {})
            row.update(s_shell_li_r=li.get("s_shell_r"), s_shell_li_ci_r=li.get("s_shell_ci_r"),
                       cn_li_dme=cn.get("DME", {}).get("cn_molecules"),
                       cn_li_anions=sum(v["cn_molecules"] or 0.0 for k, v in cn.items() if k != "DME"),
                       ion_pairing=s["ion_pairing"], mean_cluster_size_ions=s["clusters"]["mean_size_ions"])
        transport = run / "analysis" / "transport" / "summary.json"
        if transport.is_file():
            d = json.loads(transport.read_text())["diffusion"].get("Li")
            if d:
                row.update(d_li_m2_s=d["d_m2_s"], d_li_err_m2_s=d["d_err_m2_s"])
        rows.append(row)
    return rows


def report(out: Path, results: dict) -> None:
    (out / "he_dme.json").write_text(json.dumps(results, indent=2) + "\n")

    def num(value, digits=3):
        return "–" if value is None else f"{value:.{digits}g}"

    lines = ["# HE-DME on one device", "",
             f"Platform {results['platform']}; speed probe {results['probe_ns_per_day']:.1f} ns/day (mix box, one "
             f"process, 4 fs); production {results['production_ps']:g} ps per run, seven runs at once; wall "
             f"{results['wall_s']:.0f} s.", "",
             "| system | density (g/cm³) | S_shell(Li) / R [95 %] | CN Li–DME | CN Li–anions | cluster size "
             "| D(Li) (m²/s) |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for r in results["systems"]:
        ci = r.get("s_shell_li_ci_r")
        shell = f"{num(r.get('s_shell_li_r'))} [{num(ci[0])}, {num(ci[1])}]" if ci else "–"
        density = f"{r['density_g_cm3']:.4f} ± {r['density_err_g_cm3']:.4f}" if "density_g_cm3" in r else "–"
        d = f"{num(r.get('d_li_m2_s'))} ± {num(r.get('d_li_err_m2_s'), 2)}" if r.get("d_li_m2_s") else "–"
        lines.append(f"| {r['system']} | {density} | {shell} | {num(r.get('cn_li_dme'))} "
                     f"| {num(r.get('cn_li_anions'))} | {num(r.get('mean_cluster_size_ions'))} | {d} |")
    dme = next(r for r in results["systems"] if r["system"] == "dme")
    if "density_g_cm3" in dme:
        exp, spread = DME_EXPERIMENT
        lines += ["", f"Pure DME: {dme['density_g_cm3']:.4f} ± {dme['density_err_g_cm3']:.4f} g/cm³ against "
                  f"{exp} ± {spread} (experiment, 25 °C): {100 * (dme['density_g_cm3'] / exp - 1):+.1f} %."]
    (out / "he_dme.md").write_text("\n".join(lines) + "\n")
    print(f"report: {out / 'he_dme.md'}", flush=True)


def run(boxes: Path, out: Path, platform: str, minutes: float, small: bool) -> dict:
    t0 = time.perf_counter()
    system, pdb = load_system(boxes / "mix", True)
    rate = ns_per_day(simulation_for(system, pdb, platform, 4.0), 4.0, 2.0 if small else 20.0)
    production = production_length(rate, minutes, small)
    print(f"probe {rate:.1f} ns/day: production {production:g} ps per run", flush=True)
    status = simulate_all(boxes, out, settings(platform, production, small))
    analyse_all(boxes, out, small)
    results = {"platform": platform, "probe_ns_per_day": rate, "production_ps": production, "simulate_status": status,
               "systems": collect(out), "wall_s": time.perf_counter() - t0}
    report(out, results)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("what", choices=("prepare", "run", "all"))
    parser.add_argument("--boxes", type=Path)
    parser.add_argument("--out", type=Path, default=Path("he-dme"))
    parser.add_argument("--platform", default="CUDA")
    parser.add_argument("--minutes", type=float, default=6.0)
    parser.add_argument("--small", action="store_true")
    args = parser.parse_args()
    boxes = args.boxes or args.out / "boxes"
    if args.what in ("prepare", "all"):
        prepare(boxes, args.small)
    if args.what in ("run", "all"):
        os.environ.setdefault("OPENMM_CPU_THREADS", "1")
        run(boxes, args.out, args.platform, args.minutes, args.small)


if __name__ == "__main__":
    main()

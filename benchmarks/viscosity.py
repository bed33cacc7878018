"""Shear viscosity by periodic perturbation (``hese viscosity``) against the literature, on the CPU.

For each liquid: ``hese build`` (a ~3 nm box), ``hese simulate`` (heating, NPT until the density
has converged, a 2-ps production run), then ``hese viscosity --md`` at the default amplitudes
(0.05 and 0.025 nm/ps² in a 3 nm box). Prints η ± σ at each amplitude and combined, beside the
reference value of the same model (or experiment), the z-score, and the measured time per
amplitude that ±10 % would need (σ scales as 1/√t). Writes ``viscosity.json`` and ``viscosity.md``
to --out.

References: LIQUIDS below (SPC/E 0.729 mPa s at 298 K, González & Abascal 2010, as quoted by
SklogWiki; the DME experiment is a range not read in a primary source, marked unverified).

usage: OPENMM_CPU_THREADS=1 python benchmarks/viscosity.py --liquids spce,dme --run-ps 100 --out DIR
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import pandas as pd

from hese.build import SystemDefinition, build
from hese.md.engine import simulate
from hese.md.equilibration import statistical_inefficiency
from hese.md.settings import Settings
from hese.md.viscosity import ViscositySettings, run_viscosity

#: liquid → (system definition, simulate settings that differ from the defaults, reference η (mPa s),
#: its uncertainty, what the reference is). A reference marked "unverified" was not read in its source.
LIQUIDS = {
    "spce": ({"name": "water-spce", "composition": {"counts": {"water": 900}},
              "force_field": {"family": "aqueous", "water_model": "spce"}}, {},
             0.729, 0.0, "SPC/E model, González & Abascal, J. Chem. Phys. 132, 096101 (2010); experiment 0.890"),
    "spce-4nm": ({"name": "water-spce-4nm", "composition": {"counts": {"water": 2130}},
                  "force_field": {"family": "aqueous", "water_model": "spce"}}, {},
                 0.729, 0.0, "as spce, in a 4 nm box (k = 1.57 instead of 2.09 /nm)"),
    "tip4pew": ({"name": "water-tip4pew", "composition": {"counts": {"water": 900}},
                 "force_field": {"family": "aqueous", "water_model": "tip4pew"}}, {},
                None, None, "TIP4P-Ew model: no published value read here; experiment 0.890"),
    "zncl2": ({"name": "zncl2-2m", "composition": {"molality": {"ZnCl2": 2.0}, "solvent": {"water": 1}},
               "size": {"solvent_molecules": 900}, "force_field": {"family": "aqueous", "water_model": "spce"}}, {},
              None, None, "ZnCl2 2 mol/kg in SPC/E: no measured viscosity read here"),
    "dme": ({"name": "dme", "composition": {"counts": {"DME": 150}}, "force_field": {"family": "organic"}},
            {"hmr": True}, 0.44, 0.02, "experiment, 25 °C: 0.42–0.46 (unverified; e.g. Pal & Sharma, J. Chem. "
                                       "Eng. Data 44, 212 (1999), Table 1, not read)"),
}

#: viscosity settings that differ from the defaults, per liquid
VISCOSITY = {"spce-4nm": {"amplitudes_nm_ps2": [0.0375]}}  # the default A₁ of a 4 nm box, alone (CPU time)

EQUILIBRATE = {"heating_ps": 10.0, "equilibration_ps": 40.0, "equilibration_extend_ps": 10.0,
               "max_equilibration_ps": 150.0, "min_uncorrelated_samples": 10, "density_tolerance": 0.02,
               "production_ps": 2.0, "save_every_ps": 1.0, "platform": "CPU", "seed": 1, "log_every_s": 120.0}


def run(name: str, root: Path, run_ps: float) -> dict:
    system, extra, ref, ref_err, what = LIQUIDS[name]
    folder = root / name
    t0 = time.monotonic()
    if not (folder / "build" / "build.json").exists():
        build(SystemDefinition.from_dict(system, source=name), folder / "build", seed=1)
    settings = Settings.from_mapping({**EQUILIBRATE, **extra})
    done = simulate(folder / "build", folder / "md", settings)
    t_md = time.monotonic() - t0
    record = run_viscosity(folder / "build", folder / "viscosity", settings,
                           ViscositySettings.from_mapping({"run_ps": run_ps, **VISCOSITY.get(name, {})}), folder / "md")
    eta, err = record["viscosity_mpa_s"], record["viscosity_err_mpa_s"]
    z = None if ref is None else (eta - ref) / math.hypot(err, ref_err or 0.0)
    needed = {f"{e['amplitude_nm_ps2']:.3g}": run_ps * (e["viscosity_err_mpa_s"] / (0.1 * e["viscosity_mpa_s"]))**2
              for e in record["amplitudes"] if e["resolved"]}
    return {"liquid": name, "n_atoms": done["n_atoms"], "density_g_cm3": record["density_g_cm3"],
            "npt_ps": done["npt_ps"], "md_wall_s": round(t_md, 1), "viscosity_wall_s": record["wall_s"],
            "ns_per_day": record["ns_per_day"], "run_ps_per_amplitude": run_ps,
            "amplitudes": [{k: e[k] for k in ("amplitude_nm_ps2", "viscosity_mpa_s", "viscosity_err_mpa_s",
                                              "temperature_rise_k", "resolved")} for e in record["amplitudes"]],
            "viscosity_mpa_s": eta, "viscosity_err_mpa_s": err, "linear": record["linear"],
            "reference_mpa_s": ref, "reference_err_mpa_s": ref_err, "reference": what, "z": z,
            "run_ps_for_10_percent": needed,
            "relative_error_blocks": {f"{e['amplitude_nm_ps2']:.3g}": e["viscosity_err_mpa_s"] / e["viscosity_mpa_s"]
                                      for e in record["amplitudes"] if e["viscosity_mpa_s"]},
            "relative_error_statistical_inefficiency": error_cross_check(
                pd.read_parquet(folder / "viscosity" / "viscosity_series.parquet"))}


def error_cross_check(series: pd.DataFrame) -> dict[str, float]:
    """Relative standard error of the mean flow amplitude per amplitude from the statistical
    inefficiency of the whole series (pymbar), to set beside the block error hese reports."""
    out = {}
    for a, part in series[series["measured"]].groupby("amplitude_nm_ps2", sort=False):
        v = part["v_amplitude_nm_ps"].to_numpy()
        g = statistical_inefficiency(v)
        out[f"{a:.3g}"] = float(np.std(v, ddof=1) * np.sqrt(g / len(v)) / abs(v.mean()))
    return out


def markdown(rows: list[dict]) -> str:
    lines = ["| liquid | atoms | ρ g/cm³ | η per amplitude (A nm/ps²: η ± σ mPa s) | η combined | reference | z | "
             "ps per amplitude for ±10 % |", "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        per = "; ".join(f"{a['amplitude_nm_ps2']:.3g}: {a['viscosity_mpa_s']:.3f} ± {a['viscosity_err_mpa_s']:.3f}"
                        for a in r["amplitudes"])
        ref = "–" if r["reference_mpa_s"] is None else f"{r['reference_mpa_s']:.3f} ({r['reference']})"
        z = "–" if r["z"] is None else f"{r['z']:+.2f}"
        need = ", ".join(f"{v:.0f}" for v in r["run_ps_for_10_percent"].values())
        lines.append(f"| {r['liquid']} | {r['n_atoms']} | {r['density_g_cm3']:.4f} | {per} | "
                     f"{r['viscosity_mpa_s']:.3f} ± {r['viscosity_err_mpa_s']:.3f}"
                     f"{'' if r['linear'] else ' (not linear)'} | {ref} | {z} | {need} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--liquids", default="spce,dme", help=f"comma-separated, of {', '.join(LIQUIDS)}")
    p.add_argument("--run-ps", type=float, default=100.0, help="measured ps per amplitude")
    p.add_argument("--out", type=Path, default=Path("benchmark-viscosity"))
    args = p.parse_args()
    rows = []
    for name in args.liquids.split(","):
        rows.append(run(name, args.out, args.run_ps))
        print(markdown(rows[-1:]), flush=True)
    (args.out / "viscosity.json").write_text(json.dumps(rows, indent=2))
    (args.out / "viscosity.md").write_text(markdown(rows))
    print(markdown(rows))


if __name__ == "__main__":
    main()

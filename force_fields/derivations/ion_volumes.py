"""Apparent molar volumes of the registry's ions in hese's force fields, for starting boxes near the liquid.

How the numbers in ``hese/data/ion_volumes.yaml`` are derived (run from the checkout):

    python force_fields/derivations/ion_volumes.py --jobs 2 > force_fields/derivations/ion_volumes.out
    python force_fields/derivations/ion_volumes.py --from-output force_fields/derivations/ion_volumes.out \
        --write hese/data/ion_volumes.yaml

1. Each reference box below (salts in SPC/E water for the aqueous family, in DME for the organic
   family; ~1000 atoms) is built by ``hese build`` and run by ``hese simulate`` on the CPU:
   minimisation, 2 ps NVT heating, ``--npt-ps`` of NPT at 298.15 K and 1 bar (4 fs, HMR).
2. The box volume V is the mean of the second half of the NPT series, its standard error from the
   statistical inefficiency (pymbar).
3. The volume is split as :math:`V = \\sum_j N_j v_j + \\sum_i n_i \\phi_i / N_A`: solvent molecules
   keep their neat-liquid volume :math:`v_j = M_j / (\\rho_j N_A)` (the registry's experimental
   density) and the ions' apparent molar volumes :math:`\\phi_i` (cm³/mol) take the rest.
4. Per family, the φ of the ions are fitted to all reference boxes by least squares on the
   relative error of the box volume (the errors quoted for φ come from the misfit of this
   concentration-independent model, which is far larger than the statistical error of the
   volumes). Only sums over neutral salts are
   measurable, so Li⁺ is fixed at 0 cm³/mol by convention (as H⁺ is in aqueous thermodynamics);
   every neutral combination is unaffected by that choice.

The fitted φ are effective values for these force fields at 1–20 mol/kg (they absorb the
electrostriction of the solvent and the force field's own error in the solvent's density), not
experimental partial molar volumes; ``force_fields/README.md`` sets them beside experiment where
values are known.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

#: name: (family, composition counts); 1000–1500 atoms each (box edge ≥ 2.2 nm at the liquid's density).
REFERENCE_BOXES = {
    "LiCl 2 m": ("aqueous", {"LiCl": 16, "water": 450}),
    "LiCl·3H2O": ("aqueous", {"LiCl": 120, "water": 360}),
    "ZnCl2 2 m": ("aqueous", {"ZnCl2": 16, "water": 450}),
    "ZnCl2·3H2O": ("aqueous", {"ZnCl2": 100, "water": 300}),
    "Li2ZnCl4·9H2O": ("aqueous", {"LiCl": 80, "ZnCl2": 40, "water": 360}),
    "ZnBr2 2 m": ("aqueous", {"ZnBr2": 16, "water": 450}),
    "Zn(ClO4)2 2 m": ("aqueous", {"Zn(ClO4)2": 16, "water": 450}),
    "ZnSO4 2 m": ("aqueous", {"ZnSO4": 16, "water": 450}),
    "LiNO3 2 m": ("aqueous", {"LiNO3": 16, "water": 450}),
    "MgCl2 2 m": ("aqueous", {"MgCl2": 16, "water": 450}),
    "LiFSI/DME": ("organic", {"LiFSI": 9, "DME": 60}),
    "LiTFSI/DME": ("organic", {"LiTFSI": 9, "DME": 60}),
    "LiDFOB/DME": ("organic", {"LiDFOB": 9, "DME": 60}),
    "LiNO3/DME": ("organic", {"LiNO3": 9, "DME": 60}),
    "LiOTf/DME": ("organic", {"LiOTf": 9, "DME": 60}),
    "LiPF6/DME": ("organic", {"LiPF6": 9, "DME": 60}),
    "Mg(TFSI)2/DME": ("organic", {"Mg(TFSI)2": 5, "DME": 60}),
}
#: The ion whose φ is fixed by convention in each family.
REFERENCE_ION = "Li"
SETTINGS = {"platform": "CPU", "hmr": True, "minimize_max_iterations": 500, "heating_ps": 2, "heating_start_k": 100,
            "thermo_every_ps": 0.1, "save_every_ps": 0.4, "production_ps": 0.4, "min_uncorrelated_samples": 1,
            "density_tolerance": 1.0, "seed": 1, "log_every_s": 60}


def run_box(name: str, npt_ps: float, workdir: str) -> dict:
    """Build and simulate one reference box; the mean volume of the second half of NPT."""
    os.environ.setdefault("OPENMM_CPU_THREADS", "1")
    from hese import build
    from hese.md import Settings, simulate
    from hese.md.equilibration import statistical_inefficiency

    family, counts = REFERENCE_BOXES[name]
    folder = Path(workdir) / name.replace("/", "-").replace(" ", "_")
    definition = build.SystemDefinition.from_dict({"name": "reference", "composition": {"counts": counts},
                                                   "force_field": {"family": family}})
    record = build.build(definition, folder / "build", seed=1)
    settings = Settings.from_mapping({**SETTINGS, "equilibration_ps": npt_ps, "max_equilibration_ps": npt_ps})
    simulate(folder / "build", folder / "md", settings)
    rows = pd.read_parquet(folder / "md" / "equilibration.parquet")
    volume = rows.loc[rows["stage"] == "npt", "volume_nm3"].to_numpy()
    half = volume[len(volume) // 2:]
    err = half.std(ddof=1) / math.sqrt(len(half) / statistical_inefficiency(half))
    density = rows.loc[rows["stage"] == "npt", "density_g_cm3"].to_numpy()[len(volume) // 2:]
    return {"box": name, "family": family, "counts": record["counts"], "volume_nm3": float(half.mean()),
            "volume_err_nm3": float(err), "density_g_cm3": float(density.mean()),
            "start_density_g_cm3": record["composition"]["density_g_cm3"]}


def fit(results: list[dict]) -> dict[str, dict[str, tuple[float, float]]]:
    """Per family: ion → (φ, standard error) in cm³/mol, by weighted least squares (see the module docstring)."""
    from hese import species as sp
    from hese.composition import AVOGADRO, solvent_volume_nm3

    out = {}
    for family in sorted({r["family"] for r in results}):
        rows = [r for r in results if r["family"] == family]
        ions = sorted({s for r in rows for s in r["counts"] if sp.get(s).kind != "solvent"} - {REFERENCE_ION})
        a = np.array([[r["counts"].get(i, 0) for i in ions] for r in rows], dtype=float)
        solvent = np.array([sum(n * solvent_volume_nm3(s) for s, n in r["counts"].items()
                                if sp.get(s).kind == "solvent") for r in rows])
        cm3_per_nm3 = AVOGADRO * 1e-21
        y = (np.array([r["volume_nm3"] for r in rows]) - solvent) * cm3_per_nm3
        w = 1 / (np.array([r["volume_nm3"] for r in rows]) * cm3_per_nm3)  # relative volume errors
        coef, *_ = np.linalg.lstsq(a * w[:, None], y * w, rcond=None)
        resid = (y - a @ coef) * w
        misfit = float(resid @ resid) / max(1, len(rows) - len(ions))  # the model's misfit
        aw = np.linalg.pinv(a * w[:, None])
        md = np.array([r["volume_err_nm3"] for r in rows]) * cm3_per_nm3  # the volumes' statistical errors
        var = np.diag(aw @ aw.T) * misfit + (aw**2) @ (md * w) ** 2
        out[family] = {REFERENCE_ION: (0.0, 0.0), **{i: (float(c), float(math.sqrt(var[k])))
                                                      for k, (i, c) in enumerate(zip(ions, coef, strict=True))}}
    return out


def write_yaml(fitted: dict[str, dict[str, tuple[float, float]]], path: str) -> None:
    """``hese/data/ion_volumes.yaml``: family → ion → φ (cm³/mol), the standard errors as comments."""
    lines = ["# Apparent molar volumes φ (cm³/mol) of ions in hese's force fields, per family, used to size",
             "# starting boxes (hese.composition). Fitted to NPT boxes of salts in SPC/E water (aqueous) and DME",
             "# (organic) by force_fields/derivations/ion_volumes.py (runs in ion_volumes.out there); Li = 0 by",
             "# convention (only sums over neutral salts are defined). Not experimental partial molar volumes."]
    for family, ions in fitted.items():
        lines.append(f"{family}:")
        lines += [f"  {ion}: {phi:.1f}   # ± {err:.1f}" for ion, (phi, err) in ions.items()]
    Path(path).write_text("\n".join(lines) + "\n")


def read_output(path: str) -> list[dict]:
    """The reference-box records of an earlier run's output."""
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.startswith('{"box"')]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--npt-ps", type=float, default=80.0)
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--workdir", default=None, help="keep the runs here (default: a temporary folder)")
    parser.add_argument("--only", nargs="*", default=None, help="reference boxes to run (default: all)")
    parser.add_argument("--from-output", metavar="OUT", help="fit the boxes of an earlier run's output; run nothing")
    parser.add_argument("--write", metavar="YAML", help="write the fitted volumes here (hese/data/ion_volumes.yaml)")
    args = parser.parse_args()
    if args.from_output:
        results = read_output(args.from_output)
    else:
        names = args.only or list(REFERENCE_BOXES)
        with tempfile.TemporaryDirectory() as tmp:
            workdir = args.workdir or tmp
            with ProcessPoolExecutor(args.jobs) as pool:
                results = list(pool.map(run_box, names, [args.npt_ps] * len(names), [workdir] * len(names)))
        print("# reference boxes (second half of NPT)")
        for r in results:
            print(json.dumps(r))
    fitted = fit(results)
    print("# fitted apparent molar volumes (cm3/mol; Li = 0 by convention)")
    print(json.dumps(fitted, indent=1))
    if args.write:
        write_yaml(fitted, args.write)
    sys.stdout.flush()


if __name__ == "__main__":
    main()

"""Apparent molar volumes of the registry's ions in hese's force fields, for starting boxes near the liquid.

How the numbers in ``hese/data/ion_volumes.yaml`` are derived (run from the checkout):

    python force_fields/derivations/ion_volumes.py --jobs 2 > force_fields/derivations/ion_volumes.out
    python force_fields/derivations/ion_volumes.py --from-output force_fields/derivations/ion_volumes.out \
        --write hese/data/ion_volumes.yaml

1. Each reference box below (salts in SPC/E water for the aqueous family, in DME for the organic
   family; ~1000 atoms) is built by ``hese build`` and run by ``hese simulate`` on the CPU:
   minimisation, 2 ps NVT heating, ``--npt-ps`` of NPT at 298.15 K and 1 bar (4 fs, HMR; the barostat
   every 5 steps). The boxes of :data:`CHECK_BOXES` (compositions of ``systems/`` that no reference
   box has) are run the same way and set beside their estimate, out of the fit. ``--water-model`` and
   ``--divalent-model`` run the aqueous boxes in another model, to check the SPC/E fit there (not to fit).
2. The box volume V is the mean of the second half of the NPT series, its standard error from the
   statistical inefficiency (pymbar).
3. The volume is split as :math:`V = \\sum_j N_j v_j + \\sum_i n_i \\phi_i / N_A`: solvent molecules
   keep their neat-liquid volume :math:`v_j = M_j / (\\rho_j N_A)` (the registry's experimental
   density) and the ions' apparent molar volumes :math:`\\phi_i` (cm³/mol) take the rest. The ions of
   :data:`MASSON_IONS` follow Masson's law in the molal ionic strength of the box,
   :math:`\\phi_i = \\phi_i^0 + S_{v,i} \\sqrt{I}`, :math:`I = \\tfrac12 \\sum_i m_i z_i^2`; the others
   have one φ at every concentration.
4. Per family, φ⁰ (and S_v) of the ions are fitted to all reference boxes by least squares on the
   relative error of the box volume (the errors quoted come from the misfit of the model, which is
   far larger than the statistical error of the volumes, plus those errors). Only sums over neutral salts are
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
#: Boxes of the systems in ``systems/`` whose composition no reference box has: run like the reference
#: boxes and set beside their estimate, but not fitted (they test the fitted φ out of sample).
CHECK_BOXES = {
    "LiCl 1 m": ("aqueous", {"LiCl": 8, "water": 450}),
    "ZnCl2 1 m": ("aqueous", {"ZnCl2": 8, "water": 450}),
    "HE-DME 4×0.15 M": ("organic", {"LiFSI": 3, "LiTFSI": 3, "LiDFOB": 3, "LiNO3": 3, "DME": 150}),
}
BOXES = {**REFERENCE_BOXES, **CHECK_BOXES}
#: Experimental density (g/cm³, 298.15 K) of the solution of a box, where one was found: the Laliberté
#: model of aqueous electrolyte densities (M. Laliberté, J. Chem. Eng. Data 54, 1725 (2009): fits to
#: reviewed experimental data, standard deviation ≈ 0.0014 g/cm³) evaluated at the box's own molality
#: (16 or 8 salt units per 450 waters: 1.974 / 0.987 mol/kg; LiCl·3H2O 18.50 mol/kg) with
#: thermo 0.6.1, thermo.electrochem.Laliberte_density. LiCl cross-checked against the CRC Handbook
#: (102nd ed., "Concentrative properties of aqueous solutions", 20 °C rows shifted to 25 °C): within
#: 0.0003 g/cm³. No value was found for ZnBr2, Zn(ClO4)2, ZnCl2·3H2O and Li2ZnCl4·9H2O.
EXPERIMENT_DENSITY = {"LiCl 2 m": 1.0415, "LiCl·3H2O": 1.2824, "ZnCl2 2 m": 1.1945, "ZnSO4 2 m": 1.2917,
                      "LiNO3 2 m": 1.0690, "MgCl2 2 m": 1.1345, "LiCl 1 m": 1.0204, "ZnCl2 1 m": 1.1053}
#: Ions whose φ follows Masson's law φ⁰ + S_v √I in each family (molal ionic strength I): those the
#: reference boxes hold at several concentrations and one φ cannot fit (Zn²⁺: hexaaqua ions when dilute,
#: chlorozincates in the hydrates; one φ put ZnCl₂ at 2 mol/kg 7 % light).
MASSON_IONS = {"aqueous": ("Zn",)}
#: The ion whose φ is fixed by convention in each family.
REFERENCE_ION = "Li"
SETTINGS = {"platform": "CPU", "hmr": True, "minimize_max_iterations": 500, "heating_ps": 2, "heating_start_k": 100,
            "thermo_every_ps": 0.1, "save_every_ps": 0.4, "production_ps": 0.4, "min_uncorrelated_samples": 1,
            "density_tolerance": 1.0, "seed": 1, "log_every_s": 60}


def run_box(name: str, npt_ps: float, workdir: str, force_field: dict | None = None) -> dict:
    """Build and simulate one box (``force_field``: further options of the aqueous boxes); its record."""
    os.environ.setdefault("OPENMM_CPU_THREADS", "1")
    from hese import build
    from hese.md import Settings, simulate

    family, counts = BOXES[name]
    folder = box_folder(workdir, name)
    options = (force_field or {}) if family == "aqueous" else {}
    definition = build.SystemDefinition.from_dict({"name": "reference", "composition": {"counts": counts},
                                                   "force_field": {"family": family, **options}})
    build.build(definition, folder / "build", seed=1)
    settings = Settings.from_mapping({**SETTINGS, "equilibration_ps": npt_ps, "max_equilibration_ps": npt_ps})
    simulate(folder / "build", folder / "md", settings)
    return box_record(name, folder)


def box_folder(workdir: str, name: str) -> Path:
    """Where a box is run: ``WORKDIR/<name>`` with spaces and slashes replaced."""
    return Path(workdir) / name.replace("/", "-").replace(" ", "_")


def box_record(name: str, folder: Path) -> dict:
    """The mean volume and density of the second half of a finished box's NPT series, with standard errors."""
    from hese.md.equilibration import statistical_inefficiency

    record = json.loads((folder / "build" / "build.json").read_text())
    rows = pd.read_parquet(folder / "md" / "equilibration.parquet")
    npt = rows[rows["stage"] == "npt"]
    volume = npt["volume_nm3"].to_numpy()[len(npt) // 2:]
    density = npt["density_g_cm3"].to_numpy()[len(npt) // 2:]
    n_eff = len(volume) / statistical_inefficiency(volume)
    return {"box": name, "family": BOXES[name][0], "counts": record["counts"], "npt_ps": float(npt["time_ps"].iloc[-1]
            - npt["time_ps"].iloc[0]), "volume_nm3": float(volume.mean()),
            "volume_err_nm3": float(volume.std(ddof=1) / math.sqrt(n_eff)), "density_g_cm3": float(density.mean()),
            "density_err_g_cm3": float(density.std(ddof=1) / math.sqrt(n_eff)),
            "start_density_g_cm3": record["composition"]["density_g_cm3"],
            "water_model": record.get("water_model", "spce"), "divalent_model": record.get("divalent_model", "cm")}


def fit(results: list[dict]) -> dict[str, dict[str, tuple[float, float]]]:
    """Per family: ion → (φ, standard error) in cm³/mol, by weighted least squares (see the module docstring)."""
    from hese import species as sp
    from hese.composition import AVOGADRO, solvent_volume_nm3

    out = {}
    results = [r for r in results if r["box"] in REFERENCE_BOXES]
    for family in sorted({r["family"] for r in results}):
        rows = [r for r in results if r["family"] == family]
        ions = sorted({s for r in rows for s in r["counts"] if sp.get(s).kind != "solvent"} - {REFERENCE_ION})
        ions += [masson(i) for i in MASSON_IONS.get(family, ())]
        a = np.array([[_column(r["counts"], i) for i in ions] for r in rows], dtype=float)
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


def masson(ion: str) -> str:
    """The key of an ion's Masson slope S_v among the fitted values."""
    return f"{ion} sqrt(I)"


def _column(counts: dict[str, int], key: str) -> float:
    """A row of the design matrix: n_i for φ⁰_i, n_i √I for the Masson slope of ion i."""
    from hese.composition import ionic_strength

    ion = key.partition(" sqrt(I)")[0]
    return counts.get(ion, 0) * (math.sqrt(ionic_strength(counts)) if key != ion else 1.0)


def estimated_density(record: dict, fitted: dict[str, dict[str, tuple[float, float]]]) -> float:
    """The starting density (g/cm³) that the fitted φ give a box: its mass over the volume of step 3."""
    from hese import species as sp
    from hese.composition import AVOGADRO, solvent_volume_nm3, total_mass_g_mol

    counts = record["counts"]
    values = {**fitted["aqueous"], **fitted[record["family"]]}  # ions without organic parameters use their aqueous φ
    ions = {key: coef for key, (coef, _) in values.items() if key.partition(" ")[0] in counts}
    volume_nm3 = (sum(n * solvent_volume_nm3(s) for s, n in counts.items() if sp.get(s).kind == "solvent")
                  + sum(_column(counts, key) * coef for key, coef in ions.items()) / AVOGADRO * 1e21)
    return total_mass_g_mol(counts) / AVOGADRO / (volume_nm3 * 1e-21)


def table(results: list[dict], fitted: dict[str, dict[str, tuple[float, float]]]) -> str:
    """Markdown: every box's estimate against its NPT density (second half), fitted or checked."""
    lines = ["| box | family | models | in the fit | estimate (φ) | NPT density | estimate − NPT | experiment "
             "| NPT − experiment |", "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in results:
        est, npt = estimated_density(r, fitted), r["density_g_cm3"]
        err = npt * r["volume_err_nm3"] / r["volume_nm3"]
        exp = EXPERIMENT_DENSITY.get(r["box"])
        models = f"{r.get('water_model', 'spce')}, {r.get('divalent_model', 'cm')}" if r["family"] == "aqueous" else ""
        lines.append(f"| {r['box']} | {r['family']} | {models} | {'yes' if r['box'] in REFERENCE_BOXES else 'no'} | "
                     f"{est:.3f} | {npt:.3f} ± {err:.3f} | {100 * (est / npt - 1):+.1f} % | "
                     + (f"{exp:.4f} | {100 * (npt / exp - 1):+.1f} % |" if exp else "— | — |"))
    return "\n".join(lines)


def write_yaml(fitted: dict[str, dict[str, tuple[float, float]]], path: str) -> None:
    """``hese/data/ion_volumes.yaml``: family → ion → φ (cm³/mol), the standard errors as comments."""
    lines = ["# Apparent molar volumes φ (cm³/mol) of ions in hese's force fields, per family, used to size",
             "# starting boxes (hese.composition). Fitted to NPT boxes of salts in SPC/E water (aqueous) and DME",
             "# (organic) by force_fields/derivations/ion_volumes.py (runs in ion_volumes.out there); Li = 0 by",
             "# convention (only sums over neutral salts are defined). Not experimental partial molar volumes."]
    for family, ions in fitted.items():
        lines.append(f"{family}:")
        for ion, (phi, err) in ions.items():
            if ion in {masson(i) for i in ions}:
                continue
            if masson(ion) in ions:
                slope, slope_err = ions[masson(ion)]
                lines.append(f"  {ion}: {{phi0: {phi:.1f}, masson_slope: {slope:.2f}}}"
                             f"   # ± {err:.1f}, ± {slope_err:.2f}")
            else:
                lines.append(f"  {ion}: {phi:.1f}   # ± {err:.1f}")
    Path(path).write_text("\n".join(lines) + "\n")


def read_output(path: str) -> list[dict]:
    """The reference-box records of an earlier run's output."""
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.startswith('{"box"')]


def main() -> None:
    from hese.ion_models import DIVALENT_MODELS
    from hese.species import WATER_MODELS

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--npt-ps", type=float, default=80.0)
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--workdir", default=None, help="keep the runs here (default: a temporary folder)")
    parser.add_argument("--only", nargs="*", default=None,
                        help=f"boxes to run (default: the reference boxes; checks: {', '.join(CHECK_BOXES)})")
    parser.add_argument("--from-output", metavar="OUT", help="fit the boxes of an earlier run's output; run nothing")
    parser.add_argument("--from-runs", metavar="WORKDIR", help="fit the finished boxes kept in WORKDIR; run nothing")
    parser.add_argument("--write", metavar="YAML", help="write the fitted volumes here (hese/data/ion_volumes.yaml)")
    parser.add_argument("--water-model", choices=WATER_MODELS,
                        help="aqueous boxes in this water model (a check of the fit; default spce)")
    parser.add_argument("--divalent-model", choices=DIVALENT_MODELS,
                        help="aqueous boxes with this divalent_model (default: the aqueous family's, iod)")
    args = parser.parse_args()
    options = {k: v for k, v in (("water_model", args.water_model), ("divalent_model", args.divalent_model)) if v}
    if args.from_output:
        results = read_output(args.from_output)
    elif args.from_runs:
        results = [box_record(n, box_folder(args.from_runs, n)) for n in BOXES
                   if (box_folder(args.from_runs, n) / "md" / "done.json").is_file()]
    else:
        names = args.only or list(REFERENCE_BOXES)
        with tempfile.TemporaryDirectory() as tmp:
            workdir = args.workdir or tmp
            with ProcessPoolExecutor(args.jobs) as pool:
                results = list(pool.map(run_box, names, [args.npt_ps] * len(names), [workdir] * len(names),
                                        [options] * len(names)))
        print("# reference boxes (second half of NPT)")
        for r in results:
            print(json.dumps(r))
    fitted = fit(results)
    print("# fitted apparent molar volumes (cm3/mol; Li = 0 by convention)")
    print(json.dumps(fitted, indent=1))
    print("# estimate against NPT density (g/cm3)")
    print(table(results, fitted))
    if args.write:
        write_yaml(fitted, args.write)
    sys.stdout.flush()


if __name__ == "__main__":
    main()

"""First shells of the aqueous ions: Zn²⁺ / Mg²⁺ per divalent model, the Zn–Cl contact, the oxoanions.

Every box is built by hese (packmol, estimated density), minimised, then run NVT at 298 K (Langevin
middle, 1/ps, 2 fs, rigid water, PME, 1.0 nm cutoff) for ``--equil-ps`` and ``--prod-ps`` on the CPU
platform. Every 0.1 ps of production the centre–partner distances are histogrammed (hese.analysis.rdf):

- peak: position of the maximum of g(r) on 0.002 nm bins smoothed with a 0.004 nm Gaussian;
- CN: the running coordination number at the first minimum after the peak (hese's find_cutoff).

Modes (``--mode``):

- ``dilute``: one ion of ``--ions`` with 2 Cl⁻ (neutral, as hese builds boxes) in ``--waters`` waters of
  ``--water-model``, per ``--models``: the ion–water-oxygen shell and the closest Cl⁻.
- ``contact``: the ZnCl₂–LiCl box of :data:`CONTACT_BOX` (30 ZnCl₂, 60 LiCl, 270 water) per model:
  Zn–Cl, Zn–O(water) and Li–Cl first peaks and CNs. A packmol start: the CNs are not equilibrated
  (Zn–Cl exchange is slow), the contact distance is.
- ``anions``: one oxoanion of ``--anions`` (LiClO4, Li2SO4, LiNO3) in ``--waters`` waters: the central
  atom (Cl, S, N)–water-oxygen shell and the closest Li⁺. The anions' parameters are whatever
  ``force_fields/aqueous/<anion>.xml`` holds (force_fields/README.md: none is fitted to hydration).

Experiment (printed beside):

- Mg²⁺: 2.09 ± 0.04 Å, CN 6.0 ± 0.1 (X-ray diffraction), as read in Table 2 of the article at
  pmc.ncbi.nlm.nih.gov/articles/PMC9386089 (Yokoyama 1995, the average of Ohtaki & Radnai,
  Chem. Rev. 93, 1157 (1993) and Persson et al. 1995): read in that secondary source only.
- Zn²⁺: 2.08 Å, CN 6: the value usually quoted from Marcus, Chem. Rev. 88, 1475 (1988) and Ohtaki &
  Radnai (1993); NOT read in either source here (marked "not read" in the table).
- Zn–Cl in chlorozincates in solution: M. Maeda et al., Z. Naturforsch. A 51, 63 (1996), large-angle
  X-ray scattering of concentrated ZnCl₂(aq), as read in its abstract: [ZnCl₄]²⁻ 2.294(4) Å, [ZnCl₃]⁻
  2.282(4) Å, the lower complexes 2.24 Å on average. Printed as the range 2.22–2.34 Å.
- Oxoanions: the ranges printed (S–O(w) 3.8–3.9 Å, Cl–O(w) 3.7–3.8 Å, N–O(w) ≈ 3.5 Å) were NOT read in
  a diffraction source here (marked "not read").

usage: OPENMM_CPU_THREADS=1 nice -n 19 python benchmarks/ion_models.py [--mode dilute|contact|anions]
           [--ions Zn Mg] [--models cm iod 12-6-4] [--anions ClO4 SO4 NO3] [--water-model spce]
           [--waters 500] [--equil-ps 10] [--prod-ps 40]
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

CONTACT_BOX = {"ZnCl2": 30, "LiCl": 60, "water": 270}  # the ZnCl2–LiCl box of issue 11 (~1,000 atoms)
ZN_CL_CONTACT = (2.22, 2.34, "")  # Å: Zn–Cl in chlorozincates in solution (Maeda et al. 1996, above)
# anion: (salt with Li⁺, residue, central atom, experimental X–O(w) first peak as printed; see above)
ANIONS = {"ClO4": ("LiClO4", "CLO", "Cl1", "3.7–3.8 (not read)"),
          "SO4": ("Li2SO4", "SO4", "S1", "3.8–3.9 (not read)"),
          "NO3": ("LiNO3", "NO3", "N1", "≈3.5 (not read)")}
EXPERIMENT = {"Zn": (2.08, "6", " (not read)"), "Mg": (2.09, "6.0 ± 0.1", "")}  # Å, CN, note (see above)
SAMPLE_PS = 0.1
TIMESTEP_PS = 0.002


def sample(name: str, counts: dict, model: str, water_model: str, pairs: dict,
           equil_ps: float, prod_ps: float, workdir: Path, seed: int = 0, centre_atom: str | None = None) -> dict:
    """Build, equilibrate and sample one box; per pair: first peak (Å), CN to the first minimum, closest (Å).

    ``pairs`` maps a label to (centre residue name, (partner residue name, partner atom name)); every
    atom of the centre residues is a centre (only the atoms named ``centre_atom``, if given).
    """
    definition = build.SystemDefinition.from_dict({
        "name": name, "composition": {"counts": counts},
        "force_field": {"family": "aqueous", "water_model": water_model, "divalent_model": model}})
    out = workdir / f"{name}-{water_model}"
    build.build(definition, out, seed=seed)
    system = mm.XmlSerializer.deserialize((out / "system.xml").read_text())
    pdb = app.PDBFile(str(out / "topology.pdb"))
    atoms = list(pdb.topology.atoms())
    centres = {label: np.array([a.index for a in atoms if a.residue.name == centre
                                and centre_atom in (None, a.name)])
               for label, (centre, _) in pairs.items()}
    groups = {label: np.array([a.index for a in atoms if (a.residue.name, a.name) == key])
              for label, (_, key) in pairs.items()}
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
    fine = {label: np.zeros(len(edges_fine) - 1) for label in groups}
    coarse = {label: np.zeros(len(edges) - 1) for label in groups}
    closest = dict.fromkeys(groups, np.inf)
    n_frames, volume = 0, 0.0
    for _ in range(int(round(prod_ps / SAMPLE_PS))):
        sim.step(every)
        state = sim.context.getState(getPositions=True)
        xyz = state.getPositions(asNumpy=True).value_in_unit(unit.nanometer)
        box = np.diag(state.getPeriodicBoxVectors(asNumpy=True).value_in_unit(unit.nanometer))
        for label, members in groups.items():
            d = xyz[members][None, :, :] - xyz[centres[label]][:, None, :]
            d = np.linalg.norm(d - box * np.round(d / box), axis=-1).ravel()
            fine[label] += np.histogram(d, edges_fine)[0]
            coarse[label] += np.histogram(d, edges)[0]
            closest[label] = min(closest[label], float(d.min()))
        volume += float(np.prod(box))
        n_frames += 1
    cpu_s = time.process_time() - start
    volume /= n_frames
    r_fine = 0.5 * (edges_fine[1:] + edges_fine[:-1])
    r = 0.5 * (edges[1:] + edges[:-1])
    row = {"model": model, "water_model": water_model, "frames": n_frames, "cpu_s": cpu_s,
           "ps": equil_ps + prod_ps}
    for label, members in groups.items():
        n = (len(centres[label]), len(members), n_frames, volume)
        g_fine, _, _ = rdf.rdf_from_counts(fine[label], edges_fine, *n)
        g, running, norm = rdf.rdf_from_counts(coarse[label], edges, *n)
        cut = rdf.find_cutoff(r, g, norm)
        row[label] = {
            "peak_A": 10 * float(r_fine[np.argmax(rdf.smooth(g_fine, 2.0))]) if fine[label].any() else float("nan"),
            "cn": float(running[np.searchsorted(r, cut.cutoff_nm)]) if cut.cutoff_nm else float("nan"),
            "cutoff_A": 10 * cut.cutoff_nm if cut.cutoff_nm else float("nan"),
            "closest_A": 10 * closest[label]}
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=("dilute", "contact", "anions"), default="dilute",
                        help="dilute: one cation in --waters waters; contact: the ZnCl2–LiCl box of CONTACT_BOX; "
                             "anions: one oxoanion of --anions with Li⁺ in --waters waters")
    parser.add_argument("--anions", nargs="+", default=sorted(ANIONS), choices=sorted(ANIONS))
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
        {"dilute": dilute_table, "contact": contact_table, "anions": anion_table}[args.mode](args, workdir)


def dilute_table(args: argparse.Namespace, workdir: Path) -> None:
    """One ion with 2 Cl⁻ in ``args.waters`` waters per ion × model: the ion–water-oxygen shell."""
    print("| ion | water | model | M–O peak (Å) | CN (to first min.) | first min. (Å) | experiment peak / CN "
          "| closest Cl⁻ (Å) | NVT ps | CPU s |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for ion in args.ions:
        for model in args.models:
            row = sample(f"{ion}-{model}", {f"{ion}Cl2": 1, "water": args.waters}, model, args.water_model,
                         {"O": (ion.upper(), ("HOH", "O1")), "Cl": (ion.upper(), ("CL", "Cl1"))},
                         args.equil_ps, args.prod_ps, workdir, args.seed)
            o, cl = row["O"], row["Cl"]
            exp_r, exp_cn, note = EXPERIMENT[ion]
            print(f"| {ion}²⁺ | {args.water_model} | {model} | {o['peak_A']:.2f} | {o['cn']:.2f} "
                  f"| {o['cutoff_A']:.2f} | {exp_r:.2f} / {exp_cn}{note} | {cl['closest_A']:.1f} | {row['ps']:g} "
                  f"| {row['cpu_s']:.0f} |", flush=True)


def anion_table(args: argparse.Namespace, workdir: Path) -> None:
    """One oxoanion with its Li⁺ counter-ions in ``args.waters`` waters: the central atom–water-oxygen shell."""
    print("| anion | salt | water | X–O(w) peak (Å) | CN (to first min.) | first min. (Å) "
          "| experiment peak (Å) | closest Li⁺ (Å) | NVT ps | CPU s |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for anion in args.anions:
        salt, residue, atom, experiment = ANIONS[anion]
        row = sample(anion, {salt: 1, "water": args.waters}, ion_models.DEFAULT_DIVALENT_MODEL, args.water_model,
                     {"O": (residue, ("HOH", "O1")), "Li": (residue, ("LI", "Li1"))}, args.equil_ps,
                     args.prod_ps, workdir, args.seed, centre_atom=atom)
        o, li = row["O"], row["Li"]
        print(f"| {anion} | {salt} | {args.water_model} | {o['peak_A']:.2f} | {o['cn']:.2f} | {o['cutoff_A']:.2f} "
              f"| {experiment} | {li['closest_A']:.1f} | {row['ps']:g} | {row['cpu_s']:.0f} |", flush=True)


def contact_table(args: argparse.Namespace, workdir: Path) -> None:
    """The ZnCl₂–LiCl box of :data:`CONTACT_BOX` per model: Zn–Cl contact and Zn–O shell."""
    exp_lo, exp_hi, note = ZN_CL_CONTACT
    print("| water | model | Zn–Cl peak (Å) | Zn–Cl CN | Zn–O peak (Å) | Zn–O CN | Li–Cl peak (Å) "
          "| experiment Zn–Cl (Å) | NVT ps | CPU s |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for model in args.models:
        row = sample(f"ZnCl2-LiCl-{model}", CONTACT_BOX, model, args.water_model,
                     {"Cl": ("ZN", ("CL", "Cl1")), "O": ("ZN", ("HOH", "O1")), "LiCl": ("LI", ("CL", "Cl1"))},
                     args.equil_ps, args.prod_ps, workdir, args.seed)
        cl, o, li = row["Cl"], row["O"], row["LiCl"]
        print(f"| {args.water_model} | {model} | {cl['peak_A']:.2f} | {cl['cn']:.2f} | {o['peak_A']:.2f} "
              f"| {o['cn']:.2f} | {li['peak_A']:.2f} | {exp_lo:.2f}–{exp_hi:.2f}{note} | {row['ps']:g} "
              f"| {row['cpu_s']:.0f} |", flush=True)


if __name__ == "__main__":
    main()

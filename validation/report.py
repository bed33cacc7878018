"""Write ``validation/README.md`` and its figures from the archived tables of the validation studies.

    python validation/report.py                       # results/ → validation/data/ → validation/
    python validation/report.py --results DIR --data DIR --out DIR

Run it from the checkout's root, after some runs of the studies have finished
(``snakemake --configfile validation/<study>.yaml``). It first archives the finished runs' tables
into ``validation/data`` (:mod:`archive`, committed with the report, so runs add up over sessions
and machines), then writes the report from the archive. A study with no archived run gets a
section that says so.

Numbers over replicas: the mean of the R runs of a set, with the 95 % interval
:math:`\\bar x \\pm t_{0.975,\\nu}\\,\\sigma`, :math:`\\sigma = \\sqrt{\\sum_r \\sigma_r^2}/R` pooled from each
run's block standard error and :math:`\\nu = R(B-1)` for B blocks per run; where the replicas scatter
more than that allows, the interval from their scatter, :math:`t_{0.975,R-1}\\,s_x/\\sqrt R`, replaces it.
A coordination number has stopped drifting from the first start (0, 10, …, 50 % of production) whose
linear drift over the whole production, bounded one-sided at 95 % with correlation-corrected errors
(:func:`hese.md.equilibration.drift_test`), is below :data:`CN_DRIFT_TOLERANCE`.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import archive  # noqa: E402  (this folder's archive.py)
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from scipy import stats  # noqa: E402

from hese import results  # noqa: E402
from hese.analysis import columns as col  # noqa: E402
from hese.errors import HeseInputError  # noqa: E402
from hese.md.equilibration import drift_test  # noqa: E402

HERE = Path(__file__).resolve().parent
HOFMEISTER, ZINC = "validation-hofmeister", "validation-zncl2-licl"
#: settings that differ between the runs of one study by design
PER_RUN = ("seed", "temperature_k")
#: study → its config in this folder
CONFIGS = archive.CONFIGS
#: Largest drift of a coordination number over production that counts as settled (molecules per cation):
#: a tenth of a molecule, finer than the ±0.5 of EXAFS coordination numbers.
CN_DRIFT_TOLERANCE = 0.1
STARTS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5)
#: The Hofmeister claim: S_q of water from the most to the least tetrahedral-entropy-raising anion.
CLAIMED_ORDER = ("Zn(ClO4)2", "ZnBr2", "ZnCl2", "ZnSO4")
LABELS = {"li2zncl4-9h2o": "Li₂ZnCl₄·9H₂O", "zncl2-3h2o": "ZnCl₂·3H₂O", "licl-3h2o": "LiCl·3H₂O",
          "zncl2-dilute": "ZnCl₂ 1 m", "licl-dilute": "LiCl 1 m", "water": "water"}
#: Published values beside the simulations: (what, value, source, how it was read).
LITERATURE = {
    "zncl4_zn_cl_nm": (0.2294, "Maeda et al., Z. Naturforsch. A 51, 63 (1996), X-ray and Raman", "abstract"),
    "zncl3_zn_cl_nm": (0.2282, "Maeda et al. (1996)", "abstract"),
    "zn_aq_zn_o_nm": (0.215, "Maeda et al. (1996), [Zn(H₂O)₆]²⁺", "abstract"),
    "zncl2_3h2o": ("[Zn(H₂O)₆][ZnCl₄] ion packing persists in the liquid (mean Zn–Cl CN 2, Zn–O CN 3 if it "
                   "does exactly)", "Wilcox et al., Inorg. Chem. 54, 1109 (2015), X-ray/neutron with RMC",
                   "abstract; the CNs are our reading of the structure it names"),
    "li2zncl4": ("ZnCl₂ takes Cl⁻ to form ZnCl₄²⁻ (Zn–Cl CN 4, Zn–O CN 0); water stays free at low salt "
                 "content or goes to Li⁺", "Yang et al., Nat. Sustain. (2023), doi:10.1038/s41893-022-01028-x",
                 "abstract"),
    "dilute_zn": ("Zn²⁺ fully hydrated below 0.5 m; halide enters the first shell above 5 m",
                  "Dreier & Rabe, J. Phys. Colloques 47, C8-809 (1986), EXAFS", "abstract"),
    "water_d_m2_s": (2.299e-9, "Holz, Heil & Sacco, PCCP 2, 4740 (2000), Speedy–Angell fit at 298.15 K",
                     "the fit's parameters as quoted elsewhere, evaluated here"),
    "hofmeister": ("a higher tetrahedral entropy of water goes with a lower freezing point; "
                   "S_q(ClO₄⁻) > S_q(Br⁻) > S_q(Cl⁻) > S_q(SO₄²⁻)",
                   "Qiu et al., Nat. Commun. 14 (2023), doi:10.1038/s41467-023-36198-5",
                   "the correlation in the abstract; the ordering as the seed review states it"),
}


#: Experimental densities at 298.15 K (g/cm³) at each box's own molality: the Laliberté model
#: (J. Chem. Eng. Data 54, 1725 (2009), fits to reviewed data, σ ≈ 0.0014 g/cm³) evaluated with thermo
#: 0.6.1 (thermo.electrochem.Laliberte_density) at 1.998 mol/kg (18 salts per 500 waters), 1.000 mol/kg
#: (10 per 555) and 18.50 mol/kg (LiCl·3H₂O). None found for ZnBr₂, Zn(ClO₄)₂ and the zinc hydrates.
EXPERIMENT_DENSITY = {"ZnCl2": 1.1965, "ZnSO4": 1.2950, "ZnCl₂ 1 m": 1.1065, "LiCl 1 m": 1.0207,
                      "LiCl·3H₂O": 1.2824, "water": 0.99705}
DENSITY_SOURCE = ("Laliberté (2009) model at the box's molality, via thermo 0.6.1; water: 0.99705 g/cm³ at "
                  "25 °C (CRC Handbook)")
#: What the numbers above cannot tell, whatever the runs give (the models and the design).
LIMITS = [
    "- **Length.** The issue asks for ≥ 1 ns of production per run; these CPU runs are as long as the "
    "sections above say. Water's structure (q, hydrogen bonds) averages over picoseconds and is well "
    "sampled. Zn²⁺ shells exchange on nanoseconds at 298 K: the convergence tables say whether they moved "
    "at all. Diffusion and conductivity from a few hundred ps carry large errors.",
    "- **Replicas.** Fewer than two finished replicas of a set means no replica-to-replica check of it.",
    "- **Size.** About 2,000–2,600 particles (2.4–2.6 nm boxes): diffusion coefficients are not corrected "
    "for the box (Yeh–Hummer needs a viscosity, which was not computed), and chains longer than a few Zn "
    "are cut by the box.",
    "- **Model.** The IOD Zn²⁺ puts the Zn–Cl contact at 2.43–2.45 Å against 2.24–2.29 Å in X-ray data "
    "(force_fields/README.md), so the Zn–Cl coordination numbers rest on a contact the model gets too long. "
    "The oxoanions are ionic-liquid models joined to water by combining rules (ClO₄⁻, NO₃⁻) or derived here "
    "(SO₄²⁻); none was fitted to hydration.",
]


def temperature_limit(studies: dict) -> str:
    """The temperatures run, and what T − T_m means for them."""
    temps = sorted({float(t) for res in studies.values() if res is not None for t in res.summary["temperature_k"]})
    finished = sorted({float(t) for res in studies.values() if res is not None and "water_entropy" in res
                       for t in res.water_entropy["temperature_k"]})
    return ("- **Temperature.** Configured: " + ", ".join(f"{t:.2f}" for t in temps) + " K; finished: "
            + (", ".join(f"{t:.2f}" for t in finished) or "none") + " K. T − T_m is counted from the melting point "
            "of pure TIP4P-Ew ice (245 K), not from the solution's freezing point, which the salt lowers. The "
            "freezing-point half of the Hofmeister claim needs measured freezing points of these solutions, "
            "which this report does not compare: it tests the S_q ordering at each temperature.")


@dataclass(frozen=True)
class Pooled:
    """A quantity over the replicas of a set: mean, 95 % half-width, runs' values."""

    mean: float
    half: float
    values: tuple[float, ...]

    def __str__(self) -> str:
        if not np.isfinite(self.mean):
            return "—"
        digits = max(0, min(3, 1 - int(np.floor(np.log10(self.half))))) if self.half > 0 else 3
        return f"{self.mean:.{digits}f} ± {self.half:.{digits}f}"

    def low(self) -> float:
        return self.mean - self.half

    def high(self) -> float:
        return self.mean + self.half


def pooled(rows: pd.DataFrame, value: str, err: str, blocks: int) -> Pooled:
    """The replicas' mean of ``value`` and its 95 % interval from the runs' errors ``err``."""
    rows = rows.dropna(subset=[value])
    if rows.empty:
        return Pooled(float("nan"), float("nan"), ())
    r = len(rows)
    values = rows[value].to_numpy(float)
    sigma = float(np.sqrt((rows[err].astype(float) ** 2).sum()) / r)
    half = float(stats.t.ppf(0.975, r * (blocks - 1))) * sigma
    if r > 1:  # replicas that scatter more than their block errors allow: the scatter sets the interval
        half = max(half, float(stats.t.ppf(0.975, r - 1)) * float(values.std(ddof=1)) / np.sqrt(r))
    return Pooled(float(values.mean()), half, tuple(values))


def blocks_of(res: results.Results) -> int:
    """Time blocks per run of the analyses (from the gathered solvation summaries; 5 if none)."""
    if "solvation_summary" not in res or "n_blocks" not in res.solvation_summary:
        return 5
    return int(res.solvation_summary["n_blocks"].max())


def label_of(run: pd.Series) -> str:
    """A set's name: its salt (the sweep's fraction-1 salt) or its system."""
    salts = [c.removeprefix("x_") for c in run.index if c.startswith("x_") and run[c] == 1]
    return salts[0] if salts else LABELS.get(run["system"], run["system"])


def labelled(res: results.Results, table: str) -> pd.DataFrame:
    """A gathered table with a ``label`` column: the set name of each row's run (from the summary)."""
    labels = {row["run"]: label_of(row) for _, row in res.summary.iterrows()}
    return res[table].assign(label=lambda frame: frame["run"].map(labels))


def ordered(labels, first: tuple[str, ...] | None = None) -> list[str]:
    """Set names in the order of ``first`` (default: :data:`LABELS`), then any others as they come."""
    present = list(dict.fromkeys(labels))
    known = [v for v in (first or LABELS.values()) if v in present]
    return known + [v for v in present if v not in known]


# --- convergence -----------------------------------------------------------------------------
def settled_after(series: pd.DataFrame) -> dict:
    """Whether and when one CN series stops drifting, with its drift and its uncorrelated samples.

    Returns ``settled_ps`` (production time from which the drift test passes; None: never), ``drift``
    and ``err`` (linear drift over the production and its error) and ``n_uncorrelated`` (frames / g).
    """
    cn = series[col.CN_MOLECULES].to_numpy(float)
    time_ps = series[col.TIME_PS].to_numpy(float)
    n = len(cn)
    if np.ptp(cn) == 0:
        return {"settled_ps": float(time_ps[0]), "drift": 0.0, "err": 0.0, "n_uncorrelated": 1.0}
    first = drift_test(cn, 0, n)
    out = {"settled_ps": None, "drift": first["drift"], "err": first["drift_err"],
           "n_uncorrelated": first["n_uncorrelated"]}
    for f in STARTS:
        start = int(round(f * n))
        if n - start >= 8 and drift_test(cn, start, n)["drift_bound"] < CN_DRIFT_TOLERANCE:
            out["settled_ps"] = float(time_ps[start])
            break
    return out


def convergence_rows(res: results.Results) -> list[dict]:
    table = labelled(res, "coordination_timeseries")
    residence = ({(r.run, r.cation, r.partner): (r.tau_intermittent_ps, bool(r.decayed))
                  for r in res.residence.itertuples()} if "residence" in res else {})
    rows = []
    for (_, cation, partner), series in table.groupby(["run", "cation", "partner"], sort=False):
        if series[col.CN_MOLECULES].isna().all():
            continue
        tau, decayed = residence.get((series["run"].iloc[0], cation, partner), (float("nan"), False))
        rows.append({"label": series["label"].iloc[0], "replica": int(series["replica"].iloc[0]), "tau": tau,
                     "t": float(series["temperature_k"].iloc[0]),
                     "decayed": decayed,
                     "pair": f"{cation}–{partner}", "cn": series[col.CN_MOLECULES].mean(),
                     "end_ps": series[col.TIME_PS].max(), "frozen": float(np.ptp(series[col.CN_MOLECULES])) == 0.0,
                     **settled_after(series.sort_values(col.TIME_PS))})
    return rows


def convergence_markdown(rows: list[dict], blocks: int) -> list[str]:
    lines = ["| set | T (K) | replica | pair | mean CN | drift over production | stops drifting after | "
             "uncorrelated samples | residence time |", "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        when = ("never changes (no exchange at all)" if r["frozen"] else f"{r['settled_ps']:.0f} ps"
                if r["settled_ps"] is not None else f"still drifting at {r['end_ps']:.0f} ps")
        tau = ("—" if not np.isfinite(r["tau"]) else f"{r['tau']:.0f} ps" if r["decayed"] else
               f"> {r['tau']:.0f} ps (no decay within a block)")
        lines.append(f"| {r['label']} | {r['t']:.2f} | {r['replica']} | {r['pair']} | {r['cn']:.2f} | "
                     f"{r['drift']:+.2f} ± {r['err']:.2f} | {when} | {r['n_uncorrelated']:.0f} | {tau} |")
    few = sorted({f"{r['label']} {r['pair']}" for r in rows if r["n_uncorrelated"] < 2 * blocks
                  or (np.isfinite(r["tau"]) and not r["decayed"])})
    if few:
        lines += ["", f"Shells that exchange more slowly than a block lasts (residence not decayed within a block, or "
                  f"fewer than {2 * blocks} uncorrelated samples): {', '.join(few)}. Their block intervals above "
                  "are too narrow; only the spread of replicas from independent starts measures them."]
    return lines


def gap_in_sigma(gap: float, sigma: float) -> float:
    """|gap| / σ; 0 for no gap, infinite for a gap with no error to measure it by."""
    return 0.0 if gap == 0 else abs(gap) / sigma if sigma > 0 else float("inf")


def replica_agreement(res: results.Results) -> list[str]:
    """Sets with two or more replicas: the largest replica-to-replica gap of each headline number, in σ.

    For replicas r, s with block errors σ_r, σ_s, :math:`z = |x_r - x_s| / \\sqrt{\\sigma_r^2 + \\sigma_s^2}`;
    replicas from independent packmol seeds that have forgotten their start agree within z ≈ 2 about 95 %
    of the time.
    """
    quantities = []
    if "water_entropy" in res:
        e = labelled(res, "water_entropy")
        quantities.append(("S_q (water)", e[e["neighbours"] == "water"], "s_q_j_mol_k", "s_q_err_j_mol_k"))
    if "hbonds" in res:
        quantities.append(("H-bonds per water", labelled(res, "hbonds"), "hbonds_per_molecule",
                           "hbonds_per_molecule_err"))
    if "coordination" in res:
        c = labelled(res, "coordination")
        for (cation, partner), rows in c.groupby(["cation", "partner"]):
            quantities.append((f"{cation}–{partner} CN", rows, "cn_molecules", "cn_molecules_err"))
    lines = []
    for what, table, value, err in quantities:
        for (name, t), rows in table.dropna(subset=[value]).groupby(["label", "temperature_k"], sort=False):
            if rows["replica"].nunique() < 2:
                continue
            x, sigma = rows[value].to_numpy(float), rows[err].to_numpy(float)
            z = max(gap_in_sigma(x[i] - x[j], np.hypot(sigma[i], sigma[j]))
                    for i in range(len(x)) for j in range(i + 1, len(x)))
            lines.append(f"| {name} | {t:.2f} | {what} | {', '.join(f'{v:.3g}' for v in x)} | "
                         f"{'> 99' if z > 99 else f'{z:.1f}'} | "
                         f"{'yes' if z <= 2 else '**no**'} |")
    if not lines:
        return ["No set has two finished replicas yet: the replicas cannot be compared."]
    return ["| set | T (K) | quantity | replicas | largest gap (σ) | within 2σ |",
            "| --- | --- | --- | --- | --- | --- |", *lines]


def plot_cn_timeseries(res: results.Results, rows: list[dict], path: Path) -> None:
    table = labelled(res, "coordination_timeseries")
    table = table[table["cation"] == "Zn"] if (table["cation"] == "Zn").any() else table
    sets = list(dict.fromkeys(table["label"]))
    fig, axes = plt.subplots(1, len(sets), figsize=(3.6 * len(sets), 3.2), squeeze=False, sharey=True)
    settled = {(r["label"], r["t"], r["replica"], r["pair"]): r["settled_ps"] for r in rows}
    for ax, name in zip(axes[0], sets, strict=True):
        for (t, replica, partner), s in table[table["label"] == name].groupby(["temperature_k", "replica", "partner"]):
            line, = ax.plot(s[col.TIME_PS], s[col.CN_MOLECULES], lw=1,
                            label=f"{s['cation'].iloc[0]}–{partner} {t:.0f} K r{replica}")
            cut = settled.get((name, float(t), replica, f"{s['cation'].iloc[0]}–{partner}"))
            if cut is not None and cut > s[col.TIME_PS].min():
                ax.axvline(cut, color=line.get_color(), ls=":", lw=1)
        ax.set(title=name, xlabel="production time (ps)")
        ax.legend(fontsize=7)
    axes[0][0].set_ylabel("partners per cation")
    fig.suptitle("CN per frame (dotted: drift test passes)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


# --- part 1: Hofmeister ----------------------------------------------------------------------
def missing(res: results.Results, *tables: str) -> list[str]:
    """A line naming the tables a section needs that the study has not gathered (empty if none)."""
    absent = [t for t in tables if t not in res]
    return [f"Not gathered yet: {', '.join(absent)} (the runs' analyses have not finished)."] if absent else []


def hofmeister_table(entropy: pd.DataFrame, hbonds: pd.DataFrame, blocks: int) -> dict:
    """Per solution at one temperature: ⟨q⟩, S_q, S_q − S_0 (pure water's), H-bonds, runs, T − T_m."""
    sets = ordered(entropy["label"], first=("water", *CLAIMED_ORDER))
    water = pooled(entropy[entropy["label"] == "water"], "s_q_j_mol_k", "s_q_err_j_mol_k", blocks)
    table = {}
    for name in sets:
        e = entropy[entropy["label"] == name]
        sq = pooled(e, "s_q_j_mol_k", "s_q_err_j_mol_k", blocks)
        relative = (Pooled(0.0, 0.0, ()) if name == "water" else
                    Pooled(sq.mean - water.mean, float(np.hypot(sq.half, water.half)), ()))
        table[name] = {"q": pooled(e, "q_mean", "q_mean_err", blocks), "sq": sq, "rel": relative,
                       "hb": pooled(hbonds[hbonds["label"] == name], "hbonds_per_molecule",
                                    "hbonds_per_molecule_err", blocks),
                       "n": len(e), "t": float(e["temperature_k"].iloc[0]), "tm": float(e["t_minus_tm_k"].iloc[0])}
    return table


def hofmeister(res: results.Results, blocks: int, figures: Path, context: dict) -> list[str]:
    absent = missing(res, "water_entropy", "hbonds", "tetrahedral")
    if absent:
        return absent
    entropy = labelled(res, "water_entropy")
    entropy = entropy[entropy["neighbours"] == "water"]
    hbonds = labelled(res, "hbonds")
    tables = {t: hofmeister_table(entropy[entropy["temperature_k"] == t], hbonds[hbonds["temperature_k"] == t], blocks)
              for t in sorted(entropy["temperature_k"].unique(), reverse=True)}
    context["water_hbonds"] = {t: table["water"]["hb"] for t, table in tables.items() if "water" in table}
    lines = ["| solution | runs | T (K) | T − T_m (K) | ⟨q⟩ | S_q (J mol⁻¹ K⁻¹) | S_q − S_0 | H-bonds per water |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for table in tables.values():
        for name, r in table.items():
            lines.append(f"| {name} | {r['n']} | {r['t']:.2f} | {r['tm']:+.0f} | {r['q']} | {r['sq']} | "
                         f"{'0 (reference)' if name == 'water' else r['rel']} | {r['hb']} |")
    single = [name for table in tables.values() for name, r in table.items() if r["n"] == 1]
    if single:
        lines += ["", f"One run only: {', '.join(dict.fromkeys(single))}. Their intervals come from time blocks "
                  "alone; where two replicas exist (table below) they scatter by more than those allow, so read "
                  "these intervals as too narrow."]
    for t, table in tables.items():
        lines += ["", f"At {t:.2f} K:", "", *hofmeister_verdict(table)]
    lines.append("")
    t0, table = next(iter(tables.items()))
    names = list(table)
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.4))
    for ax, key, ylabel in ((a, "sq", "S_q of water (J mol⁻¹ K⁻¹)"), (b, "hb", "H-bonds per water")):
        ax.errorbar(names, [table[n][key].mean for n in names], yerr=[table[n][key].half for n in names], fmt="o",
                    capsize=4, color="#2b6f99")
        ax.set_ylabel(ylabel)
        ax.tick_params(axis="x", rotation=30)
        lo = min(table[n][key].low() for n in names)
        hi = max(table[n][key].high() for n in names)
        ax.set_ylim(lo - 0.3 * (hi - lo), hi + 0.3 * (hi - lo))
    fig.suptitle(f"Hofmeister zinc salts, 2 mol/kg, TIP4P-Ew, {t0:.2f} K (95 % intervals)", fontsize=9)
    fig.tight_layout()
    fig.savefig(figures / "hofmeister_sq_hbonds.png", dpi=120)
    plt.close(fig)
    shown = ["![S_q and hydrogen bonds per salt](figures/hofmeister_sq_hbonds.png)"]
    if len(tables) > 1:
        fig, ax = plt.subplots(figsize=(5, 3.4))
        for name in names:
            points = [(tb[name]["tm"], tb[name]["sq"]) for tb in tables.values() if name in tb]
            ax.errorbar([p[0] for p in points], [p[1].mean for p in points], [p[1].half for p in points], marker="o",
                        capsize=3, label=name)
        ax.set(xlabel="T − T_m of TIP4P-Ew (K)", ylabel="S_q of water (J mol⁻¹ K⁻¹)")
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(figures / "hofmeister_sq_temperature.png", dpi=120)
        plt.close(fig)
        shown.append("![S_q against temperature](figures/hofmeister_sq_temperature.png)")
    pq = labelled(res, "tetrahedral")
    pq = pq[(pq["neighbours"] == "water") & (pq["temperature_k"] == t0)]
    fig, ax = plt.subplots(figsize=(5, 3.4))
    for name in names:
        curve = pq[pq["label"] == name].groupby("q")["p_q"].mean()
        ax.plot(curve.index, curve.to_numpy(), label=name)
    ax.set(xlabel="tetrahedral order q", ylabel="P(q)", title=f"P(q) of water at {t0:.2f} K (mean of the replicas)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(figures / "hofmeister_pq.png", dpi=120)
    plt.close(fig)
    return lines + shown + ["![P(q) per salt](figures/hofmeister_pq.png)"]


def hofmeister_verdict(table: dict) -> list[str]:
    present = [s for s in CLAIMED_ORDER if s in table]
    if len(present) < 2:
        return ["Too few salts have finished runs to test the ordering."]
    lines = ["Claimed: S_q(ClO₄⁻) > S_q(Br⁻) > S_q(Cl⁻) > S_q(SO₄²⁻). Pair by pair in the simulations:", ""]
    held = resolved = 0
    for a, b in zip(present, present[1:], strict=False):
        x, y = table[a]["sq"], table[b]["sq"]
        order = "above" if x.mean > y.mean else "below"
        separate = x.low() > y.high() or y.low() > x.high()
        replicated = min(table[a]["n"], table[b]["n"]) > 1
        held += x.mean > y.mean
        resolved += separate and replicated and x.mean > y.mean
        lines.append(f"- {a} is {order} {b} by {x.mean - y.mean:+.2f} J mol⁻¹ K⁻¹; the 95 % intervals "
                     f"{'do not overlap' if separate else 'overlap'}"
                     f"{'' if replicated else ' (one run of at least one of them: block intervals only)'}.")
    pairs = len(present) - 1
    lines += ["", f"The claimed order holds in {held} of {pairs} neighbouring pairs, and is resolved "
              f"(non-overlapping intervals of replicated sets, whose intervals include the replicas' scatter) in "
              f"{resolved}."]
    return lines


# --- part 2: ZnCl2–LiCl ----------------------------------------------------------------------
def peak_nm(rdf: pd.DataFrame) -> float:
    """Position of the first maximum of g(r) (the highest bin below the first minimum after it)."""
    g = rdf.groupby("r_nm")["g_r"].mean()
    return float(g.idxmax()) if len(g) and g.max() > 0 else float("nan")


def zinc(res: results.Results, blocks: int, figures: Path, context: dict) -> list[str]:
    absent = missing(res, "coordination", "hbonds", "diffusion", "rdf")
    if absent:
        return absent
    coordination = labelled(res, "coordination")
    bound = labelled(res, "bound_fraction") if "bound_fraction" in res else None
    hbonds = labelled(res, "hbonds")
    diffusion = labelled(res, "diffusion")
    rdf = labelled(res, "rdf")
    sets = ordered(coordination["label"])

    def cn(name, cation, partner):
        rows = coordination[(coordination["label"] == name) & (coordination["cation"] == cation)
                            & (coordination["partner"] == partner)]
        return pooled(rows, "cn_molecules", "cn_molecules_err", blocks)

    def held(name, cation):
        if bound is None:
            return Pooled(float("nan"), float("nan"), ())
        rows = bound[(bound["label"] == name) & (bound["cation"] == cation) & (bound["partner"] == "water")]
        return pooled(rows, "bound_fraction", "bound_fraction_err", blocks)

    def d(name, species):
        rows = diffusion[(diffusion["label"] == name) & (diffusion["species"] == species)]
        p = pooled(rows, "d_m2_s", "d_err_m2_s", blocks)
        if not len(p.values):
            return "—"
        slope = float(rows["slope_loglog"].mean())
        flag = "" if slope >= 0.9 else f" (sub-diffusive: log-log slope {slope:.2f})"
        return f"{Pooled(p.mean * 1e9, p.half * 1e9, ())}{flag}"

    lines = ["| solution | runs | Zn–Cl CN | Zn–O(water) CN | Zn–Cl peak (Å) | Li–Cl CN | Li–O(water) CN | "
             "water held by Li⁺ | by Zn²⁺ | by any cation | H-bonds per water |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for name in sets:
        zn_cl = rdf[(rdf["label"] == name) & (rdf["cation"] == "Zn") & (rdf["partner"] == "Cl")]
        runs = coordination.loc[coordination["label"] == name, "run"].nunique()
        hb = pooled(hbonds[hbonds["label"] == name], "hbonds_per_molecule", "hbonds_per_molecule_err", blocks)
        lines.append(f"| {name} | {runs} | {cn(name, 'Zn', 'Cl')} | {cn(name, 'Zn', 'water')} | "
                     f"{10 * peak_nm(zn_cl) if len(zn_cl) else float('nan'):.2f} | {cn(name, 'Li', 'Cl')} | "
                     f"{cn(name, 'Li', 'water')} | {held(name, 'Li')} | {held(name, 'Zn')} | {held(name, 'any')} | "
                     f"{hb} |")
    lines += ["", "Self-diffusion in the periodic box (10⁻⁹ m²/s; no Yeh–Hummer correction: no viscosity was "
              "computed for these boxes):", "", "| solution | water | Li⁺ | Zn²⁺ | Cl⁻ |",
              "| --- | --- | --- | --- | --- |"]
    for name in sets:
        lines.append(f"| {name} | {d(name, 'water')} | {d(name, 'Li')} | {d(name, 'Zn')} | {d(name, 'Cl')} |")
    d_water = LITERATURE["water_d_m2_s"]
    lines += ["", f"Pure water in experiment: {d_water[0] * 1e9:.2f} × 10⁻⁹ m²/s ({d_water[1]}; {d_water[2]}).", ""]
    lines += speciation_figures(res, figures)
    hb = {name: pooled(hbonds[hbonds["label"] == name], "hbonds_per_molecule", "hbonds_per_molecule_err", blocks)
          for name in sets}
    lines += ["", "### The claims", "", *zinc_claims(res, cn, held, hb, context.get("water_hbonds", {}).get(298.15))]
    return lines


def chained_fraction(res: results.Results, name: str) -> float:
    """Fraction of Zn²⁺ in Cl-bridged chains of two or more Zn (mean of the runs); NaN without chains."""
    if "zn_chains" not in res:
        return float("nan")
    chains = labelled(res, "zn_chains")
    rows = chains[(chains["label"] == name) & (chains["n_zn"] >= 2)]
    runs = chains.loc[chains["label"] == name, "run"].nunique()
    return float(rows["zn_fraction"].sum() / runs) if runs else float("nan")


def verdict(ok: bool | None) -> str:
    return ("**not tested** (runs missing)" if ok is None else "**supported**" if ok else
            "**contradicted** in this model")


def zinc_claims(res: results.Results, cn, held, hb: dict, water_hb: Pooled | None) -> list[str]:
    """Each claim of the seed papers beside the number that tests it, with the verdict it earns."""
    hydrate, parent, water_free = "Li₂ZnCl₄·9H₂O", "ZnCl₂·3H₂O", LITERATURE["li2zncl4"]
    lines = []
    zn_cl = cn(hydrate, "Zn", "Cl")
    ok = None if not np.isfinite(zn_cl.mean) else zn_cl.low() <= 4 <= zn_cl.high() or abs(zn_cl.mean - 4) < 0.5
    lines.append(f"1. *ZnCl₄²⁻ forms in {hydrate}* ({water_free[1]}): Zn–Cl CN {zn_cl} against 4 — {verdict(ok)}.")
    li, zn, any_ = held(hydrate, "Li"), held(hydrate, "Zn"), held(hydrate, "any")
    ok = None if not np.isfinite(li.mean) else bool(li.low() > zn.high())
    lines.append(f"2. *Li⁺ takes the water ({hydrate})*: Li⁺ holds {li} of the water, Zn²⁺ {zn}; "
                 f"{1 - any_.mean:.2f} of the water is held by no cation — {verdict(ok)}.")
    mine, theirs = chained_fraction(res, hydrate), chained_fraction(res, parent)
    ok = None if not (np.isfinite(mine) and np.isfinite(theirs)) else bool(mine < theirs)
    lines.append(f"3. *Chains stay short*: {mine:.2f} of Zn²⁺ sit in Cl-bridged chains of ≥ 2 Zn in {hydrate}, "
                 f"{theirs:.2f} in {parent} — {verdict(ok)} (one number per run: no interval).")
    parent_cl = cn(parent, "Zn", "Cl")
    ok = None if not np.isfinite(parent_cl.mean) else bool(parent_cl.low() <= 2 <= parent_cl.high()
                                                             or abs(parent_cl.mean - 2) < 0.5)
    lines.append(f"4. *{parent} keeps the [Zn(H₂O)₆][ZnCl₄] packing* ({LITERATURE['zncl2_3h2o'][1]}): mean Zn–Cl CN "
                 f"{parent_cl} against 2 — {verdict(ok)}.")
    mine = hb.get(hydrate)
    ok = None if mine is None or water_hb is None or not np.isfinite(mine.mean) else bool(mine.high() < water_hb.low())
    lines.append(f"5. *The hydrogen-bond network is broken up ({hydrate})*: {mine if mine else '—'} H-bonds per water "
                 f"against {water_hb if water_hb else '— (no pure-water run)'} in pure TIP4P-Ew water (the Hofmeister "
                 f"study's reference) — {verdict(ok)}.")
    return lines


def speciation_figures(res: results.Results, figures: Path) -> list[str]:
    spec = labelled(res, "speciation")
    spec = spec[spec["cation"] == "Zn"]
    if spec.empty:
        return []
    spec = spec.assign(species=[f"ZnCl{int(c)}(H₂O){int(w)}" for c, w in zip(spec["n_cl"], spec["n_water"],
                                                                              strict=True)])
    sets = ordered(spec["label"])
    share = (spec.groupby(["label", "species"])["fraction"].sum() / spec.groupby("label")["run"].nunique()).rename(
        "fraction")
    fig, (a, b) = plt.subplots(1, 2, figsize=(12, 3.8), gridspec_kw={"width_ratios": [1.4, 1]})
    left = np.zeros(len(sets))
    for species in share.groupby("species").sum().sort_values(ascending=False).index:
        values = np.array([share.get((s, species), 0.0) for s in sets])
        if values.max() < 0.02:
            continue
        a.barh(sets, values, left=left, label=species)
        left += values
    a.set(xlabel="fraction of Zn²⁺", title="Zn²⁺ first shells (≥ 2 % shown)")
    a.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    lines = []
    if "zn_chains" in res:
        chains = labelled(res, "zn_chains")
        for name in sets:
            c = chains[chains["label"] == name].groupby("n_zn")["zn_fraction"].sum() / max(
                chains.loc[chains["label"] == name, "run"].nunique(), 1)
            if len(c):
                b.plot(c.index, c.to_numpy(), "o", label=name)
        b.set(xlabel="Zn²⁺ in a Cl-bridged chain", ylabel="fraction of Zn²⁺", title="[ZnCl₄₋ₘ]ₙ chain lengths",
              xscale="log")
        b.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(figures / "zn_speciation_chains.png", dpi=120)
    plt.close(fig)
    top = share.reset_index().sort_values("fraction", ascending=False).groupby("label").head(3)
    lines += ["Most common Zn²⁺ shells (fraction of Zn²⁺, mean of the runs):", ""]
    for name in sets:
        rows = top[top["label"] == name]
        lines.append(f"- {name}: " + ", ".join(f"{r.species} {r.fraction:.2f}" for r in rows.itertuples()))
    return [*lines, "", "![Zn speciation and chains](figures/zn_speciation_chains.png)"]


# --- the report ------------------------------------------------------------------------------
def load(root: Path) -> results.Results | None:
    try:
        return results.load(root)
    except HeseInputError:
        return None


def densities(res: results.Results) -> list[str]:
    """The equilibrated NPT density of every set and temperature, beside experiment at 298.15 K."""
    summary = res.summary.dropna(subset=["density_g_cm3"]).copy()
    if summary.empty:
        return []
    summary["label"] = [label_of(r) for _, r in summary.iterrows()]
    lines = ["| solution | T (K) | runs | NPT density (g/cm³) | experiment | simulation − experiment |",
             "| --- | --- | --- | --- | --- | --- |"]
    for name in ordered(summary["label"]):
        for t, rows in summary[summary["label"] == name].groupby("temperature_k", sort=True):
            rho = Pooled(float(rows["density_g_cm3"].mean()),
                         1.96 * float(np.sqrt((rows["density_err_g_cm3"] ** 2).sum())) / len(rows), ())
            exp = EXPERIMENT_DENSITY.get(name) if abs(t - 298.15) < 0.5 else None
            lines.append(f"| {name} | {t:.2f} | {len(rows)} | {rho} | {'—' if exp is None else f'{exp:.4f}'} | "
                         f"{'—' if exp is None else f'{100 * (rho.mean / exp - 1):+.1f} %'} |")
    return [*lines, "", f"Experiment (298.15 K only): {DENSITY_SOURCE}. Horn et al. (J. Chem. Phys. 120, 9665 "
            "(2004), abstract) give TIP4P-Ew's density within 1 % of experiment from −37.5 to 127 °C. "
            "Intervals: 95 %.", ""]


def how_run(res: results.Results, root: Path, study: str) -> list[str]:
    """What the finished runs did, from their ``done.json`` (settings as run, not as configured now)."""
    done = {run: json.loads((root / run / "md" / "done.json").read_text())
            for run in res.summary["run"] if (root / run / "md" / "done.json").is_file()}
    if not done:
        return ["No run has finished its simulation yet."]
    kinds = {json.dumps({k: v for k, v in d["settings"].items() if k not in PER_RUN}, sort_keys=True)
             for d in done.values()}
    s = next(iter(done.values()))["settings"]
    anneal = (f", annealed {s['anneal_ps']:g} ps at {s['anneal_k']:g} K and cooled over {s['anneal_cool_ps']:g} ps"
              if s.get("anneal_k") else ", no annealing")
    ns = sum(st["ps"] for d in done.values() for st in d["stages"].values()) / 1000
    npt = [d["npt_ps"] for d in done.values()]
    return [f"{len(done)} of the {len(res.summary)} runs of `validation/{CONFIGS[study]}` have finished "
            f"({ns:.2f} ns of MD in all){'' if len(kinds) == 1 else '; their settings differ'}: heating "
            f"{s['heating_ps']:g} ps{anneal}, NPT until the density converged (drift bound "
            f"{100 * s['density_tolerance']:g} %; {min(npt):g}–{max(npt):g} ps), then {s['production_ps']:g} ps of "
            f"{s['ensemble'].upper()} production with a frame every {s['save_every_ps']:g} ps, time step "
            f"{next(iter(done.values()))['timestep_fs']:g} fs, on {next(iter(done.values()))['platform']}. "
            f"Uncertainties from {blocks_of(res)} time blocks per run."]


def report(data_dir: Path, out: Path) -> Path:
    """Write ``out/README.md`` and ``out/figures/*.png`` from the archived validation studies.

    Raises
    ------
    HeseInputError
        Neither study has gathered tables under ``data_dir`` (nothing is written, so a report
        already there is kept).
    """
    studies = {study: load(data_dir / study) for study in CONFIGS}
    if all(res is None for res in studies.values()):
        raise HeseInputError(f"--data {data_dir}: no archived runs of {' or '.join(CONFIGS)}; run the "
                             "studies first (snakemake --configfile validation/<config>)")
    figures = out / "figures"
    figures.mkdir(parents=True, exist_ok=True)
    lines = ["# Validation: the aqueous zinc seed studies", "",
             "Written by `python validation/report.py` from the gathered tables of the two studies in this "
             "folder (their runs' tables are kept in `validation/data/`). Do not edit by hand. Models: TIP4P-Ew water "
             "(ice melts at 245 K), Joung–Cheatham Li⁺/Cl⁻/Br⁻, Li–Merz IOD Zn²⁺ (force_fields/README.md). To "
             "reproduce (trajectories stay out of git):", "",
             "```", "snakemake --configfile validation/hofmeister-zn.yaml --cores 2   # or --profile profiles/gpu-node",
             "snakemake --configfile validation/zncl2-licl.yaml --cores 2", "python validation/report.py", "```", ""]
    sources = ["", "## Sources", ""] + [f"- {v[1]}: {v[0]} (read in: {v[2]})" for v in LITERATURE.values()]
    context: dict = {}  # what one part hands the next (pure water's H-bonds)
    for study, title, part in ((HOFMEISTER, "Part 1: Hofmeister zinc salts", hofmeister),
                               (ZINC, "Part 2: Li₂ZnCl₄·9H₂O and its parent solutions", zinc)):
        lines += [f"## {title}", ""]
        res = studies[study]
        if res is None:
            lines += [f"No run of `validation/{CONFIGS[study]}` has been archived yet: run `snakemake "
                      f"--configfile validation/{CONFIGS[study]}`, then this script.", ""]
            continue
        blocks = blocks_of(res)
        lines += [*how_run(res, data_dir / study, study), "", *densities(res),
                  *part(res, blocks, figures, context), ""]
        if "coordination_timeseries" in res:
            rows = convergence_rows(res)
            name = f"cn_timeseries_{study.removeprefix('validation-')}.png"
            plot_cn_timeseries(res, rows, figures / name)
            lines += ["### Convergence of the shells", "", *convergence_markdown(rows, blocks), "",
                      "Replicas from independent packmol seeds:", "", *replica_agreement(res), "",
                      f"![Coordination numbers per frame]({'figures/' + name})", ""]
    lines += ["## What limits these numbers", "", *LIMITS, temperature_limit(studies), ""]
    (out / "README.md").write_text("\n".join(lines + sources) + "\n")
    return out / "README.md"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=Path("results"), help="folder of the study results")
    parser.add_argument("--data", type=Path, default=HERE / "data", help="folder of the archived studies")
    parser.add_argument("--out", type=Path, default=HERE, help="folder of README.md and figures/")
    args = parser.parse_args(argv)
    try:
        for name, copied in archive.archive_all(args.results, args.data).items():
            print(f"{name}: {len(copied)} finished runs archived in {args.data / name}")
        print(report(args.data, args.out))
    except HeseInputError as err:
        print(f"report.py: error: {err}", file=sys.stderr)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()

"""Figures of a study from its gathered tables (``hese plot results/<study> NAME``).

Each figure is a function of :class:`hese.results.Results` that returns a matplotlib
Figure; :func:`save` writes it as PNG and SVG. Every figure shows its uncertainties (error
bars are standard errors from time blocks, or 95 % block-bootstrap intervals for S_shell)
and says how much data is behind it. Figures with one line per run show the first replica
of at most :data:`MAX_LINES` runs.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

from hese.errors import HeseInputError  # noqa: E402
from hese.io import atomic_write  # noqa: E402
from hese.results import Results  # noqa: E402

MAX_LINES = 8


def save(fig: plt.Figure, stem: str | os.PathLike) -> list[Path]:
    """Write ``fig`` as ``<stem>.png`` (150 dpi) and ``<stem>.svg``, atomically; close it."""
    paths = []
    for ext in ("png", "svg"):
        buffer = io.BytesIO()
        fig.savefig(buffer, format=ext, dpi=150, bbox_inches="tight")
        paths.append(atomic_write(f"{stem}.{ext}", buffer.getvalue()))
    plt.close(fig)
    return paths


def _shown_runs(res: Results) -> list[str]:
    """Runs drawn as separate lines: first replicas, at most MAX_LINES of them."""
    summary = res.summary
    first = summary[summary["replica"] == summary["replica"].min()]
    return list(first["run"][:MAX_LINES])


def _label(res: Results, run: str) -> str:
    return run_labels(res.summary, _shown_runs(res)).get(run, str(run))


def run_labels(summary: pd.DataFrame, runs: list[str]) -> dict[str, str]:
    """Short legend labels: only what differs between ``runs`` (system, salt mixture, T, replica).

    The mixture is written with its mole fractions, ``25 % LiFSI + 75 % LiNO3`` (a single salt by
    its name); runs that these do not tell apart fall back to their full run id.
    """
    rows = summary.set_index("run").loc[list(runs)]
    salts = [c for c in rows.columns if c.startswith("x_")]

    def mixture(row: pd.Series) -> str:
        parts = [(c[2:], float(row[c])) for c in salts if pd.notna(row[c]) and float(row[c]) > 0]
        if len(parts) == 1:
            return parts[0][0]
        return " + ".join(f"{100 * x:.3g} % {salt}" for salt, x in parts)

    columns = {
        "system": rows["system"].astype(str),
        "mixture": rows.apply(mixture, axis=1) if salts else pd.Series("", index=rows.index),
        "temperature": rows.apply(_temperature, axis=1),
        "replica": rows["replica"].map(lambda r: f"replica {r}"),
    }
    varying = [v for v in columns.values() if v.nunique() > 1] or [columns["system"]]
    labels = {run: ", ".join(v[run] for v in varying if v[run]) for run in rows.index}
    if len(set(labels.values())) < len(labels):
        return {run: str(run) for run in rows.index}
    return labels


def _temperature(row: pd.Series) -> str:
    """``253.15 K`` — with ``(T − T_m = +8 K)`` where the run's water model has a known melting point."""
    text = f"{float(row['temperature_k']):g} K"
    if pd.notna(row.get("t_minus_tm_k")):
        text += f" (T − T_m = {float(row['t_minus_tm_k']):+.0f} K)"
    return text


def _legend_outside(where: plt.Axes | plt.Figure, below: bool = False) -> None:
    """A legend that covers no data: right of the axes (``below``: under it), or under all panels
    of a figure (the handles of its first axes)."""
    if isinstance(where, plt.Figure):
        handles, labels = where.axes[0].get_legend_handles_labels()
        where.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=min(3, len(labels) or 1),
                     fontsize=8, frameon=False)
    elif below:
        where.legend(loc="upper center", bbox_to_anchor=(0.5, -0.15), fontsize=7, frameon=False)
    else:
        where.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=7, frameon=False)


def _no_data(name: str, res: Results, table: str) -> plt.Figure:
    fig, ax = plt.subplots(figsize=(5, 3))
    ax.text(0.5, 0.5, f"no {table} table in {res.root}", ha="center", va="center")
    ax.set_axis_off()
    ax.set_title(name)
    return fig


def _finish(fig: plt.Figure, ax: plt.Axes, xlabel: str, ylabel: str, title: str) -> plt.Figure:
    """Label the one axes of ``fig``, add its legend and lay it out."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    _legend_outside(ax)
    fig.tight_layout()
    return fig


def rdf(res: Results) -> plt.Figure:
    """g(r) and running coordination number of every (cation, partner) pair, cutoffs marked."""
    if "rdf" not in res:
        return _no_data("rdf", res, "rdf")
    table, runs = res.rdf, _shown_runs(res)
    pairs = table[["cation", "partner"]].drop_duplicates().to_records(index=False)
    ncol = min(3, len(pairs))
    nrow = int(np.ceil(len(pairs) / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(4.2 * ncol, 3.2 * nrow), squeeze=False)
    cut = res.coordination if "coordination" in res else pd.DataFrame(columns=["run", "cation", "partner"])
    for ax, (cation, partner) in zip(axes.flat, pairs, strict=False):
        twin = ax.twinx()
        for k, run in enumerate(runs):
            rows = table[(table["run"] == run) & (table["cation"] == cation) & (table["partner"] == partner)]
            colour = f"C{k}"
            ax.plot(rows["r_nm"], rows["g_r"], color=colour, label=_label(res, run))
            twin.plot(rows["r_nm"], rows["cn_running"], color=colour, ls="--", lw=0.8)
            c = cut[(cut["run"] == run) & (cut["cation"] == cation) & (cut["partner"] == partner)]
            if len(c) and pd.notna(c["cutoff_nm"].iloc[0]):
                ax.axvline(c["cutoff_nm"].iloc[0], color=colour, lw=0.8, alpha=0.7)
        ax.set_title(f"{cation}–{partner}")
        ax.set_xlabel("r (nm)")
        ax.set_ylabel("g(r)")
        twin.set_ylabel("running CN")
    for ax in list(axes.flat)[len(pairs):]:
        ax.set_axis_off()
    fig.suptitle("cation–partner RDFs (solid), running coordination numbers (dashed), cutoffs (vertical)")
    fig.tight_layout()
    _legend_outside(fig)
    return fig


def speciation(res: Results, top: int = 6) -> plt.Figure:
    """The ``top`` most frequent shell compositions of each cation, per run."""
    if "speciation" not in res:
        return _no_data("speciation", res, "speciation")
    table, runs = res.speciation, _shown_runs(res)
    cations = sorted(table["cation"].unique())
    fig, axes = plt.subplots(1, len(cations), figsize=(5.5 * len(cations), 0.5 + 0.35 * top * len(runs)),
                             squeeze=False)
    for ax, cation in zip(axes.flat, cations, strict=True):
        rows = table[table["cation"] == cation]
        labels = list(rows.groupby("shell")["fraction"].mean().sort_values(ascending=False).index[:top])
        height = 0.8 / len(runs)
        for k, run in enumerate(runs):
            one = rows[rows["run"] == run].set_index("shell")
            fractions = [float(one["fraction"].get(label, 0.0)) for label in labels]
            n = int(one["count"].sum()) if len(one) else 0
            ax.barh(np.arange(len(labels)) + k * height, fractions, height=height, color=f"C{k}",
                    label=f"{_label(res, run)} (n = {n})")
        ax.set_yticks(np.arange(len(labels)) + 0.4 - height / 2, labels)
        ax.invert_yaxis()
        ax.set_xlabel("fraction of observations")
        ax.set_title(f"{cation} shell compositions")
        _legend_outside(ax, below=True)
    fig.tight_layout()
    return fig


def coordination_timeseries(res: Results) -> plt.Figure:
    """CN(t) of every (cation, partner) pair, per frame (thin) and its running mean (thick): the
    convergence of the coordination numbers; one row of panels per cation, one column per run."""
    if "coordination_timeseries" not in res:
        return _no_data("coordination_timeseries", res, "coordination_timeseries")
    table = res.coordination_timeseries.dropna(subset=["cn_molecules"])
    runs = [r for r in _shown_runs(res) if r in set(table["run"])][:4] or _shown_runs(res)[:1]
    cations = sorted(table["cation"].unique()) or ["none"]
    fig, axes = plt.subplots(len(cations), len(runs), figsize=(4.5 * len(runs), 3.2 * len(cations)), squeeze=False)
    for row, cation in zip(axes, cations, strict=True):
        for ax, run in zip(row, runs, strict=True):
            rows = table[(table["run"] == run) & (table["cation"] == cation)]
            for k, (partner, group) in enumerate(rows.groupby("partner")):
                cn = group["cn_molecules"].to_numpy(dtype=float)
                running = np.cumsum(cn) / np.arange(1, len(cn) + 1)
                ax.plot(group["time_ps"], cn, color=f"C{k}", lw=0.5, alpha=0.35)
                ax.plot(group["time_ps"], running, color=f"C{k}", lw=1.6,
                        label=f"{partner} (mean {running[-1]:.3g}, {len(cn)} frames)")
            ax.set_xlabel("time (ps)")
            ax.set_ylabel(f"partner molecules per {cation}")
            ax.set_title(f"{cation}: {_label(res, run)}", fontsize=9)
            _legend_outside(ax)
    fig.suptitle("coordination number per frame (thin) and its running mean (thick)")
    fig.tight_layout()
    return fig


def residence(res: Results) -> plt.Figure:
    """Continuous (bars) and intermittent (diamonds) residence times of each partner in each cation's
    shell, per run, with block standard errors; hatched bars have not decayed (lower bounds)."""
    if "residence" not in res:
        return _no_data("residence", res, "residence")
    table, runs = res.residence.dropna(subset=["tau_continuous_ps"]), _shown_runs(res)
    cations = sorted(table["cation"].unique()) or ["none"]
    fig, axes = plt.subplots(1, len(cations), figsize=(6.5 * len(cations), 1.5 + 0.25 * len(runs) * 4),
                             squeeze=False)
    for ax, cation in zip(axes.flat, cations, strict=True):
        rows = table[table["cation"] == cation]
        partners = sorted(rows["partner"].unique())
        height = 0.8 / len(runs)
        handles = [Patch(facecolor="white", edgecolor="k", hatch="//", label="not decayed: lower bound")]
        for k, run in enumerate(runs):
            one = rows[rows["run"] == run].set_index("partner").reindex(partners)
            y = np.arange(len(partners)) + k * height
            lower = ~one["decayed"].fillna(True).astype(bool).to_numpy()
            ax.barh(y, one["tau_continuous_ps"], height=height, xerr=one["tau_continuous_err_ps"], capsize=3,
                    color=f"C{k}", hatch=["//" if b else "" for b in lower])
            handles.append(Patch(color=f"C{k}", label=_label(res, run)))
            marker = ax.errorbar(one["tau_intermittent_ps"], y, xerr=one["tau_intermittent_err_ps"], fmt="D", ms=4,
                                 color="k", capsize=2, label="intermittent")
        handles.insert(0, marker)
        ax.set_yticks(np.arange(len(partners)) + 0.4 - height / 2, partners)
        ax.invert_yaxis()
        ax.set_xlabel("residence time (ps)")
        ax.set_title(f"partners in the {cation} shell", fontsize=9)
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=7, frameon=False)
    fig.suptitle("continuous residence times (bars) and intermittent ones (◆), ± standard error")
    fig.tight_layout()
    return fig


def _against_entropy(res: Results, prefix: str, suffix: str, ylabel: str, title: str,
                     err: Callable[[pd.DataFrame, str], np.ndarray | None], log: bool = False) -> plt.Figure:
    """Per-run values of columns ``<prefix><name><suffix>`` against S_config of the anions."""
    summary = res.summary
    names = [c[len(prefix):-len(suffix)] for c in summary.columns
             if c.startswith(prefix) and c.endswith(suffix) and "_err" not in c and "_ci_" not in c]
    fig, ax = plt.subplots(figsize=(5.5, 4))
    x = summary["s_config_anion_r"].to_numpy(dtype=float)
    for k, name in enumerate(names):
        y = pd.to_numeric(summary[f"{prefix}{name}{suffix}"], errors="coerce").to_numpy(dtype=float)
        ax.errorbar(x + 0.01 * k, y, yerr=err(summary, name), fmt="o", capsize=3, color=f"C{k}",
                    label=f"{name} ({np.isfinite(y).sum()} runs)")
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("configurational entropy of the anions S_config / R")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if names:
        _legend_outside(ax)
    fig.tight_layout()
    return fig


def shell_entropy(res: Results) -> plt.Figure:
    """S_shell of each cation against S_config, with 95 % block-bootstrap intervals."""
    def interval(summary: pd.DataFrame, cation: str) -> np.ndarray | None:
        low, high = f"s_shell_{cation}_ci_low_r", f"s_shell_{cation}_ci_high_r"
        if low not in summary or high not in summary:
            return None
        y = summary[f"s_shell_{cation}_r"].to_numpy(dtype=float)
        return np.abs(np.vstack([y - summary[low].to_numpy(dtype=float), summary[high].to_numpy(dtype=float) - y]))

    return _against_entropy(res, "s_shell_", "_r", "S_shell / R", "solvation-shell entropy (95 % interval)", interval)


def diffusion(res: Results) -> plt.Figure:
    """D of each species against S_config, with block standard errors."""
    def error(summary: pd.DataFrame, species: str) -> np.ndarray | None:
        column = f"d_{species}_err_m2_s"
        return summary[column].to_numpy(dtype=float) if column in summary else None

    return _against_entropy(res, "d_", "_m2_s", "D (m²/s)", "self-diffusion (± standard error)", error, log=True)


def transference(res: Results) -> plt.Figure:
    """Transference number of each ion against S_config: Onsager (filled, ± standard error) beside
    Nernst–Einstein (open)."""
    summary = res.summary
    ions = [c[len("t_"):-len("_onsager")] for c in summary.columns if c.startswith("t_") and c.endswith("_onsager")]
    fig, ax = plt.subplots(figsize=(5.5, 4))
    x = summary["s_config_anion_r"].to_numpy(dtype=float)
    for k, ion in enumerate(ions):
        for method, marker, fill in (("onsager", "o", f"C{k}"), ("nernst_einstein", "s", "none")):
            column = f"t_{ion}_{method}"
            if column not in summary:
                continue
            y = pd.to_numeric(summary[column], errors="coerce").to_numpy(dtype=float)
            err = summary[f"{column}_err"].to_numpy(dtype=float) if f"{column}_err" in summary else None
            ax.errorbar(x + 0.01 * k, y, yerr=err, fmt=marker, mfc=fill, capsize=3, color=f"C{k}",
                        label=f"{ion} ({method.replace('_', '–')})")
    ax.axhline(0, color="0.7", lw=0.8)
    ax.set_xlabel("configurational entropy of the anions S_config / R")
    ax.set_ylabel("transference number t")
    ax.set_title("transference numbers (Onsager ± standard error; open: Nernst–Einstein)", fontsize=9)
    if ions:
        _legend_outside(ax)
    fig.tight_layout()
    return fig


def clusters(res: Results) -> plt.Figure:
    """Fraction of clusters with n ions, per run."""
    if "clusters" not in res:
        return _no_data("clusters", res, "clusters")
    table = res.clusters
    fig, ax = plt.subplots(figsize=(5.5, 4))
    for k, run in enumerate(_shown_runs(res)):
        rows = table[table["run"] == run].groupby("n_ions")["count"].sum()
        if rows.empty:
            continue
        fraction = rows / rows.sum()
        ax.plot(fraction.index, fraction.to_numpy(), "o-", color=f"C{k}",
                label=f"{_label(res, run)} ({int(rows.sum())} clusters)")
    ax.set_yscale("log")
    return _finish(fig, ax, "cluster size n (ions)", "fraction of clusters", "ion-cluster size distribution")


def msd(res: Results) -> plt.Figure:
    """MSD of each species (first shown run) on log–log axes with the fit window shaded."""
    if "msd" not in res:
        return _no_data("msd", res, "msd")
    runs = _shown_runs(res)[:4]
    fig, axes = plt.subplots(1, len(runs), figsize=(4.5 * len(runs), 3.8), squeeze=False)
    fits = res.diffusion if "diffusion" in res else pd.DataFrame(columns=["run", "species"])
    for ax, run in zip(axes.flat, runs, strict=True):
        rows = res.msd[(res.msd["run"] == run) & (res.msd["lag_ps"] > 0)]
        for k, (species, group) in enumerate(rows.groupby("species")):
            ax.loglog(group["lag_ps"], group["msd_nm2"], color=f"C{k}", label=species)
            fit = fits[(fits["run"] == run) & (fits["species"] == species)]
            if len(fit) and pd.notna(fit["fit_start_ps"].iloc[0]):
                ax.axvspan(fit["fit_start_ps"].iloc[0], fit["fit_end_ps"].iloc[0], color=f"C{k}", alpha=0.08)
        ax.set_xlabel("lag (ps)")
        ax.set_ylabel("MSD (nm²)")
        ax.set_title(_label(res, run), fontsize=9)
        _legend_outside(ax, below=True)
    fig.suptitle("centre-of-mass MSDs; shaded: diffusive fit windows")
    fig.tight_layout()
    return fig


def tetrahedral(res: Results) -> plt.Figure:
    """P(q) of water (four nearest water oxygens) per run, coloured by temperature."""
    if "tetrahedral" not in res:
        return _no_data("tetrahedral", res, "tetrahedral")
    table = res.tetrahedral[res.tetrahedral["neighbours"] == "water"]
    fig, ax = plt.subplots(figsize=(5.5, 4))
    runs = [r for r in res.summary["run"] if r in set(table["run"])][: 2 * MAX_LINES]
    temps = res.summary.set_index("run")["temperature_k"]
    cmap = plt.get_cmap("coolwarm")
    span = (temps.min(), max(temps.max(), temps.min() + 1e-9))
    for run in runs:
        rows = table[table["run"] == run]
        ax.plot(rows["q"], rows["p_q"], color=cmap((temps[run] - span[0]) / (span[1] - span[0])),
                label=_label(res, run))
    return _finish(fig, ax, "tetrahedral order q", "P(q)", "tetrahedral order of water")


def water_entropy(res: Results) -> plt.Figure:
    """S_q − S₀ of water against temperature per system, with block standard errors; a dotted line
    marks where ice melts in each water model (:data:`hese.species.WATER_MODEL_MELTING_K`)."""
    if "water_entropy" not in res:
        return _no_data("water_entropy", res, "water_entropy")
    table = res.water_entropy
    fig, ax = plt.subplots(figsize=(5.5, 4))
    for k, ((system, neighbours), rows) in enumerate(table.groupby(["system", "neighbours"])):
        rows = rows.sort_values("temperature_k")
        ax.errorbar(rows["temperature_k"], rows["s_q_j_mol_k"], yerr=rows["s_q_err_j_mol_k"], fmt="o-",
                    capsize=3, color=f"C{k}", label=f"{system} ({neighbours}, {len(rows)} runs)")
    if "water_melting_k" in table:
        for (model, melting), _ in table.groupby(["water_model", "water_melting_k"]):
            ax.axvline(melting, color="0.5", ls=":", lw=1)
            ax.annotate(f"ice melts in {model}", (melting, 0.02), xycoords=("data", "axes fraction"),
                        rotation=90, fontsize=7, color="0.4", ha="right", va="bottom")
    return _finish(fig, ax, "T (K)", "S_q − S₀ (J mol⁻¹ K⁻¹)", "tetrahedral entropy of water (± standard error)")


FIGURES: dict[str, Callable[[Results], plt.Figure]] = {
    "rdf": rdf,
    "speciation": speciation,
    "shell_entropy": shell_entropy,
    "diffusion": diffusion,
    "transference": transference,
    "clusters": clusters,
    "coordination_timeseries": coordination_timeseries,
    "residence": residence,
    "msd": msd,
    "tetrahedral": tetrahedral,
    "water_entropy": water_entropy,
}


def plot(res: Results, name: str, out: str | os.PathLike | None = None) -> list[Path]:
    """Draw figure ``name`` of the study ``res`` into ``out`` (default ``<study>/plots``)."""
    if name not in FIGURES:
        raise HeseInputError(f"plot: unknown figure {name!r}; figures are {', '.join(FIGURES)}")
    folder = Path(out) if out is not None else res.root / "plots"
    folder.mkdir(parents=True, exist_ok=True)
    return save(FIGURES[name](res), folder / name)


"""Study result tables: gather every run's tables into one per kind, and load them for notebooks.

``hese gather results/<study>`` reads ``runs.csv`` (``hese runs --csv``) and every run's
``md/equilibration.json`` and ``md/done.json``, and ``analysis/<analysis>/*.parquet``, and writes

- ``tables/<table>.parquet``: the rows of that table from every run, led by the run's
  identifiers and sweep variables (``study, run, system, temperature_k, replica, seed, …``);
- ``tables/summary.parquet`` and ``summary.csv``: one row per run with the headline numbers;
- ``tables/replicas.parquet``: those numbers pooled over the replicas of each set (:func:`replicas_table`).

In a notebook::

    import hese.results
    res = hese.results.load("results/demo")
    res.summary                      # one row per run
    res["diffusion"]                 # or res.diffusion; res.tables lists the names
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from hese import layout
from hese.analysis import registry
from hese.errors import HeseInputError
from hese.io import atomic_write, exclusive, read_json, read_table, replaced_folder

RUNS_CSV = "runs.csv"
#: columns of runs.csv that describe the formulation rather than identify the run
_FORMULATION = "s_config_"


def identifiers(runs: pd.DataFrame) -> list[str]:
    """The identifier and sweep-variable columns of a run table (all but the S_config columns)."""
    return [c for c in runs.columns if not c.startswith(_FORMULATION)]


def gather(root: str | os.PathLike) -> dict[str, Path]:
    """Gather every run's tables of the study folder ``root`` into ``root/tables``.

    Returns
    -------
    dict
        Table name → path written, ``summary`` among them.

    Raises
    ------
    HeseInputError
        ``runs.csv`` is missing, or no run has finished its simulation.
    """
    root = Path(root)
    runs = read_runs(root)
    ids = identifiers(runs)
    parts: dict[str, list[pd.DataFrame]] = {}
    for row in runs.to_dict("records"):
        lead = {c: row[c] for c in ids}
        for name, table in _run_tables(root / str(row["run"])):
            parts.setdefault(name, []).append(_lead(table, lead))
    if "equilibration" not in parts:
        raise HeseInputError(f"{root}: no run has finished its simulation (md/done.json); run the simulations first")
    tables = {name: pd.concat(frames, ignore_index=True) for name, frames in parts.items()}
    tables["summary"] = summary_table(runs, tables)
    tables["replicas"] = replicas_table(tables["summary"], runs)
    out = root / "tables"
    with exclusive(root / ".gather.lock", "hese gather"), replaced_folder(out) as new:  # whole, at once
        for name, table in tables.items():
            _write_parquet(table, new / f"{name}.parquet")
        atomic_write(new / "summary.csv", tables["summary"].to_csv(index=False))
    return {name: out / f"{name}.parquet" for name in tables}


def read_runs(root: Path) -> pd.DataFrame:
    """The run table ``root/runs.csv`` written by ``hese runs CONFIG --csv``."""
    path = Path(root) / RUNS_CSV
    if not path.is_file():
        raise HeseInputError(f"{root}: no {RUNS_CSV}; write it with `hese runs CONFIG --csv {path}`")
    try:
        runs = pd.read_csv(path)
    except (UnicodeDecodeError, ValueError) as err:  # pandas' ParserError and EmptyDataError are ValueErrors
        raise HeseInputError(f"{path}: damaged ({str(err).strip().splitlines()[0]}); write it again with "
                             f"`hese runs CONFIG --csv {path}`") from None
    if "run" not in runs.columns:
        raise HeseInputError(f"{path}: damaged, no 'run' column; write it again with `hese runs CONFIG --csv {path}`")
    return runs


def _run_tables(run_dir: Path) -> Iterator[tuple[str, pd.DataFrame]]:
    """(table name, table) of one run: its simulation record and every finished analysis table.

    A simulation counts once ``md/done.json`` (written last by ``hese simulate``) exists; an
    analysis once its ``summary.json`` (written last) exists.
    """
    md = run_dir / "md"
    if not (md / layout.DONE).is_file():
        return
    remedy = f"rerun hese simulate for {run_dir.name}"
    done = read_json(md / layout.DONE, remedy, ("production_ps", "n_frames", "n_atoms", "platform", "stages"))
    record = _flatten(read_json(md / layout.EQUILIBRATION, remedy), scalars_only=True)
    record = {_molarity_name(k): v for k, v in record.items()}
    yield "equilibration", pd.DataFrame([{
        **record, "ns_simulated": done["production_ps"] / 1000.0, "n_frames": done["n_frames"],
        "n_atoms": done["n_atoms"], "platform": done["platform"],
        "production_ns_per_day": done["stages"]["production"]["ns_per_day"],
    }])
    viscosity = run_dir / "viscosity" / layout.VISCOSITY
    if viscosity.is_file():  # hese viscosity swaps its folder in whole: the record means the run is complete
        remedy = f"rerun hese viscosity for {run_dir.name}"
        record = {k: v for k, v in read_json(viscosity, remedy).items() if k not in ("settings", "amplitudes")}
        yield "viscosity", pd.DataFrame([_flatten(record, scalars_only=True)])
        for path in sorted(viscosity.parent.glob("*.parquet")):
            yield path.stem, read_table(path, remedy)
    for analysis in registry.names():
        folder = run_dir / "analysis" / analysis
        if (folder / layout.SUMMARY).is_file():
            summary = read_json(folder / layout.SUMMARY, f"rerun hese analyze {analysis} for {run_dir.name}")
            yield f"{analysis}_summary", pd.DataFrame([_flatten(summary, scalars_only=True)])
            for path in sorted(folder.glob("*.parquet")):
                yield path.stem, read_table(path, f"rerun hese analyze {analysis} for {run_dir.name}")


def _molarity_name(key: str) -> str:
    """``salt_molarity_mol_l_LiFSI`` → ``molarity_LiFSI_mol_l`` (the unit last, as in every column)."""
    for kind in ("salt", "ion"):
        prefix = f"{kind}_molarity_mol_l_"
        if key.startswith(prefix):
            return f"{'' if kind == 'salt' else 'ion_'}molarity_{key[len(prefix):]}_mol_l"
    return key


def _flatten(record: Mapping, prefix: str = "", scalars_only: bool = False) -> dict:
    """Nested mapping → one flat row with ``a_b`` keys; lists are kept unless ``scalars_only``."""
    flat = {}
    for key, value in record.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(_flatten(value, f"{name}_", scalars_only))
        elif isinstance(value, (list, tuple)):
            if not scalars_only:
                flat[name] = json.dumps(value)
        else:
            flat[name] = value
    return flat


def _lead(table: pd.DataFrame, lead: Mapping) -> pd.DataFrame:
    """``table`` with the run's identifier columns first (replacing columns of the same name)."""
    rest = table.drop(columns=[c for c in lead if c in table.columns])
    head = pd.DataFrame({c: [v] * len(rest) for c, v in lead.items()}, index=rest.index)
    return pd.concat([head, rest], axis=1)


def _write_parquet(table: pd.DataFrame, path: Path) -> Path:
    buffer = io.BytesIO()
    table.to_parquet(buffer, index=False)
    return atomic_write(path, buffer.getvalue())


def summary_table(runs: pd.DataFrame, tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per run with the headline numbers.

    Columns: the run table (identifiers, sweep variables, S_config per sublattice), then
    ``ns_simulated``, ``density_g_cm3`` and the reached molarity of each salt
    (``molarity_<salt>_mol_l``) from the equilibration record, S_shell of each cation
    (``s_shell_<cation>_r``, ``_j_mol_k``, 95 % interval), the continuous residence time of each
    cation–partner pair (``tau_continuous_<cation>_<partner>_ps`` and ``_err_ps``), the mean cluster size
    (``mean_cluster_size_ions``) and the fraction of each ion that is free (``free_fraction_<ion>``),
    D of each species (``d_<species>_m2_s`` and ``_err``), the conductivities
    (``sigma_<method>_<charges>_s_m``), the transference number of each ion by each method
    (``t_<ion>_<method>`` and ``_err``: onsager, nernst_einstein), and ⟨q⟩ and S_q − S₀ of water
    (``q_mean_<neighbours>``, ``s_q_<neighbours>_j_mol_k``), and the viscosity used for the
    Yeh–Hummer correction (``viscosity_mpa_s``, with ``viscosity_err_mpa_s`` when the run measured
    it). A quantity a run lacks is null.
    """
    summary = runs.copy()
    for name, table in tables.items():
        wide = _HEADLINES.get(name, lambda t: None)(table)
        if wide is not None and len(wide):
            summary = summary.merge(wide, on="run", how="left")
    return summary


REPLICA_KEYS_EXCLUDED = ("run", "replica", "seed")


def replicas_table(summary: pd.DataFrame, runs: pd.DataFrame) -> pd.DataFrame:
    """The headline numbers of the summary pooled over replicas: one row per set of replicas and quantity.

    A set of replicas shares every column of the run table but ``run``, ``replica`` and ``seed``
    (study, system, temperature, sweep variables). For a quantity x (a numeric summary column; its
    standard error, where it has one, is the column named with ``_err``) over the R replicas that
    have it, the table gives

    .. math:: \\bar x = \\frac{1}{R}\\sum_r x_r, \\qquad
              \\sigma_\\mathrm{pooled} = \\frac{1}{R}\\sqrt{\\sum_r \\sigma_r^2}, \\qquad
              \\sigma_\\mathrm{replicas} = \\frac{s_x}{\\sqrt R},

    the mean (equal weights: replicas of equal length), the error of the mean from the runs' own
    errors, and the error from the scatter of the replicas (null for R < 2). They estimate the same
    thing; a replica error well above the pooled one says the runs are not equivalent (not
    converged, or equilibrated at different volumes), or that the runs' errors are too small.
    95 % intervals (``_ci_``) are not pooled.

    Columns: the set's identifiers, ``quantity``, ``n_replicas``, ``mean``, ``pooled_err``,
    ``replica_err``.
    """
    keys = [c for c in runs.columns if c not in REPLICA_KEYS_EXCLUDED and c in summary.columns]
    numeric = [c for c in summary.columns if c not in runs.columns and pd.api.types.is_numeric_dtype(summary[c])
               and "_ci_" not in c]
    errors = {c.replace("_err", "", 1): c for c in numeric if "_err" in c}
    rows = []
    for group_keys, group in summary.groupby(keys, dropna=False, sort=False):
        lead = dict(zip(keys, group_keys if isinstance(group_keys, tuple) else (group_keys,), strict=True))
        for quantity in (c for c in numeric if "_err" not in c):
            have = group[quantity].notna()
            values = group.loc[have, quantity].astype(float)
            if values.empty:
                continue
            n = len(values)
            own = group.loc[have, errors[quantity]].astype(float) if quantity in errors else None
            rows.append({**lead, "quantity": quantity, "n_replicas": n, "mean": values.mean(),
                         "pooled_err": float("nan") if own is None else float((own**2).sum(min_count=n) ** 0.5 / n),
                         "replica_err": float(values.std(ddof=1) / n**0.5) if n > 1 else float("nan")})
    return pd.DataFrame(rows, columns=[*keys, "quantity", "n_replicas", "mean", "pooled_err", "replica_err"])


def _equilibration(table: pd.DataFrame) -> pd.DataFrame:
    keep = ["run"] + [c for c in table.columns if c in ("ns_simulated", "density_g_cm3", "density_err_g_cm3")
                      or (c.startswith("molarity_") and c.endswith("_mol_l"))]
    return table[keep]


def _pivot(table: pd.DataFrame, key: str | list[str], values: Mapping[str, str]) -> pd.DataFrame:
    """Wide per-run columns ``<value prefix>_<key>_<unit suffix>`` from a long table."""
    keys = [key] if isinstance(key, str) else key
    out = table[["run"]].drop_duplicates().set_index("run")
    for label, group in table.groupby(keys, sort=True):
        label = "_".join(map(str, label if isinstance(label, tuple) else (label,)))
        rows = group.set_index("run")
        for column, pattern in values.items():
            if column in rows.columns:
                out[pattern.format(label)] = rows[column]
    return out.reset_index()


def _diffusion(table: pd.DataFrame) -> pd.DataFrame:
    return _pivot(table, "species", {"d_m2_s": "d_{}_m2_s", "d_err_m2_s": "d_{}_err_m2_s",
                                     "d_yh_m2_s": "d_yh_{}_m2_s"})


def _conductivity(table: pd.DataFrame) -> pd.DataFrame:
    return _pivot(table, ["method", "charges"], {"sigma_s_m": "sigma_{}_s_m", "sigma_err_s_m": "sigma_{}_err_s_m"})


def _transference(table: pd.DataFrame) -> pd.DataFrame:
    formal = table[table["charges"] == "formal"]
    return _pivot(formal, ["species", "method"], {"t": "t_{}", "t_err": "t_{}_err"})


def _water_entropy(table: pd.DataFrame) -> pd.DataFrame:
    return _pivot(table, "neighbours", {"q_mean": "q_mean_{}", "q_mean_err": "q_mean_{}_err",
                                        "s_q_j_mol_k": "s_q_{}_j_mol_k", "s_q_err_j_mol_k": "s_q_{}_err_j_mol_k"})


def _shell_entropy(table: pd.DataFrame) -> pd.DataFrame:
    return _pivot(table, "cation", {"s_shell_r": "s_shell_{}_r", "s_shell_j_mol_k": "s_shell_{}_j_mol_k",
                                    "s_shell_ci_low_r": "s_shell_{}_ci_low_r",
                                    "s_shell_ci_high_r": "s_shell_{}_ci_high_r"})


def _residence(table: pd.DataFrame) -> pd.DataFrame:
    return _pivot(table, ["cation", "partner"], {"tau_continuous_ps": "tau_continuous_{}_ps",
                                                 "tau_continuous_err_ps": "tau_continuous_{}_err_ps"})


def _solvation_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Mean cluster size (ions) and the free fraction of each ion from the solvation summary."""
    renamed = {"clusters_mean_size_ions": "mean_cluster_size_ions"}
    renamed.update({c: f"free_fraction_{c[len('clusters_free_fraction_'):]}" for c in table.columns
                    if c.startswith("clusters_free_fraction_")})
    return table[["run", *[c for c in renamed if c in table.columns]]].rename(columns=renamed)


def _transport_summary(table: pd.DataFrame) -> pd.DataFrame:
    """The viscosity the transport analysis used (given, or measured by the run with its error)."""
    return table[["run", *[c for c in ("viscosity_mpa_s", "viscosity_err_mpa_s") if c in table.columns]]]


_HEADLINES = {
    "equilibration": _equilibration,
    "transport_summary": _transport_summary,
    "diffusion": _diffusion,
    "conductivity": _conductivity,
    "transference": _transference,
    "water_entropy": _water_entropy,
    "shell_entropy": _shell_entropy,
    "residence": _residence,
    "solvation_summary": _solvation_summary,
}


@dataclass
class Results:
    """The gathered tables of one study: ``res.summary``, ``res["rdf"]``, ``res.rdf``, ``res.tables``."""

    root: Path
    frames: dict[str, pd.DataFrame] = field(default_factory=dict)

    @property
    def tables(self) -> list[str]:
        """Names of the tables."""
        return sorted(self.frames)

    def __getitem__(self, name: str) -> pd.DataFrame:
        try:
            return self.frames[name]
        except KeyError:
            raise KeyError(f"no table {name!r} in {self.root}/tables; tables are {', '.join(self.tables)}") from None

    def __getattr__(self, name: str) -> pd.DataFrame:
        if name.startswith("_") or name in ("root", "frames"):
            raise AttributeError(name)
        try:
            return self[name]
        except KeyError as err:
            raise AttributeError(str(err)) from None

    def __contains__(self, name: str) -> bool:
        return name in self.frames

    def __repr__(self) -> str:
        n = len(self.frames.get("summary", ()))
        return f"Results({str(self.root)!r}: {n} runs; tables {', '.join(self.tables)})"


def load(path: str | os.PathLike) -> Results:
    """Load the gathered tables of a study folder (``results/<study>``) as pandas DataFrames.

    Raises
    ------
    HeseInputError
        The folder has no ``tables/summary.parquet`` (run the workflow, or ``hese gather``).
    """
    root = Path(path)
    folder = root / "tables"
    if not (folder / "summary.parquet").is_file():
        raise HeseInputError(f"{root}: no tables/summary.parquet; run the workflow or `hese gather {root}` first")
    remedy = f"rerun hese gather {root}"
    return Results(root, {p.stem: read_table(p, remedy) for p in sorted(folder.glob("*.parquet"))})


"""Gathering per-run tables into study tables, loading them, and plotting them (constructed tables)."""

import json

import numpy as np
import pandas as pd
import pytest

from hese import cli, plots, results
from hese.errors import HeseInputError

RUNS = pd.DataFrame({
    "study": ["s", "s"], "run": ["a_r0", "b_r0"], "system": ["a", "b"], "temperature_k": [298.15, 320.0],
    "replica": [0, 0], "seed": [0, 0], "x_LiFSI": [1.0, 0.5], "s_config_anion_r": [0.0, np.log(2)],
})


def _write_run(root, run, d_li, finished=True):
    folder = root / run
    (folder / "md").mkdir(parents=True)
    (folder / "md/equilibration.json").write_text(json.dumps(
        {"density_g_cm3": 0.9, "salt_molarity_mol_l": {"LiFSI": 1.1}, "ion_molarity_mol_l": {"Li": 1.1, "FSI": 1.1}}))
    (folder / "md/done.json").write_text(json.dumps({"production_ps": 10.0, "n_frames": 10, "n_atoms": 100,
                                                     "platform": "CPU", "stages": {"production": {"ns_per_day": 5}}}))
    transport = folder / "analysis/transport"
    transport.mkdir(parents=True)
    pd.DataFrame({"species": ["Li", "FSI"], "d_m2_s": [d_li, 2e-10], "fit_start_ps": [0.5, 0.5],
                  "fit_end_ps": [2.0, 2.0], "d_err_m2_s": [1e-11, 2e-11]}).to_parquet(
        transport / "diffusion.parquet")
    pd.DataFrame({"method": ["einstein_helfand"], "charges": ["formal"], "sigma_s_m": [0.5],
                  "sigma_err_s_m": [0.1]}).to_parquet(transport / "conductivity.parquet")
    pd.DataFrame({"species": ["Li"] * 3, "lag_ps": [0.0, 1.0, 2.0], "msd_nm2": [0.0, 0.1, 0.2]}).to_parquet(
        transport / "msd.parquet")
    if finished:
        (transport / "summary.json").write_text(json.dumps({"n_frames": 10, "warnings": []}))


def test_gather_leads_with_identifiers_and_pivots_headlines(tmp_path):
    RUNS.to_csv(tmp_path / "runs.csv", index=False)
    _write_run(tmp_path, "a_r0", 1e-10)
    _write_run(tmp_path, "b_r0", 3e-10, finished=False)  # no summary.json: its tables are not gathered
    written = results.gather(tmp_path)
    assert set(written) >= {"summary", "diffusion", "conductivity", "msd", "equilibration"}
    res = results.load(tmp_path)
    assert list(res.diffusion.columns[:7]) == ["study", "run", "system", "temperature_k", "replica", "seed", "x_LiFSI"]
    assert set(res.diffusion["run"]) == {"a_r0"}
    summary = res.summary.set_index("run")
    assert summary.loc["a_r0", "d_Li_m2_s"] == 1e-10 and summary.loc["a_r0", "d_FSI_err_m2_s"] == 2e-11
    assert summary.loc["a_r0", "sigma_einstein_helfand_formal_s_m"] == 0.5
    assert summary.loc["a_r0", "ns_simulated"] == 0.01 and res.equilibration["ion_molarity_Li_mol_l"][0] == 1.1
    assert summary.loc["b_r0", "molarity_LiFSI_mol_l"] == 1.1 and np.isnan(summary.loc["b_r0", "d_Li_m2_s"])
    assert summary.loc["b_r0", "s_config_anion_r"] == pytest.approx(np.log(2))
    assert res["msd"] is res.msd and "msd" in res.tables
    with pytest.raises(AttributeError, match="no table 'rdf'"):
        res.rdf  # noqa: B018


def test_gather_and_load_errors(tmp_path, capsys):
    with pytest.raises(HeseInputError, match="no runs.csv"):
        results.gather(tmp_path)
    RUNS.to_csv(tmp_path / "runs.csv", index=False)
    with pytest.raises(HeseInputError, match="no run has finished its simulation"):
        results.gather(tmp_path)
    assert cli.main(["plot", str(tmp_path)]) == 2
    assert "run the workflow or `hese gather" in capsys.readouterr().err


def test_every_figure_draws_from_gathered_tables(tmp_path):
    RUNS.to_csv(tmp_path / "runs.csv", index=False)
    _write_run(tmp_path, "a_r0", 1e-10)
    _write_run(tmp_path, "b_r0", 3e-10)
    results.gather(tmp_path)
    res = results.load(tmp_path)
    for name in plots.FIGURES:  # figures whose tables are missing say so instead of failing
        png, svg = plots.plot(res, name)
        assert png.stat().st_size > 1000 and svg.read_text().lstrip().startswith("<?xml")
    with pytest.raises(HeseInputError, match="unknown figure 'nope'"):
        plots.plot(res, "nope")


def test_run_labels_say_only_what_differs():
    summary = pd.DataFrame({
        "run": ["a", "b", "c"], "system": ["dme", "dme", "dme"], "temperature_k": [298.15, 298.15, 298.15],
        "replica": [0, 0, 0], "x_LiFSI": [0.25, 1.0, 0.5], "x_LiNO3": [0.75, 0.0, 0.5]})
    assert plots.run_labels(summary, ["a", "b", "c"]) == {
        "a": "25 % LiFSI + 75 % LiNO3", "b": "LiFSI", "c": "50 % LiFSI + 50 % LiNO3"}
    summary["temperature_k"] = [298.15, 298.15, 253.15]
    assert plots.run_labels(summary, ["b", "c"]) == {"b": "LiFSI, 298.15 K", "c": "50 % LiFSI + 50 % LiNO3, 253.15 K"}
    same = summary.assign(x_LiFSI=1.0, x_LiNO3=0.0, temperature_k=300.0, replica=[0, 1, 1])
    assert plots.run_labels(same, ["a", "b"]) == {"a": "replica 0", "b": "replica 1"}
    assert plots.run_labels(same, ["b", "c"]) == {"b": "b", "c": "c"}  # nothing tells them apart: the run ids
    aqueous = summary.assign(t_minus_tm_k=[53.15, 53.15, 8.15])  # TIP4P-Ew: ice melts at 245 K
    assert plots.run_labels(aqueous, ["b", "c"]) == {"b": "LiFSI, 298.15 K (T − T_m = +53 K)",
                                                     "c": "50 % LiFSI + 50 % LiNO3, 253.15 K (T − T_m = +8 K)"}


def test_replicas_are_pooled_per_set_with_both_errors():
    runs = pd.DataFrame({"study": "s", "run": ["a_r0", "a_r1", "a_r2", "b_r0"], "system": ["a", "a", "a", "b"],
                         "temperature_k": 298.15, "replica": [0, 1, 2, 0], "seed": [0, 1, 2, 0],
                         "x_LiFSI": [np.nan, np.nan, np.nan, 1.0]})
    summary = runs.assign(d_Li_m2_s=[1.0, 2.0, 4.0, 5.0], d_Li_err_m2_s=[0.3, 0.4, 1.2, 0.1],
                          mean_cluster_size_ions=[2.0, np.nan, 3.0, 1.0], s_shell_Li_ci_low_r=[0.1, 0.2, 0.3, 0.4])
    table = results.replicas_table(summary, runs)
    assert list(table.columns) == ["study", "system", "temperature_k", "x_LiFSI", "quantity", "n_replicas", "mean",
                                   "pooled_err", "replica_err"]
    a = table[table["system"] == "a"].set_index("quantity")
    assert a.loc["d_Li_m2_s", "n_replicas"] == 3 and a.loc["d_Li_m2_s", "mean"] == pytest.approx(7 / 3)
    assert a.loc["d_Li_m2_s", "pooled_err"] == pytest.approx(np.sqrt(0.09 + 0.16 + 1.44) / 3)
    assert a.loc["d_Li_m2_s", "replica_err"] == pytest.approx(np.std([1, 2, 4], ddof=1) / np.sqrt(3))
    assert a.loc["mean_cluster_size_ions", "n_replicas"] == 2 and np.isnan(a.loc["mean_cluster_size_ions",
                                                                                 "pooled_err"])
    assert "s_shell_Li_ci_low_r" not in a.index and "d_Li_err_m2_s" not in a.index
    b = table[table["system"] == "b"].set_index("quantity")
    assert b.loc["d_Li_m2_s", "n_replicas"] == 1 and np.isnan(b.loc["d_Li_m2_s", "replica_err"])

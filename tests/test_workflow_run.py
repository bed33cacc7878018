"""The workflow end to end on a tiny aqueous box: build → simulate → analyses → tables → plots → report.

One real run (tests/data/workflow/tiny.yaml, a few ps of MD on the CPU) is shared by the tests
below; the example notebook is executed against its results.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from hese import results

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
SNAKEMAKE = shutil.which("snakemake", path=str(BIN))
pytestmark = pytest.mark.skipif(SNAKEMAKE is None, reason="snakemake is not installed in this environment")


def snakemake(workdir: Path, *args: str, timeout: int = 900) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.run([SNAKEMAKE, "-s", str(ROOT / "Snakefile"), "-d", str(workdir), "--configfile",
                           str(workdir / "tiny.yaml"), *args], capture_output=True, text=True, env=env,
                          timeout=timeout, cwd=workdir)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    workdir = tmp_path_factory.mktemp("workflow")
    shutil.copytree(ROOT / "tests/data/workflow", workdir, dirs_exist_ok=True)
    proc = snakemake(workdir, "--cores", "2")
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    return workdir


def test_every_stage_wrote_its_outputs(tiny):
    run = tiny / "results/tiny/tiny-licl_T298.15_r0"
    assert (run / "build/build.json").is_file() and (run / "md/equilibration.json").is_file()
    for analysis in ("solvation", "transport", "water"):
        assert json.loads((run / f"analysis/{analysis}/summary.json").read_text())
    viscosity = json.loads((run / "viscosity/viscosity.json").read_text())  # viscosity_mpa_s: auto
    transport = json.loads((run / "analysis/transport/summary.json").read_text())
    assert viscosity["resolved"] and transport["viscosity_mpa_s"] == viscosity["viscosity_mpa_s"]
    assert transport["viscosity_err_mpa_s"] == viscosity["viscosity_err_mpa_s"]
    tables = sorted(p.stem for p in (tiny / "results/tiny/tables").glob("*.parquet"))
    for name in ("summary", "replicas", "equilibration", "rdf", "coordination", "speciation", "shell_entropy",
                 "ion_pairing", "clusters", "residence", "coordination_timeseries", "msd", "diffusion", "conductivity",
                 "onsager", "transference", "tetrahedral", "water_entropy", "hbonds", "viscosity", "viscosity_series",
                 "viscosity_profile"):
        assert name in tables
    for plot in ("rdf", "speciation", "shell_entropy", "diffusion", "transference", "clusters", "msd", "tetrahedral",
                 "water_entropy", "coordination_timeseries", "residence"):
        for ext in ("png", "svg"):
            assert (tiny / f"results/tiny/plots/{plot}.{ext}").stat().st_size > 1000


def test_tables_lead_with_the_run_identifiers(tiny):
    res = results.load(tiny / "results/tiny")
    assert list(res.diffusion.columns[:9]) == ["study", "run", "system", "temperature_k", "water_model",
                                               "water_melting_k", "t_minus_tm_k", "replica", "seed"]
    assert res.diffusion["t_minus_tm_k"].iloc[0] == 298.15 - res.diffusion["water_melting_k"].iloc[0]
    assert set(res.diffusion["species"]) == {"Li", "Cl", "water"}
    summary = res.summary
    assert len(summary) == 1 and summary["run"][0] == "tiny-licl_T298.15_r0"
    for column in ("s_config_anion_r", "density_g_cm3", "d_Li_m2_s", "s_shell_Li_r", "q_mean_water",
                   "s_q_water_j_mol_k", "sigma_einstein_helfand_formal_s_m", "mean_cluster_size_ions", "free_fraction_Li",
                   "viscosity_mpa_s", "viscosity_err_mpa_s", "d_yh_Li_m2_s", "t_Li_onsager", "t_Li_nernst_einstein_err"):
        assert column in summary.columns and pd.notna(summary[column][0]), column
    csv = pd.read_csv(tiny / "results/tiny/tables/summary.csv")
    assert list(csv.columns) == list(summary.columns)


def test_an_interrupted_workflow_redoes_only_what_is_missing(tiny):
    # as if stopped during the analyses: one analysis and everything after it missing
    (tiny / "results/tiny/tiny-licl_T298.15_r0/analysis/transport/summary.json").unlink()
    shutil.rmtree(tiny / "results/tiny/tables")
    plan = snakemake(tiny, "-n", "--cores", "2")
    assert plan.returncode == 0, plan.stderr
    assert _jobs(plan.stdout + plan.stderr) == {"analyze": 1, "gather": 1, "plots": 1, "all": 1}
    proc = snakemake(tiny, "--cores", "2")
    assert proc.returncode == 0, proc.stderr[-3000:]


def test_changing_analysis_settings_does_not_rerun_md(tiny):
    jobs = _plan_after_edit(tiny, "blocks: 2", "blocks: 3")
    assert jobs == {"analyze": 3, "gather": 1, "plots": 1, "all": 1}


def test_changing_simulation_settings_reruns_md_but_not_the_build(tiny):
    jobs = _plan_after_edit(tiny, "production_ps: 4", "production_ps: 5")
    assert jobs.get("simulate") == 1 and "build" not in jobs


def test_changing_viscosity_settings_reruns_the_stage_and_transport_only(tiny):
    jobs = _plan_after_edit(tiny, "run_ps: 1", "run_ps: 2")
    assert jobs == {"viscosity": 1, "analyze": 1, "gather": 1, "plots": 1, "all": 1}, jobs


def test_changing_runtime_settings_reruns_nothing(tiny):
    jobs = _plan_after_edit(tiny, "max_equilibration_ps: 12", "max_equilibration_ps: 40")
    assert jobs == {}, jobs


def _plan_after_edit(workdir: Path, old: str, new: str) -> dict[str, int]:
    """Job counts of a dry run with ``old`` replaced by ``new`` in the study config (restored after)."""
    config = workdir / "tiny.yaml"
    original = config.read_text()
    try:
        config.write_text(original.replace(old, new))
        plan = snakemake(workdir, "-n", "--cores", "2")
    finally:
        config.write_text(original)
    assert plan.returncode == 0, plan.stderr
    return _jobs(plan.stdout + plan.stderr)


def test_report_includes_the_plots(tiny):
    proc = snakemake(tiny, "--report", "report.zip")
    assert proc.returncode == 0, proc.stderr[-3000:]
    import zipfile

    names = zipfile.ZipFile(tiny / "report.zip").namelist()
    assert sum(n.endswith(".png") for n in names) >= 8


def test_notebook_runs_on_the_results(tiny):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.read(ROOT / "notebooks/demo.ipynb", as_version=4)
    os.environ["HESE_RESULTS"] = str(tiny / "results/tiny")
    try:
        nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                                resources={"metadata": {"path": str(ROOT / "notebooks")}}).execute()
    finally:
        del os.environ["HESE_RESULTS"]
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert any("image/png" in o.get("data", {}) for o in outputs)


def _jobs(dry_run_stdout: str) -> dict[str, int]:
    """Job counts per rule from the 'Job stats' table of a dry run."""
    counts, inside = {}, False
    for line in dry_run_stdout.splitlines():
        if line.startswith("job ") and "count" in line:
            inside = True
            continue
        if inside:
            parts = line.split()
            if len(parts) == 2 and parts[1].isdigit():
                if parts[0] != "total":
                    counts[parts[0]] = int(parts[1])
            elif parts and not set(line.strip()) <= {"-", " "}:
                break
    return counts


def test_the_validation_report_writes_its_readme_and_every_figure_it_shows(tiny, tmp_path):
    import re

    (tmp_path / "results").mkdir()
    for study in ("validation-hofmeister", "validation-zncl2-licl"):  # the tiny study stands in for both
        (tmp_path / "results" / study).symlink_to(tiny / "results/tiny")
    out = tmp_path / "validation"
    proc = subprocess.run([sys.executable, str(ROOT / "validation/report.py"), "--results", str(tmp_path / "results"),
                           "--data", str(tmp_path / "data"), "--out", str(out)], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    text = (out / "README.md").read_text()
    assert "1 of the 1 runs of `validation/zncl2-licl.yaml` have finished" in text
    assert re.search(r"\| tiny-licl \| 1 \| 298.15 \| \+83 \| 0\.\d+ ± 0\.\d+ \|", text)  # ⟨q⟩; SPC/E melts at 215 K
    assert re.search(r"\| tiny-licl \| 1 \| — \| — \| nan \| \d\.\d+ ± \d\.\d+ \|", text)  # Li–Cl CN, no Zn
    figures = re.findall(r"!\[[^]]*\]\(([^)]+)\)", text)
    assert len(figures) >= 4 and all((out / f).is_file() for f in figures)
    assert (tmp_path / "data/validation-zncl2-licl/tables/summary.parquet").is_file()  # archived
    (tmp_path / "results" / "validation-hofmeister").unlink()
    subprocess.run([sys.executable, str(ROOT / "validation/report.py"), "--results", str(tmp_path / "results"),
                    "--data", str(tmp_path / "fresh"), "--out", str(out)], check=True, capture_output=True, timeout=300)
    assert "No run of `validation/hofmeister-zn.yaml` has been archived yet" in (out / "README.md").read_text()
    (tmp_path / "results" / "validation-zncl2-licl").unlink()  # nothing archived: refused, the report kept
    proc = subprocess.run([sys.executable, str(ROOT / "validation/report.py"), "--results", str(tmp_path / "results"),
                           "--data", str(tmp_path / "empty"), "--out", str(out)], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "no archived runs" in proc.stderr
    assert "No run of `validation/hofmeister-zn.yaml` has been archived yet" in (out / "README.md").read_text()

"""The workflow's config handling, targets and analysis options; lint and dry runs of every config."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hese import cli, config, study, sweep, workflow
from hese.analysis import registry
from hese.errors import HeseInputError

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = sorted(p.name for p in (ROOT / "config").glob("*.yaml"))
SNAKEMAKE = shutil.which("snakemake", path=str(Path(sys.executable).parent))


def test_referenced_schemas_fill_their_defaults():
    data = config.validate({"study": "s", "systems": [{"system": "x.yaml"}]}, "study", "t.yaml")
    assert data["analysis"]["solvation"] == {"cutoffs": {}, "workers": 1}
    assert data["analysis"]["water"]["neighbours"] == ["water", "any_oxygen"]
    assert data["simulate"]["ensemble"] == "nvt" and data["resources"]["md_threads"] == 2


@pytest.mark.parametrize(("patch", "message"), [
    ({"analysis": {"step": 0}}, "analysis.step: 0 is less than the minimum of 1"),
    ({"analysis": {"solvaton": {}}}, "analysis: unknown key 'solvaton'"),
    ({"simulate": {"platform": "TPU"}}, "simulate.platform: 'TPU' is not one of auto, CUDA"),
    ({"systms": []}, "unknown key 'systms'"),
])
def test_bad_study_keys_are_named(patch, message):
    with pytest.raises(HeseInputError, match=message):
        config.validate({"study": "s", "systems": [{"system": "x.yaml"}], **patch}, "study", "t.yaml")


def test_run_ids_have_no_parentheses():
    assert sweep.id_token("Zn(ClO4)2") == "ZnClO4x2"
    assert sweep.id_token("Mg(TFSI)2") == "MgTFSIx2"
    assert sweep.id_token("LiFSI") == "LiFSI"


def test_demo_study_runs_analyses_and_targets(monkeypatch):
    monkeypatch.chdir(ROOT)
    s = workflow.Study.from_config(study.load("config/demo.yaml"), "config/demo.yaml")
    assert len(s.runs) == 3
    water = [r for r in s.runs if "li2zncl4" in r]
    assert s.analyses(water[0]) == ("solvation", "transport", "water")
    assert all(s.analyses(r) == ("solvation", "transport") for r in s.runs if r not in water)
    assert "results/demo/plots/water_entropy.svg" in s.targets()
    assert s.targets()[0] == "results/demo/tables/summary.parquet"
    assert len(s.analysis_summaries()) == 7


def test_analysis_options_follow_the_settings():
    settings = config.validate({"study": "s", "systems": [{"system": "x"}],
                                "analysis": {"stop": 50, "solvation": {"cutoffs": {"Li:DME": 0.3}, "workers": 2}}},
                               "study", "t")["analysis"]
    run = registry.RunContext(300)
    assert registry.workflow_options(settings, "solvation", run) == (
        "--start 0 --stop 50 --step 1 --blocks 5 --workers 2 --cutoff Li:DME=0.3")
    assert registry.workflow_options(settings, "transport", registry.RunContext(300, 0.46)).endswith(
        "--temperature-k 300 --viscosity-mpa-s 0.46")
    assert registry.workflow_options(settings, "transport", registry.RunContext(300, "r/v.json")).endswith(
        "--temperature-k 300 --viscosity r/v.json")
    assert registry.workflow_options(settings, "water", run).endswith("--neighbours water --neighbours any_oxygen")
    assert registry.get("solvation").threads(settings) == 2 and registry.get("water").threads(settings) == 1


def test_viscosity_auto_gives_the_transport_analysis_the_runs_own_viscosity(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.yaml").write_text("name: a\ncomposition: {counts: {LiCl: 2, water: 400}}\n"
                                     "force_field: {family: aqueous}\n")
    (tmp_path / "b.yaml").write_text("name: b\ncomposition: {counts: {LiCl: 4, water: 400}}\n"
                                     "force_field: {family: aqueous}\n")
    (tmp_path / "s.yaml").write_text("study: s\nsystems:\n  - {system: a.yaml, viscosity_mpa_s: auto}\n"
                                     "  - {system: b.yaml, viscosity_mpa_s: 0.9}\n")
    s = workflow.Study.from_config(study.load("s.yaml"), "s.yaml")
    a, b = sorted(s.runs)
    assert s.measures_viscosity(a) and not s.measures_viscosity(b)
    assert s.analysis_inputs("transport", a) == [f"results/s/{a}/md/done.json", f"results/s/{a}/viscosity/viscosity.json"]
    assert s.analysis_inputs("solvation", a) == [f"results/s/{a}/md/done.json"]
    assert s.analysis_inputs("transport", b) == [f"results/s/{b}/md/done.json"]
    assert s.analysis_options("transport", a).endswith(f"--viscosity results/s/{a}/viscosity/viscosity.json")
    assert s.analysis_options("transport", b).endswith("--viscosity-mpa-s 0.9")
    with pytest.raises(HeseInputError, match="viscosity_mpa_s"):
        config.validate({"study": "s", "systems": [{"system": "a.yaml", "viscosity_mpa_s": "guess"}]}, "study", "t")


def test_config_overrides_are_refused(monkeypatch):
    from snakemake.exceptions import WorkflowError

    monkeypatch.chdir(ROOT)
    loaded = config.load_yaml("config/demo.yaml")
    assert workflow.check_config(loaded, "config/demo.yaml")["study"] == "demo"
    with pytest.raises(WorkflowError, match="--config overrides are not supported"):
        workflow.check_config({**loaded, "temperature_k": 300.0}, "config/demo.yaml")
    with pytest.raises(WorkflowError, match="hese: error: config/demo.yaml: analysis.blocks"):
        workflow.check_config({**loaded, "analysis": {"blocks": 1}}, "config/demo.yaml")


def test_build_from_a_study_run_errors(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    assert cli.main(["build", "--study", "config/demo.yaml", "--run", "nope", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "no run 'nope' in study 'demo'; runs are demo-dme_" in err and err.count("\n") == 1
    assert cli.main(["build", "systems/demo.yaml", "--study", "config/demo.yaml", "--out", str(tmp_path)]) == 2
    assert "not both" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def test_compose_density_follows_a_given_box(tmp_path, capsys):
    f = tmp_path / "s.yaml"
    f.write_text("name: s\ncomposition: {counts: {LiCl: 60, ZnCl2: 30, water: 270}}\nsize: {box_nm: 2.25}\n"
                 "force_field: {family: aqueous}\n")
    assert cli.main(["compose", str(f), "--json"]) == 0
    import json

    summary = json.loads(capsys.readouterr().out)
    mass_g = (60 * 42.394 + 30 * 136.29 + 270 * 18.015) / 6.02214076e23
    assert summary["density_g_cm3"] == pytest.approx(mass_g / (2.25e-7) ** 3, rel=1e-3)


@pytest.mark.skipif(SNAKEMAKE is None, reason="snakemake is not installed in this environment")
@pytest.mark.parametrize("name", CONFIGS)
def test_every_config_dry_runs(name):
    proc = subprocess.run([SNAKEMAKE, "-n", "-q", "--configfile", f"config/{name}"], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.skipif(SNAKEMAKE is None, reason="snakemake is not installed in this environment")
def test_plain_snakemake_runs_the_default_study():
    proc = subprocess.run([SNAKEMAKE, "-n"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "results/default/tables/summary.parquet" in proc.stdout + proc.stderr


@pytest.mark.skipif(SNAKEMAKE is None, reason="snakemake is not installed in this environment")
def test_bad_config_fails_with_one_line_naming_the_key(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text((ROOT / "config/demo.yaml").read_text().replace("blocks: 3", "blocks: 1"))
    proc = subprocess.run([SNAKEMAKE, "-n", "--configfile", str(bad)], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode != 0
    lines = [line for line in (proc.stdout + proc.stderr).splitlines() if "hese: error:" in line]
    assert lines and "analysis.blocks: 1 is less than the minimum of 2" in lines[0]


def test_every_figure_of_an_analysis_is_drawn_and_has_a_report_caption():
    from hese import plots

    root = Path(__file__).resolve().parents[1]
    for analysis in registry.analyses():
        for name in analysis.plots:
            assert name in plots.FIGURES, (analysis.name, name)
            assert (root / "report" / "figures" / f"{name}.rst").read_text().strip(), name

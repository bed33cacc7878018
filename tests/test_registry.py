"""The registry of analyses: one entry reaches the CLI, the workflow, gather and the loader."""

from __future__ import annotations

import argparse
import json

import pandas as pd
import pytest

from hese import cli, results, study, workflow
from hese.analysis import registry
from hese.io import replaced_folder, write_json
from tests.test_results import RUNS, _write_run


def _toy_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--scale", type=float, default=1.0)


def _toy_run(args: argparse.Namespace) -> None:
    with replaced_folder(args.out) as new:
        pd.DataFrame({"x": [1.0, 2.0], "y": [args.scale, 2 * args.scale]}).to_parquet(new / "toy.parquet")
        write_json(new / "summary.json", {"analysis": "toy", "scale": args.scale, "warnings": []})


TOY = registry.Analysis("toy", help="a toy", description="writes toy.parquet", add_arguments=_toy_arguments,
                        run=_toy_run, tables=("toy",), plots=("rdf",),
                        applies=lambda system: "LiCl" in system["composition"]["counts"],
                        options=lambda settings, run: ["--scale", f"{run.temperature_k / 100:g}"])


@pytest.fixture
def toy():
    registry.register(TOY)
    yield TOY
    registry.unregister("toy")


def test_built_in_analyses_are_registered():
    assert registry.names()[:3] == ("solvation", "transport", "water")
    with pytest.raises(Exception, match="unknown analysis 'nope'; analyses are solvation, transport, water"):
        registry.get("nope")
    with pytest.raises(ValueError, match="registered already"):
        registry.register(registry.get("water"))


def test_the_workflow_runs_solvation_only_where_there_are_cations_and_water_only_where_there_is_water():
    water = {"composition": {"counts": {"water": 500}}}
    salt = {"composition": {"molality": {"Zn(ClO4)2": 2.0}, "solvent": {"water": 1}}}
    organic = {"composition": {"molarity": {"LiFSI": 1.0}, "solvent": {"DME": 1}}}
    assert registry.for_system(water)[:3] == ("transport", "water")
    assert registry.for_system(salt)[:3] == ("solvation", "transport", "water")
    assert registry.for_system(organic)[:2] == ("solvation", "transport") and "water" not in registry.for_system(organic)


def test_a_registered_analysis_reaches_the_cli(toy, tmp_path):
    args = cli.parser().parse_args(["analyze", "toy", "--run", "r", "--out", str(tmp_path / "o"), "--scale", "3"])
    assert args.analysis == "toy" and args.scale == 3 and args.blocks == 5
    assert cli.main(["analyze", "toy", "--run", "r", "--out", str(tmp_path / "o"), "--scale", "3"]) == 0
    assert json.loads((tmp_path / "o/summary.json").read_text())["scale"] == 3


def test_a_registered_analysis_reaches_the_workflow(toy, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.yaml").write_text("name: a\ncomposition: {counts: {LiCl: 2, water: 400}}\n"
                                     "force_field: {family: aqueous}\n")
    (tmp_path / "b.yaml").write_text("name: b\ncomposition: {counts: {water: 400}}\nforce_field: {family: aqueous}\n")
    (tmp_path / "s.yaml").write_text("study: s\ntemperature_k: 300\nsystems: [{system: a.yaml}, {system: b.yaml}]\n")
    s = workflow.Study.from_config(study.load("s.yaml"), "s.yaml")
    a, b = sorted(s.runs)
    assert s.analyses(a) == ("solvation", "transport", "water", "toy")
    assert s.analyses(b) == ("transport", "water")  # no cation: no solvation shells
    assert f"results/s/{a}/analysis/toy/summary.json" in s.analysis_summaries()
    assert f"results/s/{b}/analysis/toy/summary.json" not in s.analysis_summaries()
    assert s.analysis_options("toy", a) == "--start 0 --step 1 --blocks 5 --scale 3"
    assert "toy" in workflow.analysis_pattern().split("|")


def test_a_registered_analysis_reaches_gather_and_the_loader(toy, tmp_path):
    RUNS.to_csv(tmp_path / "runs.csv", index=False)
    _write_run(tmp_path, "a_r0", 1e-10)
    _write_run(tmp_path, "b_r0", 2e-10)
    assert cli.main(["analyze", "toy", "--run", "x", "--out", str(tmp_path / "a_r0/analysis/toy"),
                     "--scale", "4"]) == 0
    written = results.gather(tmp_path)
    assert {"toy", "toy_summary"} <= set(written)
    res = results.load(tmp_path)
    assert list(res.toy["run"]) == ["a_r0", "a_r0"] and list(res.toy["y"]) == [4.0, 8.0]
    assert res["toy_summary"]["scale"][0] == 4


def test_library_errors_name_parameters_and_the_cli_names_options(tmp_path, capsys):
    """A notebook user reads the function's parameter; the command's user reads its option."""
    from hese.analysis.inputs import file_source
    from hese.analysis.transport import analyze_transport
    from hese.errors import HeseInputError

    source = file_source("t.pdb", ["t.xtc"], ["Li=name LI"])  # parameters are checked before any file is read
    with pytest.raises(HeseInputError, match=r"^temperature_k: missing"):
        analyze_transport([source], None)
    with pytest.raises(HeseInputError, match=r"^n_blocks: 1; at least 2"):
        analyze_transport([source], 300.0, n_blocks=1)
    argv = ["analyze", "transport", "--topology", "t.pdb", "--trajectory", "t.xtc", "--species", "Li=name LI",
            "--out", str(tmp_path / "o")]
    assert cli.main([*argv, "--temperature-k", "300", "--blocks", "1"]) == 2
    assert "hese: error: --blocks: 1; at least 2" in capsys.readouterr().err

"""The validation studies: their configs expand into runs, and the committed report shows only figures that exist."""

import importlib.util
import re
from pathlib import Path

import pytest

from hese import study

ROOT = Path(__file__).resolve().parents[1]
VALIDATION = ROOT / "validation"


def _archive_module():
    spec = importlib.util.spec_from_file_location("archive", VALIDATION / "archive.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("config, n_runs", [("hofmeister-zn.yaml", 30), ("zncl2-licl.yaml", 8)])
def test_the_validation_configs_expand_into_their_runs(config, n_runs, monkeypatch):
    monkeypatch.chdir(ROOT)  # system paths are relative to the checkout
    runs = study.runs(study.load(VALIDATION / config), VALIDATION / config)
    assert len(runs) == n_runs and len({r.id for r in runs}) == n_runs



def test_the_committed_report_shows_only_figures_that_exist():
    figures = re.findall(r"!\[[^]]*\]\(([^)]+)\)", (VALIDATION / "README.md").read_text())
    assert figures and all((VALIDATION / f).is_file() for f in figures), figures


def test_archiving_a_run_keeps_its_finished_tables_and_nothing_else(tmp_path):
    run = tmp_path / "results" / "s" / "r0"
    files = {"md/done.json": "{}", "md/equilibration.json": "{}", "md/trajectory.xtc": "x", "md/restart/c.chk": "x",
             "build/system.xml": "x", "analysis/water/summary.json": "{}", "analysis/water/q.parquet": "x",
             "analysis/water/q.partial": "x", "analysis/transport/msd.parquet": "x"}  # transport unfinished
    for name, text in files.items():
        (run / name).parent.mkdir(parents=True, exist_ok=True)
        (run / name).write_text(text)
    dest = tmp_path / "data" / "s" / "r0"
    dest.mkdir(parents=True)
    (dest / "stale.parquet").write_text("old")  # an earlier archive of the run is replaced whole
    _archive_module().archive_run(run, dest)
    kept = sorted(str(p.relative_to(dest)) for p in dest.rglob("*") if p.is_file())
    assert kept == ["analysis/water/q.parquet", "analysis/water/summary.json", "md/done.json", "md/equilibration.json"]

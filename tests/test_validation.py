"""The validation studies: their configs expand into runs, and the committed report shows only figures that exist."""

import re
from pathlib import Path

import pytest

from hese import study

ROOT = Path(__file__).resolve().parents[1]
VALIDATION = ROOT / "validation"


@pytest.mark.parametrize("config, n_runs", [("hofmeister-zn.yaml", 10), ("zncl2-licl.yaml", 8)])
def test_the_validation_configs_expand_into_their_runs(config, n_runs, monkeypatch):
    monkeypatch.chdir(ROOT)  # system paths are relative to the checkout
    runs = study.runs(study.load(VALIDATION / config), VALIDATION / config)
    assert len(runs) == n_runs and len({r.id for r in runs}) == n_runs



def test_the_committed_report_shows_only_figures_that_exist():
    figures = re.findall(r"!\[[^]]*\]\(([^)]+)\)", (VALIDATION / "README.md").read_text())
    assert figures and all((VALIDATION / f).is_file() for f in figures), figures

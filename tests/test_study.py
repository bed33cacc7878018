import math

import pytest

from hese import cli, study
from hese.errors import HeseInputError


def test_he_dme_study_expands_to_simplex_times_replicas():
    config = study.load("config/he-dme.yaml")
    table = study.runs_table(config, "config/he-dme.yaml")
    assert len(table) == math.comb(7, 3) * 3
    assert list(table.columns[:6]) == ["study", "run", "system", "temperature_k", "replica", "seed"]
    assert table.run.is_unique
    assert (table.s_config_anion_r >= 0).all()


def test_runs_cli_writes_csv(tmp_path, capsys):
    out = tmp_path / "runs.csv"
    assert cli.main(["runs", "config/he-dme.yaml", "--csv", str(out)]) == 0
    assert out.read_text().count("\n") == 1 + math.comb(7, 3) * 3


@pytest.mark.parametrize(
    "text, message",
    [
        ("study: ../x\nsystems: [{system: systems/he-dme.yaml}]\n", "study: '../x' is not a valid name"),
        ("study: s\nsystems: [{system: systems/nope.yaml}]\n", "systems.0.system: no such file"),
        ("study: s\nsystems: [{system: systems/he-dme.yaml, sweep: {salt_ratio: {total: 1}}}]\n", "systems.0.sweep.salt_ratio"),
        ("study: s\nsystems: [{system: systems/he-dme.yaml}, {system: systems/he-dme.yaml}]\n", "run ids occur twice"),
        ("study: s\nsystems: [{system: systems/he-dme.yaml, sweep: {vary: {size.solvent_molecules: [0]}}}]\n", "size.solvent_molecules: 0 is less than the minimum of 1"),
    ],
)
def test_bad_study_configs(tmp_path, text, message):
    f = tmp_path / "study.yaml"
    f.write_text(text)
    with pytest.raises(HeseInputError, match=message):
        study.runs(study.load(f), f)

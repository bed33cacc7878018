import math

import pytest

from hese import cli, study, sweep
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


def test_aqueous_runs_carry_their_water_models_melting_point():
    """Every water-containing run states T − T_m of its water model (TIP4P-Ew 245 K, SPC/E 215 K; OPC unknown)."""
    config = study.load("config/hofmeister-zn.yaml")
    table = study.runs_table(config, "config/hofmeister-zn.yaml")
    assert list(table.columns[:7]) == ["study", "run", "system", "temperature_k", "water_model", "water_melting_k",
                                       "t_minus_tm_k"]
    assert set(table.water_model) == {"tip4pew"} and set(table.water_melting_k) == {245.0}
    assert (table.t_minus_tm_k == table.temperature_k - 245.0).all()
    assert table.loc[table.temperature_k == 193.15, "t_minus_tm_k"].iloc[0] == pytest.approx(-51.85)

    organic = study.runs_table(study.load("config/he-dme.yaml"), "config/he-dme.yaml")
    assert not {"water_model", "water_melting_k", "t_minus_tm_k"} & set(organic.columns)


@pytest.mark.parametrize("water_model, melting", [("spce", 215.0), ("opc", None)])
def test_melting_point_columns_per_water_model(water_model, melting):
    system = {"name": "w", "composition": {"ratio": {"LiCl": 1, "water": 3}},
              "force_field": {"family": "aqueous", "water_model": water_model}}
    columns = sweep.water_model_columns(system, 250.0)
    assert columns["water_model"] == water_model
    if melting is None:
        assert math.isnan(columns["water_melting_k"]) and math.isnan(columns["t_minus_tm_k"])
    else:
        assert columns["t_minus_tm_k"] == 250.0 - melting

"""Simulation settings: schema, validation messages, config section and command-line options."""

from __future__ import annotations

import dataclasses

import pytest

from hese.cli import main, parser
from hese.config import schema
from hese.errors import HeseInputError
from hese.md.cli import settings_from_args
from hese.md.settings import Settings


def test_schema_documents_every_field_with_the_dataclass_default():
    props = schema("simulate")["properties"]
    fields = {f.name: f.default for f in dataclasses.fields(Settings) if f.name != "source"}
    assert set(props) == set(fields)
    for key, spec in props.items():
        assert spec.get("description"), key
        assert "default" in spec, key
        assert spec["default"] == fields[key], key


def test_mapping_fills_defaults_and_time_step_follows_hmr():
    s = Settings.from_mapping({"temperature_k": 310})
    assert s.temperature_k == 310 and s.production_ps == 5000.0 and s.dt_fs == 2.0
    assert Settings.from_mapping({"hmr": True}).dt_fs == 4.0
    assert Settings.from_mapping({"hmr": True, "timestep_fs": 2.5}).dt_fs == 2.5
    s = Settings.from_mapping({"production_ps": 100, "save_every_ps": 2, "thermo_every_ps": 0.5})
    assert (s.n_frames, s.save_steps, s.thermo_steps) == (50, 1000, 250)


@pytest.mark.parametrize("bad, message", [
    ({"ensemble": "nve"}, r"src: ensemble: 'nve' is not one of nvt, npt"),
    ({"platform": "cuda"}, r"src: platform: 'cuda' is not one of auto, CUDA, HIP, OpenCL, CPU, Reference"),
    ({"temprature_k": 300}, r"src: \(top level\): unknown key 'temprature_k'; allowed keys: platform, "),
    ({"temperature_k": -3}, r"src: temperature_k: -3 is less than or equal to the minimum of 0"),
    ({"save_every_ps": 0.003, "thermo_every_ps": 1}, r"src: save_every_ps: 0.003 ps is not a whole positive multiple of thermo_every_ps"),
    ({"save_every_ps": 0.003}, r"src: save_every_ps: 0.003 ps is not a whole positive multiple of the time step"),
    ({"thermo_every_ps": 0.003}, r"src: thermo_every_ps: 0.003 ps is not a whole positive multiple of the time step"),
    ({"production_ps": 15, "save_every_ps": 10}, r"src: production_ps: 15 ps is not a whole positive multiple of save_every_ps \(10 ps\)"),
    ({"equilibration_ps": 100, "max_equilibration_ps": 50}, r"src: max_equilibration_ps: 50 ps is shorter than equilibration_ps"),
    ({"heating_start_k": 400}, r"src: heating_start_k: 400 K is above temperature_k"),
    ({"anneal_k": 250, "anneal_ps": 10}, r"src: anneal_k: 250 K is not above temperature_k \(298.15 K\)"),
    ({"anneal_k": 450}, r"src: anneal_ps: 0 ps: annealing at anneal_k \(450 K\) needs a positive time"),
    ({"anneal_ps": 10}, r"src: anneal_ps: 10 ps of annealing needs anneal_k"),
    ({"anneal_k": 450, "anneal_ps": 10, "anneal_cool_ps": 0.3}, r"src: anneal_cool_ps: 0.3 ps is not a whole positive "
                                                                 r"multiple of thermo_every_ps"),
])
def test_bad_settings_name_the_field_and_what_is_allowed(bad, message):
    with pytest.raises(HeseInputError, match=message):
        Settings.from_mapping(bad, "src")


@pytest.mark.parametrize("save, thermo", [(10, 1.0), (2, 1.0), (1, 1.0), (0.5, 0.5), (0.1, 0.1), (2.5, 2.5)])
def test_thermo_interval_follows_the_frames_unless_set(save, thermo):
    s = Settings.from_mapping({"save_every_ps": save, "production_ps": 10 * save, "heating_ps": 10 * save,
                               "equilibration_ps": 10 * save, "equilibration_extend_ps": 10 * save,
                               "max_equilibration_ps": 10 * save})
    assert s.thermo_every_ps == thermo and s.as_dict()["thermo_every_ps"] == thermo
    assert Settings.from_mapping({"save_every_ps": save, "thermo_every_ps": save / 2, "production_ps": save,
                                  "heating_ps": save, "equilibration_ps": save, "equilibration_extend_ps": save,
                                  "max_equilibration_ps": save}).thermo_every_ps == save / 2


def test_zero_heating_is_allowed():
    assert Settings.from_mapping({"heating_ps": 0}).steps("heating_ps") == 0


def test_config_section_then_command_line(tmp_path):
    cfg = tmp_path / "study.yaml"
    cfg.write_text("study: x\nsimulate:\n  temperature_k: 320\n  production_ps: 100\n  ensemble: npt\n")
    args = parser().parse_args(["simulate", "b", "--out", "o", "--config", str(cfg), "--temperature-k", "330", "--hmr"])
    s = settings_from_args(args)
    assert (s.temperature_k, s.production_ps, s.ensemble, s.hmr, s.dt_fs) == (330, 100, "npt", True, 4.0)
    args = parser().parse_args(["simulate", "b", "--out", "o"])
    assert settings_from_args(args) == Settings()


def test_config_errors_name_the_file_and_section(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("simulate:\n  ensemble: nve\n")
    with pytest.raises(HeseInputError, match=r"c.yaml: simulate: ensemble: 'nve' is not one of nvt, npt"):
        Settings.load(cfg)
    cfg.write_text("- a list\n")
    with pytest.raises(HeseInputError, match=r"c.yaml: expected a mapping with a 'simulate:' section"):
        Settings.load(cfg)
    cfg.write_text("study: x\n")  # no section: every default
    assert Settings.load(cfg, {"seed": 3}) == Settings(seed=3)


def test_cli_bad_input_is_one_line_and_status_2(tmp_path, capsys):
    assert main(["simulate", str(tmp_path / "nowhere"), "--out", str(tmp_path / "md")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("hese: error: ") and "not a finished build folder" in err and "\n" not in err
    cfg = tmp_path / "c.yaml"
    cfg.write_text("simulate: {save_every_ps: 0.001}\n")
    assert main(["simulate", str(tmp_path), "--out", str(tmp_path / "md"), "--config", str(cfg)]) == 2
    assert "save_every_ps" in capsys.readouterr().err


def test_runtime_settings_may_change_on_resume_physics_may_not():
    a = Settings.from_mapping({"platform": "CPU", "checkpoint_every_min": 5})
    b = Settings.from_mapping({"platform": "auto", "checkpoint_every_min": 1, "max_equilibration_ps": 4000})
    assert b.differences(a.as_dict()) == {}
    c = Settings.from_mapping({"temperature_k": 350})
    assert c.differences(a.as_dict()) == {"temperature_k": (298.15, 350)}


@pytest.mark.parametrize("key", ["pressure_bar", "temperature_k", "timestep_fs", "density_tolerance"])
@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_numbers_are_refused_naming_the_key(key, value):
    with pytest.raises(HeseInputError, match=rf"^src: {key}: -?(nan|inf) is not a finite number$"):
        Settings.from_mapping({key: value}, "src")


def test_nan_in_a_system_file_is_refused(tmp_path):
    from hese.build import SystemDefinition

    path = tmp_path / "s.yaml"
    path.write_text("name: w\ncomposition: {counts: {water: 300}}\nforce_field: {family: aqueous, cutoff_nm: .nan}\n")
    with pytest.raises(HeseInputError, match=r"s.yaml: force_field.cutoff_nm: nan is not a finite number"):
        SystemDefinition.load(path)


def test_every_command_prints_its_help(capsys):
    """Help texts come from the schemas; a '%' there must not break argparse's formatting."""
    import argparse

    commands = next(a for a in parser()._actions if isinstance(a, argparse._SubParsersAction)).choices
    for name in commands:
        with pytest.raises(SystemExit) as exit_:
            main([name, "--help"])
        assert exit_.value.code == 0, name
    assert "--density-tolerance" in capsys.readouterr().out


@pytest.mark.parametrize("bad, message", [
    ({"seed": 2**31}, r"seed: 2147483648 is greater than the maximum of 2147483646"),
    ({"timestep_fs": 1e-9}, r"timestep_fs: 1e-09 is less than the minimum of 0.1"),
])
def test_numbers_outside_their_documented_range_are_refused(bad, message):
    with pytest.raises(HeseInputError, match=message):
        Settings.from_mapping(bad, "src")

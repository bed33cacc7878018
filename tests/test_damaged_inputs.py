"""Whatever a user feeds hese — any YAML document, any bytes, a truncated or corrupt file that hese
itself wrote — a loader returns a valid object or raises hese's own error, never anything else.

Property-based (Hypothesis, derandomized in conftest.py so that CI cannot fail by chance).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hese import build, results, study
from hese.analysis import inputs
from hese.config import load_yaml
from hese.errors import HeseInputError
from hese.io import read_json, read_table
from hese.md.inputs import BuildInputs
from hese.md.settings import Settings
from hese.md.stages import _Progress

scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12)
keys = st.sampled_from(["name", "composition", "molarity", "counts", "ratio", "solvent", "size", "force_field",
                        "family", "LiFSI", "DME", "water", "ZnCl2", "study", "systems", "system", "sweep",
                        "salt_ratio", "temperature_k", "simulate", "analysis", "seed", "replicas", "timestep_fs",
                        "production_ps", "save_every_ps", "box_nm", "cutoff_nm", "vary", "points"]) | st.text(max_size=8)
documents = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=5),
                         max_leaves=20)
relaxed = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def only_hese_errors(call, *args) -> None:
    try:
        call(*args)
    except HeseInputError:
        pass


@relaxed
@given(doc=documents)
def test_any_yaml_document_is_a_valid_config_or_one_hese_error(doc, tmp_path):
    path = tmp_path / "doc.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True))
    only_hese_errors(build.SystemDefinition.load, path)
    only_hese_errors(Settings.load, path)
    only_hese_errors(lambda p: study.runs(study.load(p), p), path)
    if isinstance(doc, dict):  # the same documents as sections of a valid-looking study
        only_hese_errors(build.SystemDefinition.from_dict, {"name": "x", "composition": doc})
        only_hese_errors(Settings.from_mapping, doc)


@relaxed
@given(data=st.binary(max_size=300))
def test_any_bytes_are_a_valid_file_or_one_hese_error(data, tmp_path):
    path = tmp_path / "file"
    path.write_bytes(data)
    for loader in (load_yaml, build.SystemDefinition.load, Settings.load, study.load):
        only_hese_errors(loader, path)
    only_hese_errors(read_json, path, "redo it")
    only_hese_errors(read_table, path, "redo it")
    only_hese_errors(_Progress.read, path)


@pytest.fixture(scope="module")
def good_files(tmp_path_factory):
    """A real build folder, a real progress record and a real Parquet table to damage."""
    root = tmp_path_factory.mktemp("good")
    definition = build.SystemDefinition.from_dict({"name": "w", "composition": {"counts": {"LiCl": 2, "water": 100}},
                                                  "force_field": {"family": "aqueous", "cutoff_nm": 0.6}})
    build.build(definition, root / "build", seed=1)
    pd.DataFrame({"a": range(50), "b": [0.5] * 50}).to_parquet(root / "table.parquet")
    (root / "progress.json").write_text(json.dumps(_Progress(3, 10, ["x"], None, False).as_dict()))
    return root


def damaged(data: bytes, how: str, where: float, byte: int) -> bytes:
    k = int(where * len(data))
    if how == "truncate":
        return data[:k]
    if how == "flip":
        return data[:k] + bytes([byte]) + data[k + 1:]
    return data[:k] + data[k + 1 + byte % 64:]  # a stretch cut out


damage = st.tuples(st.sampled_from(["truncate", "flip", "cut"]), st.floats(0, 0.999), st.integers(0, 255))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(change=damage, name=st.sampled_from(["build.json", "topology.pdb", "system.xml"]))
def test_a_damaged_build_folder_is_one_hese_error(good_files, tmp_path, change, name):
    folder = tmp_path / "build"
    shutil.copytree(good_files / "build", folder, dirs_exist_ok=True)
    (folder / name).write_bytes(damaged((good_files / "build" / name).read_bytes(), *change))
    only_hese_errors(BuildInputs.read, folder)
    only_hese_errors(inputs.run_source, folder)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(change=damage)
def test_damaged_records_and_tables_are_one_hese_error(good_files, tmp_path, change):
    for name, loader in (("progress.json", _Progress.read), ("table.parquet", lambda p: read_table(p, "redo it"))):
        path = tmp_path / name
        path.write_bytes(damaged((good_files / name).read_bytes(), *change))
        only_hese_errors(loader, path)


def test_damaged_study_tables_name_the_file_and_what_to_do(tmp_path):
    (tmp_path / "tables").mkdir()
    (tmp_path / "tables" / "summary.parquet").write_bytes(b"PAR1 not really")
    with pytest.raises(HeseInputError, match=r"summary.parquet: damaged, not a Parquet table .*; rerun hese gather"):
        results.load(tmp_path)
    (tmp_path / "runs.csv").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(HeseInputError, match=r"runs.csv: damaged"):
        results.read_runs(tmp_path)
    with pytest.raises(HeseInputError, match=r"x.json: missing; redo it"):
        read_json(Path(tmp_path) / "x.json", "redo it")


def test_the_command_prints_one_line_and_the_traceback_only_on_request(good_files, tmp_path, capsys, monkeypatch):
    from hese import cli

    folder = tmp_path / "build"
    shutil.copytree(good_files / "build", folder)
    (folder / "build.json").write_bytes(b'{"counts": {"Li"')
    argv = ["simulate", str(folder), "--out", str(tmp_path / "md"), "--platform", "CPU"]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "build.json: damaged, not JSON" in err and "rebuild the box" in err
    with pytest.raises(HeseInputError):
        cli.main(["--debug", *argv])
    monkeypatch.setenv("HESE_DEBUG", "1")
    with pytest.raises(HeseInputError):
        cli.main(argv)
    monkeypatch.delenv("HESE_DEBUG")

    def broken(args):
        raise RuntimeError("something hese did not foresee\nwith details")

    monkeypatch.setattr(cli, "_species", broken)
    assert cli.main(["species"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unexpected error: RuntimeError: something hese did not foresee" in err
    assert "--debug" in err

"""Bad input to `hese build`: one line, exit status 2, nothing written."""

import re
import subprocess
import sys

import pytest

from hese import cli


def _system(tmp_path, text):
    f = tmp_path / "system.yaml"
    f.write_text(text)
    return f


BAD = {
    "unknown species": ("name: x\ncomposition: {counts: {LiFSI: 2, Unobtainium: 10}}\n", "unknown species or salt 'Unobtainium'"),
    "unbalanced salt": ("name: x\ncomposition: {counts: {ZnCl: 2, DME: 10}}\n", "neutral salt is 'ZnCl2'"),
    "charge scale too big": ("name: x\ncomposition: {counts: {LiFSI: 2}}\nforce_field: {charge_scale: 1.5}\n", "force_field.charge_scale"),
    "charge scale zero": ("name: x\ncomposition: {counts: {LiFSI: 2}}\nforce_field: {charge_scale: 0}\n", "force_field.charge_scale"),
    "net charge": ("name: x\ncomposition: {counts: {Li: 2, DME: 10}}\n", "net charge of \\+2 e"),
    "unknown key": ("name: x\ncomposition: {counts: {LiFSI: 2}}\nsize: {boxnm: 3}\n", "size: unknown key 'boxnm'"),
    "bad name": ("name: ../up\ncomposition: {counts: {LiFSI: 2}}\n", "name: '../up' is not a valid name"),
    "malformed": ("name: x\ncomposition: {counts: {LiFSI: 2}\n", "malformed YAML"),
    "zero count": ("name: x\ncomposition: {counts: {LiFSI: 0}}\n", "composition.counts.LiFSI: 0 is less than the minimum of 1"),
    "box too small": ("name: x\ncomposition: {counts: {LiFSI: 1, DME: 5}}\n", "smaller than 2 × cutoff"),
    "bad water model": ("name: x\ncomposition: {counts: {LiCl: 1, water: 500}}\nforce_field: {family: aqueous, water_model: tip3p}\n", "water_model: 'tip3p' is not one of spce, tip4pew, opc"),
}


@pytest.mark.parametrize("case", BAD)
def test_bad_input_is_one_line_exit_2_nothing_written(case, tmp_path, capsys):
    text, message = BAD[case]
    out = tmp_path / "out"
    assert cli.main(["build", str(_system(tmp_path, text)), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("hese: error: ")
    assert "system.yaml" in err
    assert re.search(message, err), err
    assert not out.exists()


def test_console_script_exit_status_without_traceback(tmp_path):
    f = _system(tmp_path, BAD["unknown species"][0])
    run = subprocess.run([sys.executable, "-m", "hese.cli", "build", str(f), "--out", str(tmp_path / "o")],
                         capture_output=True, text=True)
    assert run.returncode == 2
    assert "Traceback" not in run.stderr and run.stderr.count("\n") == 1


def test_missing_force_field_file_is_named(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HESE_FORCE_FIELDS", str(tmp_path / "empty"))
    f = _system(tmp_path, "name: x\ncomposition: {counts: {LiFSI: 20, DME: 200}}\n")
    assert cli.main(["build", str(f), "--out", str(tmp_path / "out")]) == 2
    assert "force-field file 'li.xml' for species 'Li' (organic family) is missing" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


BAD_COMPOSITIONS = {
    "non-numeric": ("composition: {molarity: {LiFSI: lots}, solvent: {DME: 1}}\nsize: {solvent_molecules: 100}", "composition.molarity.LiFSI: 'lots' is not of type 'number'"),
    "negative": ("composition: {molarity: {LiFSI: -0.1}, solvent: {DME: 1}}\nsize: {solvent_molecules: 100}", "composition.molarity.LiFSI: -0.1 is less than or equal to the minimum of 0"),
    "zero": ("composition: {molarity: {LiFSI: 0}, solvent: {DME: 1}}\nsize: {solvent_molecules: 100}", "composition.molarity.LiFSI: 0 is less than or equal to the minimum of 0"),
    "two modes": ("composition: {molarity: {LiFSI: 1}, ratio: {LiFSI: 1}, solvent: {DME: 1}}\nsize: {solvent_molecules: 100}", "two composition modes at once"),
    "fractions": ("composition: {molarity: {LiFSI: 1}, solvent: {DME: 0.5, EC: 0.4}}\nsize: {solvent_molecules: 100}", "fractions sum to 0.9, not 1"),
    "rounds to zero": ("composition: {molarity: {LiFSI: 0.6, LiNO3: 0.001}, solvent: {DME: 1}}\nsize: {solvent_molecules: 300}", "LiNO3 rounds to zero molecules at size.solvent_molecules = 300; size.solvent_molecules ≥"),
}


@pytest.mark.parametrize("case", BAD_COMPOSITIONS)
def test_bad_compositions_from_the_command_line(case, tmp_path, capsys):
    text, message = BAD_COMPOSITIONS[case]
    f = _system(tmp_path, f"name: x\n{text}\n")
    for command in (["compose", str(f)], ["build", str(f), "--out", str(tmp_path / "out")]):
        assert cli.main(command) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message in err, err
    assert not (tmp_path / "out").exists()


def test_packmol_failure_and_timeout_are_one_clear_error():
    from hese.build import pack
    from hese.errors import HeseInputError

    with pytest.raises(HeseInputError, match=r"packmol failed \(exit status \d+\): .*maximum number of cycles"):
        pack({"TFSI": 1}, 0.3)  # a molecule larger than the box
    with pytest.raises(HeseInputError, match="packmol did not finish within 2 s"):
        pack({"water": 3000}, 2.0, timeout_s=2)  # far too dense


def test_a_seed_beyond_32_bits_is_one_line(tmp_path, capsys):
    system = tmp_path / "w.yaml"
    system.write_text("name: w\ncomposition: {counts: {water: 100}}\nforce_field: {family: aqueous, cutoff_nm: 0.6}\n")
    assert cli.main(["build", str(system), "--out", str(tmp_path / "b"), "--seed", str(2**40)]) == 2
    assert "seed: 1099511627776 is not a whole number from 0 to 2147483647" in capsys.readouterr().err


def test_an_output_folder_that_cannot_be_written_is_one_line(tmp_path, capsys):
    system = tmp_path / "w.yaml"
    system.write_text("name: w\ncomposition: {counts: {water: 100}}\nforce_field: {family: aqueous, cutoff_nm: 0.6}\n")
    (tmp_path / "file").write_text("")
    assert cli.main(["build", str(system), "--out", str(tmp_path / "file" / "b")]) == 2
    assert "file: cannot write here (File exists); choose another output folder" in capsys.readouterr().err

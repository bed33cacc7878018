"""hese as an installed package: a wheel built from the checkout works outside it.

The wheel is installed into a fresh virtual environment (no pip install of the dependencies:
they are taken from the test environment through a ``.pth`` line, which does not run the
editable install's hook, so ``import hese`` can only find the wheel). Every command runs in a
folder outside the checkout, so nothing can be read from the source tree.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest
from md_helpers import QUICK, cli_args

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> dict:
    """A fresh environment holding only the wheel; its ``hese`` script, a work folder and the env."""
    root = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(root / "dist"), str(REPO)],
                   check=True, cwd=root)
    (wheel,) = (root / "dist").glob("hese-*.whl")
    env_dir = root / "env"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                               check=True, capture_output=True, text=True).stdout.strip())
    (site / "test-dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--quiet",
                    str(wheel)], check=True, cwd=root)
    work = root / "work"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "HESE_FORCE_FIELDS")}
    env["PATH"] = f"{env_dir / 'bin'}{os.pathsep}{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    return {"hese": str(env_dir / "bin" / "hese"), "python": str(python), "work": work, "env": env}


def run(installed: dict, *args: str) -> str:
    done = subprocess.run([installed["hese"], *args], cwd=installed["work"], env=installed["env"],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_the_wheel_is_what_gets_imported(installed):
    where = subprocess.run([installed["python"], "-c", "import hese, hese.force_fields as f; print(hese.__file__); "
                            "print(f.__file__)"], cwd=installed["work"], env=installed["env"],
                           capture_output=True, text=True, check=True).stdout.split()
    assert all(not Path(p).is_relative_to(REPO) for p in where), where
    assert run(installed, "--version").split()[-1] == __import__("hese").__version__


def test_species_compose_build_and_simulate_from_the_wheel(installed):
    work = installed["work"]
    assert "TFSI" in run(installed, "species")
    (work / "organic.yaml").write_text(
        "name: organic\ncomposition:\n  molarity: {LiFSI: 1.0}\n  solvent: {DME: 1}\nsize: {solvent_molecules: 20}\nforce_field: {cutoff_nm: 0.6}\n")
    (work / "aqueous.yaml").write_text(
        "name: aqueous\ncomposition:\n  counts: {ZnCl2: 2, water: 100}\nforce_field: {family: aqueous, cutoff_nm: 0.6}\n")
    assert json.loads(run(installed, "compose", "organic.yaml", "--json"))["counts"]["DME"] == 20
    for name in ("organic", "aqueous"):
        record = json.loads(run(installed, "build", f"{name}.yaml", "--out", f"{name}-build", "--json"))
        assert f"{name}/" in " ".join(record["force_field_files"]) and (work / f"{name}-build" / "system.xml").is_file()
    settings = {**QUICK, "heating_ps": 0.04, "equilibration_ps": 0.2, "equilibration_extend_ps": 0.1,
                "max_equilibration_ps": 0.4, "production_ps": 0.04, "save_every_ps": 0.02, "thermo_every_ps": 0.02}
    run(installed, "simulate", "aqueous-build", "--out", "aqueous-md", *cli_args(settings))
    assert (work / "aqueous-md" / "done.json").is_file()


def test_one_version_everywhere():
    import re

    import hese

    citation = (REPO / "CITATION.cff").read_text()
    assert re.search(r"^version: (\S+)$", citation, re.M).group(1) == hese.__version__
    assert "dynamic = [\"version\"]" in (REPO / "pyproject.toml").read_text()

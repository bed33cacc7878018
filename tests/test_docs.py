"""The documentation's examples work: the YAML files of "Getting started" load, compose and expand."""

from __future__ import annotations

import re
from pathlib import Path

from hese import build, study

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_getting_started_examples_are_valid_files(tmp_path, monkeypatch):
    text = (DOCS / "getting-started.md").read_text()
    files = {}
    for block in re.findall(r"```yaml\n(.*?)```", text, re.S):
        block = "\n".join(line[3:] if line.startswith("   ") else line for line in block.splitlines())
        name = re.match(r"# (\S+)", block).group(1)
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(block + "\n")
        files[name] = tmp_path / name
    assert set(files) == {"systems/my-dme.yaml", "config/my-study.yaml"}
    monkeypatch.chdir(tmp_path)
    assert build.SystemDefinition.load(files["systems/my-dme.yaml"]).counts["DME"] == 300
    runs = study.runs(study.load(files["config/my-study.yaml"]), files["config/my-study.yaml"])
    assert len(runs) == 6  # three mixtures × two replicas, as the page says

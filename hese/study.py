"""Study configurations: systems × sweeps → the table of runs."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pandas as pd

from hese import sweep
from hese.build import SystemDefinition
from hese.config import check_name, load_yaml, validate
from hese.errors import HeseInputError


def load(path: str | Path) -> dict:
    """Read and validate a study configuration (defaults filled in)."""
    data = validate(load_yaml(path), "study", path)
    check_name(data["study"], "study", path)
    return data


def runs(config: dict, source: str | Path = "config") -> list[sweep.Run]:
    """Every run of the study; each run's system definition is validated now.

    Raises
    ------
    HeseInputError
        A missing system file, a bad system definition, or two runs with one id.
    """
    out = []
    for k, entry in enumerate(config["systems"]):
        path = Path(entry["system"])
        if not path.is_file():
            raise HeseInputError(f"{source}: systems.{k}.system: no such file {str(path)!r}")
        system = validate(load_yaml(path), "system", path)
        try:
            expanded = sweep.expand(system, entry.get("sweep"), config["temperature_k"])
        except HeseInputError as err:
            raise HeseInputError(f"{source}: systems.{k}.sweep: {err}") from None
        for run in expanded:
            SystemDefinition.from_dict(run.system, source=f"{path} (run {run.id})")
        out.extend(expanded)
        if len(out) > sweep.MAX_RUNS:
            raise HeseInputError(f"{source}: systems: more than the {sweep.MAX_RUNS:,} runs a study may have "
                                 f"({len(out):,} with systems.0–{k})")
    duplicated = sorted(i for i, n in Counter(r.id for r in out).items() if n > 1)
    if duplicated:
        raise HeseInputError(f"{source}: systems: run ids occur twice: {', '.join(duplicated[:3])}")
    return out


def run(config: dict, run_id: str, source: str | Path = "config") -> sweep.Run:
    """The run ``run_id`` of a study.

    Raises
    ------
    HeseInputError
        No run has that id; the message lists a few that exist.
    """
    all_runs = runs(config, source)
    for candidate in all_runs:
        if candidate.id == run_id:
            return candidate
    known = ", ".join(r.id for r in all_runs[:3]) + (", …" if len(all_runs) > 3 else "")
    raise HeseInputError(f"{source}: no run {run_id!r} in study {config['study']!r}; runs are {known}")


def runs_table(config: dict, source: str | Path = "config") -> pd.DataFrame:
    """The run table of a study, with the study name as the first column."""
    table = sweep.runs_table(runs(config, source))
    table.insert(0, "study", config["study"])
    return table

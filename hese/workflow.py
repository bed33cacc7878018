"""What the Snakemake workflow needs to know about a study: its runs, their analyses, the targets.

The ``Snakefile`` and ``rules/*.smk`` stay thin: they ask this module for the runs of the
validated config, the command-line options of each analysis and the list of final outputs.
Paths follow one convention (docs/guide/workflow.md)::

    results/<study>/runs.csv                          the run table (hese runs --csv)
    results/<study>/<run>/build/                      hese build
    results/<study>/<run>/md/                         hese simulate
    results/<study>/<run>/viscosity/                  hese viscosity (systems with viscosity_mpa_s: auto)
    results/<study>/<run>/analysis/<analysis>/        hese analyze <analysis>
    results/<study>/tables/<table>.parquet            hese gather
    results/<study>/plots/<plot>.png|.svg             hese plot
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

from hese import layout, study
from hese.analysis import registry
from hese.config import check_name, load_yaml, validate
from hese.errors import HeseInputError
from hese.sweep import Run


def analysis_pattern() -> str:
    """The ``{analysis}`` wildcard's pattern: the name of any registered analysis."""
    return "|".join(registry.names())


@dataclass(frozen=True)
class Study:
    """The runs of a validated study configuration and where their outputs go."""

    config: dict
    configfile: str
    runs: dict[str, Run]

    @classmethod
    def from_config(cls, config: dict, configfile: str | Path) -> Study:
        """Expand ``config`` (already validated, defaults filled) read from ``configfile``."""
        return cls(config, str(configfile), {r.id: r for r in study.runs(config, configfile)})

    @property
    def name(self) -> str:
        return self.config["study"]

    @property
    def root(self) -> str:
        return f"results/{self.name}"

    def md_physics(self) -> dict:
        """The ``simulate:`` settings that change a simulation's result: all but the runtime ones
        (:data:`hese.md.settings.RUNTIME`, such as ``platform`` or ``max_equilibration_ps``), so that
        changing those never reruns a finished simulation."""
        from hese.md.settings import RUNTIME

        return {k: v for k, v in self.config.get("simulate", {}).items() if k not in RUNTIME}

    def analyses(self, run_id: str) -> tuple[str, ...]:
        """The analyses of one run: those of the registry that apply to its system (water: with water)."""
        return registry.for_system(self.runs[run_id].system)

    def plots(self) -> tuple[str, ...]:
        """The plots of the study: every figure of the analyses its runs have."""
        used = {a for run in self.runs for a in self.analyses(run)}
        return tuple(dict.fromkeys(p for a in registry.analyses() if a.name in used for p in a.plots))

    def analysis_threads(self, analysis: str) -> int:
        """Threads (processes) of one workflow job of an analysis."""
        return registry.get(analysis).threads(self.config["analysis"])

    def analysis_summaries(self) -> list[str]:
        """Every run's ``analysis/<analysis>/summary.json``: the inputs of ``hese gather``."""
        return [f"{self.root}/{run}/analysis/{a}/{layout.SUMMARY}" for run in self.runs for a in self.analyses(run)]

    def md_markers(self) -> list[str]:
        """Every run's finished simulation: its completion marker ``md/done.json``."""
        return [f"{self.root}/{run}/md/{layout.DONE}" for run in self.runs]

    def targets(self) -> list[str]:
        """The final outputs: the gathered summary table and every plot (PNG and SVG)."""
        plots = [f"{self.root}/plots/{p}.{ext}" for p in self.plots() for ext in ("png", "svg")]
        return [f"{self.root}/tables/summary.parquet", *plots]

    def temperature_k(self, run_id: str) -> float:
        return self.runs[run_id].temperature_k

    def measures_viscosity(self, run_id: str) -> bool:
        """Whether the run's system entry says ``viscosity_mpa_s: auto`` (the run gets a viscosity stage)."""
        return self._system_entry(run_id).get("viscosity_mpa_s") == "auto"

    def viscosity_record(self, run_id: str) -> str:
        """The run's ``viscosity/viscosity.json`` (written by ``hese viscosity``)."""
        return f"{self.root}/{run_id}/viscosity/{layout.VISCOSITY}"

    def analysis_inputs(self, analysis: str, run_id: str) -> list[str]:
        """What ``hese analyze <analysis>`` of a run reads: the finished simulation, and for transport
        the run's own viscosity when its system measures it."""
        inputs = [f"{self.root}/{run_id}/md/{layout.DONE}"]
        if analysis == "transport" and self.measures_viscosity(run_id):
            inputs.append(self.viscosity_record(run_id))
        return inputs

    def analysis_options(self, analysis: str, run_id: str) -> str:
        """Command-line options of ``hese analyze <analysis>`` from the ``analysis:`` section."""
        viscosity = self._system_entry(run_id).get("viscosity_mpa_s")
        run = registry.RunContext(self.temperature_k(run_id),
                                  self.viscosity_record(run_id) if viscosity == "auto" else viscosity)
        return registry.workflow_options(self.config["analysis"], analysis, run)

    def _system_entry(self, run_id: str) -> dict:
        name = self.runs[run_id].system["name"]
        return next(e for e in self.config["systems"] if load_yaml(e["system"])["name"] == name)


def check_config(config: dict, configfile: str | Path) -> dict:
    """Validate the workflow's config with hese's own messages before Snakemake's schema check.

    The config must be exactly the study file (no ``--config`` overrides): the ``hese`` commands
    the rules call read the same file, so an override would silently not reach them.

    Raises
    ------
    snakemake.exceptions.WorkflowError
        One line naming the file, the key, the bad value and what is allowed.
    """
    from snakemake.exceptions import WorkflowError

    try:
        checked = validate(copy.deepcopy(config), "study", configfile)
        check_name(checked["study"], "study", configfile)
        on_disk = validate(load_yaml(configfile), "study", configfile)
    except HeseInputError as err:
        raise WorkflowError(f"hese: error: {err}") from None
    if checked != on_disk:
        raise WorkflowError(f"hese: error: {configfile}: --config overrides are not supported; edit the file")
    return checked

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
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from hese import study
from hese.config import check_name, load_yaml, validate
from hese.errors import HeseInputError
from hese.sweep import Run

#: analyses run for every system; ``water`` is added for systems that contain water
ANALYSES = ("solvation", "transport")
#: plots of every study; the water plots need at least one system with water
PLOTS = ("rdf", "speciation", "shell_entropy", "diffusion", "clusters", "msd")
WATER_PLOTS = ("tetrahedral", "water_entropy")


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
        """The analyses of one run: solvation and transport, and water when the system has water."""
        return ANALYSES + (("water",) if has_water(self.runs[run_id]) else ())

    def plots(self) -> tuple[str, ...]:
        """The plots of the study."""
        return PLOTS + (WATER_PLOTS if any(has_water(r) for r in self.runs.values()) else ())

    def analysis_summaries(self) -> list[str]:
        """Every run's ``analysis/<analysis>/summary.json``: the inputs of ``hese gather``."""
        return [f"{self.root}/{run}/analysis/{a}/summary.json" for run in self.runs for a in self.analyses(run)]

    def md_markers(self) -> list[str]:
        """Every run's finished simulation: its completion marker ``md/done.json``."""
        return [f"{self.root}/{run}/md/done.json" for run in self.runs]

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
        return f"{self.root}/{run_id}/viscosity/viscosity.json"

    def analysis_inputs(self, analysis: str, run_id: str) -> list[str]:
        """What ``hese analyze <analysis>`` of a run reads: the finished simulation, and for transport
        the run's own viscosity when its system measures it."""
        inputs = [f"{self.root}/{run_id}/md/done.json"]
        if analysis == "transport" and self.measures_viscosity(run_id):
            inputs.append(self.viscosity_record(run_id))
        return inputs

    def analysis_options(self, analysis: str, run_id: str) -> str:
        """Command-line options of ``hese analyze <analysis>`` from the ``analysis:`` section."""
        viscosity = self._system_entry(run_id).get("viscosity_mpa_s")
        return analysis_options(self.config["analysis"], analysis, self.temperature_k(run_id),
                                self.viscosity_record(run_id) if viscosity == "auto" else viscosity)

    def _system_entry(self, run_id: str) -> dict:
        name = self.runs[run_id].system["name"]
        return next(e for e in self.config["systems"] if load_yaml(e["system"])["name"] == name)


def has_water(run: Run) -> bool:
    """Whether the run's system contains water (then the water analysis runs)."""
    return any(isinstance(part, Mapping) and "water" in part for part in run.system["composition"].values())


def analysis_options(settings: Mapping, analysis: str, temperature_k: float, viscosity: float | str | None) -> str:
    """The options of ``hese analyze <analysis>`` for the analysis settings ``settings``.

    ``viscosity`` (transport): a value in mPa s, the path of a ``viscosity.json``, or None.

    >>> analysis_options({"start": 0, "stop": None, "step": 2, "blocks": 5,
    ...                   "solvation": {"cutoffs": {"DME": 0.28}, "workers": 1}}, "solvation", 298.15, None)
    '--start 0 --step 2 --blocks 5 --workers 1 --cutoff DME=0.28'
    """
    options = ["--start", str(settings["start"])]
    if settings.get("stop") is not None:
        options += ["--stop", str(settings["stop"])]
    options += ["--step", str(settings["step"]), "--blocks", str(settings["blocks"])]
    if analysis == "solvation":
        solvation = settings["solvation"]
        options += ["--workers", str(solvation["workers"])]
        for pair, cutoff in solvation["cutoffs"].items():
            options += ["--cutoff", f"{pair}={cutoff:g}"]
    elif analysis == "transport":
        options += ["--temperature-k", f"{temperature_k:g}"]
        if isinstance(viscosity, str):
            options += ["--viscosity", viscosity]
        elif viscosity is not None:
            options += ["--viscosity-mpa-s", f"{viscosity:g}"]
    elif analysis == "water":
        for mode in settings["water"]["neighbours"]:
            options += ["--neighbours", mode]
    else:
        raise ValueError(f"unknown analysis {analysis!r}; known: solvation, transport, water")
    return shlex.join(options)


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

"""The registry of analyses: what the CLI, the workflow, ``hese gather``, the results loader, the
plots and the documentation know about each analysis.

An analysis is one :class:`Analysis` entry: its name (``hese analyze NAME``, the folder
``analysis/NAME/`` of a run), its command-line arguments and handler, the tables it writes, the
figures drawn from them, the systems it applies to and the options the workflow gives it. The
built-in analyses (solvation, transport, water) register themselves in :mod:`hese.analysis.cli`;
adding one is a module with its kernels and one :func:`register` call, named in :data:`MODULES`::

    register(Analysis("residence", help="...", description="...", add_arguments=_arguments, run=_run,
                      tables=("residence",)))
"""

from __future__ import annotations

import argparse
import importlib
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from hese.errors import HeseInputError


@dataclass(frozen=True)
class RunContext:
    """What the workflow knows about one run beyond the study's ``analysis:`` section."""

    temperature_k: float
    viscosity: float | str | None = None  #: mPa s, the path of the run's viscosity.json, or None


def _always(system: Mapping) -> bool:
    return True


def _no_options(settings: Mapping, run: RunContext) -> list[str]:
    return []


def _one_thread(settings: Mapping) -> int:
    return 1


@dataclass(frozen=True)
class Analysis:
    """One analysis.

    Attributes
    ----------
    name
        ``hese analyze NAME``; the run's output folder ``analysis/NAME/``.
    help, description
        One line for ``hese analyze --help``; the paragraph of ``hese analyze NAME --help``.
    add_arguments
        Adds the analysis' own options to its parser (the inputs, frames and blocks are common).
    run
        The command's handler (an ``argparse.Namespace`` in; writes ``--out``).
    tables
        Names of the tables it writes (``<name>.parquet``; columns in :mod:`hese.analysis.columns`).
    plots
        Figures of :mod:`hese.plots` drawn from its gathered tables.
    applies
        Whether the workflow runs it for a system (the system definition as a mapping).
    options
        Its own command-line options from the study's ``analysis:`` settings and the run.
    threads
        Threads (processes) a workflow job of it uses, from the ``analysis:`` settings.
    replicas
        Whether ``--run`` takes several replica folders at once.
    """

    name: str
    help: str
    description: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], None]
    tables: tuple[str, ...]
    plots: tuple[str, ...] = ()
    applies: Callable[[Mapping], bool] = _always
    options: Callable[[Mapping, RunContext], list[str]] = _no_options
    threads: Callable[[Mapping], int] = _one_thread
    replicas: bool = False


_REGISTRY: dict[str, Analysis] = {}


def register(analysis: Analysis) -> Analysis:
    """Add an analysis (its name must be new); return it."""
    if analysis.name in _REGISTRY:
        raise ValueError(f"an analysis named {analysis.name!r} is registered already")
    _REGISTRY[analysis.name] = analysis
    return analysis


def unregister(name: str) -> None:
    """Remove an analysis (for tests that register a toy one)."""
    _REGISTRY.pop(name, None)


#: The modules that register hese's own analyses, imported on first use. A new analysis is a module
#: with its kernels, its command-line handler and one :func:`register` call, named here.
MODULES = ("hese.analysis.cli",)


def analyses() -> tuple[Analysis, ...]:
    """Every registered analysis, the built-in ones first, in registration order."""
    for module in MODULES:
        importlib.import_module(module)
    return tuple(_REGISTRY.values())


def names() -> tuple[str, ...]:
    """The names of every registered analysis."""
    return tuple(a.name for a in analyses())


def get(name: str) -> Analysis:
    """The analysis called ``name``.

    Raises
    ------
    HeseInputError
        No analysis has that name (the message lists those that exist).
    """
    known = {a.name: a for a in analyses()}
    if name not in known:
        raise HeseInputError(f"analysis: unknown analysis {name!r}; analyses are {', '.join(known)}")
    return known[name]


def for_system(system: Mapping) -> tuple[str, ...]:
    """The analyses the workflow runs for a system (its definition as a mapping)."""
    return tuple(a.name for a in analyses() if a.applies(system))


def workflow_options(settings: Mapping, name: str, run: RunContext) -> str:
    """The options of ``hese analyze NAME`` for a study's ``analysis:`` settings: the frames and
    blocks every analysis takes, then its own."""
    options = ["--start", str(settings["start"])]
    if settings.get("stop") is not None:
        options += ["--stop", str(settings["stop"])]
    options += ["--step", str(settings["step"]), "--blocks", str(settings["blocks"])]
    return shlex.join(options + get(name).options(settings, run))


def has_cations(system: Mapping) -> bool:
    """Whether a system definition holds a cation (a salt or a cation in any part of its composition)."""
    from hese import species

    names = {name for part in system["composition"].values() if isinstance(part, Mapping) for name in part}
    return any(species.get(ion).kind == "cation" for name in names for ion in species.resolve(name))


def has_water(system: Mapping) -> bool:
    """Whether a system definition contains water (in any part of its composition)."""
    return any(isinstance(part, Mapping) and "water" in part for part in system["composition"].values())

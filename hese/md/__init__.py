"""The OpenMM simulation engine behind ``hese simulate``.

Modules: :mod:`~hese.md.settings` (the settings and their validation),
:mod:`~hese.md.platforms` (platform choice, GPU claiming), :mod:`~hese.md.stages` (one MD stage
with reports, checkpoints and restart), :mod:`~hese.md.reporters` (thermo rows, XTC chunks),
:mod:`~hese.md.equilibration` (density convergence, molarity reached, production volume),
:mod:`~hese.md.engine` (the run: stages and outputs), :mod:`~hese.md.cli` (the sub-command).
"""

from hese.md.control import SimulationError, StopRequested
from hese.md.settings import Settings

__all__ = ["Settings", "SimulationError", "StopRequested", "simulate"]


def __getattr__(name: str):
    if name == "simulate":  # imported on first use: the command line starts without OpenMM
        from hese.md.engine import simulate

        return simulate
    raise AttributeError(f"module 'hese.md' has no attribute {name!r}")

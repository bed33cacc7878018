"""Stopping a simulation: SIGTERM/SIGINT requests, and the errors that end a run."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager


class SimulationError(RuntimeError):
    """The simulation cannot go on (NaN, exploding energy, density not converged).

    The message says which stage, at which step, and what to try.
    """


class StopRequested(Exception):
    """A signal asked the run to stop; a checkpoint was written before this was raised."""

    def __init__(self, signum: int, message: str):
        super().__init__(message)
        self.signum = signum


class StopFlag:
    """Set by SIGTERM/SIGINT; the MD loop checks it between calls to ``integrator.step``.

    A second signal of the same kind while the first is being handled acts at once (the
    default action), so a user can still interrupt a stuck job.
    """

    def __init__(self) -> None:
        self.signum: int | None = None

    def __bool__(self) -> bool:
        return self.signum is not None

    def request(self, signum: int) -> None:
        """Ask the run to stop (as a signal would)."""
        self.signum = signum

    @property
    def name(self) -> str:
        """The signal's name (``SIGTERM``)."""
        return signal.Signals(self.signum).name if self.signum is not None else ""


@contextmanager
def stop_on_signals(flag: StopFlag, signals: tuple[int, ...] = (signal.SIGTERM, signal.SIGINT)) -> Iterator[StopFlag]:
    """Install handlers that set ``flag``; restore the previous handlers on exit.

    Only the main thread can install handlers; elsewhere the flag is returned unconnected.
    """
    previous = {}

    def handler(signum, frame):
        if flag.signum == signum:  # asked twice: the default action
            signal.signal(signum, previous.get(signum, signal.SIG_DFL))
            signal.raise_signal(signum)
            return
        flag.request(signum)

    try:
        for s in signals:
            previous[s] = signal.signal(s, handler)
    except ValueError:  # not the main thread
        pass
    try:
        yield flag
    finally:
        for s, h in previous.items():
            signal.signal(s, h)

import os

import pytest

# One OpenMM CPU thread in every test and every process a test starts: a seeded run then repeats
# bit for bit (with several threads the summation order, and so the minimiser's path, varies).
os.environ.setdefault("OPENMM_CPU_THREADS", "1")

from hese import species as sp  # noqa: E402


@pytest.fixture(scope="session")
def registry():
    return sp.registry()

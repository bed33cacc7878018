import os

import pytest

# One OpenMM CPU thread in every test and every process a test starts: a seeded run then repeats
# bit for bit (with several threads the summation order, and so the minimiser's path, varies).
os.environ.setdefault("OPENMM_CPU_THREADS", "1")

from hypothesis import settings  # noqa: E402

from hese import species as sp  # noqa: E402

# Property-based tests draw the same examples on every run: CI cannot fail by the luck of the draw.
settings.register_profile("hese", derandomize=True, print_blob=True)
settings.load_profile("hese")


@pytest.fixture(scope="session")
def registry():
    return sp.registry()

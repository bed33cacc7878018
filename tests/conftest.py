import pytest

from hese import species as sp


@pytest.fixture(scope="session")
def registry():
    return sp.registry()

"""From a system definition to molecule counts."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

from hese import species as sp
from hese.errors import HeseInputError


def counts_from(units: Mapping[str, int]) -> dict[str, int]:
    """Species counts from formula units of salts and molecules of species.

    ``{"LiCl": 2, "ZnCl2": 1, "water": 9}`` gives
    ``{"Li": 2, "Cl": 4, "Zn": 1, "water": 9}``.
    """
    total: Counter[str] = Counter()
    for name, n in units.items():
        for species, per_unit in sp.resolve(name).items():
            total[species] += per_unit * n
    return dict(total)


def net_charge(counts: Mapping[str, int]) -> int:
    """Total formal charge of a box with these counts."""
    return sum(sp.get(name).charge * n for name, n in counts.items())


def check_neutral(counts: Mapping[str, int], source: str = "composition") -> None:
    """Refuse a box whose formal charge is not zero."""
    q = net_charge(counts)
    if q != 0:
        raise HeseInputError(
            f"{source}: the box has a net charge of {q:+d} e; add counter-ions or give salts "
            f"by formula (e.g. LiFSI) so that they are neutral"
        )


def total_mass_g_mol(counts: Mapping[str, int]) -> float:
    """Σ n_i M_i in g/mol."""
    return sum(sp.get(name).molar_mass * n for name, n in counts.items())

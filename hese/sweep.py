"""Sweeps: expand one system definition into a table of runs with stable, readable ids.

A sweep varies, all combined (Cartesian product):

* the salt ratio on the simplex — every mixture of k salts at a fixed total
  concentration with fractions in steps of 1/n (``salt_ratio: {salts, total,
  steps}``), or an explicit list of mixtures (``salt_ratio: {total, points}``);
* any scalar of the system definition by its dotted path (``size.solvent_molecules``,
  ``composition.molarity.LiFSI``, ``composition.solvent.DME``) and the
  temperature (``temperature_k``), each over a list;
* replicas, each with its own seed.

The run table holds, per run, the id, the sweep variables, the seed and the
configurational entropies of the formulation (cation, anion and solvent
sublattices, in R), so that results can be plotted against them.
"""

from __future__ import annotations

import copy
import itertools
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from hese import composition as comp
from hese.config import check_name
from hese.errors import HeseInputError
from hese.species import WATER_MODEL_MELTING_K

CONCENTRATION_MODES = ("molarity", "molality", "ratio")
#: The most runs a study may have: a bigger sweep is refused, with its count, before it is expanded.
MAX_RUNS = 10_000


def simplex(k: int, steps: int) -> list[tuple[int, ...]]:
    """All k-tuples of non-negative integers summing to ``steps`` (fractions × steps).

    There are C(steps + k − 1, k − 1) of them; ordered lexicographically from
    the last component up, so the first is ``(steps, 0, …, 0)``.
    """
    if k < 1 or steps < 1:
        raise HeseInputError(f"sweep.salt_ratio: need at least one salt and steps ≥ 1 (got {k} salts, {steps} steps)")
    count = math.comb(steps + k - 1, k - 1)
    if count > MAX_RUNS:
        raise HeseInputError(f"sweep.salt_ratio: {k} salts in steps of 1/{steps} give {count:,} mixtures, more than "
                             f"the {MAX_RUNS:,} runs a study may have; use fewer steps or salts, or explicit points")
    return list(_compositions(k, steps))


def _compositions(k: int, total: int):
    """The k-tuples of non-negative integers summing to ``total``, first component largest first."""
    if k == 1:
        yield (total,)
        return
    for first in range(total, -1, -1):
        for rest in _compositions(k - 1, total - first):
            yield (first, *rest)


def salt_ratio_points(salt_ratio: Mapping[str, Any]) -> list[dict[str, float]]:
    """Salt → fraction for every mixture of a ``salt_ratio`` sweep section."""
    if "points" in salt_ratio:
        points = [dict(p) for p in salt_ratio["points"]]
        for p in points:
            total = sum(p.values())
            if abs(total - 1) > 1e-6:
                raise HeseInputError(f"sweep.salt_ratio.points: fractions {p} sum to {total:g}, not 1")
        return points
    salts = list(salt_ratio["salts"])
    steps = int(salt_ratio["steps"])
    return [{s: n / steps for s, n in zip(salts, p, strict=True) if n} for p in simplex(len(salts), steps)]


@dataclass
class Run:
    """One run of a sweep: a system definition, a temperature, a replica."""

    id: str
    system: dict
    temperature_k: float
    replica: int
    seed: int
    variables: dict[str, Any] = field(default_factory=dict)


def expand(system: Mapping, sweep: Mapping | None = None, temperature_k: float = 298.15) -> list[Run]:
    """All runs of ``sweep`` applied to the system definition ``system`` (a dict)."""
    sweep = dict(sweep or {})
    name = check_name(system["name"], "name")
    ratio_axis: list[dict[str, float] | None] = [None]
    if "salt_ratio" in sweep:
        ratio_axis = salt_ratio_points(sweep["salt_ratio"])
    vary = dict(sweep.get("vary", {}))
    temperatures = vary.pop("temperature_k", [temperature_k])
    keys = list(vary)
    replicas = int(sweep.get("replicas", 1))
    seed0 = int(sweep.get("seed", 0))
    count = len(ratio_axis) * math.prod(len(v) for v in vary.values()) * len(temperatures) * replicas
    if count > MAX_RUNS:
        raise HeseInputError(f"sweep of {name}: {count:,} runs, more than the {MAX_RUNS:,} a study may have")
    runs = []
    for ratio, values, temp in itertools.product(ratio_axis, itertools.product(*vary.values()), temperatures):
        definition = copy.deepcopy(dict(system))
        variables: dict[str, Any] = {}
        tokens = [name]
        if ratio is not None:
            _apply_ratio(definition, ratio, float(sweep["salt_ratio"]["total"]))
            variables.update({f"x_{salt}": ratio.get(salt, 0.0) for salt in _ratio_salts(sweep["salt_ratio"])})
            tokens.append("+".join(f"{id_token(salt)}-{100 * x:g}" for salt, x in ratio.items()))
        for key, value in zip(keys, values, strict=True):
            _set(definition, key, value)
            variables[key] = value
            tokens.append(f"{key.rsplit('.', 1)[-1]}-{value:g}" if isinstance(value, (int, float)) else f"{value}")
        tokens.append(f"T{float(temp):g}")
        for replica in range(replicas):
            run_id = check_name("_".join(tokens + [f"r{replica}"]), "run id")
            runs.append(Run(run_id, definition, float(temp), replica, seed0 + replica, variables))
    ids = [r.id for r in runs]
    if len(set(ids)) != len(ids):
        raise HeseInputError("sweep: two runs would get the same id; vary each key over distinct values")
    return runs


def id_token(salt: str) -> str:
    """A salt name as part of a run id: ``Zn(ClO4)2`` → ``ZnClO4x2`` (ids have no parentheses)."""
    return re.sub(r"\((\w+)\)(\d*)", lambda m: m[1] + (f"x{m[2]}" if m[2] else ""), salt)


def _ratio_salts(salt_ratio: Mapping) -> list[str]:
    if "salts" in salt_ratio:
        return list(salt_ratio["salts"])
    return list(dict.fromkeys(s for p in salt_ratio["points"] for s in p))


def _apply_ratio(definition: dict, ratio: Mapping[str, float], total: float) -> None:
    """Replace the salts of the definition's concentration mode by ``total × fraction``."""
    compo = definition["composition"]
    modes = [m for m in CONCENTRATION_MODES if m in compo]
    if not modes:
        raise HeseInputError(f"sweep.salt_ratio needs a system with one of {', '.join(CONCENTRATION_MODES)}")
    mode = modes[0]
    kept = {k: v for k, v in compo[mode].items() if _is_solvent(k)}
    compo[mode] = {**{salt: total * x for salt, x in ratio.items()}, **kept}


def _is_solvent(name: str) -> bool:
    from hese import species as sp

    return all(sp.get(s).kind == "solvent" for s in sp.resolve(name))


def _set(definition: dict, dotted: str, value: Any) -> None:
    *parents, last = dotted.split(".")
    node = definition
    for key in parents:
        if not isinstance(node.get(key), dict):
            node[key] = {}
        node = node[key]
    node[last] = value


def nominal_entropy(composition: Mapping) -> dict[str, float]:
    """Configurational entropies (R) of a formulation from its nominal amounts.

    Ions come from the salts' concentrations (or ratios, or counts) times their
    stoichiometry, solvents from their mole fractions: no rounding to a box.
    """
    mode = next(m for m in (*CONCENTRATION_MODES, "counts") if m in composition)
    amounts = comp.counts_from(composition[mode])
    if "solvent" in composition:
        x = comp.solvent_mole_fractions(composition["solvent"], composition.get("solvent_basis", "mole"), "sweep")
        amounts.update(x)
    return {kind: comp.config_entropy_r(comp.sublattice(amounts, kind)) for kind in ("cation", "anion", "solvent")}


def water_model_columns(system: Mapping, temperature_k: float) -> dict[str, Any]:
    """``water_model``, its ice melting point ``water_melting_k`` and ``t_minus_tm_k`` = T − T_m.

    Empty for a system without water; ``t_minus_tm_k`` is NaN where no melting point is known
    (:data:`hese.species.WATER_MODEL_MELTING_K`).
    """
    if not _mentions_water(system["composition"]):
        return {}
    model = system.get("force_field", {}).get("water_model", "spce")
    melting = WATER_MODEL_MELTING_K.get(model)
    return {"water_model": model, "water_melting_k": math.nan if melting is None else melting,
            "t_minus_tm_k": math.nan if melting is None else temperature_k - melting}


def _mentions_water(value: object) -> bool:
    """Whether ``water`` is a key anywhere in a composition."""
    if isinstance(value, Mapping):
        return any(key == "water" or _mentions_water(v) for key, v in value.items())
    return False


def runs_table(runs: Sequence[Run]) -> pd.DataFrame:
    """One row per run: id, system, temperature (and T − T_m of its water model), replica, seed, sweep
    variables, S_config."""
    rows = []
    for run in runs:
        s = nominal_entropy(run.system["composition"])
        rows.append({
            "run": run.id,
            "system": run.system["name"],
            "temperature_k": run.temperature_k,
            **water_model_columns(run.system, run.temperature_k),
            "replica": run.replica,
            "seed": run.seed,
            **run.variables,
            **{f"s_config_{k}_r": v for k, v in s.items()},
            **{f"s_config_{k}_j_mol_k": v * comp.R_J_MOL_K for k, v in s.items()},
        })
    return pd.DataFrame(rows)

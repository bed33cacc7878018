import math

import pytest

from hese import sweep
from hese.build import SystemDefinition
from hese.errors import HeseInputError

HE_DME = {
    "name": "he-dme",
    "composition": {"molarity": {"LiFSI": 0.15, "LiTFSI": 0.15, "LiDFOB": 0.15, "LiNO3": 0.15}, "solvent": {"DME": 1}},
    "size": {"solvent_molecules": 500},
    "force_field": {"family": "organic", "charge_scale": 0.8},
}
SALTS = ["LiFSI", "LiTFSI", "LiDFOB", "LiNO3"]


@pytest.mark.parametrize("k, steps", [(1, 3), (2, 4), (3, 3), (4, 4), (4, 1)])
def test_simplex_has_the_binomial_number_of_points(k, steps):
    points = sweep.simplex(k, steps)
    assert len(points) == math.comb(steps + k - 1, k - 1)
    assert len(set(points)) == len(points) and all(sum(p) == steps for p in points)


def test_four_salt_simplex_sweep_expands_to_the_right_runs():
    runs = sweep.expand(HE_DME, {"salt_ratio": {"salts": SALTS, "total": 0.6, "steps": 4},
                                 "vary": {"temperature_k": [298.15, 333.15]}, "replicas": 2})
    assert len(runs) == math.comb(7, 3) * 2 * 2  # 35 mixtures × 2 temperatures × 2 replicas
    ids = [r.id for r in runs]
    assert len(set(ids)) == len(ids)
    assert ids[0] == "he-dme_LiFSI-100_T298.15_r0"
    assert "he-dme_LiFSI-25+LiTFSI-25+LiDFOB-25+LiNO3-25_T333.15_r1" in ids
    equimolar = next(r for r in runs if r.id.startswith("he-dme_LiFSI-25+LiTFSI-25+LiDFOB-25+LiNO3-25"))
    assert equimolar.system["composition"]["molarity"] == {s: pytest.approx(0.15) for s in SALTS}
    single = runs[0]
    assert single.system["composition"]["molarity"] == {"LiFSI": pytest.approx(0.6)}
    assert {r.seed for r in runs} == {0, 1}
    # every run is a valid system definition
    SystemDefinition.from_dict(dict(equimolar.system))


def test_run_table_has_entropy_and_sweep_variables():
    runs = sweep.expand(HE_DME, {"salt_ratio": {"salts": SALTS, "total": 0.6, "steps": 4}})
    table = sweep.runs_table(runs)
    assert list(table.columns[:5]) == ["run", "system", "temperature_k", "replica", "seed"]
    assert {f"x_{s}" for s in SALTS} <= set(table.columns)
    eq = table[(table[[f"x_{s}" for s in SALTS]] == 0.25).all(axis=1)].iloc[0]
    assert eq.s_config_anion_r == pytest.approx(math.log(4))
    single = table[table.x_LiFSI == 1].iloc[0]
    assert single.s_config_anion_r == 0
    assert table.s_config_cation_r.eq(0).all() and table.s_config_solvent_r.eq(0).all()
    assert table.s_config_anion_r.max() == pytest.approx(math.log(4))


def test_ids_are_stable_across_calls():
    spec = {"salt_ratio": {"salts": SALTS[:2], "total": 0.6, "steps": 2}, "vary": {"size.solvent_molecules": [300, 500]}}
    assert [r.id for r in sweep.expand(HE_DME, spec)] == [r.id for r in sweep.expand(HE_DME, spec)]
    runs = sweep.expand(HE_DME, spec)
    assert runs[0].id == "he-dme_LiFSI-100_solvent_molecules-300_T298.15_r0"
    assert runs[0].system["size"]["solvent_molecules"] == 300


def test_explicit_points_and_scalar_lists():
    aqueous = {"name": "zn", "composition": {"ratio": {"LiCl": 2, "ZnCl2": 1, "water": 9}},
               "size": {"formula_units": 60}, "force_field": {"family": "aqueous"}}
    runs = sweep.expand(aqueous, {"salt_ratio": {"total": 3, "points": [{"LiCl": 2 / 3, "ZnCl2": 1 / 3}, {"ZnCl2": 1}]},
                                  "vary": {"temperature_k": [213.15, 353.15]}})
    assert len(runs) == 4
    assert runs[0].system["composition"]["ratio"] == {"LiCl": pytest.approx(2), "ZnCl2": pytest.approx(1), "water": 9}
    assert runs[-1].system["composition"]["ratio"] == {"ZnCl2": pytest.approx(3), "water": 9}


def test_bad_sweeps():
    with pytest.raises(HeseInputError, match="sum to 0.5, not 1"):
        sweep.expand(HE_DME, {"salt_ratio": {"total": 0.6, "points": [{"LiFSI": 0.5}]}})
    with pytest.raises(HeseInputError, match="same id"):
        sweep.expand(HE_DME, {"vary": {"temperature_k": [298.15, 298.15]}})
    with pytest.raises(HeseInputError, match="steps ≥ 1"):
        sweep.simplex(4, 0)


def test_a_sweep_too_big_to_run_is_refused_with_its_count_before_it_is_expanded():
    with pytest.raises(HeseInputError, match=r"12 salts in steps of 1/10 give 352,716 mixtures, more than the 10,000"):
        sweep.simplex(12, 10)  # counted, not enumerated (11^12 candidates)
    system = {"name": "x", "composition": {"molarity": {"LiFSI": 1}, "solvent": {"DME": 1}}}
    with pytest.raises(HeseInputError, match=r"sweep of x: 12,000 runs, more than the 10,000"):
        sweep.expand(system, {"vary": {"size.solvent_molecules": list(range(1, 1201))}, "replicas": 10})

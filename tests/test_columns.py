"""Column names of the analysis tables: unique, documented, units in the names."""

import re

import pytest

from hese.analysis import columns as col

UNITS = ("_nm", "_nm2", "_ps", "_nm_ps", "_nm_ps2", "_k", "_kj_mol", "_mol2_j_m_s", "_m2_s", "_s_m", "_mpa_s", "_kb", "_j_mol_k", "_deg", "_r")
UNITLESS = {col.SPECIES, col.METHOD, col.CHARGES, col.NEIGHBOURS, col.SLOPE_LOGLOG, col.N_MOLECULES, col.N_FRAMES,
            col.Q, col.P_Q, col.Q_MEAN, col.HBONDS_PER_MOLECULE,
            col.CATION, col.PARTNER, col.ANION, col.SHELL, col.G_R, col.CN_RUNNING, col.CUTOFF_SOURCE, col.CN_MOLECULES,
            col.CN_ATOMS, col.N_CATIONS, col.FRACTION, col.COUNT, col.N_COMPOSITIONS, col.N_OBSERVATIONS,
            col.SSIP_FRACTION, col.CIP_FRACTION, col.AGG_FRACTION, col.N_IONS, col.N_CATION, col.N_ANION,
            col.NET_CHARGE, col.N_ZN, col.ZN_FRACTION, col.BOUND_FRACTION, col.MEASURED,
            col.SPECIES_I, col.SPECIES_J, col.T, col.DECAYED}


@pytest.mark.parametrize("table", [*col.TABLES, "msd per axis", "speciation with partners"])
def test_columns_unique_snake_case_with_units(table):
    names = {"msd per axis": col.msd_columns(per_axis=True),
             "speciation with partners": col.speciation_columns(["DME", "FSI", "water"])}.get(table) or col.TABLES[table]
    assert len(names) == len(set(names))
    for name in names:
        assert re.fullmatch(r"[a-z][a-z0-9_]*", name), name
        stem = name.removesuffix("_err")
        partner_count = name in col.speciation_columns(["DME", "FSI", "water"])[2:5]  # molecule counts
        assert stem in UNITLESS or stem.endswith(UNITS) or partner_count, name


def test_every_column_is_documented_once():
    used = {name for names in col.TABLES.values() for name in names} | set(col.MSD_AXES_NM2)
    assert used == set(col.DESCRIPTIONS)
    constants = [v for k, v in vars(col).items() if k.isupper() and isinstance(v, str)]
    assert len(constants) == len(set(constants))


def test_uncertainties_come_last():
    for names in col.TABLES.values():
        errs = [i for i, n in enumerate(names) if n.endswith("_err") or "_err_" in n]
        assert errs == list(range(len(names) - len(errs), len(names)))


def test_the_documentation_lists_every_table_and_column():
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "docs" / "_ext"))
    import hese_reference

    page = hese_reference.tables_page()
    for table, cols in col.TABLES.items():
        assert f"### `{table}.parquet`" in page, table
        for name in cols:
            assert name in col.DESCRIPTIONS, (table, name)
            assert f"| `{name}` | {hese_reference.cell(col.DESCRIPTIONS[name])} |" in page, (table, name)

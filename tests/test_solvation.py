"""Solvation shells on constructed configurations with known answers; entropy, bootstrap, workers, cutoffs."""

import warnings

import MDAnalysis as mda
import numpy as np
import pandas as pd
import pytest
from analysis_helpers import wrap, write_trajectory

from hese.analysis import columns as col
from hese.analysis import cutoffs, solvation, speciation
from hese.analysis.inputs import file_source
from hese.analysis.molecules import molecule_ids
from hese.analysis.solvation import analyze_solvation

LI, SOL, ANI = ("LI", ["Li"]), ("SOL", ["O1", "C1"]), ("ANI", ["O1", "O2", "S1"])
BOX = 3.0
TABLES = ("rdf", "coordination", "speciation", "shell_entropy", "ion_pairing", "bound_fraction", "clusters", "residence",
          "coordination_timeseries")


def _shells_template():
    """Four Li: two shells across the periodic boundary (SOL×2), one SOL×1·ANI×1, one empty; a free ANI."""
    li = [(0.05, 0.05, 1.5), (1.5, 1.5, 0.05), (1.5, 0.5, 1.5), (0.5, 2.0, 2.2)]
    sol = [  # (O1, C1)
        [(2.85, 0.05, 1.5), (2.75, 0.05, 1.5)],  # Li0, across x
        [(0.05, 2.85, 1.5), (0.05, 2.75, 1.5)],  # Li0, across y
        [(1.5, 1.5, 2.85), (1.5, 1.5, 2.75)],  # Li1, across z
        [(1.7, 1.5, 0.05), (1.8, 1.5, 0.05)],  # Li1
        [(1.5, 1.9, 0.05), (1.5, 2.0, 0.05)],  # 0.4 nm from Li1: outside 0.3, inside 0.45
        [(1.3, 0.5, 1.5), (1.2, 0.5, 1.5)],  # Li2
    ]
    ani = [
        [(1.7, 0.5, 1.5), (1.5, 0.5, 1.72), (1.7, 0.5, 1.72)],  # both oxygens on Li2
        [(2.4, 2.4, 0.8), (2.5, 2.4, 0.8), (2.45, 2.5, 0.8)],  # free
    ]
    xyz = np.array(li + [a for m in sol for a in m] + [a for m in ani for a in m])
    return xyz, [(*LI, 4), (*SOL, 6), (*ANI, 2)]


def _shifted(xyz, n_frames, seed=0):
    """The configuration translated by a random vector in every frame and wrapped into the box."""
    shifts = np.random.default_rng(seed).uniform(0, BOX, (n_frames, 1, 3))
    return wrap(xyz[None] + shifts, np.full(3, BOX))


@pytest.fixture(scope="module")
def shells_run(tmp_path_factory):
    xyz, molecules = _shells_template()
    top, traj = write_trajectory(tmp_path_factory.mktemp("shells"), molecules, _shifted(xyz, 6), np.full(3, BOX))
    source = file_source(top, [traj], cations=["Li=resname LI"], anions=["ANI=resname ANI and name O1 O2"],
                        solvents=["SOL=resname SOL and name O1"], charges=["ANI=-1"])
    return source, analyze_solvation(source, {(None, "SOL"): 0.3, (None, "ANI"): 0.3}, n_blocks=3)


def test_shell_across_the_periodic_boundary_coordination(shells_run):
    _, result = shells_run
    cn = result.coordination.set_index(col.PARTNER)
    assert list(result.coordination.columns) == list(col.TABLES["coordination"])
    assert cn.loc["SOL", col.CN_MOLECULES] == pytest.approx(5 / 4) and cn.loc["SOL", col.CN_ATOMS] == pytest.approx(5 / 4)
    assert cn.loc["ANI", col.CN_MOLECULES] == pytest.approx(1 / 4) and cn.loc["ANI", col.CN_ATOMS] == pytest.approx(2 / 4)
    assert (cn[col.CN_MOLECULES_ERR] == 0).all() and (cn[col.CUTOFF_SOURCE] == "user").all()
    assert cn[col.CUTOFF_NM].tolist() == [0.3, 0.3] and (cn[col.N_FRAMES] == 6).all() and (cn[col.N_CATIONS] == 4).all()


def test_speciation_entropy_has_its_closed_form(shells_run):
    _, result = shells_run
    spec = result.speciation.set_index(col.SHELL)
    assert list(result.speciation.columns) == ["cation", "shell", "n_sol", "n_ani", "fraction", "count", "fraction_err"]
    assert spec[col.FRACTION].to_dict() == {"SOL×2": 0.5, "SOL×1·ANI×1": 0.25, "empty": 0.25}
    assert spec[col.COUNT].to_dict() == {"SOL×2": 12, "SOL×1·ANI×1": 6, "empty": 6}
    assert spec.loc["SOL×1·ANI×1", ["n_sol", "n_ani"]].tolist() == [1, 1]
    row = result.shell_entropy.iloc[0]
    s = 1.5 * np.log(2)  # −(½ ln ½ + 2 · ¼ ln ¼)
    assert row[col.S_SHELL_R] == pytest.approx(s)
    assert row[col.S_SHELL_J_MOL_K] == pytest.approx(s * 8.314462618)
    assert row[col.S_SHELL_CI_LOW_R] == pytest.approx(s) and row[col.S_SHELL_CI_HIGH_R] == pytest.approx(s)
    assert row[col.N_COMPOSITIONS] == 3 and row[col.N_OBSERVATIONS] == 24
    x = np.array([5, 1]) / 6  # SOL and ANI among the shell members
    assert row[col.S_MIX_R] == pytest.approx(-(x * np.log(x)).sum())


def test_ion_pairing_and_clusters(shells_run):
    _, result = shells_run
    pairing = result.ion_pairing.iloc[0]
    assert (pairing[col.SSIP_FRACTION], pairing[col.CIP_FRACTION], pairing[col.AGG_FRACTION]) == (0.5, 0.5, 0.0)
    rows = {tuple(r[[col.N_CATION, col.N_ANION, col.NET_CHARGE]]): r[col.COUNT] for _, r in result.clusters.iterrows()}
    assert rows == {(1, 0, 1): 18, (1, 1, 0): 6, (0, 1, -1): 6}
    assert result.summary["clusters"]["free_fraction"] == {"Li": 0.75, "ANI": 0.5}
    assert result.summary["clusters"]["free_ion_fraction"] == pytest.approx(4 / 6)
    assert result.summary["clusters"]["mean_size_ions"] == pytest.approx(6 / 5)  # 6 ions in 5 clusters per frame
    assert result.zn_chains is None and result.summary["zn_chains"] is None


def test_other_cutoffs_from_the_same_contacts_and_precedence(shells_run):
    source, result = shells_run
    wider = result.with_cutoffs({(None, "SOL"): 0.3, ("Li", "SOL"): 0.45, (None, "ANI"): 0.3})
    assert wider.coordination.set_index(col.PARTNER).loc["SOL", col.CN_MOLECULES] == pytest.approx(6 / 4)
    fresh = analyze_solvation(source, {("Li", "SOL"): 0.45, (None, "ANI"): 0.3}, n_blocks=3)
    for name in TABLES:
        pd.testing.assert_frame_equal(getattr(wider, name), getattr(fresh, name))
    with pytest.raises(solvation.HeseInputError, match="exceed the contact range"):
        result.with_cutoffs({(None, "SOL"): 0.5})


def test_two_cations_bridged_by_one_anion(tmp_path):
    xyz = np.array([(1.0, 1.0, 1.0), (1.5, 1.0, 1.0), (1.1, 1.1, 1.0), (1.4, 1.1, 1.0), (1.25, 1.2, 1.0)])
    top, traj = write_trajectory(tmp_path, [(*LI, 2), (*ANI, 1)], _shifted(xyz, 4, seed=1), np.full(3, BOX))
    source = file_source(top, [traj], cations=["Li=resname LI"], anions=["ANI=resname ANI and name O1 O2"], charges=["ANI=-1"])
    result = analyze_solvation(source, {(None, "ANI"): 0.3}, n_blocks=2)
    pairing = result.ion_pairing.iloc[0]
    assert (pairing[col.SSIP_FRACTION], pairing[col.CIP_FRACTION], pairing[col.AGG_FRACTION]) == (0.0, 0.0, 1.0)
    assert result.clusters[[col.N_IONS, col.N_CATION, col.N_ANION, col.NET_CHARGE, col.COUNT]].values.tolist() == [
        [3, 2, 1, 1, 4]]
    cn = result.coordination.iloc[0]
    assert cn[col.CN_MOLECULES] == 1.0 and cn[col.CN_ATOMS] == 1.0
    assert result.speciation[col.SHELL].tolist() == ["ANI×1"]


def test_zn_cl_zn_chain(tmp_path):
    zn = [(0.5, 1, 1), (1.0, 1, 1), (1.5, 1, 1), (2.5, 2.5, 2.5)]
    cl = [(0.75, 1, 1), (1.25, 1, 1), (1.5, 1.25, 1), (2.5, 2.75, 2.5), (0.5, 2.5, 0.5)]
    molecules = [("ZN", ["Zn"], 4), ("CL", ["Cl"], 5)]
    top, traj = write_trajectory(tmp_path, molecules, _shifted(np.array(zn + cl, dtype=float), 6, seed=2),
                                 np.full(3, BOX))
    result = analyze_solvation(file_source(top, [traj], cations=["Zn=resname ZN"], anions=["Cl=resname CL"]),
                               {(None, "Cl"): 0.3}, n_blocks=3)
    chains = result.zn_chains.set_index(col.N_ZN)
    assert chains[col.COUNT].to_dict() == {1: 6, 3: 6} and chains[col.ZN_FRACTION].to_dict() == {1: 0.25, 3: 0.75}
    assert result.summary["zn_chains"]["bridged_zn_fraction"] == 0.75
    rows = {tuple(r[[col.N_CATION, col.N_ANION, col.NET_CHARGE]]): r[col.COUNT] for _, r in result.clusters.iterrows()}
    assert rows == {(3, 3, 3): 6, (1, 1, 1): 6, (0, 1, -1): 6}
    assert result.speciation.set_index(col.SHELL)[col.FRACTION].to_dict() == {"Cl×1": 0.5, "Cl×2": 0.5}
    pairing = result.ion_pairing.iloc[0]  # Cl0, Cl1 bridge two Zn; Cl2, Cl3 bind one; Cl4 is free
    assert [pairing[col.SSIP_FRACTION], pairing[col.CIP_FRACTION], pairing[col.AGG_FRACTION]] == pytest.approx(
        [0.2, 0.4, 0.4])


def _coordinated_walk(n_frames=60, n_li=16, n_bulk=120, seed=3):
    """Li on a lattice (jittered) with four O at 0.2 nm in random directions, bulk O 0.35 nm away from every Li."""
    rng = np.random.default_rng(seed)
    frames = []
    grid = np.stack(np.meshgrid(np.arange(4) * 0.75, np.arange(2) * 1.5, np.arange(2) * 1.5, indexing="ij"), -1)
    lattice = grid.reshape(-1, 3)[:n_li] + 0.3
    for _ in range(n_frames):
        li = lattice + rng.normal(0, 0.02, lattice.shape)
        directions = rng.normal(size=(n_li, 4, 3))
        shell = li[:, None] + 0.2 * directions / np.linalg.norm(directions, axis=-1, keepdims=True)
        bulk = []
        while len(bulk) < n_bulk:
            o = rng.uniform(0, BOX, 3)
            d = o - li
            d -= BOX * np.round(d / BOX)
            if (np.linalg.norm(d, axis=1) > 0.35).all():
                bulk.append(o)
        oxygens = np.concatenate([shell.reshape(-1, 3), np.array(bulk)])
        carbons = oxygens + np.array([0.0, 0.0, 0.14])
        sol = np.stack([oxygens, carbons], axis=1).reshape(-1, 3)
        frames.append(np.concatenate([li, sol]))
    return np.array(frames), [(*LI, n_li), (*SOL, n_li * 4 + n_bulk)]


@pytest.fixture(scope="module")
def walk(tmp_path_factory):
    positions, molecules = _coordinated_walk()
    top, traj = write_trajectory(tmp_path_factory.mktemp("walk"), molecules, wrap(positions, np.full(3, BOX)),
                                 np.full(3, BOX))
    return file_source(top, [traj], cations=["Li=resname LI"], solvents=["SOL=resname SOL and name O1"])


def test_automatic_cutoff_and_serial_equals_workers(walk):
    serial = analyze_solvation(walk, n_blocks=4, chunk_frames=8)
    cn = serial.coordination.iloc[0]
    assert cn[col.CUTOFF_SOURCE] == "auto" and 0.2 < cn[col.CUTOFF_NM] < 0.35  # in the gap (at its start, 0.2075)
    assert cn[col.CN_MOLECULES] == pytest.approx(4.0)
    parallel = analyze_solvation(walk, n_blocks=4, chunk_frames=8, workers=2)
    for name in TABLES:
        pd.testing.assert_frame_equal(getattr(serial, name), getattr(parallel, name), check_exact=True)
    assert serial.summary == parallel.summary


def test_an_automatic_cutoff_beyond_the_contact_range_reads_again(walk, monkeypatch):
    once = analyze_solvation(walk, n_blocks=4, frames=slice(0, 20))
    monkeypatch.setattr(cutoffs, "CONTACT_RANGE_NM", 0.1)
    twice = analyze_solvation(walk, n_blocks=4, frames=slice(0, 20))
    assert twice.data.contacts.range_nm == once.coordination.iloc[0][col.CUTOFF_NM]
    for name in TABLES:
        pd.testing.assert_frame_equal(getattr(once, name), getattr(twice, name))
    assert any("read a second time" in w for w in twice.summary["warnings"])


def test_entropy_kernels_and_bootstrap_interval_shrinks_with_more_data():
    assert speciation.shell_entropy([2, 1, 1]) == pytest.approx(1.5 * np.log(2))
    assert speciation.shell_entropy([7]) == 0.0
    p = np.array([0.5, 0.3, 0.15, 0.05])
    true = -(p * np.log(p)).sum()
    rng = np.random.default_rng(0)
    widths = []
    for per_block in (30, 300, 30000):
        low, high = speciation.bootstrap_interval(rng.multinomial(per_block, p, size=10))
        widths.append(high - low)
    assert widths[0] > widths[1] > widths[2] > 0
    assert low - widths[2] <= true <= high + widths[2]
    assert speciation.bootstrap_interval(np.tile([5, 3, 2], (6, 1))) == pytest.approx((speciation.shell_entropy([5, 3, 2]),) * 2)


def test_composition_codes_decode_in_both_representations():
    rng = np.random.default_rng(1)
    sizes = rng.integers(1, 9, 50)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    partner = rng.integers(0, 3, sizes.sum())
    dense = np.add.reduceat(np.eye(3, dtype=int)[partner], starts)
    codes, decode = speciation.composition_codes(starts, partner, 3)
    np.testing.assert_array_equal(decode(codes), dense)
    assert (codes > 0).all() and decode(np.array([0])).tolist() == [[0, 0, 0]]  # 0: the empty shell
    codes, decode = speciation.composition_codes(starts, partner, 40)  # 9 ** 40 > 2 ** 62: counted vectors
    np.testing.assert_array_equal(decode(codes)[:, :3], dense)
    assert (codes > 0).all() and not decode(np.array([0])).any()


def test_partner_molecules_from_fragments_when_residues_are_not_set():
    u = mda.Universe.empty(6, n_residues=1, atom_resindex=[0] * 6, trajectory=True)
    u.add_TopologyAttr("bonds", [(0, 1), (2, 3), (4, 5)])
    np.testing.assert_array_equal(molecule_ids(u.atoms, None, "X"), [0, 0, 1, 1, 2, 2])
    np.testing.assert_array_equal(molecule_ids(u.atoms[[0, 2, 4]], None, "X"), [0, 1, 2])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plain = mda.Universe.empty(4, n_residues=2, atom_resindex=[0, 0, 1, 1], trajectory=True)
    np.testing.assert_array_equal(molecule_ids(plain.atoms, None, "X"), [0, 0, 1, 1])
    np.testing.assert_array_equal(molecule_ids(plain.atoms, 4, "X"), [0, 1, 2, 3])


def test_shell_labels_keep_names_that_end_in_a_digit_apart_from_their_counts():
    assert speciation.shell_label([2, 0, 1], ["DME", "FSI", "NO3"]) == "DME×2·NO3×1"
    assert speciation.shell_label([1], ["PF6"]) == "PF6×1" and speciation.shell_label([0, 0], ["DME", "NO3"]) == "empty"
    label = speciation.shell_label([12, 3], ["NO3", "SO4"])
    assert [part.rsplit("×", 1) for part in label.split("·")] == [["NO3", "12"], ["SO4", "3"]]


def test_bound_fraction_counts_a_shared_molecule_once_per_cation_type_and_overall(tmp_path):
    """Li0 and Zn share SOL0; Li0 and Li1 share SOL1; SOL2 and SOL3 are free: Li 2/4, Zn 1/4, any 2/4."""
    li, zn = [(1.0, 1.0, 1.0), (1.0, 1.5, 1.0)], [(1.5, 1.0, 1.0)]
    oxygens = [(1.25, 1.0, 1.0), (0.9, 1.25, 1.0), (2.5, 2.5, 2.5), (2.5, 0.5, 0.5)]
    sol = [a for o in oxygens for a in (o, (o[0], o[1], o[2] + 0.1))]
    molecules = [(*LI, 2), ("ZN", ["Zn"], 1), (*SOL, 4)]
    top, traj = write_trajectory(tmp_path, molecules, _shifted(np.array(li + zn + sol), 4, seed=4), np.full(3, BOX))
    source = file_source(top, [traj], cations=["Li=resname LI", "Zn=resname ZN"], solvents=["SOL=resname SOL and name O1"],
                         charges=["Zn=2"])
    result = analyze_solvation(source, {(None, "SOL"): 0.3}, n_blocks=2)
    bound = result.bound_fraction.set_index(col.CATION)
    assert list(result.bound_fraction.columns) == list(col.TABLES["bound_fraction"])
    assert bound[col.BOUND_FRACTION].to_dict() == {"Li": 0.5, "Zn": 0.25, "any": 0.5}
    assert (bound[col.BOUND_FRACTION_ERR] == 0).all() and (bound[col.N_MOLECULES] == 4).all()
    assert result.coordination.set_index(col.CATION).loc["Li", col.CN_MOLECULES] == 1.5  # 3 memberships, 2 molecules
    assert result.summary["bound_fraction"] == {"Li": {"SOL": 0.5}, "Zn": {"SOL": 0.25}, "any": {"SOL": 0.5}}


def test_bound_fraction_of_the_constructed_shells(shells_run):
    _, result = shells_run
    bound = result.bound_fraction.set_index([col.CATION, col.PARTNER])[col.BOUND_FRACTION].to_dict()
    assert bound == {("Li", "SOL"): 5 / 6, ("Li", "ANI"): 0.5, ("any", "SOL"): 5 / 6, ("any", "ANI"): 0.5}

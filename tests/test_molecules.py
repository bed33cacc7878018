"""One molecule-grouping rule for every analysis: a foreign topology with bonds but no residues."""

import MDAnalysis as mda
import numpy as np
import pytest
from MDAnalysis.coordinates.memory import MemoryReader

from hese.analysis import frames
from hese.analysis.inputs import file_source
from hese.analysis.molecules import Molecules, molecule_ids
from hese.analysis.solvation import analyze_solvation
from hese.analysis.transport import analyze_transport
from hese.analysis.water import analyze_water
from tests.analysis_helpers import write_universe

N_LI, N_WATER, N_FRAMES, BOX = 4, 8, 40, 2.0


@pytest.fixture(scope="module")
def no_residues(tmp_path_factory):
    """Li ions, then every water oxygen, then every water hydrogen (H, H of water 0, …): one residue for
    all atoms, the waters told apart only by their bonds (PDB CONECT records); a short XTC of random walks."""
    rng = np.random.default_rng(11)
    sites = rng.uniform(0, BOX, (1, N_LI + N_WATER, 3)) + np.cumsum(rng.normal(0, 0.01, (N_FRAMES, N_LI + N_WATER, 3)),
                                                                     axis=0)
    li, oxygen = sites[:, :N_LI], sites[:, N_LI:]
    hydrogens = oxygen[:, :, None] + np.array([[0.08, 0.06, 0.0], [-0.08, 0.06, 0.0]])
    positions = np.concatenate([li, oxygen, hydrogens.reshape(N_FRAMES, -1, 3)], axis=1) % BOX
    names = ["Li"] * N_LI + ["O"] * N_WATER + ["H"] * 2 * N_WATER
    u = mda.Universe.empty(len(names), trajectory=True)
    u.add_TopologyAttr("names", names)
    u.add_TopologyAttr("elements", names)
    first_h = N_LI + N_WATER
    u.add_TopologyAttr("bonds", [(N_LI + w, first_h + 2 * w + k) for w in range(N_WATER) for k in (0, 1)])
    dims = np.tile([BOX * 10, BOX * 10, BOX * 10, 90, 90, 90], (N_FRAMES, 1))
    u.load_new((positions * 10).astype(np.float32), format=MemoryReader, dimensions=dims, dt=1.0)
    folder = tmp_path_factory.mktemp("no_residues")
    top, traj = write_universe(u, folder / "topology.pdb", folder / "trajectory.xtc")
    molecule = np.concatenate([np.zeros(N_LI, int), np.arange(N_WATER), np.repeat(np.arange(N_WATER), 2)])
    return top, traj, molecule  # the known answer: water molecule of each water atom (Li: unused)


def _molecule_of_atom(molecules: Molecules) -> dict[int, int]:
    sizes = np.diff(np.append(molecules.starts, len(molecules.indices)))
    return dict(zip(molecules.indices.tolist(), np.repeat(np.arange(molecules.n_molecules), sizes).tolist(),
                    strict=True))


def test_bonds_without_residues_group_the_same_in_every_analysis(no_residues):
    top, traj, known = no_residues
    universe = frames.open_universe(top, [traj])
    water_atoms = frames.select(universe, "name O H", "test")
    assert len(set(water_atoms.resindices)) == 1  # residues do not separate the molecules
    expected = {int(i): int(known[i]) for i in water_atoms.indices}
    np.testing.assert_array_equal(molecule_ids(water_atoms, None, "water"), known[water_atoms.indices])
    assert _molecule_of_atom(Molecules.from_atoms("water", water_atoms)) == expected

    transport = analyze_transport([file_source(top, [traj], ["Li=name Li", "water=name O H"])], 300.0, n_blocks=2)
    assert {n: s["n_molecules"] for n, s in transport.summary["species"].items()} == {"Li": N_LI, "water": N_WATER}

    water = analyze_water(file_source(top, [traj], ["water=name O H"]), n_blocks=2)
    assert water.summary["n_molecules"] == N_WATER

    solvation = analyze_solvation(file_source(top, [traj], cations=["Li=name Li"], solvents=["water=name O H"]),
                                  {(None, "water"): 0.3}, n_blocks=2)
    assert solvation.summary["species"]["water"]["count"] == N_WATER
    system = solvation.system
    assert dict(zip(system.partner_atoms.tolist(), system.atom_molecule.tolist(), strict=True)) == expected

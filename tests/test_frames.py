"""The streaming frame reader: centres of mass, unwrapping under a changing box, bad input."""

import MDAnalysis as mda
import numpy as np
import pytest
from analysis_helpers import write_trajectory

from hese.analysis import frame_readers, frames
from hese.analysis.centres import centres_of_mass, read_centres_of_mass
from hese.analysis.molecules import Molecules
from hese.errors import HeseInputError

MASSES = np.array([12.011, 15.999])  # C, O: a rigid diatomic, 0.12 nm long
BOND = 0.12


def _barostat_dynamics(rng, n_frames, n, box0, step_rms):
    """Molecules diffusing in a box that breathes ±5 %; the barostat scales centres with the box.

    Returns the boxes (F, 3), the wrapped centres (F, n, 3) and the reference unwrapped centres,
    the sum of the true displacements: scaling of the wrapped position plus the random step.
    """
    boxes = box0 * (1 + 0.05 * np.sin(2 * np.pi * np.arange(n_frames) / 40))[:, None] * np.ones(3)
    wrapped = np.empty((n_frames, n, 3))
    ref = np.empty((n_frames, n, 3))
    wrapped[0] = ref[0] = rng.uniform(0, box0, (n, 3))
    for i in range(1, n_frames):
        move = wrapped[i - 1] * (boxes[i] / boxes[i - 1] - 1) + rng.normal(0, step_rms, (n, 3))
        ref[i] = ref[i - 1] + move
        w = wrapped[i - 1] + move
        wrapped[i] = w - boxes[i] * np.floor(w / boxes[i])
    return boxes, wrapped, ref


def _diatomics(rng, centres, boxes):
    """Atom positions (F, 2n, 3) of randomly oriented diatomics around ``centres``, each atom wrapped alone."""
    axis = rng.normal(size=centres.shape)
    axis *= BOND / np.linalg.norm(axis, axis=-1, keepdims=True)
    share = MASSES[::-1] / MASSES.sum()  # C sits share[0]·bond from the centre, O share[1]·bond on the other side
    atoms = np.stack([centres - share[0] * axis, centres + share[1] * axis], axis=2).reshape(len(centres), -1, 3)
    return atoms - boxes[:, None, :] * np.floor(atoms / boxes[:, None, :])


def _read(tmp_path, atoms, boxes, chunk=frames.CHUNK_FRAMES, dt=2.0, unwrap=True):
    top, traj = write_trajectory(tmp_path, [("DIA", ["C1", "O1"], atoms.shape[1] // 2)], atoms, boxes, dt)
    u = frames.open_universe(top, [traj])
    mols = Molecules.from_atoms("DIA", frames.select(u, "resname DIA", "test"))
    return read_centres_of_mass(u, [mols], unwrap=unwrap, chunk_frames=chunk)


def test_unwrapping_across_box_edges_with_changing_box(tmp_path):
    rng = np.random.default_rng(3)
    boxes, wrapped, ref = _barostat_dynamics(rng, 120, 40, 2.0, 0.06)
    atoms = _diatomics(rng, wrapped, boxes)
    got = _read(tmp_path, atoms, boxes, chunk=16)
    com = got.positions_nm["DIA"]
    np.testing.assert_allclose(got.boxes_nm, boxes, atol=1e-5)
    np.testing.assert_allclose(got.times_ps, 2.0 * np.arange(120), atol=1e-4)
    # the test crosses boundaries, breaks molecules and changes the box enough to matter
    assert np.sum(np.abs(np.diff(wrapped, axis=0)) > 1.0) > 50
    assert np.any(np.abs(atoms[:, 0::2] - atoms[:, 1::2]) > 1.0)
    np.testing.assert_allclose(com - com[0], ref - ref[0], atol=3e-3)  # XTC keeps 0.001 nm
    crossings = np.cumsum(np.round(np.diff(wrapped, axis=0) / boxes[1:, None, :]), axis=0)
    naive = wrapped[1:] - crossings * boxes[1:, None, :]  # counting crossings ignores the box change
    assert np.abs((naive - wrapped[0]) - (ref[1:] - ref[0])).max() > 0.05


def test_centres_of_mass_of_broken_molecules_and_chunking(tmp_path):
    rng = np.random.default_rng(4)
    boxes, wrapped, _ = _barostat_dynamics(rng, 30, 25, 1.5, 0.05)
    atoms = _diatomics(rng, wrapped, boxes)
    one = _read(tmp_path / "a", atoms, boxes, chunk=1).positions_nm["DIA"]
    many = _read(tmp_path / "b", atoms, boxes, chunk=1000).positions_nm["DIA"]
    np.testing.assert_allclose(one, many, rtol=0, atol=1e-12)  # cumulative sums associate differently
    whole = _read(tmp_path / "c", atoms, boxes, unwrap=False).positions_nm["DIA"]
    offset = whole - wrapped
    np.testing.assert_allclose(offset - boxes[:, None, :] * np.round(offset / boxes[:, None, :]), 0, atol=2e-3)


def test_molecules_are_runs_of_one_residue():
    # residue 0 appears twice, as after MDAnalysis merges PDB residues whose ids wrapped around
    u = mda.Universe.empty(6, n_residues=2, atom_resindex=[0, 0, 1, 1, 0, 0], trajectory=True)
    u.add_TopologyAttr("masses", [1.0] * 6)
    mols = Molecules.from_atoms("x", u.atoms)
    np.testing.assert_array_equal(mols.starts, [0, 2, 4])
    assert mols.n_molecules == 3
    # neighbours merged into one residue (hybrid-36 residue ids of large PDB files) need the known count
    merged = mda.Universe.empty(6, n_residues=1, atom_resindex=[0] * 6, trajectory=True)
    merged.add_TopologyAttr("masses", [1.0] * 6)
    assert Molecules.from_atoms("x", merged.atoms).n_molecules == 1
    np.testing.assert_array_equal(Molecules.from_atoms("x", merged.atoms, 3).starts, [0, 2, 4])
    with pytest.raises(HeseInputError, match="6 selected atoms do not make 4 equal molecules"):
        Molecules.from_atoms("x", merged.atoms, 4)
    merged.atoms.masses = 0.0
    with pytest.raises(HeseInputError, match="molecules without mass"):
        Molecules.from_atoms("x", merged.atoms, 3)


def test_frames_too_far_apart_to_unwrap(tmp_path):
    rng = np.random.default_rng(5)
    boxes = np.full((12, 3), 2.0)
    centres = rng.uniform(0, 2.0, (12, 20, 3))  # every frame anywhere: wrapped-only and far apart
    with pytest.raises(HeseInputError, match=r"move 0\.\d+ box edges .* unwrapping needs at most 0\.0625"):
        _read(tmp_path, _diatomics(rng, centres, boxes), boxes)


def test_bad_files_and_selections(tmp_path):
    rng = np.random.default_rng(6)
    atoms = rng.uniform(0, 2, (3, 4, 3))
    top, traj = write_trajectory(tmp_path, [("DIA", ["C1", "O1"], 2)], atoms, [2.0, 2.0, 2.0])
    with pytest.raises(HeseInputError, match="missing.xtc: no such file"):
        frames.open_universe(top, [tmp_path / "missing.xtc"])
    other, _ = write_trajectory(tmp_path / "o", [("DIA", ["C1", "O1"], 3)], rng.uniform(0, 2, (1, 6, 3)), [2.0] * 3)
    with pytest.raises(HeseInputError, match="cannot read"):
        frames.open_universe(other, [traj])  # 6 atoms against 4
    u = frames.open_universe(top, [traj])
    with pytest.raises(HeseInputError, match="--species Li: selection 'resname LI' matches no atom"):
        frames.select(u, "resname LI", "--species Li")
    with pytest.raises(HeseInputError, match="invalid selection"):
        frames.select(u, "resname (", "--species Li")


def test_boxless_and_triclinic_frames(tmp_path):
    atoms = np.random.default_rng(8).uniform(0, 2, (2, 4, 3))
    top, _ = write_trajectory(tmp_path, [("DIA", ["C1", "O1"], 2)], atoms, [2.0] * 3)
    u = mda.Universe(str(top), atoms * 10.0, format=mda.coordinates.memory.MemoryReader)
    idx = np.arange(4)
    u.trajectory.dimensions_array[:] = 0.0
    with pytest.raises(HeseInputError, match="frame 0 has no periodic box"):
        list(frames.iter_chunks(u, idx, source="boxless"))
    u.trajectory.dimensions_array[:] = [20, 20, 20, 90, 90, 60]
    with pytest.raises(HeseInputError, match="triclinic"):
        list(frames.iter_chunks(u, idx, source="tilted"))


def _assert_direct_equals_mdanalysis(u, monkeypatch):
    """Chunks read by hese's direct reader equal those read through MDAnalysis, for several selections."""
    cases = [(np.arange(12), slice(None), 5), (np.arange(2, 9), slice(3, 20, 4), 2), (np.array([7, 0, 11]), slice(1), 1)]
    for indices, selected, chunk in cases:
        fast = list(frames.iter_chunks(u, indices, selected, chunk))
        with monkeypatch.context() as m:
            m.setattr(frames, "direct_reader", lambda reader: None)
            slow = list(frames.iter_chunks(u, indices, selected, chunk))
        assert len(fast) == len(slow) > 0
        for a, b in zip(fast, slow, strict=True):
            for field in ("frames", "times_ps", "boxes_nm", "positions_nm"):
                np.testing.assert_array_equal(getattr(a, field), getattr(b, field), err_msg=field)


def test_direct_xtc_reading_equals_mdanalysis_reader(tmp_path, monkeypatch):
    rng = np.random.default_rng(9)
    boxes, wrapped, _ = _barostat_dynamics(rng, 23, 6, 1.5, 0.05)
    atoms = _diatomics(rng, wrapped, boxes)
    top, traj = write_trajectory(tmp_path, [("DIA", ["C1", "O1"], 6)], atoms, boxes, 0.5)
    u = frames.open_universe(top, [traj])
    _assert_direct_equals_mdanalysis(u, monkeypatch)
    direct = frame_readers.direct_xtc(u.trajectory)
    assert direct is not None
    direct.close()


def test_direct_dcd_reading_equals_mdanalysis_reader(tmp_path, monkeypatch):
    rng = np.random.default_rng(10)
    boxes, wrapped, _ = _barostat_dynamics(rng, 23, 6, 1.5, 0.05)
    atoms = _diatomics(rng, wrapped, boxes)
    top, _ = write_trajectory(tmp_path, [("DIA", ["C1", "O1"], 6)], atoms, boxes, 0.5)
    dims = np.column_stack([boxes * 10.0, np.full((len(boxes), 3), 90.0)])
    dims[5:9] = dims[5]  # a run of frames with one box
    u = mda.Universe(str(top), atoms * 10.0, format=mda.coordinates.memory.MemoryReader, dimensions=dims, dt=0.5)
    with mda.Writer(str(tmp_path / "t.dcd"), u.atoms.n_atoms, dt=0.5) as writer:
        for _ in u.trajectory:
            writer.write(u.atoms)
    u = frames.open_universe(top, [tmp_path / "t.dcd"])
    _assert_direct_equals_mdanalysis(u, monkeypatch)
    direct = frame_readers.direct_reader(u.trajectory)
    assert isinstance(direct, frame_readers.DirectDCD)
    direct.close()
    for unitcell in ([20.0, 0.0, 30.0, 0.0, 0.0, 40.0], [20.0, 90.0, 30.0, 90.0, 90.0, 40.0],
                     [20.0, 0.0, 30.0, -1.0, 0.5, 40.0], [0.0, 90.0, 0.0, 90.0, 90.0, 0.0]):
        ts = u.trajectory.ts.copy()
        u.trajectory._frame_to_ts(mda.lib.formats.libdcd.DCDFrame(np.zeros((12, 3), np.float32),
                                                                 np.array(unitcell)), ts)
        expected = np.full(6, np.nan) if ts.dimensions is None else ts.dimensions
        dims = np.empty((1, 6))
        frame_readers.read_dcd(_OneFrame(unitcell), np.array([0]), slice(0, 1), np.empty((1, 1, 3), np.float32),
                               np.empty(1), dims)
        np.testing.assert_array_equal(dims[0], expected)


class _OneFrame:
    """A stand-in DirectDCD whose file holds one frame of one atom with the unit cell record given."""

    def __init__(self, unitcell):
        frame = mda.lib.formats.libdcd.DCDFrame(np.zeros((1, 3), np.float32), np.array(unitcell, dtype=float))
        self.file = type("File", (), {"seek": lambda self, n: None, "read": lambda self: frame})()
        self.dt, self.first, self.time_offset = 1.0, 0.0, 0.0


def test_centres_of_mass_of_molecules_of_different_sizes_and_equal_sizes():
    rng = np.random.default_rng(10)
    boxes = rng.uniform(1.8, 2.2, (4, 3))
    for sizes in ([1, 3, 2, 3], [3, 3, 3]):
        starts = np.cumsum([0] + sizes[:-1])
        masses = rng.uniform(1, 16, sum(sizes))
        centres = rng.uniform(0, 2, (4, len(sizes), 3))
        offsets = rng.normal(0, 0.1, (4, sum(sizes), 3))
        atoms = np.repeat(centres, sizes, axis=1) + offsets  # molecules spread around their centre
        atoms -= boxes[:, None, :] * np.floor(atoms / boxes[:, None, :])  # and broken across the box
        got = centres_of_mass(atoms, boxes, starts, masses)
        first = np.repeat(atoms[:, starts], sizes, axis=1)
        whole = first + offsets - np.repeat(offsets[:, starts], sizes, axis=1)  # made whole around the first atom
        expected = np.add.reduceat(whole * masses[:, None], starts, axis=1) / np.add.reduceat(masses, starts)[:, None]
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)

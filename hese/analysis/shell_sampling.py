"""Which shells to extract: shell point sets in canonical order, their RMSD, diverse examples.

Shell geometry and RMSD
-----------------------
A shell of composition :math:`\\mathbf n` is represented by one point per partner molecule: the
vector :math:`\\mathbf x_k` from the cation to the molecule's coordinating atom nearest to it
(minimum image). The points are put in a canonical order: by partner species (solvents, then
anions, as in the tables), and within a species by distance to the cation. Permutations within a
species are not searched: ordering by distance is the cheap stand-in, so two shells that differ
only by a relabelling of equidistant partners may come out further apart than they are. The
cation sits at the origin, so only rotations about it are fitted (Kabsch):

.. math:: \\mathrm{RMSD}(X, Y) = \\min_{R \\in SO(3)} \\Big( \\frac1n \\sum_{k=1}^{n}
          \\lVert R\\,\\mathbf x_k - \\mathbf y_k \\rVert^2 \\Big)^{1/2}
          = \\Big( \\frac{\\sum_k \\lVert\\mathbf x_k\\rVert^2 + \\lVert\\mathbf y_k\\rVert^2
          - 2(\\sigma_1 + \\sigma_2 + d\\,\\sigma_3)}{n} \\Big)^{1/2}

with :math:`\\sigma_i` the singular values of :math:`H = \\sum_k \\mathbf x_k \\mathbf y_k^\\top`
and :math:`d = \\operatorname{sign}\\det H` (no reflections).

Diverse examples
----------------
Farthest-point sampling over the observations of one composition, in (frame, cation) order: the
first example is the first observation, each further one the observation farthest from all
examples chosen so far (ties: the earliest),

.. math:: e_{j+1} = \\operatorname{arg\\,max}_i \\; \\min_{l \\le j} \\mathrm{RMSD}(X_i, X_{e_l}).
"""

from __future__ import annotations

from dataclasses import dataclass

import MDAnalysis as mda
import numpy as np

from hese.analysis.contacts import SolvationSystem
from hese.analysis.frames import iter_chunks
from hese.analysis.neighbors import minimum_image


def shell_rmsd(shells: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """RMSD (N,) of each shell (N, n, 3) to ``reference`` (n, 3) after the best rotation about the origin.

    .. math:: \\mathrm{RMSD} = \\Big( \\frac{\\sum_k \\lVert\\mathbf x_k\\rVert^2 + \\lVert\\mathbf y_k\\rVert^2
              - 2(\\sigma_1 + \\sigma_2 + d\\,\\sigma_3)}{n} \\Big)^{1/2}

    with :math:`\\sigma_i` the singular values of :math:`H = \\sum_k \\mathbf x_k \\mathbf y_k^\\top`
    (descending) and :math:`d = \\operatorname{sign}\\det H`, so that the fitted map is a proper
    rotation (Kabsch). Units as given.
    """
    shells, reference = np.asarray(shells, dtype=float), np.asarray(reference, dtype=float)
    h = np.einsum("nki,kj->nij", shells, reference)
    sigma = np.linalg.svd(h, compute_uv=False)
    sigma[:, -1] *= np.where(np.linalg.det(h) < 0, -1.0, 1.0)
    msd = (np.sum(shells**2, axis=(1, 2)) + np.sum(reference**2) - 2 * sigma.sum(axis=1)) / reference.shape[0]
    return np.sqrt(np.maximum(msd, 0.0))


def farthest_points(shells: np.ndarray, k: int) -> np.ndarray:
    """Indices of ``k`` shells (N, n, 3) by farthest-point sampling on :func:`shell_rmsd`, in the order picked.

    The first is shell 0; each next one maximises the RMSD to the nearest shell picked so far,
    :math:`e_{j+1} = \\operatorname{arg\\,max}_i \\min_{l \\le j} \\mathrm{RMSD}(X_i, X_{e_l})`, ties
    to the lowest index. Fewer than ``k`` where there are fewer shells.
    """
    picks = [0]
    nearest = shell_rmsd(shells, shells[0])
    nearest[0] = -np.inf
    while len(picks) < min(k, len(shells)):
        picks.append(int(np.argmax(nearest)))
        nearest = np.minimum(nearest, shell_rmsd(shells, shells[picks[-1]]))
        nearest[picks[-1]] = -np.inf
    return np.array(picks)


@dataclass(frozen=True)
class ShellPoints:
    """Per shell membership of the observations asked for, in canonical order: cation–nearest-atom vector and atom.

    ``first[g]`` is the offset of observation g's members in ``vector`` / ``anchor`` / ``row``
    (−1 for observations not asked for); each observation's members are ``size[g]`` rows on.
    """

    first: np.ndarray
    size: np.ndarray
    vector: np.ndarray
    anchor: np.ndarray
    row: np.ndarray

    def vectors(self, observations: np.ndarray) -> np.ndarray:
        """Point sets (G, n, 3) of observations of one composition."""
        n = int(self.size[observations[0]])
        at = self.first[observations][:, None] + np.arange(n)[None, :]
        return self.vector[at]

    def members(self, g: int) -> slice:
        """The rows of observation g."""
        return slice(int(self.first[g]), int(self.first[g] + self.size[g]))


def shell_points(universe: mda.Universe, system: SolvationSystem, data, sh, starts: np.ndarray,
                 observations: np.ndarray, chunk_frames: int, label: str) -> ShellPoints:
    """Read the frames of ``observations`` and find, per shell member, the coordinating atom nearest to the cation."""
    size = np.diff(np.append(starts, len(sh.frame)))
    observations = np.sort(observations)
    rows = np.repeat(starts[observations], size[observations]) + _ramps(size[observations])
    slot_order = np.argsort(system.atom_molecule, kind="stable")
    per_molecule = np.bincount(system.atom_molecule, minlength=len(system.molecule_type))
    slot_start = np.concatenate([[0], np.cumsum(per_molecule)[:-1]])
    molecule = sh.molecule[rows]
    member = np.repeat(np.arange(len(rows)), per_molecule[molecule])
    slot = slot_order[np.repeat(slot_start[molecule], per_molecule[molecule]) + _ramps(per_molecule[molecule])]
    frame = sh.frame[rows][member]
    cation = sh.cation[rows][member]
    offset = np.zeros((len(slot), 3))
    n_cations = len(system.cation_atoms)
    indices = np.concatenate([system.cation_atoms, system.partner_atoms])
    lo, hi = int(frame.min()), int(frame.max())
    step = int(data.frames[1] - data.frames[0]) if len(data.frames) > 1 else 1
    done = lo
    for chunk in iter_chunks(universe, indices, slice(int(data.frames[lo]), int(data.frames[hi]) + 1, step),
                             chunk_frames, label):
        here = np.flatnonzero((frame >= done) & (frame < done + len(chunk.frames)))
        f = frame[here] - done
        r = chunk.positions_nm
        offset[here] = minimum_image(r[f, n_cations + slot[here]] - r[f, cation[here]], chunk.boxes_nm[f])
        done += len(chunk.frames)
    distance = np.linalg.norm(offset, axis=1)
    nearest = np.lexsort((distance, member))
    nearest = nearest[np.concatenate([[True], member[nearest][1:] != member[nearest][:-1]])]  # one per member
    owner = np.repeat(np.arange(len(observations)), size[observations])
    order = np.lexsort((distance[nearest], system.molecule_type[molecule], owner))
    first = np.full(len(starts), -1)
    first[observations] = np.concatenate([[0], np.cumsum(size[observations])[:-1]])
    return ShellPoints(first, size, offset[nearest][order], system.partner_atoms[slot[nearest]][order], rows[order])


def _ramps(lengths: np.ndarray) -> np.ndarray:
    """0 … n−1 for each n of ``lengths``, concatenated."""
    lengths = np.asarray(lengths, dtype=np.int64)
    return np.arange(int(lengths.sum())) - np.repeat(np.cumsum(lengths) - lengths, lengths)

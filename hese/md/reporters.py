"""Thermodynamic rows and trajectory frames, written in chunks that end at checkpoints.

A chunk holds what a stage produced between two checkpoints: ``traj-<first step>.xtc`` (frames
at steps after ``first step``) and ``thermo-<first step>.parquet``. A chunk counts only once the
stage's ``progress.json`` lists it, so a job killed in the middle of a chunk leaves files that
the next run deletes and writes again. XTC files are a plain sequence of frames, so the chunks
of a stage concatenate byte by byte into one trajectory.

Thermo columns (units in the names): ``step``, ``time_ps``, ``temperature_k``,
``potential_energy_kj_mol``, ``kinetic_energy_kj_mol``, ``total_energy_kj_mol``,
``volume_nm3``, ``density_g_cm3``, ``box_x_nm``, ``box_y_nm``, ``box_z_nm``. The temperature is
the instantaneous kinetic temperature :math:`T = 2 K / (N_{dof} k_B)` with
:math:`N_{dof} = 3 N_{massive} - N_{constraints} - 3` (the last 3 when the centre-of-mass
motion is removed); the density is :math:`\\rho = \\sum_i m_i / (N_A V)`.
"""

from __future__ import annotations

import io
import os
import shutil
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import openmm as mm
import pandas as pd
from MDAnalysis.lib.formats.libmdaxdr import XTCFile  # the XTC writer of MDAnalysis (imported before any MD)
from openmm import unit
from scipy.constants import Avogadro as AVOGADRO  # CODATA 2018
from scipy.constants import gas_constant

from hese.io import atomic_output, atomic_write, read_table

THERMO_COLUMNS = (
    "step", "time_ps", "temperature_k", "potential_energy_kj_mol", "kinetic_energy_kj_mol",
    "total_energy_kj_mol", "volume_nm3", "density_g_cm3", "box_x_nm", "box_y_nm", "box_z_nm",
)
#: Boltzmann constant in kJ/(mol K).
KB_KJ_MOL_K = gas_constant / 1000
XTC_PRECISION = 1000.0  # 0.001 nm


class Thermo:
    """Turns OpenMM states into rows of :data:`THERMO_COLUMNS` for one System."""

    def __init__(self, system: mm.System):
        n = system.getNumParticles()
        masses = np.array([system.getParticleMass(i).value_in_unit(unit.dalton) for i in range(n)])
        massive = masses > 0
        constraints = sum(
            1 for k in range(system.getNumConstraints())
            if massive[system.getConstraintParameters(k)[0]] and massive[system.getConstraintParameters(k)[1]]
        )
        com = any(isinstance(f, mm.CMMotionRemover) for f in system.getForces())
        self.dof = 3 * int(massive.sum()) - constraints - (3 if com else 0)
        self.mass_g_mol = float(masses.sum())
        self.n_particles = system.getNumParticles()

    def row(self, state: mm.State, step: int, time_ps: float) -> tuple:
        """One thermo row of a state taken with ``getEnergy=True``."""
        pe = state.getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole)
        ke = state.getKineticEnergy().value_in_unit(unit.kilojoule_per_mole)
        a, b, c = state.getPeriodicBoxVectors().value_in_unit(unit.nanometer)
        volume = a[0] * b[1] * c[2]
        density = self.mass_g_mol / AVOGADRO / (volume * 1e-21)
        temperature = 2 * ke / (self.dof * KB_KJ_MOL_K) if self.dof > 0 else 0.0
        return (step, time_ps, temperature, pe, ke, pe + ke, volume, density, a[0], b[1], c[2])


def thermo_frame(rows: Sequence[tuple]) -> pd.DataFrame:
    """Rows as a table with :data:`THERMO_COLUMNS` (``step`` as int64, the rest float64)."""
    df = pd.DataFrame(list(rows), columns=list(THERMO_COLUMNS))
    return df.astype({c: ("int64" if c == "step" else "float64") for c in THERMO_COLUMNS})


def parquet_bytes(df: pd.DataFrame) -> bytes:
    """A table as Parquet bytes (to write atomically)."""
    buf = io.BytesIO()
    df.to_parquet(buf, index=False)
    return buf.getvalue()


class OutputChunk:
    """Frames and thermo rows from one checkpoint to the next (see the module docstring).

    Frames go to the XTC file as they come; thermo rows are kept in memory (one small row each)
    and written when the chunk is committed.
    """

    def __init__(self, folder: Path, first_step: int, trajectory: bool):
        self.folder = Path(folder)
        self.first_step = first_step
        self.trajectory = trajectory
        self.rows: list[tuple] = []
        self._xtc = None
        self.n_frames = 0

    @property
    def xtc_name(self) -> str:
        """File name of the chunk's frames."""
        return f"traj-{self.first_step:012d}.xtc"

    @property
    def thermo_name(self) -> str:
        """File name of the chunk's thermo rows."""
        return f"thermo-{self.first_step:012d}.parquet"

    def add_row(self, row: tuple) -> None:
        """Keep one thermo row."""
        self.rows.append(row)

    def add_frame(self, xyz_nm: np.ndarray, box_nm: np.ndarray, step: int, time_ps: float) -> None:
        """Append one frame (positions and box in nm) to the chunk's XTC file."""
        if self._xtc is None:
            self._xtc = XTCFile(str(self.folder / self.xtc_name), "w")
        self._xtc.write(np.asarray(xyz_nm, dtype=np.float32), np.asarray(box_nm, dtype=np.float32),
                        int(step), float(time_ps), XTC_PRECISION)
        self.n_frames += 1

    def commit(self) -> list[str]:
        """Close and flush the chunk's files to disk; return their names (none when empty)."""
        names = []
        if self._xtc is not None:
            self._xtc.close()
            self._xtc = None
            _fsync(self.folder / self.xtc_name)
            names.append(self.xtc_name)
        if self.rows:
            atomic_write(self.folder / self.thermo_name, parquet_bytes(thermo_frame(self.rows)))
            names.append(self.thermo_name)
        return names

    def discard(self) -> None:
        """Close without keeping anything (a failed stage)."""
        if self._xtc is not None:
            self._xtc.close()
            self._xtc = None
        self.rows = []


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def read_thermo(folder: Path, names: Iterable[str]) -> pd.DataFrame:
    """The thermo rows of the listed chunks, in order."""
    remedy = "delete the md/restart folder and rerun hese simulate"
    parts = [read_table(Path(folder) / n, remedy) for n in names if n.startswith("thermo-")]
    return pd.concat(parts, ignore_index=True) if parts else thermo_frame([])


def concatenate_xtc(paths: Sequence[Path], out: Path) -> Path:
    """Concatenate XTC files (byte by byte) into ``out``, atomically."""
    out = Path(out)
    with atomic_output(out) as dst:
        for p in paths:
            with open(p, "rb") as src:
                shutil.copyfileobj(src, dst, 16 << 20)
    return out


def xtc_times(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Steps and times (ps) of every frame of an XTC file (reads the whole file)."""
    steps, times = [], []
    with XTCFile(str(path)) as f:
        for frame in f:
            steps.append(frame.step)
            times.append(frame.time)
    return np.asarray(steps, dtype=np.int64), np.asarray(times, dtype=np.float64)

"""Self-diffusion and ionic conductivity from molecule centres of mass.

Definitions (docs/theory.md; units nm, ps, K inside, SI where a column name says so):

- Mean squared displacement of species s, over its :math:`N_s` molecules and all time origins,
  computed by FFT in :math:`O(F \\log F)` for F frames (Kneller et al., Comput. Phys. Commun.
  91, 191 (1995); Calandrini et al., École thématique SFN 12, 201 (2011)):

  .. math:: \\mathrm{MSD}_s(\\tau) = \\frac{1}{N_s} \\sum_{i \\in s}
            \\langle |\\mathbf r_i(t + \\tau) - \\mathbf r_i(t)|^2 \\rangle_t

- Self-diffusion coefficients fitted in the diffusive window, with the Yeh–Hummer correction:
  :mod:`hese.analysis.diffusion`.
- Nernst–Einstein and Einstein–Helfand conductivities and the Haven ratio:
  :mod:`hese.analysis.conductivity`; Onsager coefficients and transference numbers:
  :mod:`hese.analysis.onsager`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from pathlib import Path

import MDAnalysis as mda
import numpy as np
import pandas as pd

from hese.analysis import columns as col
from hese.analysis.blocks import block_bounds
from hese.analysis.centres import read_centres_of_mass
from hese.analysis.conductivity import conductivity_tables, haven_ratios
from hese.analysis.diffusion import diffusion_table, fit_diffusion
from hese.analysis.frames import CHUNK_FRAMES, frame_numbers, open_universe, select
from hese.analysis.inputs import Source
from hese.analysis.integrity import check_complete
from hese.analysis.molecules import Molecules
from hese.analysis.msd import MIN_WINDOW_FACTOR, SLOPE_TOLERANCE, diffusive_window, msd_fft
from hese.analysis.tables import json_number, write_table
from hese.analysis.threads import thread_pool
from hese.errors import HeseInputError
from hese.io import write_json

MIN_MAX_LAG = 8  # frames: the shortest fit range that can hold a window


@dataclass(frozen=True)
class _Run:
    label: str
    dt_ps: float
    volume_nm3: np.ndarray  # (F,)
    positions: dict[str, np.ndarray]  # species → (F, M, 3)
    masses: dict[str, np.ndarray]  # species → molecule masses (M,), g/mol
    charges: dict[str, int]
    charge_scale: float


@dataclass(frozen=True)
class TransportResult:
    """Tables and summary of :func:`analyze_transport` (columns: :data:`hese.analysis.columns.TABLES`)."""

    msd: pd.DataFrame
    diffusion: pd.DataFrame
    conductivity: pd.DataFrame
    onsager: pd.DataFrame
    transference: pd.DataFrame
    summary: dict

    def write(self, out_dir: str | os.PathLike) -> list[Path]:
        """Write the tables (``<name>.parquet``: msd, diffusion, conductivity, onsager, transference) and
        ``summary.json``."""
        out = Path(out_dir)
        per_axis = col.MSD_AXES_NM2[0] in self.msd.columns
        return [
            write_table(self.msd, out / "msd.parquet", col.msd_columns(per_axis)),
            write_table(self.diffusion, out / "diffusion.parquet", col.TABLES["diffusion"]),
            write_table(self.conductivity, out / "conductivity.parquet", col.TABLES["conductivity"]),
            write_table(self.onsager, out / "onsager.parquet", col.TABLES["onsager"]),
            write_table(self.transference, out / "transference.parquet", col.TABLES["transference"]),
            write_json(out / "summary.json", self.summary),
        ]


def analyze_transport(
    sources: Sequence[Source],
    temperature_k: float | None,
    viscosity_mpa_s: float | None = None,
    n_blocks: int = 5,
    frames: slice = slice(None),
    per_axis: bool = False,
    unwrap: bool = True,
    chunk_frames: int = CHUNK_FRAMES,
    viscosity_err_mpa_s: float | None = None,
) -> TransportResult:
    """MSD, self-diffusion and conductivity of one system from one or several replica trajectories.

    Parameters
    ----------
    sources
        Replicas of one system (same species and molecule counts, same frame spacing).
    temperature_k
        Simulation temperature (K).
    viscosity_mpa_s
        Shear viscosity for the Yeh–Hummer correction (mPa s); without it ``d_yh_m2_s`` is null.
    n_blocks
        Independent time blocks per replica for the uncertainties (≥ 2). The fit window lies
        within half a block, which excludes the noisy long-lag tail.
    frames
        Frames analysed (start, stop, step).
    per_axis
        Also tabulate the x, y, z parts of the MSD.
    unwrap
        Unwrap frame to frame (False: the trajectory is already unwrapped).
    chunk_frames
        Frames read at a time.
    viscosity_err_mpa_s
        Standard error of ``viscosity_mpa_s`` (recorded in the summary; e.g. from ``hese viscosity``).

    Raises
    ------
    HeseInputError
        For bad parameters (checked before reading), unreadable or truncated files, empty
        selections, frames too far apart to unwrap, unevenly spaced frames, inconsistent replicas,
        too few frames.
    """
    _check_parameters(sources, temperature_k, viscosity_mpa_s, n_blocks)
    prepared = [_prepare(s, frames, n_blocks) for s in sources]  # every check that needs no frame, first
    n_frames = min(len(frame_numbers(universe, frames)) for universe, _ in prepared)
    max_lag = n_frames // n_blocks // 2
    with thread_pool() as pool:  # the FFTs release the GIL: block MSDs while the frames are read, then the rest
        block_jobs = []
        runs = [_read(s, universe, molecules, frames, unwrap, chunk_frames, _BlockMSDs(
            block_bounds(n_frames, n_blocks), max_lag, pool, block_jobs)) for s, (universe, molecules) in
                zip(sources, prepared, strict=True)]
        _check_replicas(runs)
        names = list(runs[0].positions)
        full = {n: [msd_fft(r.positions[n][:n_frames], executor=pool) for r in runs] for n in names}
        msd = {n: np.mean(full[n], axis=0) for n in names}
        blocks = {n: np.array([job.result()[n] for job in block_jobs]) for n in names}
    dt = runs[0].dt_ps
    volume_nm3 = float(np.mean([r.volume_nm3.mean() for r in runs]))
    windows = {n: diffusive_window(msd[n].sum(axis=1), max_lag) for n in names}
    d = {n: fit_diffusion(msd[n], blocks[n], windows[n], dt) for n in names}
    counts = {n: runs[0].positions[n].shape[1] for n in names}
    diffusion = diffusion_table(d, windows, msd, counts, len(runs), dt, temperature_k, viscosity_mpa_s, volume_nm3)
    conductivity, onsager_table, transference, coll = conductivity_tables(runs, n_frames, n_blocks, max_lag, d,
                                                                           windows, counts, volume_nm3, temperature_k)
    table = _msd_table(msd, dt, per_axis)
    summary = _summary(runs, diffusion, conductivity, transference, windows, coll, counts, n_frames, n_blocks,
                       max_lag, volume_nm3, temperature_k, viscosity_mpa_s, unwrap)
    summary["viscosity_err_mpa_s"] = viscosity_err_mpa_s
    return TransportResult(table, diffusion, conductivity, onsager_table, transference, summary)


def _check_parameters(sources: Sequence[Source], temperature_k, viscosity_mpa_s, n_blocks) -> None:
    if not sources:
        raise HeseInputError("no trajectory given: use --run DIR or --topology FILE --trajectory FILE")
    if temperature_k is None:
        raise HeseInputError("temperature_k: missing; the conductivity and the Yeh–Hummer correction need it")
    if not np.isfinite(temperature_k) or temperature_k <= 0:
        raise HeseInputError(f"temperature_k: {temperature_k} is not a positive temperature (K)")
    if viscosity_mpa_s is not None and (not np.isfinite(viscosity_mpa_s) or viscosity_mpa_s <= 0):
        raise HeseInputError(f"viscosity_mpa_s: {viscosity_mpa_s} is not a positive viscosity (mPa s)")
    if n_blocks < 2:
        raise HeseInputError(f"n_blocks: {n_blocks}; at least 2 blocks are needed for an uncertainty")
    for s in sources:
        if not s.species:
            raise HeseInputError(f"{s.label}: no species to analyse; give --species NAME=SELECTION")


def _prepare(source: Source, frames: slice, n_blocks: int) -> tuple[mda.Universe, list[Molecules]]:
    """The universe and molecules of a source, after checking its selections and number of frames."""
    universe = open_universe(source.topology, source.trajectories)
    check_complete(universe)
    molecules = [
        Molecules.from_atoms(s.name, select(universe, s.selection, f"species {s.name} of {source.label}"), s.count)
        for s in source.species
    ]
    n_frames = len(frame_numbers(universe, frames))
    if n_frames // n_blocks // 2 < MIN_MAX_LAG:
        raise HeseInputError(
            f"{source.label}: {n_frames} frames are too few for {n_blocks} blocks: the fit range (half a block) "
            f"needs at least {MIN_MAX_LAG} lags, i.e. {2 * MIN_MAX_LAG * n_blocks} frames; use fewer --blocks"
        )
    return universe, molecules


class _BlockMSDs:
    """After each chunk read, a job on ``pool`` for every time block now complete: its MSD per species (to max_lag)."""

    def __init__(self, bounds: np.ndarray, max_lag: int, pool: Executor, jobs: list[Future]) -> None:
        self.pending = [(int(a), int(b)) for a, b in bounds]
        self.max_lag, self.pool, self.jobs = max_lag, pool, jobs

    def __call__(self, done: int, positions: dict[str, np.ndarray]) -> None:
        while self.pending and self.pending[0][1] <= done:
            a, b = self.pending.pop(0)
            self.jobs.append(self.pool.submit(_block_msd, {n: p[a:b] for n, p in positions.items()}, self.max_lag))


def _block_msd(blocks: dict[str, np.ndarray], max_lag: int) -> dict[str, np.ndarray]:
    return {n: msd_fft(p, max_lag) for n, p in blocks.items()}


def _read(
    source: Source, universe: mda.Universe, molecules: list[Molecules], frames: slice, unwrap: bool, chunk_frames: int,
    on_chunk=None,
) -> _Run:
    coms = read_centres_of_mass(universe, molecules, frames, unwrap, chunk_frames, source.label, on_chunk)
    return _Run(
        source.label,
        _frame_spacing(coms.times_ps, source.label),
        np.prod(coms.boxes_nm, axis=1),
        coms.positions_nm,
        {m.name: np.add.reduceat(m.masses, m.starts) for m in molecules},
        {s.name: s.charge for s in source.species},
        source.charge_scale,
    )


def _frame_spacing(times: np.ndarray, label: str) -> float:
    if len(times) < 2:
        raise HeseInputError(f"{label}: {len(times)} frame(s) analysed; transport needs a trajectory")
    dt = (times[-1] - times[0]) / (len(times) - 1)
    tolerance = max(0.01 * abs(dt), 4 * float(np.spacing(np.float32(np.abs(times).max()))))
    steps = np.diff(times)
    if dt <= 0 or np.abs(steps - dt).max() > tolerance:
        raise HeseInputError(
            f"{label}: frame times are not evenly spaced (steps from {steps.min():g} to {steps.max():g} ps); "
            f"the MSD needs evenly spaced frames (duplicated or missing frames?)"
        )
    return float(dt)


def _check_replicas(runs: list[_Run]) -> None:
    first = runs[0]
    for r in runs[1:]:
        shape = {n: p.shape[1] for n, p in r.positions.items()}
        if shape != {n: p.shape[1] for n, p in first.positions.items()}:
            raise HeseInputError(f"{r.label}: species or molecule counts differ from {first.label}; not replicas")
        if abs(r.dt_ps - first.dt_ps) > 1e-3 * first.dt_ps:
            raise HeseInputError(
                f"{r.label}: frame spacing {r.dt_ps:g} ps differs from {first.dt_ps:g} ps of {first.label}"
            )
        if r.charge_scale != first.charge_scale or r.charges != first.charges:
            raise HeseInputError(f"{r.label}: charges or charge scale differ from {first.label}; not replicas")


def _msd_table(msd: dict[str, np.ndarray], dt: float, per_axis: bool) -> pd.DataFrame:
    parts = []
    for name, m in msd.items():
        data = {col.SPECIES: name, col.LAG_PS: np.arange(len(m)) * dt, col.MSD_NM2: m.sum(axis=1)}
        if per_axis:
            data.update(dict(zip(col.MSD_AXES_NM2, m.T, strict=True)))
        parts.append(pd.DataFrame(data))
    return pd.concat(parts, ignore_index=True)[list(col.msd_columns(per_axis))]


def _summary(runs, diffusion, conductivity, transference, windows, coll, counts, n_frames, n_blocks, max_lag,
             volume_nm3, temperature_k, viscosity_mpa_s, unwrap) -> dict:
    dt = runs[0].dt_ps
    warnings = [
        f"{n}: no diffusive window (log–log slope within 1 ± {SLOPE_TOLERANCE} over a factor ≥ {MIN_WINDOW_FACTOR:g} "
        f"in lag up to {max_lag * dt:g} ps); D fitted over the last quarter of that range is not reliable: "
        f"run longer" for n, w in windows.items() if not w[2]
    ]
    net = sum(counts[n] * z for n, z in runs[0].charges.items())
    if net != 0:
        warnings.append(f"the analysed species carry a net charge of {net:+d} e: ions are missing from --species, "
                        f"so the conductivities are incomplete")
    haven = {} if coll is None else haven_ratios(conductivity)
    return {
        "analysis": "transport",
        "runs": [r.label for r in runs],
        "temperature_k": temperature_k,
        "viscosity_mpa_s": viscosity_mpa_s,
        "n_frames": n_frames,
        "dt_ps": dt,
        "n_blocks_per_run": n_blocks,
        "block_ps": (n_frames // n_blocks) * dt,
        "max_fit_lag_ps": max_lag * dt,
        "volume_nm3": volume_nm3,
        "box_edge_nm": volume_nm3 ** (1 / 3),
        "charge_scale": runs[0].charge_scale,
        "species": {n: {"charge_e": runs[0].charges[n], "n_molecules": counts[n]} for n in counts},
        "diffusion": {
            row[col.SPECIES]: {k: json_number(v) for k, v in row.items() if k != col.SPECIES}
            | {"diffusive_window_found": windows[row[col.SPECIES]][2]}
            for row in diffusion.to_dict("records")
        },
        "conductivity": {
            f"{row[col.METHOD]}_{row[col.CHARGES]}": {k: json_number(row[k]) for k in col.TABLES["conductivity"][2:]}
            for row in conductivity.to_dict("records")
        },
        "haven": haven,
        "transference": {
            f"{row[col.SPECIES]}_{row[col.METHOD]}": {"t": json_number(row[col.T]),
                                                      "t_err": json_number(row[col.T_ERR])}
            for row in transference[transference[col.CHARGES] == "formal"].to_dict("records")
        },
        "einstein_helfand_window_ps": None if coll is None else [coll.window[0] * dt, coll.window[1] * dt],
        "collective_blocks_per_run": None if coll is None else coll.n_blocks,
        "unwrapping": "frame to frame, von Bülow et al. 2020" if unwrap else "none (trajectory already unwrapped)",
        "warnings": warnings,
    }

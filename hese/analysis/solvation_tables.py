"""The tables and the summary of the solvation analysis, from the shells and the observables.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.constants import gas_constant as GAS_CONSTANT_J_MOL_K  # CODATA 2018

from hese.analysis import clusters as cl
from hese.analysis import columns as col
from hese.analysis import residence as rt
from hese.analysis.blocks import standard_error
from hese.analysis.contacts import PassData, SolvationSystem
from hese.analysis.cutoffs import pair_rdfs
from hese.analysis.shells import Shells
from hese.analysis.speciation import Speciation, bootstrap_interval, mixing_entropy, shell_entropy, shell_label
from hese.analysis.tables import json_number
from hese.composition import config_entropy_r, entropy_class


def rdf_table(data: PassData, system: SolvationSystem) -> pd.DataFrame:
    centres = 0.5 * (data.edges[1:] + data.edges[:-1])
    parts = []
    for (a, b), (g, running, _) in pair_rdfs(data, system).items():
        parts.append(pd.DataFrame({col.CATION: system.cations[a], col.PARTNER: system.partners[b], col.R_NM: centres,
                                   col.G_R: g, col.CN_RUNNING: running}))
    return pd.concat(parts, ignore_index=True)[list(col.TABLES["rdf"])]


def coordination_table(system, used, sources, cn, n_frames) -> pd.DataFrame:
    rows = []
    for a, cation in enumerate(system.cations):
        for b, partner in enumerate(system.partners):
            none = sources[a][b] == "none"
            rows.append({
                col.CATION: cation, col.PARTNER: partner, col.CUTOFF_NM: used[a, b], col.CUTOFF_SOURCE: sources[a][b],
                col.CN_MOLECULES: np.nan if none else cn["cn_molecules"][a, b],
                col.CN_ATOMS: np.nan if none else cn["cn_atoms"][a, b],
                col.N_CATIONS: int(system.n_cations[a]), col.N_FRAMES: n_frames,
                col.CN_MOLECULES_ERR: np.nan if none else cn["cn_molecules_err"][a, b],
                col.CN_ATOMS_ERR: np.nan if none else cn["cn_atoms_err"][a, b],
            })
    return pd.DataFrame(rows, columns=list(col.TABLES["coordination"]))


def speciation_table(system: SolvationSystem, spec: Sequence[Speciation]) -> pd.DataFrame:
    names = col.speciation_columns(system.partners)
    count_columns = names[2:2 + len(system.partners)]
    parts = []
    for a, s in enumerate(spec):
        per_block = s.block_counts / np.maximum(s.block_observations, 1)[:, None]
        frame = pd.DataFrame(s.compositions, columns=list(count_columns))
        frame.insert(0, col.SHELL, [shell_label(c, system.partners) for c in s.compositions])
        frame.insert(0, col.CATION, system.cations[a])
        frame[col.FRACTION] = s.fractions
        frame[col.COUNT] = s.counts
        frame[col.FRACTION_ERR] = [standard_error(per_block[:, i]) for i in range(len(s.counts))]
        parts.append(frame)
    return pd.concat(parts, ignore_index=True)[list(names)]


def entropy_table(system: SolvationSystem, spec: Sequence[Speciation], cn: dict, n_bootstrap: int) -> pd.DataFrame:
    rows = []
    for a, s in enumerate(spec):
        s_r = shell_entropy(s.counts)
        low, high = bootstrap_interval(s.block_counts, n_bootstrap)
        members = cn["cn_molecules"][a]
        s_mix = mixing_entropy(members)
        s_mix_blocks = [mixing_entropy(block[a]) for block in cn["blocks_molecules"]]
        s_mix_err = standard_error(s_mix_blocks)
        rows.append({
            col.CATION: system.cations[a], col.N_COMPOSITIONS: len(s.counts), col.N_OBSERVATIONS: int(s.counts.sum()),
            col.S_SHELL_R: s_r, col.S_SHELL_J_MOL_K: s_r * GAS_CONSTANT_J_MOL_K,
            col.S_MIX_R: s_mix, col.S_MIX_J_MOL_K: s_mix * GAS_CONSTANT_J_MOL_K,
            col.S_MIX_ERR_R: s_mix_err, col.S_MIX_ERR_J_MOL_K: s_mix_err * GAS_CONSTANT_J_MOL_K,
            col.S_SHELL_CI_LOW_R: low, col.S_SHELL_CI_HIGH_R: high,
            col.S_SHELL_CI_LOW_J_MOL_K: low * GAS_CONSTANT_J_MOL_K,
            col.S_SHELL_CI_HIGH_J_MOL_K: high * GAS_CONSTANT_J_MOL_K,
        })
    return pd.DataFrame(rows, columns=list(col.TABLES["shell_entropy"]))


def pairing_table(system: SolvationSystem, pairing: dict, n_frames: int) -> pd.DataFrame:
    rows = []
    for k, b in enumerate(system.anions):
        f, e = pairing["fractions"][k], pairing["errors"][k]
        rows.append({col.ANION: system.partners[b], col.N_MOLECULES: int(system.n_molecules[b]), col.N_FRAMES: n_frames,
                     col.SSIP_FRACTION: f[0], col.CIP_FRACTION: f[1], col.AGG_FRACTION: f[2],
                     col.SSIP_FRACTION_ERR: e[0], col.CIP_FRACTION_ERR: e[1], col.AGG_FRACTION_ERR: e[2]})
    return pd.DataFrame(rows, columns=list(col.TABLES["ion_pairing"]))


def bound_table(system: SolvationSystem, bound: dict, n_frames: int) -> pd.DataFrame:
    rows = []
    for a, cation in enumerate([*system.cations, "any"]):
        for b, partner in enumerate(system.partners):
            rows.append({col.CATION: cation, col.PARTNER: partner, col.BOUND_FRACTION: bound["fractions"][a, b],
                         col.N_MOLECULES: int(system.n_molecules[b]), col.N_FRAMES: n_frames,
                         col.BOUND_FRACTION_ERR: bound["errors"][a, b]})
    return pd.DataFrame(rows, columns=list(col.TABLES["bound_fraction"]))


def ion_clusters(sh: Shells, system: SolvationSystem, n_frames: int) -> cl.IonClusters:
    anion_molecules = np.flatnonzero(np.isin(system.molecule_type, system.anions))
    anion_of = np.full(len(system.molecule_type), -1)
    anion_of[anion_molecules] = np.arange(len(anion_molecules))
    rows = anion_of[sh.molecule] >= 0
    charge = {n: system.charges[n] for n in (*system.cations, *system.partners)}
    cation_charge = np.array([charge[n] for n in system.cations], dtype=int)[system.cation_type]
    partner_charge = np.array([charge[n] for n in system.partners], dtype=int)
    anion_charge = partner_charge[system.molecule_type[anion_molecules]]
    anion_type = np.searchsorted(system.anions, system.molecule_type[anion_molecules])
    return cl.ion_clusters(sh.frame[rows], sh.cation[rows], anion_of[sh.molecule[rows]], n_frames,
                           cation_charge, anion_charge, system.cation_type, anion_type,
                           system.cations, [system.partners[b] for b in system.anions])


def zn_chains(sh: Shells, system: SolvationSystem, n_frames: int) -> cl.ZnChains | None:
    zn = [a for a, n in enumerate(system.cations) if n.lower() == "zn"]
    chloride = [b for b, n in enumerate(system.partners) if n.lower() == "cl" and system.partner_kinds[b] == "anion"]
    if not zn or not chloride:
        return None
    zn_cations = np.flatnonzero(system.cation_type == zn[0])
    cl_molecules = np.flatnonzero(system.molecule_type == chloride[0])
    zn_of = np.full(len(system.cation_atoms), -1)
    zn_of[zn_cations] = np.arange(len(zn_cations))
    cl_of = np.full(len(system.molecule_type), -1)
    cl_of[cl_molecules] = np.arange(len(cl_molecules))
    rows = (zn_of[sh.cation] >= 0) & (cl_of[sh.molecule] >= 0)
    return cl.zn_chains(sh.frame[rows], zn_of[sh.cation[rows]], cl_of[sh.molecule[rows]], n_frames,
                        len(zn_cations), len(cl_molecules))


def summary(data, system, settings, tables, used, sources, ions, chains, pairing, warnings) -> dict:
    """The headline numbers (``summary.json``).

    Keys: ``source``; ``n_frames``, ``frames`` (start, stop, step, first and last trajectory
    frame), ``time_ps`` (first, last); ``n_blocks``, ``n_bootstrap``; ``rdf`` (range, bin) and
    ``contact_range_nm``; ``species`` (kind, count, charge); ``cutoffs`` (cation → partner →
    cutoff_nm and source); ``coordination`` (cation → partner → cn_molecules, cn_atoms,
    cn_molecules_err); ``shell_entropy`` (cation → S_shell in R and J mol⁻¹ K⁻¹, its interval,
    S_mix, numbers of compositions and observations, the three most common shells);
    ``ion_pairing`` (anion → ssip, cip, agg); ``bound_fraction`` (cation or ``any`` → partner →
    fraction of its molecules in a shell); ``clusters`` (number, mean and ion-weighted mean
    size, largest, free fraction of all ions and per species); ``zn_chains`` (number, mean and
    Zn-weighted mean length, longest, bridged Zn fraction; null without Zn and Cl);
    ``residence_tolerance_ps`` (t*) and ``residence`` (cation → partner → the columns of the
    residence table);
    ``s_config_anion_r``, ``s_config_anion_j_mol_k`` and ``entropy_class``
    (configurational entropy of the anion mole fractions: low < 1 R ≤ medium < 1.5 R ≤ high);
    ``warnings``.
    """
    frames = settings["frames"]
    anion_counts = {system.partners[b]: int(system.n_molecules[b]) for b in system.anions}
    s_config = config_entropy_r(anion_counts) if anion_counts else 0.0
    coordination = tables["coordination"]
    entropy = tables["shell_entropy"].set_index(col.CATION)
    speciation_table = tables["speciation"]
    summary = {
        "source": settings["label"],
        "n_frames": len(data.frames),
        "frames": {"start": frames.start, "stop": frames.stop, "step": frames.step or 1,
                   "first": json_number(data.frames[0]), "last": json_number(data.frames[-1])},
        "time_ps": [json_number(data.times_ps[0]), json_number(data.times_ps[-1])],
        "n_blocks": settings["n_blocks"],
        "n_bootstrap": settings["n_bootstrap"],
        "rdf": {"range_nm": json_number(data.edges[-1]), "bin_nm": json_number(data.edges[1] - data.edges[0])},
        "contact_range_nm": json_number(data.contacts.range_nm),
        "species": {
            **{n: {"kind": "cation", "count": int(c), "charge": system.charges[n]}
               for n, c in zip(system.cations, system.n_cations, strict=True)},
            **{n: {"kind": k, "count": int(c), "charge": system.charges[n]}
               for n, k, c in zip(system.partners, system.partner_kinds, system.n_molecules, strict=True)},
        },
        "cutoffs": {cation: {partner: {"cutoff_nm": json_number(used[a, b]), "source": sources[a][b]}
                             for b, partner in enumerate(system.partners)}
                    for a, cation in enumerate(system.cations)},
        "coordination": {
            cation: {r[col.PARTNER]: {"cn_molecules": json_number(r[col.CN_MOLECULES]),
                                      "cn_atoms": json_number(r[col.CN_ATOMS]),
                                      "cn_molecules_err": json_number(r[col.CN_MOLECULES_ERR])}
                     for _, r in coordination[coordination[col.CATION] == cation].iterrows()}
            for cation in system.cations
        },
        "shell_entropy": {
            cation: {
                "s_shell_r": json_number(entropy.loc[cation, col.S_SHELL_R]),
                "s_shell_j_mol_k": json_number(entropy.loc[cation, col.S_SHELL_J_MOL_K]),
                "s_shell_ci_r": [json_number(entropy.loc[cation, col.S_SHELL_CI_LOW_R]),
                                 json_number(entropy.loc[cation, col.S_SHELL_CI_HIGH_R])],
                "s_mix_r": json_number(entropy.loc[cation, col.S_MIX_R]),
                "n_compositions": int(entropy.loc[cation, col.N_COMPOSITIONS]),
                "n_observations": int(entropy.loc[cation, col.N_OBSERVATIONS]),
                "most_common": _most_common(speciation_table[speciation_table[col.CATION] == cation]),
            }
            for cation in system.cations
        },
        "ion_pairing": {system.partners[b]: dict(zip(("ssip", "cip", "agg"),
                                                     map(json_number, pairing["fractions"][k]), strict=True))
                        for k, b in enumerate(system.anions)},
        "bound_fraction": {cation: {r[col.PARTNER]: json_number(r[col.BOUND_FRACTION]) for _, r in rows.iterrows()}
                           for cation, rows in tables["bound_fraction"].groupby(col.CATION, sort=False)},
        "clusters": ions.summary,
        "zn_chains": None if chains is None else chains.summary,
        "residence_tolerance_ps": json_number(settings["residence_tolerance_ps"]),
        "residence": rt.summary(tables["residence"]),
        "s_config_anion_r": round(s_config, 6),
        "s_config_anion_j_mol_k": round(s_config * GAS_CONSTANT_J_MOL_K, 4),
        "entropy_class": entropy_class(s_config),
        "warnings": warnings,
    }
    return summary


def _most_common(rows: pd.DataFrame, n: int = 3) -> list:
    return [[r[col.SHELL], json_number(round(float(r[col.FRACTION]), 6))] for _, r in rows.head(n).iterrows()]

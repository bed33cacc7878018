"""Column names of every analysis table, in one place.

Units end each name (``_nm``, ``_ps``, ``_m2_s``, ``_s_m``, ``_kb``, ``_j_mol_k``); columns come
in the order of DESIGN.md: identifiers, coordinates, values, uncertainties.
"""

from __future__ import annotations

# identifiers
SPECIES = "species"
METHOD = "method"
CHARGES = "charges"
NEIGHBOURS = "neighbours"

# transport
LAG_PS = "lag_ps"
MSD_NM2 = "msd_nm2"
MSD_AXES_NM2 = ("msd_x_nm2", "msd_y_nm2", "msd_z_nm2")
D_M2_S = "d_m2_s"
D_YH_M2_S = "d_yh_m2_s"
VISCOSITY_MPA_S = "viscosity_mpa_s"
FIT_START_PS = "fit_start_ps"
FIT_END_PS = "fit_end_ps"
SLOPE_LOGLOG = "slope_loglog"
N_MOLECULES = "n_molecules"
D_ERR_M2_S = "d_err_m2_s"
SIGMA_S_M = "sigma_s_m"
SIGMA_ERR_S_M = "sigma_err_s_m"

# water
Q = "q"
P_Q = "p_q"
Q_MEAN = "q_mean"
S_Q_KB = "s_q_kb"
S_Q_J_MOL_K = "s_q_j_mol_k"
N_FRAMES = "n_frames"
Q_MEAN_ERR = "q_mean_err"
S_Q_ERR_KB = "s_q_err_kb"
S_Q_ERR_J_MOL_K = "s_q_err_j_mol_k"
HBONDS_PER_MOLECULE = "hbonds_per_molecule"
R_OO_MAX_NM = "r_oo_max_nm"
ANGLE_MAX_DEG = "angle_max_deg"
HBONDS_PER_MOLECULE_ERR = "hbonds_per_molecule_err"

#: table name → its columns (``msd`` gains :data:`MSD_AXES_NM2` when per-axis MSDs are asked for)
TABLES: dict[str, tuple[str, ...]] = {
    "msd": (SPECIES, LAG_PS, MSD_NM2),
    "diffusion": (
        SPECIES, D_M2_S, D_YH_M2_S, VISCOSITY_MPA_S, FIT_START_PS, FIT_END_PS, SLOPE_LOGLOG, N_MOLECULES, D_ERR_M2_S,
    ),
    "conductivity": (METHOD, CHARGES, SIGMA_S_M, SIGMA_ERR_S_M),
    "tetrahedral": (NEIGHBOURS, Q, P_Q),
    "water_entropy": (
        NEIGHBOURS, Q_MEAN, S_Q_KB, S_Q_J_MOL_K, N_MOLECULES, N_FRAMES, Q_MEAN_ERR, S_Q_ERR_KB, S_Q_ERR_J_MOL_K,
    ),
    "hbonds": (HBONDS_PER_MOLECULE, R_OO_MAX_NM, ANGLE_MAX_DEG, N_MOLECULES, N_FRAMES, HBONDS_PER_MOLECULE_ERR),
}

#: every column of a table above, with its meaning (the documentation of the tables)
DESCRIPTIONS: dict[str, str] = {
    SPECIES: "species name (registry name for hese runs, NAME of --species otherwise)",
    METHOD: "nernst_einstein (from the self-diffusion coefficients) or einstein_helfand (collective)",
    CHARGES: "formal (integer charges) or scaled (formal × the simulation's charge scale)",
    NEIGHBOURS: "water (four nearest water oxygens) or any_oxygen (four nearest oxygens of any molecule)",
    LAG_PS: "lag time τ (ps)",
    MSD_NM2: "mean squared displacement of the molecule centres of mass ⟨|r(t+τ) − r(t)|²⟩ (nm²)",
    MSD_AXES_NM2[0]: "x component of the MSD (nm²)",
    MSD_AXES_NM2[1]: "y component of the MSD (nm²)",
    MSD_AXES_NM2[2]: "z component of the MSD (nm²)",
    D_M2_S: "self-diffusion coefficient in the periodic box, slope/6 of the MSD in the fit window (m²/s)",
    D_YH_M2_S: "Yeh–Hummer corrected D (m²/s); null without a viscosity",
    VISCOSITY_MPA_S: "shear viscosity used for the Yeh–Hummer correction (mPa s); null if none was given",
    FIT_START_PS: "first lag of the linear fit window (ps)",
    FIT_END_PS: "last lag of the linear fit window (ps)",
    SLOPE_LOGLOG: "slope of ln MSD against ln τ in the fit window (1 in the diffusive regime)",
    N_MOLECULES: "number of molecules analysed (summed over replicas for transport)",
    D_ERR_M2_S: "standard error of D from independent time blocks (of all replicas) (m²/s)",
    SIGMA_S_M: "ionic conductivity (S/m)",
    SIGMA_ERR_S_M: "standard error of the conductivity from independent time blocks (S/m)",
    Q: "tetrahedral order parameter q, centre of a histogram bin",
    P_Q: "probability density of q, normalised so that Σ p_q Δq = 1",
    Q_MEAN: "mean tetrahedral order ⟨q⟩ over molecules and frames",
    S_Q_KB: "tetrahedral entropy relative to S₀ per molecule, (3/2) ∫ ln(1 − q) P(q) dq (k_B)",
    S_Q_J_MOL_K: "tetrahedral entropy relative to S₀ per mole of water (J mol⁻¹ K⁻¹)",
    N_FRAMES: "number of frames analysed",
    Q_MEAN_ERR: "standard error of ⟨q⟩ from independent time blocks",
    S_Q_ERR_KB: "standard error of S_q − S₀ from independent time blocks (k_B)",
    S_Q_ERR_J_MOL_K: "standard error of S_q − S₀ from independent time blocks (J mol⁻¹ K⁻¹)",
    HBONDS_PER_MOLECULE: "mean number of water–water hydrogen bonds a water molecule takes part in",
    R_OO_MAX_NM: "hydrogen-bond criterion: largest donor–acceptor O···O distance (nm)",
    ANGLE_MAX_DEG: "hydrogen-bond criterion: largest H–O_donor···O_acceptor angle (degrees)",
    HBONDS_PER_MOLECULE_ERR: "standard error of hbonds_per_molecule from independent time blocks",
}


def msd_columns(per_axis: bool) -> tuple[str, ...]:
    """Columns of ``msd.parquet``: species, lag, MSD and, if ``per_axis``, its x, y, z parts."""
    return TABLES["msd"] + (MSD_AXES_NM2 if per_axis else ())

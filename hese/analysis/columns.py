"""Column names of every analysis table, in one place.

Units end each name (``_nm``, ``_ps``, ``_m2_s``, ``_s_m``, ``_kb``, ``_j_mol_k``, ``_r`` for units of
the gas constant R); columns come in this order: identifiers, coordinates, values,
uncertainties.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

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

# collective transport
SPECIES_I = "species_i"
SPECIES_J = "species_j"
SIGMA_IJ_S_M = "sigma_ij_s_m"
SIGMA_IJ_ERR_S_M = "sigma_ij_err_s_m"
ONSAGER_L_MOL2_J_M_S = "onsager_l_mol2_j_m_s"
ONSAGER_L_ERR_MOL2_J_M_S = "onsager_l_err_mol2_j_m_s"
T = "t"
T_ERR = "t_err"

# viscosity (hese viscosity)
AMPLITUDE_NM_PS2 = "amplitude_nm_ps2"
TIME_PS = "time_ps"
V_AMPLITUDE_NM_PS = "v_amplitude_nm_ps"
TEMPERATURE_K = "temperature_k"
POTENTIAL_ENERGY_KJ_MOL = "potential_energy_kj_mol"
MEASURED = "measured"
Z_NM = "z_nm"
VX_NM_PS = "vx_nm_ps"
V_COSINE_NM_PS = "v_cosine_nm_ps"

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

# solvation (identifiers)
CATION = "cation"
PARTNER = "partner"
ANION = "anion"
SHELL = "shell"

# solvation
R_NM = "r_nm"
G_R = "g_r"
CN_RUNNING = "cn_running"
CUTOFF_NM = "cutoff_nm"
CUTOFF_SOURCE = "cutoff_source"
CN_MOLECULES = "cn_molecules"
CN_ATOMS = "cn_atoms"
N_CATIONS = "n_cations"
CN_MOLECULES_ERR = "cn_molecules_err"
CN_ATOMS_ERR = "cn_atoms_err"
FRACTION = "fraction"
COUNT = "count"
FRACTION_ERR = "fraction_err"
SPECIATION_COUNT_PREFIX = "n_"
N_COMPOSITIONS = "n_compositions"
N_OBSERVATIONS = "n_observations"
S_SHELL_R = "s_shell_r"
S_SHELL_J_MOL_K = "s_shell_j_mol_k"
S_MIX_R = "s_mix_r"
S_MIX_J_MOL_K = "s_mix_j_mol_k"
S_SHELL_CI_LOW_R = "s_shell_ci_low_r"
S_SHELL_CI_HIGH_R = "s_shell_ci_high_r"
S_SHELL_CI_LOW_J_MOL_K = "s_shell_ci_low_j_mol_k"
S_SHELL_CI_HIGH_J_MOL_K = "s_shell_ci_high_j_mol_k"
S_MIX_ERR_R = "s_mix_err_r"
S_MIX_ERR_J_MOL_K = "s_mix_err_j_mol_k"
SSIP_FRACTION = "ssip_fraction"
CIP_FRACTION = "cip_fraction"
AGG_FRACTION = "agg_fraction"
SSIP_FRACTION_ERR = "ssip_fraction_err"
CIP_FRACTION_ERR = "cip_fraction_err"
AGG_FRACTION_ERR = "agg_fraction_err"
N_IONS = "n_ions"
N_CATION = "n_cation"
N_ANION = "n_anion"
NET_CHARGE = "net_charge"
N_ZN = "n_zn"
ZN_FRACTION = "zn_fraction"
BOUND_FRACTION = "bound_fraction"
BOUND_FRACTION_ERR = "bound_fraction_err"

# residence times (solvation)
TAU_CONTINUOUS_PS = "tau_continuous_ps"
TAU_INTERMITTENT_PS = "tau_intermittent_ps"
DECAYED = "decayed"
TAU_CONTINUOUS_ERR_PS = "tau_continuous_err_ps"
TAU_INTERMITTENT_ERR_PS = "tau_intermittent_err_ps"

#: table name → its columns (``msd`` gains :data:`MSD_AXES_NM2` when per-axis MSDs are asked for)
TABLES: dict[str, tuple[str, ...]] = {
    "msd": (SPECIES, LAG_PS, MSD_NM2),
    "diffusion": (
        SPECIES, D_M2_S, D_YH_M2_S, VISCOSITY_MPA_S, FIT_START_PS, FIT_END_PS, SLOPE_LOGLOG, N_MOLECULES, D_ERR_M2_S,
    ),
    "conductivity": (METHOD, CHARGES, SIGMA_S_M, SIGMA_ERR_S_M),
    "onsager": (SPECIES_I, SPECIES_J, CHARGES, SIGMA_IJ_S_M, ONSAGER_L_MOL2_J_M_S, SIGMA_IJ_ERR_S_M,
                ONSAGER_L_ERR_MOL2_J_M_S),
    "transference": (SPECIES, METHOD, CHARGES, T, T_ERR),
    "tetrahedral": (NEIGHBOURS, Q, P_Q),
    "water_entropy": (
        NEIGHBOURS, Q_MEAN, S_Q_KB, S_Q_J_MOL_K, N_MOLECULES, N_FRAMES, Q_MEAN_ERR, S_Q_ERR_KB, S_Q_ERR_J_MOL_K,
    ),
    "hbonds": (HBONDS_PER_MOLECULE, R_OO_MAX_NM, ANGLE_MAX_DEG, N_MOLECULES, N_FRAMES, HBONDS_PER_MOLECULE_ERR),
    "rdf": (CATION, PARTNER, R_NM, G_R, CN_RUNNING),
    "coordination": (
        CATION, PARTNER, CUTOFF_NM, CUTOFF_SOURCE, CN_MOLECULES, CN_ATOMS, N_CATIONS, N_FRAMES,
        CN_MOLECULES_ERR, CN_ATOMS_ERR,
    ),
    "speciation": (CATION, SHELL, FRACTION, COUNT, FRACTION_ERR),  # + one count per partner: speciation_columns
    "shell_entropy": (
        CATION, N_COMPOSITIONS, N_OBSERVATIONS, S_SHELL_R, S_SHELL_J_MOL_K, S_MIX_R, S_MIX_J_MOL_K,
        S_SHELL_CI_LOW_R, S_SHELL_CI_HIGH_R, S_SHELL_CI_LOW_J_MOL_K, S_SHELL_CI_HIGH_J_MOL_K,
        S_MIX_ERR_R, S_MIX_ERR_J_MOL_K,
    ),
    "ion_pairing": (
        ANION, N_MOLECULES, N_FRAMES, SSIP_FRACTION, CIP_FRACTION, AGG_FRACTION,
        SSIP_FRACTION_ERR, CIP_FRACTION_ERR, AGG_FRACTION_ERR,
    ),
    "clusters": (N_IONS, N_CATION, N_ANION, NET_CHARGE, COUNT, FRACTION),
    "zn_chains": (N_ZN, COUNT, FRACTION, ZN_FRACTION),
    "bound_fraction": (CATION, PARTNER, BOUND_FRACTION, N_MOLECULES, N_FRAMES, BOUND_FRACTION_ERR),
    "residence": (
        CATION, PARTNER, TAU_CONTINUOUS_PS, TAU_INTERMITTENT_PS, DECAYED,
        TAU_CONTINUOUS_ERR_PS, TAU_INTERMITTENT_ERR_PS,
    ),
    "coordination_timeseries": (CATION, PARTNER, TIME_PS, CN_MOLECULES),
    "viscosity_series": (
        AMPLITUDE_NM_PS2, TIME_PS, V_AMPLITUDE_NM_PS, TEMPERATURE_K, POTENTIAL_ENERGY_KJ_MOL, MEASURED,
    ),
    "viscosity_profile": (AMPLITUDE_NM_PS2, Z_NM, VX_NM_PS, V_COSINE_NM_PS),
}

#: every column of a table above, with its meaning (the documentation of the tables)
DESCRIPTIONS: dict[str, str] = {
    SPECIES: "species name (registry name for hese runs, NAME of --species otherwise)",
    METHOD: "nernst_einstein (from the self-diffusion coefficients), or the collective estimate: einstein_helfand "
            "(conductivity), onsager (transference numbers)",
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
    SPECIES_I: "first ionic species i of the pair",
    SPECIES_J: "second ionic species j of the pair (every ordered pair is listed; σ_ij = σ_ji)",
    SIGMA_IJ_S_M: "contribution σ_ij = F² z_i z_j L_ij of the pair to the conductivity; Σ_ij σ_ij is the "
                  "Einstein–Helfand σ (S/m)",
    SIGMA_IJ_ERR_S_M: "standard error of σ_ij from the collective time blocks (S/m)",
    ONSAGER_L_MOL2_J_M_S: "Onsager coefficient L_ij = (d/dt ⟨ΔR_i·ΔR_j⟩) / (6 V k_B T N_A²) in the centre-of-mass "
                          "frame, R_i the summed displacement of species i (mol² J⁻¹ m⁻¹ s⁻¹); charge-independent",
    ONSAGER_L_ERR_MOL2_J_M_S: "standard error of L_ij from the collective time blocks (mol² J⁻¹ m⁻¹ s⁻¹)",
    T: "transference number: the fraction of the current carried by the species (onsager: Σ_j σ_ij / Σ_jk σ_jk; "
       "nernst_einstein: N z² D / Σ N z² D); the same for both charge sets",
    T_ERR: "standard error of t from the time blocks (delta method)",
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
    CATION: "cation species (registry name for hese runs, NAME of --cation otherwise; in bound_fraction also "
            "'any': every cation)",
    PARTNER: "partner species of the cation: a solvent or an anion",
    ANION: "anion species",
    SHELL: "shell composition label: NAME×COUNT of each partner joined by ·, e.g. DME×2·FSI×1 (empty: no partner)",
    R_NM: "distance r, centre of a histogram bin (nm)",
    G_R: "radial distribution function g(r) of the partner's coordinating atoms around the cation",
    CN_RUNNING: "running coordination number: mean number of the partner's coordinating atoms within the bin's "
                "upper edge",
    CUTOFF_NM: "shell cutoff r_c used for the pair (nm); null if the partner has no shell (no cutoff found)",
    CUTOFF_SOURCE: "auto (first minimum after the first peak of g(r)), user (--cutoff) or none (no cutoff found)",
    CN_MOLECULES: "coordination number: mean number of partner molecules in a cation's shell (coordination: over "
                  "the cations and frames; coordination_timeseries: over the cations in one frame; null if the "
                  "partner has no shell)",
    CN_ATOMS: "mean number of the partner's coordinating atoms within r_c of a cation",
    N_CATIONS: "number of cations of this species",
    CN_MOLECULES_ERR: "standard error of cn_molecules from independent time blocks",
    CN_ATOMS_ERR: "standard error of cn_atoms from independent time blocks",
    FRACTION: "fraction of the observations (speciation: cations × frames; clusters: all clusters of all "
              "frames; zn_chains: all chains of all frames)",
    COUNT: "number of observations (speciation: cation-frames with this shell; clusters and zn_chains: "
           "clusters or chains of this kind summed over all analysed frames)",
    FRACTION_ERR: "standard error of the fraction from independent time blocks",
    N_COMPOSITIONS: "number of distinct shell compositions observed",
    N_OBSERVATIONS: "number of observations: cations of this species × analysed frames",
    S_SHELL_R: "solvation-shell (speciation) entropy −Σ p_i ln p_i over shell compositions (units of R)",
    S_SHELL_J_MOL_K: "solvation-shell (speciation) entropy −R Σ p_i ln p_i (J mol⁻¹ K⁻¹)",
    S_MIX_R: "shell mixing entropy −Σ x_s ln x_s over the mean partner fractions among shell members (units of R)",
    S_MIX_J_MOL_K: "shell mixing entropy −R Σ x_s ln x_s (J mol⁻¹ K⁻¹)",
    S_SHELL_CI_LOW_R: "lower end of the 95 % block-bootstrap interval of s_shell_r (units of R)",
    S_SHELL_CI_HIGH_R: "upper end of the 95 % block-bootstrap interval of s_shell_r (units of R)",
    S_SHELL_CI_LOW_J_MOL_K: "lower end of the 95 % block-bootstrap interval of s_shell_j_mol_k (J mol⁻¹ K⁻¹)",
    S_SHELL_CI_HIGH_J_MOL_K: "upper end of the 95 % block-bootstrap interval of s_shell_j_mol_k (J mol⁻¹ K⁻¹)",
    S_MIX_ERR_R: "standard error of s_mix_r from independent time blocks (units of R)",
    S_MIX_ERR_J_MOL_K: "standard error of s_mix_j_mol_k from independent time blocks (J mol⁻¹ K⁻¹)",
    SSIP_FRACTION: "fraction of anions in contact with no cation (solvent-separated ion pair)",
    CIP_FRACTION: "fraction of anions in contact with exactly one cation (contact ion pair)",
    AGG_FRACTION: "fraction of anions in contact with two or more cations (aggregate)",
    SSIP_FRACTION_ERR: "standard error of ssip_fraction from independent time blocks",
    CIP_FRACTION_ERR: "standard error of cip_fraction from independent time blocks",
    AGG_FRACTION_ERR: "standard error of agg_fraction from independent time blocks",
    N_IONS: "ions in the cluster (n_cation + n_anion)",
    N_CATION: "cations in the cluster",
    N_ANION: "anions in the cluster",
    NET_CHARGE: "net formal charge of the cluster (e)",
    N_ZN: "Zn ions in a Cl-bridged chain (its length)",
    ZN_FRACTION: "fraction of all Zn (over all analysed frames) that sit in chains of this length",
    BOUND_FRACTION: "fraction of the partner's molecules inside the shell of at least one cation of this type (cation "
                    "'any': of any cation), averaged over frames; a molecule shared by two cations counts once",
    BOUND_FRACTION_ERR: "standard error of bound_fraction from independent time blocks",
    TAU_CONTINUOUS_PS: "continuous residence time Δt Σ_k C_c(kΔt), C_c = ⟨h(0) H(t)⟩ / ⟨h(0)⟩: how long a partner "
                       "molecule found in a cation's shell stays without leaving (ps); null if the partner has no "
                       "shell or was never in one",
    TAU_INTERMITTENT_PS: "intermittent residence time Δt Σ_k C_i(kΔt), C_i = (⟨h(0) h(t)⟩ − ⟨h⟩²) / (⟨h⟩ − ⟨h⟩²): "
                         "excursions out of the shell do not count (ps); null as tau_continuous_ps",
    DECAYED: "whether both correlations fell to 0.05 within a block; false: the residence times are lower bounds; "
             "null without a stay",
    TAU_CONTINUOUS_ERR_PS: "standard error of tau_continuous_ps from independent time blocks (ps)",
    TAU_INTERMITTENT_ERR_PS: "standard error of tau_intermittent_ps from independent time blocks (ps)",
    AMPLITUDE_NM_PS2: "amplitude A of the driving acceleration a_x = A cos(2πz/L_z) (nm/ps²)",
    TIME_PS: "time (ps): viscosity_series: since this amplitude was switched on, at the end of the sample's "
             "interval; coordination_timeseries: of the analysed frame",
    V_AMPLITUDE_NM_PS: "flow amplitude V = 2 Σ m v_x cos(2πz/L_z) / Σ m, averaged over every step of the "
                       "sample's interval (nm/ps)",
    TEMPERATURE_K: "temperature of the motion relative to the flow (K)",
    POTENTIAL_ENERGY_KJ_MOL: "potential energy at the end of the interval (kJ/mol)",
    MEASURED: "false for the samples of discard_ps (the flow building up), true for those that enter η",
    Z_NM: "centre of a bin along z (nm)",
    VX_NM_PS: "mean x velocity of the atoms in the bin, mass-weighted, over the measured profiles (nm/ps)",
    V_COSINE_NM_PS: "the fitted profile V cos(2πz/L_z) at the bin centre (nm/ps)",
}


def msd_columns(per_axis: bool) -> tuple[str, ...]:
    """Columns of ``msd.parquet``: species, lag, MSD and, if ``per_axis``, its x, y, z parts."""
    return TABLES["msd"] + (MSD_AXES_NM2 if per_axis else ())


def partner_count_column(partner: str) -> str:
    """Column of ``speciation.parquet`` with the count of ``partner`` molecules in a shell: ``n_`` + snake-case name."""
    return SPECIATION_COUNT_PREFIX + re.sub(r"[^a-z0-9]+", "_", partner.lower()).strip("_")


def speciation_columns(partners: Sequence[str]) -> tuple[str, ...]:
    """Columns of ``speciation.parquet``: cation, shell, a count per partner, fraction, count, fraction_err.

    The per-partner count columns are named by :func:`partner_count_column`.
    """
    fixed = TABLES["speciation"]
    return fixed[:2] + tuple(partner_count_column(p) for p in partners) + fixed[2:]

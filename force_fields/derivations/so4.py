"""Derive the quantum-chemical numbers of the hese sulfate force field (force_fields/aqueous/so4.xml).

SO4^2- = sulfate, SMILES [O-]S(=O)(=O)[O-], atom names O1 S1 O2 O3 O4 (SMILES order after rdkit AddHs,
numbered per element); S1 bonded to O1..O4. Td symmetry: one S charge, one O charge.

Same protocol as dfob.py (the hese DFOB- derivation); its helpers are imported, unchanged.
  (a) equilibrium geometry: B3LYP/cc-pVTZ (density fitting, pyscf's default B3LYP = VWN-RPA as in
      Gaussian), optimised with geomeTRIC from a Td start (S-O 1.50 A). The optimised S-O lengths are
      averaged and the ion is rebuilt as an exact tetrahedron (O-S-O 109.47 deg) with that S-O length.
  (b) partial charges: fitted to the MP2/cc-pVTZ(-f) electrostatic potential (the CL&P protocol,
      Canongia Lopes & Padua, J. Phys. Chem. B 108, 2038 and 16893 (2004)) on the (a) geometry.
      MP2 = frozen-core (S 1s2s2p, O 1s) RI-MP2, relaxed density (pyscf dfmp2_native), aux basis
      cc-pVTZ-RI; cc-pVTZ(-f) = cc-pVTZ with the f shells removed.
      Points: Merz-Kollman shells 1.4/1.6/1.8/2.0 x vdW radius, 6 points/A^2 (mk_points of dfob.py:
      Singh & Kollman, J. Comput. Chem. 5, 129 (1984); Besler, Merz & Kollman, J. Comput. Chem. 11,
      431 (1990); Bondi radii from pyscf.data.radii.VDW: S 1.80 A, O 1.52 A).
      Fit: least squares, total charge constrained to -2 (Lagrange multiplier), the four O one charge.
      Rounded: O to 4 decimals, S = -2 - 4 q(O) (exact at 4 decimals).
  Sensitivity (printed, not used):
      - CHELPG-like cubic grid (chelpg_points of dfob.py; Breneman & Wiberg, J. Comput. Chem. 11, 361
        (1990), 0.3 A spacing, 2.8 A shell);
      - MP2 with the full cc-pVTZ basis (with f);
      - implicit water: HF/cc-pVTZ(-f) with a polarisable continuum (pyscf IEF-PCM and ddCOSMO,
        eps 78.3553) on the same geometry; the converged reaction-field potential is then frozen and
        added to the one-electron Hamiltonian of a gas-phase RHF, on which the same relaxed RI-MP2
        density is computed (MP2 in a fixed reaction field, the "PTE"-type scheme: the continuum is not
        re-polarised by the correlation correction). Charges are fitted, as above, to the ESP of the
        solute (nuclei + polarised MP2 density) alone on the MK points.
  The gas-phase dianion is not bound with respect to electron loss in a complete basis; in cc-pVTZ
  (no diffuse functions) its HOMO is bound or nearly so, and the HOMO energy is printed as a check.

Run:  .venv/bin/python force_fields/derivations/so4.py > force_fields/derivations/so4.out
Needs pyscf and geomeTRIC (derivation-only tools, not hese dependencies): pip install pyscf geometric
Takes a few minutes on 2 CPU cores.
"""
import os
import sys
import time

import numpy as np
import pyscf
import geometric
from pyscf import gto, scf, dft, lib
from pyscf.data.elements import chemcore
from pyscf.data.nist import BOHR
from pyscf.geomopt.geometric_solver import optimize
from pyscf.mp import dfmp2_native

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dfob import mk_points, chelpg_points, esp, dist, angle  # noqa: E402  (reused, not edited)

NAMES = ["O1", "S1", "O2", "O3", "O4"]
CHARGE = -2
TET = np.array([[1, 1, 1], [-1, -1, 1], [-1, 1, -1], [1, -1, -1]]) / np.sqrt(3.0)
T0 = time.time()


def log(*a):
    print(*a, flush=True)


def td_geometry(r):
    """Exact tetrahedron, S at the origin, S-O = r (Angstrom), atoms in NAMES order."""
    o = r * TET
    return [("O", o[0]), ("S", np.zeros(3)), ("O", o[1]), ("O", o[2]), ("O", o[3])]


def basis_tz_minus_f():
    return {el: [shell for shell in gto.load("cc-pvtz", el) if shell[0] < 3] for el in ("S", "O")}


def fit(mol, pts, v):
    """Least squares charges with sum = CHARGE and the four O equal. Returns (q per atom, RRMS)."""
    A = 1.0 / np.linalg.norm(pts[:, None, :] - mol.atom_coords()[None, :, :], axis=2)
    T = np.zeros((5, 2))
    T[1, 0] = 1.0                  # S
    T[[0, 2, 3, 4], 1] = 1.0       # O
    B = A @ T
    m = T.sum(0)
    M = np.block([[B.T @ B, m[:, None]], [m[None, :], np.zeros((1, 1))]])
    q = T @ np.linalg.solve(M, np.r_[B.T @ v, CHARGE])[:-1]
    return q, np.sqrt(np.mean((A @ q - v) ** 2) / np.mean(v ** 2))


def mp2_density(mf, label, energies=True):
    mf.run(conv_tol=1e-10)
    mol = mf.mol
    homo = mf.mo_energy[mf.mo_occ > 0].max()
    mp = dfmp2_native.DFMP2(mf, frozen=chemcore(mol), auxbasis="cc-pvtz-ri")
    mp.kernel()
    e = f"E(HF)={mf.e_tot:.8f}  E(RI-MP2)={mp.e_tot:.8f} Eh" if energies else "(energies not printed: fixed field)"
    log(f"  {label}: nao={mol.nao} frozen={chemcore(mol)}  {e}  HOMO(HF)={homo:+.4f} Eh  ({time.time() - T0:.0f} s)")
    return mp.make_rdm1(relaxed=True, ao_repr=True)


def show(label, q, rrms, npts):
    log(f"  {label}: {npts} points, RRMS {rrms:.4f}\n    q(S) = {q[1]:+.4f}   q(O) = {q[0]:+.4f}   sum = {q.sum():+.6f}")


def main():
    log(f"pyscf {pyscf.__version__}, geomeTRIC {geometric.__version__}, threads {lib.num_threads()}")

    log("\n(a) geometry: B3LYP/cc-pVTZ (density fitting), geomeTRIC, from Td with S-O 1.50 A")
    mol = gto.M(atom=td_geometry(1.50), unit="Angstrom", basis="cc-pvtz", charge=CHARGE, verbose=0)
    mf = dft.RKS(mol, xc="b3lyp").density_fit()
    mf.conv_tol = 1e-10
    mol_eq = optimize(mf, maxsteps=50)
    x = mol_eq.atom_coords() * BOHR
    mf_eq = dft.RKS(mol_eq, xc="b3lyp").density_fit().run(conv_tol=1e-10)
    log(f"  E(B3LYP) = {mf_eq.e_tot:.8f} Eh   HOMO = {mf_eq.mo_energy[mf_eq.mo_occ > 0].max():+.4f} Eh"
        f"  ({time.time() - T0:.0f} s)")
    for n, p in zip(NAMES, x):
        log(f"    {n:3s} {p[0]:12.6f} {p[1]:12.6f} {p[2]:12.6f}")
    r = [dist(x, 1, i) for i in (0, 2, 3, 4)]
    a = [angle(x, i, 1, j) for i, j in ((0, 2), (0, 3), (0, 4), (2, 3), (2, 4), (3, 4))]
    log(f"  S-O   mean {np.mean(r):.4f} A   spread {np.ptp(r):.1e}")
    log(f"  O-S-O mean {np.mean(a):.3f} deg spread {np.ptp(a):.1e}  (tetrahedral {np.degrees(np.arccos(-1 / 3)):.3f})")
    r_so = round(float(np.mean(r)), 4)
    log(f"  -> r0(S-O) = {r_so:.4f} A = {r_so / 10:.5f} nm; ESP geometry: exact Td with this S-O")
    geom = td_geometry(r_so)

    log("\n(b) charges: ESP of the relaxed MP2/cc-pVTZ(-f) density (frozen core, RI), gas phase")
    mol = gto.M(atom=geom, unit="Angstrom", basis=basis_tz_minus_f(), charge=CHARGE, verbose=0)
    dm = mp2_density(scf.RHF(mol), "MP2/cc-pVTZ(-f)")
    pts = mk_points(mol)
    q, rrms = fit(mol, pts, esp(mol, dm, pts))
    show("MK shells, Td-symmetrised, total -2 (RESULT)", q, rrms, len(pts))
    qo = round(float(q[0]), 4)
    log(f"  rounded charges for so4.xml: q(O) = {qo:+.4f}   q(S) = -2 - 4 q(O) = {CHARGE - 4 * qo:+.4f}")

    log("\n  sensitivity (not used)")
    pc = chelpg_points(mol)
    q2, r2 = fit(mol, pc, esp(mol, dm, pc))
    show("CHELPG-like grid, MP2/cc-pVTZ(-f)", q2, r2, len(pc))
    mol3 = gto.M(atom=geom, unit="Angstrom", basis="cc-pvtz", charge=CHARGE, verbose=0)
    dm3 = mp2_density(scf.RHF(mol3), "MP2/cc-pVTZ")
    p3 = mk_points(mol3)
    q3, r3 = fit(mol3, p3, esp(mol3, dm3, p3))
    show("MK shells, MP2/cc-pVTZ (with f)", q3, r3, len(p3))

    for solv in ("IEF-PCM", "ddCOSMO"):
        if solv == "ddCOSMO":
            mfs = scf.RHF(mol).ddCOSMO()
        else:
            mfs = scf.RHF(mol).PCM()
            mfs.with_solvent.method = "IEF-PCM"
        mfs.with_solvent.eps = 78.3553
        mfs.run(conv_tol=1e-10)
        e_rf, v_rf = mfs.with_solvent.kernel(mfs.make_rdm1())  # converged reaction-field potential (AO)
        mff = scf.RHF(mol)
        h0 = mff.get_hcore()
        mff.get_hcore = lambda *args, h0=h0, v_rf=v_rf: h0 + v_rf   # frozen reaction field
        log(f"  {solv} (eps 78.3553): E(HF, solvated) = {mfs.e_tot:.8f} Eh, E(solvation, HF) = {e_rf:.6f} Eh")
        dms = mp2_density(mff, f"MP2/cc-pVTZ(-f) in the fixed {solv} reaction field", energies=False)
        qs, rs = fit(mol, pts, esp(mol, dms, pts))
        show(f"MK shells, {solv} water, solute ESP", qs, rs, len(pts))
    log(f"\ntotal time {time.time() - T0:.0f} s")


if __name__ == "__main__":
    main()

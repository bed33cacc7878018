"""Derive the quantum-chemical numbers of the hese TMP force field (force_fields/organic/trimethyl_phosphate.xml).

TMP = trimethyl phosphate, neutral, SMILES COP(=O)(OC)OC. Atom names (SMILES order after rdkit AddHs,
numbered per element): C1 O1 P1 O2 O3 C2 O4 C3 H1..H9; O2 is the P=O oxygen, O1/O3/O4 the ester O,
H1-H3 on C1, H4-H6 on C2, H7-H9 on C3.

What this script derives (everything else in trimethyl_phosphate.xml is transcribed from OPLS-AA, see the file header):
  (a) conformer: rdkit ETKDG (100 conformers, seed 1) + MMFF94; the lowest MMFF conformer (C3, all
      three O=P-O-C gauche, same sense) is the start. The C1 (g,g,t) conformer is printed too.
  (b) equilibrium geometry: B3LYP/6-31G* (density fitting, pyscf's default B3LYP = VWN-RPA as in
      Gaussian), optimised with geomeTRIC. The hese DFOB- derivation (dfob.py) optimises at
      B3LYP/cc-pVTZ; for TMP (17 atoms, 370 cc-pVTZ functions) that is ~7 min per optimisation step
      on the 2 shared CPU cores available, so the geometry uses the smaller 6-31G* basis. It is used
      only as the frame for the ESP and for the equilibrium values reported below.
  (c) partial charges: fitted to the MP2/cc-pVTZ(-f) electrostatic potential (the CL&P protocol,
      Canongia Lopes & Padua, J. Phys. Chem. B 108, 2038 and 16893 (2004); same level as dfob.py)
      on the (b) geometry. MP2 = frozen-core RI-MP2, relaxed density (pyscf dfmp2_native), aux basis
      cc-pVTZ-RI; cc-pVTZ(-f) = cc-pVTZ with the f shells removed (d shells on H kept).
      Points: Merz-Kollman shells 1.4/1.6/1.8/2.0 x vdW radius, 6 points/A^2 (mk_points of dfob.py,
      imported: Singh & Kollman, J. Comput. Chem. 5, 129 (1984); Besler, Merz & Kollman,
      J. Comput. Chem. 11, 431 (1990); Bondi radii from pyscf.data.radii.VDW).
      Fit: least squares with the total charge constrained to 0 (Lagrange multiplier) and
      symmetry-equivalent atoms constrained to one charge: the three methoxy groups are equivalent
      (C1=C2=C3, O1=O3=O4, all nine H equal), P1 and O2 one charge each.
      Rounded to 4 decimals; P1 absorbs the rounding so the sum is exactly 0.
      Sensitivity (printed, not used): per-atom MK fit; CHELPG-like grid (chelpg_points of dfob.py:
      Breneman & Wiberg, J. Comput. Chem. 11, 361 (1990), 0.3 A spacing, 2.8 A shell); HF instead of
      MP2 density. Only the C3 conformer is used (no conformer averaging).

Run:  .venv/bin/python force_fields/derivations/trimethyl_phosphate.py > force_fields/derivations/trimethyl_phosphate.out
Needs pyscf and geomeTRIC (derivation-only tools, not hese dependencies): pip install pyscf geometric
Imports the ESP-point, ESP-evaluation and geometry helpers from force_fields/derivations/dfob.py (unchanged);
the fit is this file's own (dfob.py's fit is tied to its own atom classes).
Took 72 min (4334 s) on 2 CPU cores shared with other jobs (load ~7): geometry 21 min, MP2 ~35 min.
"""
import os
import sys
import time

import numpy as np
from rdkit import Chem
from rdkit.Chem import AllChem
from rdkit.Chem import rdMolTransforms
import pyscf
import geometric
from pyscf import gto, scf, dft, lib
from pyscf.data.nist import BOHR
from pyscf.geomopt.geometric_solver import optimize
from pyscf.mp import dfmp2_native

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dfob import mk_points, chelpg_points, esp, dist, angle, dihedral  # noqa: E402  (reused, not edited)

SMILES = "COP(=O)(OC)OC"
NAMES = ["C1", "O1", "P1", "O2", "O3", "C2", "O4", "C3"] + [f"H{i}" for i in range(1, 10)]
CLASSES = {"C(methyl)": ["C1", "C2", "C3"], "O(ester)": ["O1", "O3", "O4"], "P": ["P1"], "O(=P)": ["O2"],
           "H": [f"H{i}" for i in range(1, 10)]}
METHOXY = [("O1", "C1", ["H1", "H2", "H3"]), ("O3", "C2", ["H4", "H5", "H6"]), ("O4", "C3", ["H7", "H8", "H9"])]
T0 = time.time()


def log(*a):
    print(*a, flush=True)


def conformers():
    """rdkit ETKDG + MMFF94 conformer search; returns (geometry of the lowest conformer, table)."""
    mol = Chem.AddHs(Chem.MolFromSmiles(SMILES))
    assert [a.GetSymbol() + str(i) for i, a in enumerate(mol.GetAtoms())][:8] == \
        ["C0", "O1", "P2", "O3", "O4", "C5", "O6", "C7"]
    cids = list(AllChem.EmbedMultipleConfs(mol, 100, randomSeed=1))
    res = AllChem.MMFFOptimizeMoleculeConfs(mol, maxIters=5000)
    rows = []
    for cid, (_, e) in zip(cids, res):
        c = mol.GetConformer(cid)
        d = [rdMolTransforms.GetDihedralDeg(c, 3, 2, o, cc) for o, cc in [(1, 0), (4, 5), (6, 7)]]
        rows.append((e, d, cid))
    rows.sort(key=lambda r: r[0])
    log("  unique MMFF94 conformers (E kcal/mol, O=P-O-C dihedrals deg)")
    seen = []
    for e, d, cid in rows:
        key = tuple(sorted(round(abs(x) / 10) for x in d))
        if key in seen:
            continue
        seen.append(key)
        log(f"    {e - rows[0][0]:7.3f}  " + "  ".join(f"{x:7.1f}" for x in d))
    syms = [a.GetSymbol() for a in mol.GetAtoms()]
    return list(zip(syms, mol.GetConformer(rows[0][2]).GetPositions()))


def report_geometry(x):
    """x in Angstrom; each internal-coordinate type as mean over its copies (+ spread)."""
    ix = {n: i for i, n in enumerate(NAMES)}
    b = {"P=O": [("P1", "O2")], "P-O(ester)": [("P1", o) for o, _, _ in METHOXY],
         "O-C": [(o, c) for o, c, _ in METHOXY], "C-H": [(c, h) for _, c, hs in METHOXY for h in hs]}
    a = {"O=P-O": [("O2", "P1", o) for o, _, _ in METHOXY],
         "O-P-O": [("O1", "P1", "O3"), ("O1", "P1", "O4"), ("O3", "P1", "O4")],
         "P-O-C": [("P1", o, c) for o, c, _ in METHOXY],
         "O-C-H": [(o, c, h) for o, c, hs in METHOXY for h in hs],
         "H-C-H": [(hs[i], c, hs[j]) for _, c, hs in METHOXY for i, j in [(0, 1), (0, 2), (1, 2)]]}
    others = {"O1": ["O3", "O4"], "O3": ["O1", "O4"], "O4": ["O1", "O3"]}
    d = {"O=P-O-C": [("O2", "P1", o, c) for o, c, _ in METHOXY],
         "O-P-O-C": [(p, "P1", o, c) for o, c, _ in METHOXY for p in others[o]],
         "P-O-C-H": [("P1", o, c, h) for o, c, hs in METHOXY for h in hs]}
    log("  bond lengths / A (mean over copies, spread)")
    for k, v in b.items():
        q = [dist(x, ix[i], ix[j]) for i, j in v]
        log(f"    {k:12s} {np.mean(q):.4f}   spread {np.ptp(q):.1e}")
    log("  angles / deg")
    for k, v in a.items():
        q = [angle(x, ix[i], ix[j], ix[l]) for i, j, l in v]
        log(f"    {k:12s} {np.mean(q):.2f}   spread {np.ptp(q):.1e}")
    log("  dihedrals / deg")
    for k, v in d.items():
        log(f"    {k:12s} " + " ".join(f"{dihedral(x, ix[i], ix[j], ix[k_], ix[l]):7.1f}" for i, j, k_, l in v))


def basis_tz_minus_f():
    """cc-pVTZ(-f): cc-pVTZ without its f shells (angular momentum 3)."""
    return {el: [s for s in gto.load("cc-pvtz", el) if s[0] < 3] for el in ("H", "C", "O", "P")}


def mp2_density(geom, basis):
    mol = gto.M(atom=geom, unit="Angstrom", basis=basis, charge=0, verbose=0)
    mf = scf.RHF(mol).run(conv_tol=1e-10)
    ncore = 7 + 5  # frozen core: 1s of 3 C + 4 O, 1s2s2p of P
    mp = dfmp2_native.DFMP2(mf, frozen=ncore, auxbasis="cc-pvtz-ri")
    mp.kernel()
    log(f"  nao={mol.nao}  E(HF)={mf.e_tot:.8f}  E(RI-MP2)={mp.e_tot:.8f} Eh  ({time.time() - T0:.0f} s)")
    return mol, mp.make_rdm1(relaxed=True, ao_repr=True)


def fit(mol, pts, v, classes=True, total=0.0):
    """Least-squares charges reproducing v at pts with sum(q) = total; one charge per CLASSES entry if
    classes=True (else one per atom). Returns per-atom charges and the relative RMS error."""
    A = 1.0 / np.linalg.norm(pts[:, None, :] - mol.atom_coords()[None, :, :], axis=2)
    if classes:
        T = np.zeros((mol.natm, len(CLASSES)))
        for c, members in enumerate(CLASSES.values()):
            for n in members:
                T[NAMES.index(n), c] = 1.0
    else:
        T = np.eye(mol.natm)
    B = A @ T
    m = T.sum(0)
    M = np.block([[B.T @ B, m[:, None]], [m[None, :], np.zeros((1, 1))]])
    q = T @ np.linalg.solve(M, np.r_[B.T @ v, total])[:-1]
    return q, np.sqrt(np.mean((A @ q - v) ** 2) / np.mean(v ** 2))


def print_charges(label, q, rrms, npts):
    log(f"  {label}: {npts} points, RRMS {rrms:.4f}")
    log("    " + "  ".join(f"{n}={qi:+.4f}" for n, qi in zip(NAMES, q)) + f"   sum={q.sum():+.6f}")


def main():
    log(f"pyscf {pyscf.__version__}, geomeTRIC {geometric.__version__}, numpy {np.__version__}, "
        f"threads {lib.num_threads()}")
    log("\n(a) conformer search: rdkit ETKDG + MMFF94")
    start = conformers()

    log("\n(b) geometry: B3LYP/6-31G* (density fitting), geomeTRIC, from the lowest MMFF conformer")
    mol = gto.M(atom=start, unit="Angstrom", basis="6-31g*", verbose=0)
    mf = dft.RKS(mol, xc="b3lyp").density_fit()
    mf.conv_tol = 1e-10
    mol_eq = optimize(mf, maxsteps=100)
    x = mol_eq.atom_coords() * BOHR
    mf_eq = dft.RKS(mol_eq, xc="b3lyp").density_fit().run(conv_tol=1e-10)
    log(f"  E(B3LYP/6-31G*) = {mf_eq.e_tot:.8f} Eh  ({time.time() - T0:.0f} s)")
    log("  optimised Cartesian coordinates / A")
    for n, p in zip(NAMES, x):
        log(f"    {n:3s} {p[0]:12.6f} {p[1]:12.6f} {p[2]:12.6f}")
    report_geometry(x)
    geom = [(n.rstrip("0123456789"), p) for n, p in zip(NAMES, x)]

    log("\n(c) charges: ESP of the relaxed MP2/cc-pVTZ(-f) density (frozen core, RI)")
    mol, dm = mp2_density(geom, basis_tz_minus_f())
    pts = mk_points(mol)
    v = esp(mol, dm, pts)
    q, rrms = fit(mol, pts, v)
    print_charges("MK shells, symmetry classes + total charge 0 (RESULT)", q, rrms, len(pts))
    qr = {n: round(qi, 4) for n, qi in zip(NAMES, q)}
    qr["P1"] = round(-sum(qr[n] for n in NAMES if n != "P1"), 4)
    log("  rounded charges for trimethyl_phosphate.xml: " + "  ".join(f"{k}={qr[v_[0]]:+.4f}" for k, v_ in CLASSES.items())
        + f"   sum={sum(qr.values()):+.2e}")

    log("\n  sensitivity (not used)")
    q1, r1 = fit(mol, pts, v, classes=False)
    print_charges("MK shells, per-atom (no symmetry averaging)", q1, r1, len(pts))
    pc = chelpg_points(mol)
    q2, r2 = fit(mol, pc, esp(mol, dm, pc))
    print_charges("CHELPG-like grid, symmetry classes", q2, r2, len(pc))
    dmhf = scf.RHF(mol).run(conv_tol=1e-10).make_rdm1()
    q3, r3 = fit(mol, pts, esp(mol, dmhf, pts))
    print_charges("HF/cc-pVTZ(-f) density, MK shells, symmetry classes", q3, r3, len(pts))
    log(f"\ntotal time {time.time() - T0:.0f} s")


if __name__ == "__main__":
    main()

"""Derive the quantum-chemical numbers of the hese DFOB- force field (force_fields/organic/dfob.xml).

DFOB- = difluoro(oxalato)borate, SMILES F[B-]1(F)OC(=O)C(=O)O1, atom names F1 B1 F2 O1 C1 O2 C2 O3 O4
(SMILES order after rdkit AddHs, numbered per element; O1/O4 ring O, O2/O3 carbonyl O).

What this script derives (everything else in dfob.xml is transcribed from CL&P / OPLS-AA, see
force_fields/README.md):
  (a) equilibrium geometry: B3LYP/cc-pVTZ (density fitting, VWN-RPA B3LYP as in Gaussian),
      optimised with geomeTRIC from an rdkit ETKDG start.
  (b) partial charges: fitted to the MP2/cc-pVTZ(-f) electrostatic potential (the CL&P protocol,
      Canongia Lopes & Padua, J. Phys. Chem. B 108, 2038 and 16893 (2004)) on the (a) geometry.
      MP2 = frozen-core RI-MP2, *relaxed* density (pyscf dfmp2_native), aux basis cc-pVTZ-RI.
      cc-pVTZ(-f) = cc-pVTZ with the f shells removed.
      Points: Merz-Kollman shells at 1.4, 1.6, 1.8, 2.0 x vdW radius (Singh & Kollman, J. Comput.
      Chem. 5, 129 (1984); Besler, Merz & Kollman, J. Comput. Chem. 11, 431 (1990)), 6 points/A^2
      (the density of the usual Amber RESP protocol, Gaussian IOp(6/42=6)); vdW radii from
      pyscf.data.radii.VDW (Bondi, J. Phys. Chem. 68, 441 (1964) for C, O, F; Mantina et al.,
      J. Phys. Chem. A 113, 5806 (2009) for B).
      Fit: least squares with the total charge constrained to -1 (Lagrange multiplier) and
      symmetry-equivalent atoms (C2v: F1=F2, O1=O4, C1=C2, O2=O3) constrained to one charge.
      Sensitivity (printed, not used): unconstrained MK fit, a CHELPG-like cubic grid (Breneman &
      Wiberg, J. Comput. Chem. 11, 361 (1990): 0.3 A spacing, up to 2.8 A outside the vdW surface),
      and MP2 with the full cc-pVTZ basis.

Run:  .venv/bin/python force_fields/derivations/dfob.py > force_fields/derivations/dfob.out
Needs pyscf and geomeTRIC (derivation-only tools, not hese dependencies): pip install pyscf geometric
Cost: about 35 CPU-minutes (about 20 min wall on 2 idle cores; the geometry optimisation is half of it,
the full-cc-pVTZ sensitivity calculation a quarter). stdout is the record (dfob.out); geomeTRIC logs to stderr.
"""
import time

import numpy as np
from rdkit import Chem
from rdkit.Chem import AllChem
import pyscf
import geometric
from pyscf import gto, scf, dft, lib
from pyscf.data.radii import VDW
from pyscf.data.nist import BOHR
from pyscf.geomopt.geometric_solver import optimize
from pyscf.mp import dfmp2_native

SMILES = "F[B-]1(F)OC(=O)C(=O)O1"
NAMES = ["F1", "B1", "F2", "O1", "C1", "O2", "C2", "O3", "O4"]
# symmetry classes (C2v): one charge per class
CLASSES = {"F": ["F1", "F2"], "B": ["B1"], "O_ring": ["O1", "O4"], "C": ["C1", "C2"], "O_carbonyl": ["O2", "O3"]}
T0 = time.time()


def log(*a):
    print(*a, flush=True)


def basis_tz_minus_f():
    """cc-pVTZ(-f): cc-pVTZ without its f shells (angular momentum 3)."""
    return {el: [shell for shell in gto.load("cc-pvtz", el) if shell[0] < 3] for el in ("B", "C", "O", "F")}


def start_geometry():
    mol = Chem.AddHs(Chem.MolFromSmiles(SMILES))
    AllChem.EmbedMolecule(mol, randomSeed=7)
    syms = [a.GetSymbol() for a in mol.GetAtoms()]
    return list(zip(syms, mol.GetConformer().GetPositions()))


def dist(x, i, j):
    return np.linalg.norm(x[i] - x[j])


def angle(x, i, j, k):
    a, b = x[i] - x[j], x[k] - x[j]
    return np.degrees(np.arccos(np.dot(a, b) / np.linalg.norm(a) / np.linalg.norm(b)))


def dihedral(x, i, j, k, l):
    b0, b1, b2 = x[i] - x[j], x[k] - x[j], x[l] - x[k]
    b1 = b1 / np.linalg.norm(b1)
    v, w = b0 - np.dot(b0, b1) * b1, b2 - np.dot(b2, b1) * b1
    return np.degrees(np.arctan2(np.dot(np.cross(b1, v), w), np.dot(v, w)))


def report_geometry(x):
    """x in Angstrom. Prints each internal coordinate type as the mean over its symmetry copies."""
    ix = {n: i for i, n in enumerate(NAMES)}
    bonds = {"B-F": [("B1", "F1"), ("B1", "F2")], "B-O(ring)": [("B1", "O1"), ("B1", "O4")],
             "O(ring)-C": [("O1", "C1"), ("O4", "C2")], "C=O": [("C1", "O2"), ("C2", "O3")],
             "C-C": [("C1", "C2")]}
    angles = {"F-B-F": [("F1", "B1", "F2")],
              "F-B-O": [("F1", "B1", "O1"), ("F2", "B1", "O1"), ("F1", "B1", "O4"), ("F2", "B1", "O4")],
              "O-B-O": [("O1", "B1", "O4")], "B-O-C": [("B1", "O1", "C1"), ("B1", "O4", "C2")],
              "O(ring)-C-C": [("O1", "C1", "C2"), ("O4", "C2", "C1")],
              "O(ring)-C=O": [("O1", "C1", "O2"), ("O4", "C2", "O3")],
              "C-C=O": [("C2", "C1", "O2"), ("C1", "C2", "O3")]}
    dihedrals = {"O1-C1-C2-O4": [("O1", "C1", "C2", "O4")], "B-O-C-C": [("B1", "O1", "C1", "C2"), ("B1", "O4", "C2", "C1")],
                 "O-B-O-C": [("O4", "B1", "O1", "C1"), ("O1", "B1", "O4", "C2")],
                 "B-O-C=O": [("B1", "O1", "C1", "O2"), ("B1", "O4", "C2", "O3")]}
    log("  bond lengths / A (mean over symmetry copies, spread)")
    for k, v in bonds.items():
        d = [dist(x, ix[a], ix[b]) for a, b in v]
        log(f"    {k:12s} {np.mean(d):.4f}   spread {np.ptp(d):.1e}")
    log("  angles / deg")
    for k, v in angles.items():
        d = [angle(x, ix[a], ix[b], ix[c]) for a, b, c in v]
        log(f"    {k:12s} {np.mean(d):.2f}   spread {np.ptp(d):.1e}")
    mean_angle = {k: np.mean([angle(x, ix[a], ix[b], ix[c]) for a, b, c in v]) for k, v in angles.items()}
    ring = mean_angle["O-B-O"] + 2 * mean_angle["B-O-C"] + 2 * mean_angle["O(ring)-C-C"]
    log(f"    ring angle sum O-B-O + 2 B-O-C + 2 O-C-C = {ring:.2f}  (planar pentagon: 540)")
    log("  dihedrals / deg (0 or 180 = planar ring)")
    for k, v in dihedrals.items():
        log(f"    {k:12s} " + "  ".join(f"{dihedral(x, ix[a], ix[b], ix[c], ix[d]):8.2f}" for a, b, c, d in v))


def mk_points(mol, density=6.0, factors=(1.4, 1.6, 1.8, 2.0)):
    """Merz-Kollman shells (bohr). Golden-spiral points on each scaled vdW sphere, kept if outside
    every atom's sphere of the same scale."""
    xyz = mol.atom_coords()  # bohr
    r = np.array([VDW[z] for z in mol.atom_charges()])  # bohr
    pts = []
    for f in factors:
        for a in range(mol.natm):
            R = f * r[a]
            n = int(round(4 * np.pi * (R * BOHR) ** 2 * density))
            k = np.arange(n) + 0.5
            phi, cost = np.pi * (1 + 5 ** 0.5) * k, 1 - 2 * k / n
            sint = np.sqrt(1 - cost ** 2)
            p = xyz[a] + R * np.c_[sint * np.cos(phi), sint * np.sin(phi), cost]
            d = np.linalg.norm(p[:, None, :] - xyz[None, :, :], axis=2)
            pts.append(p[np.all(d >= f * r[None, :] - 1e-8, axis=1)])
    return np.vstack(pts)


def chelpg_points(mol, spacing=0.3, rmax=2.8):
    """CHELPG-like cubic grid (bohr): spacing and shell thickness in Angstrom."""
    xyz = mol.atom_coords()
    r = np.array([VDW[z] for z in mol.atom_charges()])
    h, rm = spacing / BOHR, rmax / BOHR
    lo, hi = xyz.min(0) - r.max() - rm, xyz.max(0) + r.max() + rm
    g = np.stack(np.meshgrid(*[np.arange(lo[i], hi[i] + h, h) for i in range(3)], indexing="ij"), -1).reshape(-1, 3)
    d = np.linalg.norm(g[:, None, :] - xyz[None, :, :], axis=2)
    keep = np.all(d >= r[None, :], axis=1) & np.any(d <= r[None, :] + rm, axis=1)
    return g[keep]


def esp(mol, dm, pts, chunk=400):
    """Electrostatic potential (hartree/e) of nuclei + density dm (AO) at pts (bohr)."""
    v = np.zeros(len(pts))
    for i in range(0, len(pts), chunk):
        p = pts[i:i + chunk]
        v[i:i + chunk] = -np.einsum("gij,ij->g", mol.intor("int1e_grids", grids=p), dm)
    d = np.linalg.norm(pts[:, None, :] - mol.atom_coords()[None, :, :], axis=2)
    return v + (mol.atom_charges()[None, :] / d).sum(1)


def fit(mol, pts, v, classes=True, total=-1.0):
    """Least-squares charges reproducing v at pts with sum(q) = total; one charge per symmetry class
    if classes=True (else one per atom). Returns per-atom charges and the relative RMS error."""
    A = 1.0 / np.linalg.norm(pts[:, None, :] - mol.atom_coords()[None, :, :], axis=2)
    if classes:
        T = np.zeros((mol.natm, len(CLASSES)))
        for c, members in enumerate(CLASSES.values()):
            for n in members:
                T[NAMES.index(n), c] = 1.0
    else:
        T = np.eye(mol.natm)
    B = A @ T
    m = T.sum(0)  # atoms per class
    M = np.block([[B.T @ B, m[:, None]], [m[None, :], np.zeros((1, 1))]])
    y = np.r_[B.T @ v, total]
    q = T @ np.linalg.solve(M, y)[:-1]
    rrms = np.sqrt(np.mean((A @ q - v) ** 2) / np.mean(v ** 2))
    return q, rrms


def mp2_density(geom, basis):
    mol = gto.M(atom=geom, unit="Angstrom", basis=basis, charge=-1, verbose=0)
    mf = scf.RHF(mol).run(conv_tol=1e-10)
    ncore = mol.natm  # frozen core: 1s of each of the 9 first-row atoms
    mp = dfmp2_native.DFMP2(mf, frozen=ncore, auxbasis="cc-pvtz-ri")
    mp.kernel()
    log(f"  nao={mol.nao}  E(HF)={mf.e_tot:.8f}  E(RI-MP2)={mp.e_tot:.8f} Eh  ({time.time() - T0:.0f} s)")
    return mol, mp.make_rdm1(relaxed=True, ao_repr=True)


def print_charges(label, q, rrms, npts):
    log(f"  {label}: {npts} points, RRMS {rrms:.4f}")
    log("    " + "  ".join(f"{n}={qi:+.4f}" for n, qi in zip(NAMES, q)) + f"   sum={q.sum():+.6f}")


def main():
    log(f"pyscf {pyscf.__version__}, geomeTRIC {geometric.__version__}, threads {lib.num_threads()}")

    log("\n(a) geometry: B3LYP/cc-pVTZ (density fitting), geomeTRIC")
    mol = gto.M(atom=start_geometry(), unit="Angstrom", basis="cc-pvtz", charge=-1, verbose=0)
    mf = dft.RKS(mol, xc="b3lyp").density_fit()
    mf.conv_tol = 1e-10
    mol_eq = optimize(mf, maxsteps=100)
    x = mol_eq.atom_coords() * BOHR  # Angstrom
    mf_eq = dft.RKS(mol_eq, xc="b3lyp").density_fit().run(conv_tol=1e-10)
    log(f"  E(B3LYP) = {mf_eq.e_tot:.8f} Eh  ({time.time() - T0:.0f} s)")
    log("  optimised Cartesian coordinates / A")
    for n, p in zip(NAMES, x):
        log(f"    {n:3s} {p[0]:12.6f} {p[1]:12.6f} {p[2]:12.6f}")
    report_geometry(x)
    geom = [(n.rstrip("0123456789"), p) for n, p in zip(NAMES, x)]

    log("\n(b) charges: ESP of the relaxed MP2/cc-pVTZ(-f) density (frozen core, RI)")
    mol, dm = mp2_density(geom, basis_tz_minus_f())
    pts = mk_points(mol)
    v = esp(mol, dm, pts)
    q, rrms = fit(mol, pts, v)
    print_charges("MK shells, symmetry classes + total charge -1 (RESULT)", q, rrms, len(pts))
    # round to 4 decimals; B (the only singly occurring class) absorbs the rounding so sum = -1 exactly
    qr = {n: round(qi, 4) for n, qi in zip(NAMES, q)}
    qr["B1"] = round(-1.0 - sum(qr[n] for n in NAMES if n != "B1"), 4)
    log("  rounded charges for dfob.xml: " + "  ".join(f"{n}={qr[n]:+.4f}" for n in NAMES)
        + f"   sum={sum(qr.values()):+.6f}")

    log("\n  sensitivity (not used)")
    q1, r1 = fit(mol, pts, v, classes=False)
    print_charges("MK shells, per-atom (no symmetry averaging)", q1, r1, len(pts))
    pc = chelpg_points(mol)
    q2, r2 = fit(mol, pc, esp(mol, dm, pc))
    print_charges("CHELPG-like grid, symmetry classes", q2, r2, len(pc))
    mol3, dm3 = mp2_density(geom, "cc-pvtz")
    p3 = mk_points(mol3)
    q3, r3 = fit(mol3, p3, esp(mol3, dm3, p3))
    print_charges("MP2/cc-pVTZ (with f), MK shells, symmetry classes", q3, r3, len(p3))
    log(f"\ntotal time {time.time() - T0:.0f} s")


if __name__ == "__main__":
    main()

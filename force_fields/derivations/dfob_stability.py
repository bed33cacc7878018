"""Stability check of the derived DFOB- force field (force_fields/organic/dfob.xml).

System: N Li+ + N DFOB- + M DME (organic/li.xml, organic/dfob.xml, organic/dme.xml), periodic, full
(unscaled) ion charges; default N = 10, M = 150 (about 0.7 mol/kg); `dfob_stability.py 5 75` runs the
same composition in half the box (the recorded run, because the 2 CPU cores were shared). Combining rule as hese applies it to the organic family: geometric sigma and
epsilon, implemented here with a CustomNonbondedForce (LJ) next to the NonbondedForce (PME Coulomb);
1-4 pairs 0.5 Coulomb / 0.5 LJ with geometric sigma. LJ cutoff 1.0 nm with long-range correction.
X-H bonds constrained (as hese does); DFOB- has no H, so all its bonds are flexible.

Protocol (CPU platform): minimise; 20 ps NPT (Langevin 298 K, 1 ps^-1, 1 fs; Monte Carlo barostat 1 bar);
50 ps NVT Langevin 298 K, 1 fs (production, DFOB- geometry sampled every 100 fs); 10 ps NVE
(velocity Verlet, 1 fs) for the energy drift.
Reported: NaN check, DFOB- bond lengths and angles relative to the force-field equilibrium values,
ring planarity, energies, NVE drift.

Run (from the repository root):
  .venv/bin/python force_fields/derivations/dfob_stability.py [N M] > force_fields/derivations/dfob_stability.out
"""
import collections
import math
import sys
import time

import numpy as np
import yaml
import openmm as mm
import openmm.app as app
import openmm.unit as u
from rdkit import Chem
from rdkit.Chem import AllChem

ROOT = str(__import__("pathlib").Path(__file__).resolve().parents[2])
N_PAIRS, N_DME = (int(a) for a in sys.argv[1:3]) if len(sys.argv) > 2 else (10, 150)
COMPOSITION = [("Li", N_PAIRS), ("DFOB", N_PAIRS), ("DME", N_DME)]
FILES = ["force_fields/organic/li.xml", "force_fields/organic/dfob.xml", "force_fields/organic/dme.xml"]
T, DT, CUTOFF = 298.0 * u.kelvin, 1.0 * u.femtosecond, 1.0 * u.nanometer
RNG = np.random.default_rng(2024)
REG = {e["name"]: e for e in yaml.safe_load(open(f"{ROOT}/hese/data/species.yaml"))}
T0 = time.time()


def log(*a):
    print(*a, flush=True)


def template(name):
    """rdkit molecule of a registry species: atom names (registry rule) and coordinates in nm."""
    e = REG[name]
    mol = Chem.AddHs(Chem.MolFromSmiles(e["smiles"]))
    cnt = collections.Counter()
    names = []
    for a in mol.GetAtoms():
        cnt[a.GetSymbol()] += 1
        names.append(f"{a.GetSymbol()}{cnt[a.GetSymbol()]}")
    if mol.GetNumAtoms() > 1:
        AllChem.EmbedMolecule(mol, randomSeed=1)
        xyz = mol.GetConformer().GetPositions() / 10.0
    else:
        xyz = np.zeros((1, 3))
    bonds = [(b.GetBeginAtomIdx(), b.GetEndAtomIdx()) for b in mol.GetBonds()]
    elems = [a.GetSymbol() for a in mol.GetAtoms()]
    return dict(residue=e["residue"], names=names, elems=elems, xyz=xyz - xyz.mean(0), bonds=bonds)


def random_rotation():
    q = RNG.normal(size=4)
    a, b, c, d = q / np.linalg.norm(q)
    return np.array([[a*a+b*b-c*c-d*d, 2*(b*c-a*d), 2*(b*d+a*c)],
                     [2*(b*c+a*d), a*a-b*b+c*c-d*d, 2*(c*d-a*b)],
                     [2*(b*d-a*c), 2*(c*d+a*b), a*a-b*b-c*c+d*d]])


def build(box_nm, dmin=0.20):
    """Random insertion with a minimum image distance dmin between atoms of different molecules."""
    top = app.Topology()
    chain = top.addChain()
    placed = np.zeros((0, 3))
    mols = [name for name, n in COMPOSITION for _ in range(n)]
    tmpl = {name: template(name) for name, _ in COMPOSITION}
    for name in mols:
        t = tmpl[name]
        for _ in range(20000):
            x = t["xyz"] @ random_rotation().T + RNG.uniform(0, box_nm, 3)
            if len(placed) == 0:
                break
            d = x[:, None, :] - placed[None, :, :]
            d -= box_nm * np.round(d / box_nm)
            if np.sqrt((d ** 2).sum(-1)).min() > dmin:
                break
        else:
            raise RuntimeError("could not insert " + name)
        placed = np.vstack([placed, x])
        res = top.addResidue(t["residue"], chain)
        atoms = [top.addAtom(n, app.Element.getBySymbol(e), res) for n, e in zip(t["names"], t["elems"])]
        for i, j in t["bonds"]:
            top.addBond(atoms[i], atoms[j])
    top.setPeriodicBoxVectors(np.eye(3) * box_nm * u.nanometer)
    return top, placed


def geometric_combining(system):
    """Move LJ from NonbondedForce (Lorentz-Berthelot) to a CustomNonbondedForce with geometric sigma and
    epsilon; set the 1-4 exceptions' sigma to the geometric mean (their epsilon is already
    0.5*sqrt(eps_i eps_j))."""
    nb = next(f for f in system.getForces() if isinstance(f, mm.NonbondedForce))
    lj = mm.CustomNonbondedForce("4*eps*((sig/r)^12-(sig/r)^6); sig=sqrt(sig1*sig2); eps=sqrt(eps1*eps2)")
    lj.addPerParticleParameter("sig")
    lj.addPerParticleParameter("eps")
    lj.setNonbondedMethod(mm.CustomNonbondedForce.CutoffPeriodic)
    lj.setCutoffDistance(nb.getCutoffDistance())
    lj.setUseLongRangeCorrection(True)
    sig, eps = [], []
    for i in range(nb.getNumParticles()):
        q, s, e = nb.getParticleParameters(i)
        sig.append(s.value_in_unit(u.nanometer))
        eps.append(e.value_in_unit(u.kilojoule_per_mole))
        lj.addParticle([sig[-1], eps[-1]])
        nb.setParticleParameters(i, q, s, 0.0)
    for k in range(nb.getNumExceptions()):
        i, j, qq, s, e = nb.getExceptionParameters(k)
        lj.addExclusion(i, j)
        if e.value_in_unit(u.kilojoule_per_mole) != 0.0:
            nb.setExceptionParameters(k, i, j, qq, math.sqrt(sig[i] * sig[j]), e)
    nb.setUseDispersionCorrection(False)
    system.addForce(lj)


LABEL = {"F1": "F", "F2": "F", "B1": "B", "O1": "Or", "O4": "Or", "C1": "C", "C2": "C", "O2": "O=", "O3": "O="}
KT = 0.00831446261815324 * 298.0  # kJ/mol


def dfob_internal(system, top):
    """DFOB bonds and angles (atom indices, equilibrium value, force constant) from the force field, keyed
    by atom classes (F, B, Or = ring O, C, O= = carbonyl O), and the ring atoms B1 O1 C1 C2 O4."""
    res = [r for r in top.residues() if r.name == REG["DFOB"]["residue"]]
    dfob = {a.index for r in res for a in r.atoms()}
    hb = next(f for f in system.getForces() if isinstance(f, mm.HarmonicBondForce))
    ha = next(f for f in system.getForces() if isinstance(f, mm.HarmonicAngleForce))
    lab = {a.index: LABEL[a.name] for a in top.atoms() if a.index in dfob}
    bonds, angles = collections.defaultdict(list), collections.defaultdict(list)
    for k in range(hb.getNumBonds()):
        i, j, r0, kb = hb.getBondParameters(k)
        if i in dfob:
            key = "-".join(sorted([lab[i], lab[j]], key="B F C Or O=".split().index))
            bonds[key].append((i, j, r0.value_in_unit(u.nanometer), kb.value_in_unit(u.kilojoule_per_mole / u.nanometer ** 2)))
    for k in range(ha.getNumAngles()):
        i, j, l, th, ka = ha.getAngleParameters(k)
        if j in dfob:
            a, c = sorted([lab[i], lab[l]], key="F Or C O= B".split().index)
            angles[f"{a}-{lab[j]}-{c}"].append((i, j, l, th.value_in_unit(u.degree), ka.value_in_unit(u.kilojoule_per_mole / u.radian ** 2)))
    rings = [[{a.name: a.index for a in r.atoms()}[n] for n in ("B1", "O1", "C1", "C2", "O4")] for r in res]
    return bonds, angles, rings


def sample(pos, bonds, angles, rings, box, acc):
    def vec(i, j):
        d = pos[j] - pos[i]
        return d - box * np.round(d / box)
    for key, lst in bonds.items():
        acc["bond " + key] += [(np.linalg.norm(vec(i, j)) - r0) / r0 for i, j, r0, _ in lst]
    for key, lst in angles.items():
        for i, j, l, th0, _ in lst:
            a, b = vec(j, i), vec(j, l)
            acc["angle " + key].append(np.degrees(np.arccos(a @ b / np.linalg.norm(a) / np.linalg.norm(b))) - th0)
    for ring in rings:
        x = np.array([pos[ring[0]] + vec(ring[0], k) for k in ring])
        for m in range(5):  # the five ring torsions
            p0, p1, p2, p3 = (x[(m + n) % 5] for n in range(4))
            b1 = (p2 - p1) / np.linalg.norm(p2 - p1)
            v, w = p0 - p1 - ((p0 - p1) @ b1) * b1, p3 - p2 - ((p3 - p2) @ b1) * b1
            acc["ring torsion"].append(abs(np.degrees(np.arctan2(np.cross(b1, v) @ w, v @ w))))
        x -= x.mean(0)
        acc["ring rms out-of-plane (nm)"].append(np.sqrt(np.linalg.svd(x)[1][-1] ** 2 / len(ring)))


def main():
    log(f"OpenMM {mm.__version__}; force fields: {', '.join(FILES)}")
    masses = {"Li": 6.941, "DFOB": 143.8, "DME": 90.12}
    mass = sum(masses[n] * k for n, k in COMPOSITION)  # g/mol, only to size the starting box
    box = (mass / 0.50 / 602.214) ** (1 / 3)  # start at 0.50 g/cm3 (random insertion), then NPT
    top, xyz = build(box)
    log(f"composition {COMPOSITION}; {top.getNumAtoms()} atoms; start box {box:.3f} nm")
    ff = app.ForceField(*[f"{ROOT}/{f}" for f in FILES])
    system = ff.createSystem(top, nonbondedMethod=app.PME, nonbondedCutoff=CUTOFF, constraints=app.HBonds)
    geometric_combining(system)
    bonds, angles, rings = dfob_internal(system, top)
    integ = mm.LangevinMiddleIntegrator(T, 1.0 / u.picosecond, DT)
    integ.setRandomNumberSeed(7)
    baro = mm.MonteCarloBarostat(1.0 * u.bar, T, 25)
    baro.setRandomNumberSeed(7)
    system.addForce(baro)
    ctx = mm.Context(system, integ, mm.Platform.getPlatformByName("CPU"))
    ctx.setPositions(xyz * u.nanometer)
    log(f"E(start) = {ctx.getState(getEnergy=True).getPotentialEnergy()}")
    mm.LocalEnergyMinimizer.minimize(ctx, 10.0, 1000)
    log(f"E(min)   = {ctx.getState(getEnergy=True).getPotentialEnergy()}  ({time.time() - T0:.0f} s)")
    ctx.setVelocitiesToTemperature(T, 7)
    ndof = 3 * system.getNumParticles() - system.getNumConstraints() - 3

    def state():
        s = ctx.getState(getEnergy=True, getPositions=True)
        ke = s.getKineticEnergy().value_in_unit(u.kilojoule_per_mole)
        pe = s.getPotentialEnergy().value_in_unit(u.kilojoule_per_mole)
        L = s.getPeriodicBoxVectors()[0][0].value_in_unit(u.nanometer)
        pos = s.getPositions(asNumpy=True).value_in_unit(u.nanometer)
        ok = np.isfinite(pe) and np.isfinite(ke) and np.all(np.isfinite(pos))
        return pe, ke, 2 * ke / (ndof * 0.00831446261815324), L, pos, ok

    log("\nNPT equilibration, 20 ps (time/ps  Epot/kJ/mol  T/K  box/nm  density/g cm-3)")
    for block in range(10):
        integ.step(2000)
        pe, ke, temp, L, _, ok = state()
        log(f"  {2 * (block + 1):5.0f} {pe:12.1f} {temp:7.1f} {L:7.4f} {mass / 602.214 / L ** 3:7.4f}  finite={ok}")
        assert ok, "NaN"
    baro.setFrequency(0)  # NVT from here (box fixed)
    log(f"({time.time() - T0:.0f} s)\nNVT production, 50 ps Langevin (time/ps  Epot  T  Etot)")
    acc = collections.defaultdict(list)
    epots = []
    for block in range(50):
        for _ in range(10):
            integ.step(100)
            pe, ke, temp, L, pos, ok = state()
            assert ok, "NaN"
            sample(pos, bonds, angles, rings, L, acc)
            epots.append(pe)
        if (block + 1) % 5 == 0:
            log(f"  {block + 1:5.0f} {pe:12.1f} {temp:7.1f} {pe + ke:12.1f}")
    log(f"  Epot mean first/second 25 ps: {np.mean(epots[:250]):.1f} / {np.mean(epots[250:]):.1f} kJ/mol"
        f" (std {np.std(epots):.1f})   ({time.time() - T0:.0f} s)")

    log(f"\nDFOB- internal coordinates over 50 ps x {N_PAIRS} anions (sampled every 100 fs)")
    log("  bonds: 100 (r - r0)/r0: mean, std, min, max; std expected for a free harmonic bond, sqrt(kT/k)/r0")
    for k, lst in bonds.items():
        v = 100 * np.array(acc["bond " + k])
        exp = 100 * math.sqrt(KT / lst[0][3]) / lst[0][2]
        log(f"    {k:8s} r0 {10 * lst[0][2]:.4f} A  {v.mean():+6.2f} {v.std():6.2f} {v.min():+7.2f} {v.max():+7.2f}   expected std {exp:.2f}")
    log("  angles: theta - theta0 / deg: mean, std, min, max; expected std sqrt(kT/k)")
    for k, lst in angles.items():
        v = np.array(acc["angle " + k])
        exp = math.degrees(math.sqrt(KT / lst[0][4]))
        log(f"    {k:8s} theta0 {lst[0][3]:6.2f}  {v.mean():+6.2f} {v.std():6.2f} {v.min():+7.2f} {v.max():+7.2f}   expected std {exp:.2f}")
    v = np.array(acc["ring torsion"])
    log(f"  ring torsions |phi| / deg (0 = planar): mean {v.mean():.1f}, std {v.std():.1f}, max {v.max():.1f}")
    v = 10 * np.array(acc["ring rms out-of-plane (nm)"])
    log(f"  ring (B O C C O) rms distance of its atoms from their best plane / A: mean {v.mean():.3f},"
        f" std {v.std():.3f}, max {v.max():.3f}")

    log("\nNVE, 10 ps velocity Verlet 1 fs (time/ps  Etot/kJ/mol  T/K)")
    system.removeForce(system.getNumForces() - 1)  # barostat
    st = ctx.getState(getPositions=True, getVelocities=True)
    nve = mm.VerletIntegrator(DT)
    ctx2 = mm.Context(system, nve, mm.Platform.getPlatformByName("CPU"))
    ctx2.setPeriodicBoxVectors(*st.getPeriodicBoxVectors())
    ctx2.setPositions(st.getPositions())
    ctx2.setVelocities(st.getVelocities())
    ctx2.applyConstraints(1e-8)
    ctx2.applyVelocityConstraints(1e-8)
    ctx = ctx2
    t, etot = [], []
    for block in range(100):
        nve.step(100)
        pe, ke, temp, L, _, ok = state()
        assert ok, "NaN"
        t.append(0.1 * (block + 1))
        etot.append(pe + ke)
        if (block + 1) % 10 == 0:
            log(f"  {t[-1]:5.1f} {pe + ke:12.2f} {temp:7.1f}")
    slope = np.polyfit(t, etot, 1)[0]  # kJ/mol/ps
    log(f"  linear fit: {slope * 1000:.1f} kJ/mol/ns = {slope * 1000 / ndof / KT:.4f} kT/ns per degree of freedom"
        f" ({slope * 10:+.2f} kJ/mol over 10 ps); Etot std {np.std(etot):.2f} kJ/mol, max - min"
        f" {np.ptp(etot):.2f} kJ/mol ({np.ptp(etot) / KT:.2f} kT)")
    log(f"\nno NaN in {20 + 50 + 10} ps; total time {time.time() - T0:.0f} s")


if __name__ == "__main__":
    main()

"""The ``hese analyze`` sub-commands, one per analysis of :mod:`hese.analysis.registry`, and the
registry entries of the built-in analyses (solvation, transport, water).

Wire into the ``hese`` parser with ``add_parsers(sub)`` where ``sub = p.add_subparsers(...)``.
Every handler raises :class:`~hese.errors.HeseInputError` for bad input, which the ``hese``
command prints on one line before exiting with status 2.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from collections.abc import Mapping, Sequence
from pathlib import Path

from hese import layout
from hese.analysis import registry
from hese.errors import HeseInputError
from hese.io import exclusive, replaced_folder


def add_parsers(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``analyze`` with one sub-command per analysis of the registry; return the ``analyze`` parser."""
    analyze = subparsers.add_parser("analyze", help="analyse trajectories: " + ", ".join(registry.names()))
    commands = analyze.add_subparsers(dest="analysis", required=True, metavar="ANALYSIS")
    for analysis in registry.analyses():
        p = commands.add_parser(analysis.name, help=analysis.help, description=analysis.description)
        _inputs(p, runs="+" if analysis.replicas else None)
        analysis.add_arguments(p)
        p.set_defaults(func=_naming_options(analysis.run))
    return analyze


def add_extract_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``extract`` with its sub-command ``shells``; return the ``extract`` parser."""
    from hese.analysis.extract import EXAMPLES, TOP

    extract = subparsers.add_parser("extract", help="extract structures from trajectories: shells")
    commands = extract.add_subparsers(dest="structure", required=True, metavar="STRUCTURE")
    p = commands.add_parser(
        "shells", help="the most frequent solvation shells of each cation, as XYZ files for quantum chemistry",
        description="Writes, per cation species, the --top most frequent shell compositions with --examples "
                    "structurally diverse examples each (farthest-point sampling on the shell RMSD): one XYZ file "
                    "per example (the cation and every atom of its partner molecules, whole, in Å; the comment "
                    "line gives charge=, multiplicity=, composition=, frame=, time_ps=, cation=), shells.csv "
                    "indexing them and summary.json to --out. Shells and cutoffs as in `hese analyze solvation`.",
    )
    _inputs(p, runs=None, blocks=False)
    _shell_arguments(p)
    p.add_argument("--top", type=int, default=TOP, metavar="K",
                   help=f"most frequent compositions per cation (default {TOP})")
    p.add_argument("--examples", type=int, default=EXAMPLES, metavar="N",
                   help=f"diverse examples per composition (default {EXAMPLES})")
    p.add_argument("--only", action="append", default=[], metavar="CATION",
                   help="extract the shells of this cation species only (repeatable; default: every cation)")
    p.add_argument("--solvation", metavar="DIR",
                   help="output folder of `hese analyze solvation` on this input: reuse the cutoffs of its "
                        "summary.json for the pairs that --cutoff does not set")
    p.set_defaults(func=_naming_options(_extract_shells, {**OPTION_OF, "cations": "--only"}))
    return extract


#: parameters of the analysis functions whose option has another name than ``--<parameter with dashes>``
OPTION_OF = {"n_blocks": "--blocks", "cutoffs": "--cutoff"}


def _naming_options(run, options: Mapping[str, str] = OPTION_OF):
    """``run`` with the library's parameter names in its error messages turned into the command's
    options (``n_blocks: 1; …`` → ``--blocks: 1; …``; ``options`` maps the names that differ)."""
    def handler(args: argparse.Namespace) -> None:
        try:
            run(args)
        except HeseInputError as err:
            name, sep, rest = str(err).partition(":")
            if not sep or not name.isidentifier() or name != name.lower():
                raise
            option = options.get(name, "--" + name.replace("_", "-"))
            raise HeseInputError(f"{option}:{rest}") from None

    return handler


def _transport_arguments(t: argparse.ArgumentParser) -> None:
    t.add_argument("--species", action="append", default=[], metavar="NAME=SELECTION",
                   help="with --topology: a species and the MDAnalysis selection of its atoms (repeatable)")
    t.add_argument("--charge", action="append", default=[], metavar="NAME=Z",
                   help="formal charge of a --species that is not in the registry (repeatable)")
    t.add_argument("--charge-scale", type=float, metavar="S",
                   help="ion charge scale of the simulation (default: build.json for --run, 1 otherwise)")
    t.add_argument("--temperature-k", type=float, metavar="T", help="simulation temperature (K); required")
    eta = t.add_mutually_exclusive_group()
    eta.add_argument("--viscosity-mpa-s", type=float, metavar="ETA",
                     help="shear viscosity for the Yeh–Hummer correction (mPa s); without it d_yh_m2_s is null")
    eta.add_argument("--viscosity", metavar="FILE",
                     help="the viscosity.json of `hese viscosity`: its η (and error) for the Yeh–Hummer correction")
    t.add_argument("--per-axis", action="store_true", help="also write the x, y, z parts of the MSD")
    t.add_argument("--already-unwrapped", action="store_true",
                   help="the trajectory is unwrapped already: skip frame-to-frame unwrapping")


def _transport_options(settings: Mapping, run: registry.RunContext) -> list[str]:
    options = ["--temperature-k", f"{run.temperature_k:g}"]
    if isinstance(run.viscosity, str):
        options += ["--viscosity", run.viscosity]
    elif run.viscosity is not None:
        options += ["--viscosity-mpa-s", f"{run.viscosity:g}"]
    return options


def _water_arguments(w: argparse.ArgumentParser) -> None:
    w.add_argument("--water", metavar="SELECTION",
                   help="with --topology: MDAnalysis selection of the water molecules (default for --run: water)")
    w.add_argument("--neighbours", action="append", choices=("water", "any_oxygen"), metavar="MODE",
                   help="neighbours of q: water (default) or any_oxygen (water and anion oxygens); repeatable")


def _water_options(settings: Mapping, run: registry.RunContext) -> list[str]:
    return [part for mode in settings["water"]["neighbours"] for part in ("--neighbours", mode)]


def _solvation_arguments(s: argparse.ArgumentParser) -> None:
    _shell_arguments(s)
    s.add_argument("--residence-tolerance-ps", type=float, default=0.0, metavar="PS",
                   help="t* of the continuous residence time: absences from a shell of at most PS do not end a "
                        "stay (default 0: every absence seen in a frame ends it)")


def _shell_arguments(s: argparse.ArgumentParser) -> None:
    """The species, cutoff, RDF and worker options of ``analyze solvation`` and ``extract shells``."""
    for kind, example in (("cation", "Li='name Li'"), ("anion", "FSI='resname FSI and name O1 O2 O3 O4'"),
                          ("solvent", "DME='resname DME and name O1 O2'")):
        s.add_argument(f"--{kind}", action="append", default=[], metavar="NAME=SELECTION",
                       help=f"with --topology: {'an' if kind == 'anion' else 'a'} {kind} species and the MDAnalysis "
                            f"selection of its "
                            f"{'atom (one per ion)' if kind == 'cation' else 'coordinating atoms'}, "
                            f"e.g. {example} (repeatable)")
    s.add_argument("--charge", action="append", default=[], metavar="NAME=Z",
                   help="formal charge of an ion that is not in the registry (repeatable)")
    s.add_argument("--cutoff", action="append", default=[], metavar="[CATION:]PARTNER=NM",
                   help="shell cutoff (nm) for a partner, for every cation or for one (repeatable); "
                        "default: the first minimum after the first peak of g(r)")
    s.add_argument("--rdf-range-nm", type=float, metavar="NM",
                   help="RDF range (default 0.6 nm or just below half the box edge)")
    s.add_argument("--rdf-bin-nm", type=float, default=0.005, metavar="NM", help="RDF bin width (default 0.005 nm)")
    s.add_argument("--workers", type=int, default=1, metavar="N",
                   help="processes reading frames in parallel (default 1; results are identical)")


def _solvation_options(settings: Mapping, run: registry.RunContext) -> list[str]:
    solvation = settings["solvation"]
    options = ["--workers", str(solvation["workers"])]
    for pair, cutoff in solvation["cutoffs"].items():
        options += ["--cutoff", f"{pair}={cutoff:g}"]
    return options


def _inputs(p: argparse.ArgumentParser, runs: str | None, blocks: bool = True) -> None:
    """The options that say what to analyse (and, with ``blocks``, ``--blocks`` and ``--json``)."""
    from hese.config import schema

    blocks_default = schema("analysis")["properties"]["blocks"]["default"]
    where = "(in DIR, DIR/build or DIR/md; DIR may also be the run's build/ or md/ folder)"
    p.add_argument("--run", nargs=runs, metavar="DIR",
                   help=f"hese run folder(s) (replicas of one system) with topology.pdb, build.json and "
                        f"trajectory.xtc {where}" if runs else
                        f"hese run folder with topology.pdb, build.json and trajectory.xtc {where}")
    p.add_argument("--topology", metavar="FILE", help="topology of a foreign trajectory (any MDAnalysis format)")
    p.add_argument("--trajectory", nargs="+", default=[], metavar="FILE", help="trajectory file(s), read in order")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder")
    p.add_argument("--start", type=int, default=0, help="first frame (default 0)")
    p.add_argument("--stop", type=int, help="frame to stop before (default: the end)")
    p.add_argument("--step", type=int, default=1, help="analyse every STEP-th frame (default 1)")
    if blocks:
        p.add_argument("--blocks", type=int, default=blocks_default,
                       help=f"independent time blocks for uncertainties (default {blocks_default})")
        p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("--allow-unfinished", action="store_true",
                   help="with --run: analyse a simulation that has not finished (no md/done.json) as far as it "
                        "got; the summary says partial: true")


def _check_finished(args: argparse.Namespace) -> None:
    """Refuse a --run whose simulation has not finished, unless --allow-unfinished (then mark it partial)."""
    runs = args.run if isinstance(args.run, list) else [args.run] if args.run else []
    unfinished = [str(r) for r in runs if not any((Path(r) / p / layout.DONE).is_file() for p in ("md", "", "../md"))]
    args.partial = bool(unfinished)
    if unfinished and not args.allow_unfinished:
        raise HeseInputError(f"--run {unfinished[0]}: the simulation has not finished (no md/done.json); wait for "
                             "hese simulate to end, or give --allow-unfinished to analyse what is there "
                             "(marked partial)")


def _frames(args: argparse.Namespace) -> slice:
    if args.start < 0 or args.step < 1 or (args.stop is not None and args.stop <= args.start):
        raise HeseInputError(
            f"--start/--stop/--step: {args.start}/{args.stop}/{args.step}; need start ≥ 0, step ≥ 1, stop > start"
        )
    return slice(args.start, args.stop, args.step)


def _check_one_input(args: argparse.Namespace) -> None:
    if bool(args.run) == bool(args.topology):
        raise HeseInputError("give either --run DIR or --topology FILE --trajectory FILE [...] (not both, not neither)")
    _check_finished(args)


def _transport(args: argparse.Namespace) -> None:
    from hese.analysis import inputs
    from hese.analysis.transport import analyze_transport

    _check_one_input(args)
    frames = _frames(args)
    if args.charge_scale is not None and not args.charge_scale > 0:
        raise HeseInputError(f"--charge-scale: {args.charge_scale} is not a positive factor")
    if args.run:
        if args.species or args.charge:
            raise HeseInputError("--species and --charge go with --topology; a --run takes its species from build.json")
        sources = [inputs.run_source(d) for d in args.run]
        if args.charge_scale is not None:
            sources = [dataclasses.replace(s, charge_scale=args.charge_scale) for s in sources]
    else:
        scale = 1.0 if args.charge_scale is None else args.charge_scale
        sources = [inputs.file_source(args.topology, args.trajectory, args.species, args.charge, scale)]
    eta, eta_err = (measured_viscosity(args.viscosity) if args.viscosity else (args.viscosity_mpa_s, None))
    result = analyze_transport(sources, args.temperature_k, eta, args.blocks, frames, args.per_axis,
                               unwrap=not args.already_unwrapped, viscosity_err_mpa_s=eta_err)
    haven = [f"Haven ratio ({charges} charges): {h['haven_ratio']} ± {h['haven_ratio_err']}"
             for charges, h in result.summary["haven"].items()]
    _report(result, args,
            f"transport of {', '.join(result.summary['runs'])}: {result.summary['n_frames']} frames every "
            f"{result.summary['dt_ps']:g} ps, T = {args.temperature_k:g} K → {args.out}",
            [result.diffusion, result.conductivity], haven)


def measured_viscosity(path: str) -> tuple[float, float]:
    """η and its standard error (mPa s) from a ``viscosity.json`` written by ``hese viscosity``."""
    import math

    from hese.io import read_json

    record = read_json(path, "rerun hese viscosity", ("viscosity_mpa_s", "viscosity_err_mpa_s"))
    eta, err = record["viscosity_mpa_s"], record["viscosity_err_mpa_s"]
    if not (isinstance(eta, (int, float)) and math.isfinite(eta) and eta > 0):
        raise HeseInputError(f"--viscosity: {path}: no resolved viscosity (η = {eta}); rerun hese viscosity with a "
                             "longer --run-ps or a larger amplitude")
    return float(eta), float(err)


def _water(args: argparse.Namespace) -> None:
    from hese.analysis import inputs
    from hese.analysis.water import analyze_water

    _check_one_input(args)
    frames = _frames(args)
    if args.run:
        source = inputs.run_source(args.run)
        water = next((s for s in source.species if s.name == "water"), None)
        if water is None and not args.water:
            raise HeseInputError(f"--run {args.run}: build.json has no water; give --water SELECTION")
        if args.water:
            water = inputs.Species("water", "solvent", args.water)
        source = dataclasses.replace(source, species=(water,))
    else:
        if not args.water:
            raise HeseInputError("--water: missing; give the MDAnalysis selection of the water molecules")
        source = inputs.file_source(args.topology, args.trajectory, [f"water={args.water}"])
    result = analyze_water(source, args.neighbours or ["water"], args.blocks, frames)
    _report(result, args,
            f"water of {source.label}: {result.summary['n_molecules']} molecules, {result.summary['n_frames']} frames "
            f"→ {args.out}",
            [result.water_entropy, result.hbonds])


def _solvation(args: argparse.Namespace) -> None:
    import sys

    from hese.analysis import solvation

    source, cutoffs, frames = _solvation_input(args)
    result = solvation.analyze_solvation(
        source, cutoffs, frames, n_blocks=args.blocks, workers=args.workers, rdf_range_nm=args.rdf_range_nm,
        rdf_bin_nm=args.rdf_bin_nm, progress=sys.stderr.isatty(), residence_tolerance_ps=args.residence_tolerance_ps,
    )
    summary = result.summary
    c = summary["clusters"]
    notes = [f"ion clusters: mean size {c['mean_size_ions']} ions (ion-weighted {c['ion_weighted_mean_size_ions']}), "
             f"free fractions {c['free_fraction']}"]
    if summary["zn_chains"] is not None:
        z = summary["zn_chains"]
        notes.append(f"Cl-bridged Zn chains: mean length {z['mean_length_zn']} Zn, longest {z['longest_zn']}, "
                     f"bridged Zn fraction {z['bridged_zn_fraction']}")
    tables = [result.coordination, result.shell_entropy] + ([result.ion_pairing] if len(result.ion_pairing) else []) \
        + [result.residence]
    _report(result, args, f"solvation of {summary['source']}: {summary['n_frames']} frames → {args.out}", tables,
            notes)


def _extract_shells(args: argparse.Namespace) -> None:
    import sys

    from hese.analysis.extract import extract_shells

    source, cutoffs, frames = _solvation_input(args)
    result = extract_shells(source, cutoffs, frames, top=args.top, examples=args.examples, cations=args.only,
                            workers=args.workers, rdf_range_nm=args.rdf_range_nm, rdf_bin_nm=args.rdf_bin_nm,
                            progress=sys.stderr.isatty())
    if args.solvation:
        result.summary["cutoffs_from"] = args.solvation
    columns = ["composition", "fraction", "example", "frame", "charge", "multiplicity", "n_atoms", "file"]
    _report(result, args, f"shells of {result.summary['source']}: {result.summary['n_frames']} frames, "
                          f"{len(result.examples)} structures → {args.out}", [result.index[columns]],
            command="hese extract shells")


def _solvation_input(args: argparse.Namespace):
    """The solvation input, cutoffs and frames of the options shared by ``analyze solvation`` and ``extract shells``."""
    from hese.analysis import inputs

    _check_one_input(args)
    frames = _frames(args)
    if args.run:
        if args.cation or args.anion or args.solvent or args.charge:
            raise HeseInputError("--cation, --anion, --solvent and --charge go with --topology; "
                                 "a --run takes its species from build.json")
        source = inputs.run_source(args.run)
    else:
        source = inputs.file_source(args.topology, args.trajectory, charges=args.charge, cations=args.cation,
                                    anions=args.anion, solvents=args.solvent)
    cations = [s.name for s in source.species if s.kind == "cation"]
    partners = [s.name for s in source.species if s.kind != "cation"]
    cutoffs = inputs.parse_cutoffs(args.cutoff, cations, partners)
    if getattr(args, "solvation", None):  # extract shells --solvation DIR: an earlier analysis' cutoffs, unless given
        from hese.analysis.extract import solvation_cutoffs

        reused = solvation_cutoffs(args.solvation, cations, partners)
        cutoffs = {**{k: v for k, v in reused.items() if (None, k[1]) not in cutoffs}, **cutoffs}
    return source, cutoffs, frames


def _report(result, args: argparse.Namespace, headline: str, tables: list, notes: Sequence[str] = (),
            command: str | None = None) -> None:
    """Write ``result`` to ``--out`` under the lock of ``command`` (default ``hese analyze <analysis>``);
    print its summary as JSON (``--json``) or the headline, tables, notes and warnings."""
    if getattr(args, "partial", False):
        result.summary["partial"] = True
        result.summary["warnings"].append("partial: the simulation had not finished (no md/done.json)")
    out = Path(args.out)
    command = command or f"hese analyze {args.analysis}"
    with exclusive(out.parent / f".{out.name}.lock", command), replaced_folder(out) as new:
        result.write(new)  # the folder is replaced as a whole: no table of an earlier analysis survives
    if getattr(args, "json", False):
        print(json.dumps(result.summary, indent=2, ensure_ascii=False))
        return
    print(headline)
    for table in tables:
        print(table.to_string(index=False))
    for line in notes:
        print(line)
    for line in result.summary["warnings"]:
        print(f"warning: {line}")


registry.register(registry.Analysis(
    "solvation",
    help="RDFs and cutoffs, coordination numbers, speciation, shell entropy, ion pairing, bound fractions, "
         "ion clusters, residence times",
    description="Writes rdf.parquet, coordination.parquet, speciation.parquet, shell_entropy.parquet, "
                "ion_pairing.parquet, bound_fraction.parquet, clusters.parquet, residence.parquet, "
                "coordination_timeseries.parquet (and zn_chains.parquet with Zn and Cl) and summary.json to --out. "
                "A hese --run takes its cations, anions, solvents and coordinating atoms from build.json and the "
                "species registry.",
    add_arguments=_solvation_arguments, run=_solvation,
    tables=("rdf", "coordination", "speciation", "shell_entropy", "ion_pairing", "bound_fraction", "clusters",
            "residence", "coordination_timeseries", "zn_chains"),
    plots=("rdf", "speciation", "shell_entropy", "clusters", "coordination_timeseries", "residence"),
    applies=registry.has_cations, options=_solvation_options, threads=lambda settings: settings["solvation"]["workers"],
))
registry.register(registry.Analysis(
    "transport",
    help="MSD, self-diffusion (Yeh–Hummer corrected), Nernst–Einstein and Einstein–Helfand conductivity, "
         "Onsager coefficients and transference numbers",
    description="Writes msd.parquet, diffusion.parquet, conductivity.parquet, onsager.parquet, transference.parquet "
                "and summary.json to --out.",
    add_arguments=_transport_arguments, run=_transport,
    tables=("msd", "diffusion", "conductivity", "onsager", "transference"),
    plots=("diffusion", "msd", "transference"), options=_transport_options, replicas=True,
))
registry.register(registry.Analysis(
    "water",
    help="tetrahedral order q, P(q), tetrahedral entropy, water–water hydrogen bonds",
    description="Writes tetrahedral.parquet, water_entropy.parquet, hbonds.parquet and summary.json to --out.",
    add_arguments=_water_arguments, run=_water, tables=("tetrahedral", "water_entropy", "hbonds"),
    plots=("tetrahedral", "water_entropy"), applies=registry.has_water, options=_water_options,
))

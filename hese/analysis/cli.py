"""The ``hese analyze`` sub-commands: ``transport`` and ``water``.

Wire into the ``hese`` parser with ``add_parsers(sub)`` where ``sub = p.add_subparsers(...)``.
Every handler raises :class:`~hese.errors.HeseInputError` for bad input, which the ``hese``
command prints on one line before exiting with status 2.
"""

from __future__ import annotations

import argparse
import dataclasses
import json

from hese.errors import HeseInputError


def add_parsers(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``analyze`` with its sub-commands ``transport`` and ``water``; return the ``analyze`` parser."""
    analyze = subparsers.add_parser("analyze", help="analyse trajectories: transport, water structure")
    analyses = analyze.add_subparsers(dest="analysis", required=True, metavar="ANALYSIS")

    t = analyses.add_parser(
        "transport",
        help="MSD, self-diffusion (Yeh–Hummer corrected), Nernst–Einstein and Einstein–Helfand conductivity",
        description="Writes msd.parquet, diffusion.parquet, conductivity.parquet and summary.json to --out.",
    )
    _inputs(t, runs="+")
    t.add_argument("--species", action="append", default=[], metavar="NAME=SELECTION",
                   help="with --topology: a species and the MDAnalysis selection of its atoms (repeatable)")
    t.add_argument("--charge", action="append", default=[], metavar="NAME=Z",
                   help="formal charge of a --species that is not in the registry (repeatable)")
    t.add_argument("--charge-scale", type=float, metavar="S",
                   help="ion charge scale of the simulation (default: build.json for --run, 1 otherwise)")
    t.add_argument("--temperature-k", type=float, metavar="T", help="simulation temperature (K); required")
    t.add_argument("--viscosity-mpa-s", type=float, metavar="ETA",
                   help="shear viscosity for the Yeh–Hummer correction (mPa s); without it d_yh_m2_s is null")
    t.add_argument("--per-axis", action="store_true", help="also write the x, y, z parts of the MSD")
    t.add_argument("--already-unwrapped", action="store_true",
                   help="the trajectory is unwrapped already: skip frame-to-frame unwrapping")
    t.set_defaults(func=_transport)

    w = analyses.add_parser(
        "water",
        help="tetrahedral order q, P(q), tetrahedral entropy, water–water hydrogen bonds",
        description="Writes tetrahedral.parquet, water_entropy.parquet, hbonds.parquet and summary.json to --out.",
    )
    _inputs(w, runs=None)
    w.add_argument("--water", metavar="SELECTION",
                   help="with --topology: MDAnalysis selection of the water molecules (default for --run: water)")
    w.add_argument("--neighbours", action="append", choices=("water", "any_oxygen"), metavar="MODE",
                   help="neighbours of q: water (default) or any_oxygen (water and anion oxygens); repeatable")
    w.set_defaults(func=_water)
    return analyze


def _inputs(p: argparse.ArgumentParser, runs: str | None) -> None:
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
    p.add_argument("--blocks", type=int, default=5, help="independent time blocks for uncertainties (default 5)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")


def _frames(args: argparse.Namespace) -> slice:
    if args.start < 0 or args.step < 1 or (args.stop is not None and args.stop <= args.start):
        raise HeseInputError(
            f"--start/--stop/--step: {args.start}/{args.stop}/{args.step}; need start ≥ 0, step ≥ 1, stop > start"
        )
    return slice(args.start, args.stop, args.step)


def _check_one_input(args: argparse.Namespace) -> None:
    if bool(args.run) == bool(args.topology):
        raise HeseInputError("give either --run DIR or --topology FILE --trajectory FILE [...] (not both, not neither)")


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
    result = analyze_transport(sources, args.temperature_k, args.viscosity_mpa_s, args.blocks, frames,
                               args.per_axis, unwrap=not args.already_unwrapped)
    result.write(args.out)
    if args.json:
        print(json.dumps(result.summary, indent=2, ensure_ascii=False))
        return
    print(f"transport of {', '.join(result.summary['runs'])}: {result.summary['n_frames']} frames every "
          f"{result.summary['dt_ps']:g} ps, T = {args.temperature_k:g} K → {args.out}")
    print(result.diffusion.to_string(index=False))
    print(result.conductivity.to_string(index=False))
    for charges, h in result.summary["haven"].items():
        print(f"Haven ratio ({charges} charges): {h['haven_ratio']} ± {h['haven_ratio_err']}")
    for line in result.summary["warnings"]:
        print(f"warning: {line}")


def _water(args: argparse.Namespace) -> None:
    from hese.analysis import inputs
    from hese.analysis.water import analyze_water

    _check_one_input(args)
    frames = _frames(args)
    if args.run:
        run = inputs.run_source(args.run)
        topology, trajectories, label = run.topology, run.trajectories, run.label
        water = next((s for s in run.species if s.name == "water"), None)
        if water is None and not args.water:
            raise HeseInputError(f"--run {args.run}: build.json has no water; give --water SELECTION")
        selection, count = (args.water, None) if args.water else (water.selection, water.count)
    else:
        if not args.trajectory:
            raise HeseInputError("--trajectory: missing; give the trajectory file(s) with --topology")
        if not args.water:
            raise HeseInputError("--water: missing; give the MDAnalysis selection of the water molecules")
        topology, trajectories, label, selection = args.topology, args.trajectory, args.trajectory[0], args.water
        count = None
    result = analyze_water(topology, trajectories, selection, args.neighbours or ["water"], args.blocks, frames,
                           label=str(label), n_molecules=count)
    result.write(args.out)
    if args.json:
        print(json.dumps(result.summary, indent=2, ensure_ascii=False))
        return
    print(f"water of {label}: {result.summary['n_molecules']} molecules, {result.summary['n_frames']} frames "
          f"→ {args.out}")
    print(result.water_entropy.to_string(index=False))
    print(result.hbonds.to_string(index=False))
    for line in result.summary["warnings"]:
        print(f"warning: {line}")

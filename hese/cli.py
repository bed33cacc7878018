"""The ``hese`` command: one sub-command per stage.

Bad input prints one line (``hese: error: ...``) and exits with status 2; ``hese --debug ...``
(or ``HESE_DEBUG=1``) shows the traceback instead.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence

from hese import __version__
from hese.errors import HeseInputError


def _species(args: argparse.Namespace) -> None:
    from hese import species

    rows = []
    for s in species.registry().values():
        for family, entry in s.force_field.items():
            rows.append({**s.as_dict(), "family": family, "force_field": entry.file, "source": entry.source})
    if args.json:
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    head = f"{'name':6s} {'kind':8s} {'q':>3s} {'res':4s} {'M g/mol':>8s}  {'family':8s} {'file':28s} source"
    print(head)
    print("-" * len(head))
    for r in rows:
        print(
            f"{r['name']:6s} {r['kind']:8s} {r['charge']:+3d} {r['residue']:4s} {r['molar_mass_g_mol']:8.3f}  "
            f"{r['family']:8s} {r['force_field']:28s} {r['source']}"
        )


def _build(args: argparse.Namespace) -> None:
    from hese.build import SystemDefinition, build

    if bool(args.system) == bool(args.study):
        raise HeseInputError("give either a system definition SYSTEM or --study CONFIG --run RUN (not both)")
    if args.study:
        from hese import study

        run = study.run(study.load(args.study), args.run, args.study)
        definition = SystemDefinition.from_dict(run.system, source=f"{args.study} (run {run.id})")
        seed = run.seed if args.seed is None else args.seed
    else:
        if args.run:
            raise HeseInputError("--run goes with --study CONFIG")
        definition = SystemDefinition.load(args.system)
        seed = 0 if args.seed is None else args.seed
    record = build(definition, args.out, seed=seed)
    if args.json:
        print(json.dumps(record, indent=2))
        return
    print(f"built {record['name']} in {args.out}: {record['n_atoms']} atoms, box {record['box_nm']:.3f} nm, "
          f"{record['family']} family, ion charge scale {record['charge_scale']}, "
          f"net charge {record['total_charge_e']:+.6f} e")
    for name, n in record["counts"].items():
        print(f"  {n:6d} × {name}")


def _compose(args: argparse.Namespace) -> None:
    from hese.build import SystemDefinition

    definition = SystemDefinition.load(args.system)
    f = definition.formulation
    box_density = f.density_g_cm3 * f.volume_nm3 / definition.box_nm**3  # the box may be set by size.box_nm
    summary = {"name": definition.name, **f.summary(), "box_nm": round(definition.box_nm, 4),
               "density_g_cm3": round(box_density, 4)}
    if args.json:
        print(json.dumps(summary, indent=2))
        return
    print(f"{definition.name}: {summary['n_atoms']} atoms, box {summary['box_nm']:.3f} nm, "
          f"estimated density {summary['density_g_cm3']:.3f} g/cm³")
    print(f"  {'species':8s} {'count':>6s}")
    for name, n in f.counts.items():
        print(f"  {name:8s} {n:6d}")
    print(f"  {'salt/key':10s} {'requested':>10s} {'reached':>10s}  ({f.unit})")
    for key, value in f.requested.items():
        print(f"  {key:10s} {value:10.4g} {f.reached[key]:10.4g}")
    for kind in ("cation", "anion", "solvent"):
        s_r = summary[f"s_config_{kind}_r"]
        label = f"  [{summary[f'entropy_class_{kind}']} entropy]" if kind != "solvent" else ""
        print(f"  S_config({kind}) = {s_r:.4f} R = {summary[f's_config_{kind}_j_mol_k']:.3f} J/(mol K){label}")


def _runs(args: argparse.Namespace) -> None:
    from hese import study

    table = study.runs_table(study.load(args.config), args.config)
    if args.csv:
        from hese.io import atomic_write

        atomic_write(args.csv, table.to_csv(index=False))
    if args.json:
        print(table.to_json(orient="records", indent=2))
    else:
        print(table.to_string(index=False, max_rows=60))


def _gather(args: argparse.Namespace) -> None:
    from hese import results

    written = results.gather(args.study_dir)
    summary = results.load(args.study_dir).summary
    print(f"gathered {len(summary)} runs of {args.study_dir} into {len(written)} tables:")
    for path in written.values():
        print(f"  {path}")


def _plot(args: argparse.Namespace) -> None:
    from hese import plots, results
    from hese.io import exclusive, remove_stale_temporaries

    res = results.load(args.study_dir)
    with exclusive(res.root / ".plot.lock", "hese plot"):
        remove_stale_temporaries(args.out or res.root / "plots")
        for name in args.figures or list(plots.FIGURES):
            for path in plots.plot(res, name, args.out):
                print(path)


def parser() -> argparse.ArgumentParser:
    """The argument parser of the ``hese`` command."""
    p = argparse.ArgumentParser(prog="hese", description="MD of high-entropy battery electrolytes.")
    p.add_argument("--version", action="version", version=f"hese {__version__}")
    p.add_argument("--debug", action="store_true",
                   help="show the full traceback of an error (also with the environment variable HESE_DEBUG=1)")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("species", help="list the species registry")
    s.add_argument("--json", action="store_true", help="print a JSON list (one object per species and family)")
    s.set_defaults(func=_species)

    c = sub.add_parser("compose", help="molecule counts, concentrations and configurational entropy of a system")
    c.add_argument("system", help="system definition (YAML)")
    c.add_argument("--json", action="store_true", help="print one JSON object")
    c.set_defaults(func=_compose)

    r = sub.add_parser("runs", help="expand a study configuration into its table of runs")
    r.add_argument("config", help="study configuration (YAML)")
    r.add_argument("--json", action="store_true", help="print the table as JSON records")
    r.add_argument("--csv", metavar="FILE", help="also write the table as CSV")
    r.set_defaults(func=_runs)

    b = sub.add_parser("build", help="build a simulation box from a system YAML file")
    b.add_argument("system", nargs="?", help="system definition (YAML); or use --study and --run")
    b.add_argument("--study", metavar="CONFIG", help="study configuration (YAML) holding the run")
    b.add_argument("--run", metavar="RUN", help="with --study: the run id (see `hese runs CONFIG`)")
    b.add_argument("--out", required=True, help="output folder")
    b.add_argument("--seed", type=int, help="random seed for conformers and packing (default: the run's seed, or 0)")
    b.add_argument("--json", action="store_true", help="print the build record as JSON")
    b.set_defaults(func=_build)

    g = sub.add_parser("gather", help="gather every run's tables of a study into results/<study>/tables")
    g.add_argument("study_dir", metavar="STUDY_DIR", help="the study's results folder (results/<study>)")
    g.set_defaults(func=_gather)

    f = sub.add_parser("plot", help="draw a study's figures (PNG and SVG) from its gathered tables")
    f.add_argument("study_dir", metavar="STUDY_DIR", help="the study's results folder (results/<study>)")
    f.add_argument("figures", nargs="*", metavar="FIGURE",
                   help="figures to draw (default: all): rdf, speciation, shell_entropy, diffusion, clusters, msd, "
                        "tetrahedral, water_entropy")
    f.add_argument("--out", metavar="DIR", help="output folder (default STUDY_DIR/plots)")
    f.set_defaults(func=_plot)

    from hese.analysis.cli import add_extract_parser
    from hese.analysis.cli import add_parsers as add_analysis_parsers

    add_analysis_parsers(sub)
    add_extract_parser(sub)
    from hese.md.cli import add_parser as add_simulate_parser
    from hese.md.cli import add_viscosity_parser

    add_simulate_parser(sub)
    add_viscosity_parser(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``hese`` console script.

    Bad input and damaged files end in one line on stderr and exit status 2; an unexpected error
    in one line and status 1. ``--debug`` (or ``HESE_DEBUG=1``) shows the full traceback instead.
    """
    args = parser().parse_args(argv)
    debug = args.debug or os.environ.get("HESE_DEBUG", "") not in ("", "0")
    try:
        args.func(args)
    except HeseInputError as err:
        if debug:
            raise
        print(f"hese: error: {err}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into `head` and the like
        sys.stderr.close()
    except KeyboardInterrupt:
        print("hese: interrupted", file=sys.stderr)
        return 130
    except Exception as err:  # a bug, or a failure hese did not foresee: one line, the details on request
        if debug:
            raise
        first = str(err).strip().splitlines()[0] if str(err).strip() else ""
        print(f"hese: unexpected error: {type(err).__name__}: {first} (rerun with --debug or HESE_DEBUG=1 for "
              "the traceback, and please report it)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

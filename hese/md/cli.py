"""The ``hese simulate`` sub-command.

Wire into the ``hese`` parser with ``add_parser(sub)``. Every option is a key of the
``simulate:`` settings (``--temperature-k`` is ``temperature_k``), generated from
``hese/schemas/simulate.schema.yaml``; values come from the schema defaults, then the
``simulate:`` section of ``--config``, then the command line.

Exit status: 0 finished (or already finished), 1 the simulation failed (NaN, no convergence;
the message says what to try), 2 bad input, 128 + signal number when SIGTERM or SIGINT stopped
it after writing a checkpoint (run the same command again to continue).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys

from hese.config import schema
from hese.md.settings import SCHEMA, Settings, option_name

_TYPES = {"number": float, "integer": int, "string": str}


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``simulate``; return its parser."""
    p = subparsers.add_parser(
        "simulate",
        help="minimise, heat, equilibrate (NPT until the density converges) and run production with OpenMM",
        description="Runs the stages on a built box and writes trajectory.xtc, thermo.parquet, equilibration.json, "
                    "equilibration.parquet, final_state.xml and done.json (last) to --out. Run the same command "
                    "again after a kill to continue from the last checkpoint.",
    )
    p.add_argument("build_dir", metavar="BUILD_DIR", help="folder written by `hese build`")
    p.add_argument("--out", required=True, metavar="MD_DIR", help="output folder")
    p.add_argument("--config", metavar="FILE", help="YAML file whose 'simulate:' section gives settings")
    p.add_argument("--json", action="store_true", help="print the completion record as JSON")
    for key, spec in schema(SCHEMA)["properties"].items():
        default = spec.get("default")
        shown = "null" if default is None else default
        help_text = f"{' '.join(spec['description'].split())} (default: {shown})".replace("%", "%%")  # argparse
        kinds = spec.get("type", "string")
        kinds = [kinds] if isinstance(kinds, str) else kinds
        if "boolean" in kinds:
            p.add_argument(option_name(key), dest=key, action=argparse.BooleanOptionalAction,
                           default=argparse.SUPPRESS, help=help_text)
            continue
        kind = next(_TYPES[k] for k in kinds if k in _TYPES) if "enum" not in spec else str
        p.add_argument(option_name(key), dest=key, type=kind, choices=spec.get("enum"), default=argparse.SUPPRESS,
                       metavar=None if "enum" in spec else "N" if kind is int else "X",
                       help=help_text)
    p.set_defaults(func=_simulate)
    return p


def settings_from_args(args: argparse.Namespace) -> Settings:
    """Defaults, then ``--config``'s ``simulate:`` section, then the options given."""
    given = {k: getattr(args, k) for k in schema(SCHEMA)["properties"] if hasattr(args, k)}
    if args.config:
        return Settings.load(args.config, given)
    return Settings.from_mapping(given, "hese simulate")


def _simulate(args: argparse.Namespace) -> None:
    from hese.md.control import SimulationError, StopRequested
    from hese.md.engine import simulate

    settings = settings_from_args(args)
    logger = logging.getLogger("hese.md")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        done = simulate(args.build_dir, args.out, settings)
    except SimulationError:  # the engine logged what happened and what to try
        raise SystemExit(1) from None
    except StopRequested as err:
        raise SystemExit(128 + err.signum) from None
    finally:
        logger.removeHandler(handler)
    if args.json:
        print(json.dumps(done, indent=2))
        return
    prod = done["stages"].get("production", {})
    print(f"{done['name']}: {done['n_frames']} frames every {done['frame_interval_ps']:g} ps in "
          f"{args.out}/trajectory.xtc; density {done['density_g_cm3']:.4f} g/cm³ "
          f"(equilibrated after {done['equilibration_time_ps']:g} of {done['npt_ps']:g} ps NPT); "
          f"production {prod.get('ns_per_day', float('nan')):.3g} ns/day on {done['platform']}")

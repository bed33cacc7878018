"""The ``hese simulate`` and ``hese viscosity`` sub-commands.

Wire into the ``hese`` parser with ``add_parser(sub)`` and ``add_viscosity_parser(sub)``. Every option is a key of the
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
from hese.md.settings import SCHEMA, VISCOSITY_SCHEMA, Settings, option_name

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
    add_schema_options(p, SCHEMA)
    p.set_defaults(func=_simulate)
    return p


def add_schema_options(p: argparse.ArgumentParser, schema_name: str, only: tuple[str, ...] | None = None) -> None:
    """One option per key of a settings schema (``temperature_k`` → ``--temperature-k``), its help
    the key's description and default; ``only`` limits them to those keys."""
    for key, spec in schema(schema_name)["properties"].items():
        if only is not None and key not in only:
            continue
        default = spec.get("default")
        shown = "null" if default is None else default
        help_text = f"{' '.join(spec['description'].split())} (default: {shown})".replace("%", "%%")  # argparse
        kinds = spec.get("type", "string")
        kinds = [kinds] if isinstance(kinds, str) else kinds
        if "boolean" in kinds:
            p.add_argument(option_name(key), dest=key, action=argparse.BooleanOptionalAction,
                           default=argparse.SUPPRESS, help=help_text)
            continue
        many = "array" in kinds
        item = spec.get("items", {}) if many else spec
        item_kinds = item.get("type", "string")
        item_kinds = [item_kinds] if isinstance(item_kinds, str) else item_kinds
        kind = next(_TYPES[k] for k in item_kinds if k in _TYPES) if "enum" not in item else str
        p.add_argument(option_name(key), dest=key, type=kind, choices=item.get("enum"), default=argparse.SUPPRESS,
                       nargs="+" if many else None, metavar=None if "enum" in item else "N" if kind is int else "X",
                       help=help_text)


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


#: simulate settings that ``hese viscosity`` takes on its command line (the rest: --config or the md run)
VISCOSITY_MD_OPTIONS = ("platform", "precision", "device_index", "temperature_k", "timestep_fs", "hmr",
                        "friction_per_ps", "seed", "log_every_s")


def add_viscosity_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``viscosity``; return its parser."""
    p = subparsers.add_parser(
        "viscosity",
        help="shear viscosity by periodic perturbation (cosine acceleration), NVT at the equilibrated density",
        description="Drives a flow a_x = A cos(2πz/L_z) at each amplitude, measures the amplitude V of the velocity "
                    "profile and writes η = A ρ L_z²/(4π² V) with its block error to --out (viscosity.json, "
                    "viscosity_series.parquet, viscosity_profile.parquet and .png). With --md the run starts from "
                    "the end of that production run and takes its temperature, time step, HMR and friction.",
    )
    p.add_argument("build_dir", metavar="BUILD_DIR", help="folder written by `hese build`")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder (replaced as a whole when done)")
    p.add_argument("--md", metavar="MD_DIR", help="a finished `hese simulate` folder to start from (recommended)")
    p.add_argument("--config", metavar="FILE",
                   help="YAML file whose 'viscosity:' and 'simulate:' sections give settings (a study file works)")
    p.add_argument("--json", action="store_true", help="print viscosity.json")
    add_schema_options(p, VISCOSITY_SCHEMA)
    add_schema_options(p, SCHEMA, only=VISCOSITY_MD_OPTIONS)
    p.set_defaults(func=_viscosity)
    return p


def _viscosity(args: argparse.Namespace) -> None:
    from hese.errors import HeseInputError
    from hese.md.viscosity import PHYSICS, ViscositySettings, run_viscosity
    from hese.md.viscosity import SCHEMA as VISCOSITY

    given = {k: getattr(args, k) for k in schema(VISCOSITY)["properties"] if hasattr(args, k)}
    if args.md:
        clash = [option_name(k) for k in PHYSICS if hasattr(args, k)]
        if clash:
            raise HeseInputError(f"{', '.join(clash)}: taken from the production run in {args.md} (its done.json); "
                                 f"leave it out, or leave out --md to start from the build")
    settings = settings_from_args(args)
    viscosity = (ViscositySettings.load(args.config, given) if args.config else
                 ViscositySettings.from_mapping(given, "hese viscosity"))
    logger = logging.getLogger("hese.md")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        record = run_viscosity(args.build_dir, args.out, settings, viscosity, args.md)
    finally:
        logger.removeHandler(handler)
    if args.json:
        print(json.dumps(record, indent=2))
        return
    def eta(e: dict) -> str:
        if e["viscosity_mpa_s"] is None:
            return "not resolved"
        return f"{e['viscosity_mpa_s']:.4f} ± {e['viscosity_err_mpa_s']:.4f}"

    parts = ", ".join(f"{eta(e)} at A = {e['amplitude_nm_ps2']:.3g}" for e in record["amplitudes"])
    print(f"{record['name']}: η = {eta(record)} mPa s "
          f"({parts} nm/ps²; {'linear' if record['linear'] else 'NOT linear: use smaller amplitudes'}) at "
          f"{record['temperature_k']:g} K, {record['density_g_cm3']:.4f} g/cm³; {args.out}/viscosity.json")

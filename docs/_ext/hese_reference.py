"""Sphinx extension: the reference pages that are generated from the code.

At ``builder-inited`` it writes Markdown pages into ``docs/reference/generated/`` (not in git):

- ``cli.md`` — every ``hese`` command's ``--help``, from the argparse parsers;
- ``config.md`` — every key of the JSON schemas (type, default, allowed values, description);
- ``tables.md`` — every result table and its columns, from :mod:`hese.analysis.columns`;
- ``species.md`` — the species registry with each force-field file and its source;
- ``errors.md`` — bad input and what hese says, by running each case through the ``hese`` command.

So the reference can never drift from what the code accepts and writes.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

SCHEMAS = {
    "study": "A study configuration (``config/*.yaml``; `snakemake --configfile`, `hese runs`).",
    "system": "A system definition (``systems/*.yaml``; `hese build`, `hese compose`).",
    "simulate": "The ``simulate:`` section of a study, and the options of `hese simulate`.",
    "analysis": "The ``analysis:`` section of a study.",
    "viscosity": "The ``viscosity:`` section of a study, and the options of `hese viscosity`.",
}
#: Tables written by commands that are not analyses of the registry.
OTHER_TABLES = {"viscosity": ("viscosity_series", "viscosity_profile")}


def cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def cli_page() -> str:
    from hese.cli import parser

    os.environ["COLUMNS"] = "100"  # argparse wraps at the terminal width
    top = parser()
    lines = ["# Command-line reference", "", "Generated from the `hese` parsers: what `--help` prints.", "",
             "```text", top.format_help().rstrip(), "```", ""]
    sub = next(a for a in top._actions if isinstance(a, argparse._SubParsersAction))
    for name, command in sub.choices.items():
        lines += [f"## `hese {name}`", "", "```text", command.format_help().rstrip(), "```", ""]
        nested = [a for a in command._actions if isinstance(a, argparse._SubParsersAction)]
        for action in nested:
            for inner, p in action.choices.items():
                lines += [f"### `hese {name} {inner}`", "", "```text", p.format_help().rstrip(), "```", ""]
    return "\n".join(lines)


def _allowed(spec: dict) -> str:
    parts = []
    if "enum" in spec:
        parts.append(", ".join(f"`{v}`" for v in spec["enum"]))
    for key, sign in (("minimum", "≥"), ("exclusiveMinimum", ">"), ("maximum", "≤"), ("exclusiveMaximum", "<")):
        if key in spec:
            parts.append(f"{sign} {spec[key]}")
    return "; ".join(parts)


def _type(spec: dict) -> str:
    kind = spec.get("type", "object" if "properties" in spec else ("string" if "enum" in spec else ""))
    ref = spec.get("$ref", "")
    if ref == "#/$defs/amounts":
        kind = "mapping: name → number > 0"
    elif ref.endswith(".schema.yaml"):
        kind = f"mapping: the {ref.split('.')[0]} settings below"
    return " or ".join(kind) if isinstance(kind, list) else kind


def _rows(properties: dict, prefix: str = "") -> list[str]:
    rows = []
    for key, spec in properties.items():
        default = f"`{spec['default']}`" if "default" in spec and spec["default"] not in ({}, []) else ""
        rows.append(f"| `{prefix}{key}` | {cell(_type(spec))} | {cell(default)} | {cell(_allowed(spec))} | "
                    f"{cell(spec.get('description', '')).strip()} |")
        if "properties" in spec:
            rows += _rows(spec["properties"], f"{prefix}{key}.")
        items = spec.get("items", {})
        if isinstance(items, dict) and "properties" in items:
            rows += _rows(items["properties"], f"{prefix}{key}[].")
    return rows


def config_page() -> str:
    from hese.config import schema

    lines = ["# Configuration reference", "",
             "Generated from the JSON schemas in `hese/schemas/`, which validate every file before any work "
             "starts (unknown keys are refused). Dotted keys are nested mappings; `[]` marks a list item.", ""]
    for name, what in SCHEMAS.items():
        doc = schema(name)
        lines += [f"## {doc.get('title', name)}", "", what, "", cell(doc.get("description", "")).strip(), "",
                  "| key | type | default | allowed | description |", "| --- | --- | --- | --- | --- |",
                  *_rows(doc.get("properties", {})), ""]
    return "\n".join(lines)


def tables_page() -> str:
    from hese.analysis import columns as col

    lines = ["# Result tables", "",
             "Generated from `hese.analysis.columns`, the one module that names every column. Each analysis "
             "writes these Parquet tables to its folder; `hese gather` stacks them over the runs of a study "
             "into `results/<study>/tables/`, led by the run's identifiers (`study`, `run`, `system`, "
             "`temperature_k`, with water `water_model`, `water_melting_k`, `t_minus_tm_k`, then `replica`, "
             "`seed`, then the sweep variables).", ""]
    from hese.analysis import registry

    listed = set()
    commands = {f"analyze {a.name}": a.tables for a in registry.analyses()} | OTHER_TABLES
    for command, tables in commands.items():
        lines += [f"## `hese {command}`", ""]
        for table in tables:
            listed.add(table)
            lines += [f"### `{table}.parquet`", "", "| column | meaning |", "| --- | --- |"]
            names = col.TABLES[table] if table != "speciation" else col.speciation_columns(["<partner>"])
            lines += [f"| `{n}` | {cell(col.DESCRIPTIONS.get(n, col.DESCRIPTIONS.get('n_<partner>', '')))} |"
                      for n in names]
            lines.append("")
    missing = set(col.TABLES) - listed
    if missing:
        raise RuntimeError(f"tables missing from the reference: {sorted(missing)}")
    return "\n".join(lines)


def species_page() -> str:
    from hese import species as sp

    lines = ["# Species registry", "", "Generated from `hese/data/species.yaml` (what `hese species` prints).", "",
             "| species | kind | charge | family | file | source |", "| --- | --- | --- | --- | --- | --- |"]
    for s in sp.registry().values():
        for family, entry in s.force_field.items():
            lines.append(f"| {s.name} | {s.kind} | {s.charge:+d} | {family} | `{cell(entry.file)}` | "
                         f"{cell(entry.source)} |")
    return "\n".join(lines) + "\n"


#: (what the user did, files to write first, the command's arguments)
ERROR_CASES = [
    ("an impossible setting (NaN)", {}, ["simulate", "build", "--out", "md", "--pressure-bar", "nan"]),
    ("a time step that would run for ever", {}, ["simulate", "build", "--out", "md", "--timestep-fs", "1e-9"]),
    ("a seed beyond 32 bits", {}, ["simulate", "build", "--out", "md", "--seed", "4294967296"]),
    ("a fractional molecule count", {"s.yaml": "name: x\ncomposition: {counts: {water: 2.5}}\n"},
     ["build", "s.yaml", "--out", "b"]),
    ("NaN in a system file", {"s.yaml": "name: x\ncomposition: {molarity: {LiFSI: .nan}, solvent: {DME: 1}}\n"},
     ["compose", "s.yaml"]),
    ("a misspelt key", {"s.yaml": "name: x\ncompositon: {counts: {water: 100}}\n"}, ["compose", "s.yaml"]),
    ("a name that would leave the results folder", {"s.yaml": "name: ../x\ncomposition: {counts: {water: 100}}\n"},
     ["compose", "s.yaml"]),
    ("an unknown species", {"s.yaml": "name: x\ncomposition: {counts: {LiFSi: 2, water: 100}}\n"},
     ["compose", "s.yaml"]),
    ("a file that is not UTF-8 text", {"s.yaml": b"\xff\xfe name"}, ["compose", "s.yaml"]),
    ("malformed YAML", {"s.yaml": "name: [x\n"}, ["compose", "s.yaml"]),
    ("a sweep too big to run",
     {"x.yaml": "name: x\ncomposition: {molarity: {LiFSI: 1}, solvent: {DME: 1}}\n",
      "study.yaml": "study: s\nsystems:\n  - system: x.yaml\n    sweep: {salt_ratio: {salts: [LiFSI, LiTFSI, "
                    "LiDFOB, LiNO3, LiOTf, LiPF6, LiCl, ZnCl2, ZnBr2, LiBr, Zn(ClO4)2, ZnSO4], total: 1, "
                    "steps: 10}}\n"},
     ["runs", "study.yaml"]),
    ("a damaged build folder", {"build/build.json": "{\"counts\": {", "build/system.xml": "<System",
                                "build/topology.pdb": "CRYST1"}, ["simulate", "build", "--out", "md"]),
    ("analysing a simulation that has not finished", {"run/md/trajectory.xtc": b""},
     ["analyze", "water", "--run", "run", "--out", "a"]),
    ("an output folder that cannot be written", {"s.yaml": "name: x\ncomposition: {counts: {water: 100}}\n",
                                                  "file": ""}, ["build", "s.yaml", "--out", "file/b"]),
    ("a damaged run table", {"results/s/runs.csv": b"\xff\x00"}, ["gather", "results/s"]),
    ("extracting no shell compositions", {},
     ["extract", "shells", "--topology", "t.pdb", "--trajectory", "t.xtc", "--cation", "Li=name Li", "--solvent",
      "W=name O", "--top", "0", "--out", "s"]),
    ("a viscosity drive of zero", {}, ["viscosity", "build", "--out", "v", "--amplitudes-nm-ps2", "0"]),
    ("a viscosity run shorter than two blocks", {}, ["viscosity", "build", "--out", "v", "--run-ps", "30"]),
]


def errors_page() -> str:
    import contextlib
    import io
    import tempfile

    from hese.cli import main

    lines = ["# Bad input and what hese says", "",
             "Generated by running each case through the `hese` command. Every problem is found before any "
             "work starts and ends in one line on stderr and exit status 2; `hese --debug …` (or "
             "`HESE_DEBUG=1`) shows the traceback instead. Unexpected errors end in one line and status 1.", "",
             "| what | command | what hese says | status |", "| --- | --- | --- | --- |"]
    here = os.getcwd()
    for what, files, argv in ERROR_CASES:
        with tempfile.TemporaryDirectory() as tmp:
            for name, text in files.items():
                path = Path(tmp) / name
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(text if isinstance(text, bytes) else text.encode())
            err = io.StringIO()
            os.chdir(tmp)
            try:
                with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
                    status = main(argv)
            finally:
                os.chdir(here)
        message = err.getvalue().strip().replace(tmp + "/", "")
        if status != 2 or "\n" in message:
            raise RuntimeError(f"error case {what!r}: status {status}, message {message!r}")
        lines.append(f"| {what} | `hese {cell(' '.join(argv))}` | {cell(message)} | {status} |")
    return "\n".join(lines) + "\n"


PAGES = {"cli.md": cli_page, "errors.md": errors_page, "config.md": config_page, "tables.md": tables_page,
         "species.md": species_page}


def write_pages(app: Any) -> None:
    out = Path(app.srcdir) / "reference" / "generated"
    out.mkdir(parents=True, exist_ok=True)
    for name, make in PAGES.items():
        text = make()
        path = out / name
        if not path.exists() or path.read_text() != text:  # unchanged pages keep their time stamp
            path.write_text(text)


def setup(app: Any) -> dict:
    app.connect("builder-inited", write_pages)
    return {"parallel_read_safe": True}

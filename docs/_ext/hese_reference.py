"""Sphinx extension: the reference pages that are generated from the code.

At ``builder-inited`` it writes Markdown pages into ``docs/reference/generated/`` (not in git):

- ``cli.md`` — every ``hese`` command's ``--help``, from the argparse parsers;
- ``config.md`` — every key of the JSON schemas (type, default, allowed values, description);
- ``tables.md`` — every result table and its columns, from :mod:`hese.analysis.columns`;
- ``species.md`` — the species registry with each force-field file and its source.

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
}
#: Result tables per analysis, in the order of the analysis' output.
ANALYSIS_TABLES = {
    "solvation": ("rdf", "coordination", "speciation", "shell_entropy", "ion_pairing", "clusters", "zn_chains"),
    "transport": ("msd", "diffusion", "conductivity"),
    "water": ("tetrahedral", "water_entropy", "hbonds"),
}


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
             "`temperature_k`, `replica`, `seed`, then the sweep variables).", ""]
    listed = set()
    for analysis, tables in ANALYSIS_TABLES.items():
        lines += [f"## `hese analyze {analysis}`", ""]
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


PAGES = {"cli.md": cli_page, "config.md": config_page, "tables.md": tables_page, "species.md": species_page}


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

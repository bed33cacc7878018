"""Keep the finished runs of the validation studies in git: ``results/<study>`` → ``validation/data/<study>``.

    python validation/archive.py                      # report.py runs it first
    python validation/archive.py --results DIR --data DIR

Run it from the checkout's root (system paths in the configs are relative to it). Trajectories stay
out of git, but the tables made from them are small (about 0.2 MB a run) and are what the report
reads. For every run of a study whose simulation has finished, this copies what ``hese gather``
reads — ``md/done.json``, ``md/equilibration.json``, and the tables and record of every finished
analysis folder and of a finished ``viscosity/`` — then copies the study's ``runs.csv`` (or writes it from
its config) and gathers the copy. Runs archived before stay (results accumulate over sessions and
machines); a run archived again is replaced whole, so a longer rerun supersedes a shorter one.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from hese import layout, results, study
from hese.errors import HeseInputError
from hese.io import atomic_write

HERE = Path(__file__).resolve().parent
#: study name → its config in this folder
CONFIGS = {"validation-hofmeister": "hofmeister-zn.yaml", "validation-zncl2-licl": "zncl2-licl.yaml"}


def archive_run(source: Path, dest: Path) -> None:
    """Replace ``dest`` by the tables of the finished run ``source`` (no trajectory, no checkpoint)."""
    new = dest.with_name(f".{dest.name}.new")
    shutil.rmtree(new, ignore_errors=True)
    (new / "md").mkdir(parents=True)
    for name in (layout.DONE, layout.EQUILIBRATION):
        shutil.copy2(source / "md" / name, new / "md" / name)
    records = [*sorted((source / "analysis").glob(f"*/{layout.SUMMARY}")), source / "viscosity" / layout.VISCOSITY]
    for record in filter(Path.is_file, records):  # written last: the folder is complete
        folder = new / record.parent.relative_to(source)
        folder.mkdir(parents=True)
        for path in [record, *sorted(record.parent.glob("*.parquet"))]:
            shutil.copy2(path, folder / path.name)
    shutil.rmtree(dest, ignore_errors=True)
    new.rename(dest)


def archive(study_name: str, results_dir: Path, data_dir: Path) -> list[str]:
    """Archive the finished runs of ``study_name`` and gather the archive; returns the runs copied now."""
    config = HERE / CONFIGS[study_name]
    source, dest = results_dir / study_name, data_dir / study_name
    finished = sorted(p.parent.parent for p in source.glob(f"*/md/{layout.DONE}"))
    if not finished and not dest.is_dir():
        return []
    dest.mkdir(parents=True, exist_ok=True)
    for run in finished:
        archive_run(run, dest / run.name)
    runs_csv = source / results.RUNS_CSV  # the workflow's own run table, else one written from the config
    atomic_write(dest / results.RUNS_CSV, runs_csv.read_text() if runs_csv.is_file()
                 else study.runs_table(study.load(config), config).to_csv(index=False))
    if any(dest.glob(f"*/md/{layout.DONE}")):
        results.gather(dest)
    return [run.name for run in finished]


def archive_all(results_dir: Path, data_dir: Path) -> dict[str, list[str]]:
    """:func:`archive` for every validation study: study → the runs copied now."""
    return {name: archive(name, results_dir, data_dir) for name in CONFIGS}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=Path("results"), help="folder of the study results")
    parser.add_argument("--data", type=Path, default=HERE / "data", help="folder of the archived studies")
    args = parser.parse_args(argv)
    try:
        for name, copied in archive_all(args.results, args.data).items():
            print(f"{name}: {len(copied)} finished runs archived in {args.data / name}")
    except HeseInputError as err:
        print(f"archive.py: error: {err}", file=sys.stderr)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()

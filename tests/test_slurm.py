"""The workflow through a real SLURM cluster on localhost: ``--executor slurm`` with ``profiles/slurm``.

A one-node cluster (``tests/slurm_cluster.py``: munged, slurmctld and slurmd, configured in a
temporary folder, with two fake GPUs) runs the tiny study of ``tests/data/workflow`` from the
run table to the plots; every stage is an sbatch job. The daemons are stopped by the pids in
their pid files when the module ends, whether the tests passed or not.

Needs root and Debian's ``slurm-wlm`` and ``munge`` packages (CI installs them); skipped with
the reason otherwise.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
import slurm_cluster

from hese.analysis import registry

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
SNAKEMAKE = shutil.which("snakemake", path=str(BIN))
RUN = "tiny-licl_T298.15_r0"
ANALYSES = registry.names()  # the tiny box has water: every analysis applies
PLOTS = tuple(p for a in registry.analyses() for p in a.plots)

pytestmark = pytest.mark.skipif(SNAKEMAKE is None or slurm_cluster.why_not() is not None,
                                reason=f"no local SLURM cluster: {slurm_cluster.why_not() or 'no snakemake'}")


@pytest.fixture(scope="module")
def cluster():
    folder = Path(tempfile.mkdtemp(prefix="hese-slurm-"))  # not tmp_path: munged must reach it
    cluster = slurm_cluster.LocalSlurm(folder, cpus=max(4, os.cpu_count() or 1))
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(folder, ignore_errors=True)


def snakemake(cluster, workdir: Path, *args: str, timeout: int = 900) -> subprocess.CompletedProcess:
    """The workflow on ``workdir`` through the cluster with the SLURM profile, polled every second."""
    env = cluster.env()
    env["PATH"] = f"{BIN}{os.pathsep}{env['PATH']}"  # the jobs run `hese` from this environment
    return subprocess.run(
        [SNAKEMAKE, "-s", str(ROOT / "Snakefile"), "-d", str(workdir), "--configfile", str(workdir / "tiny.yaml"),
         "--profile", str(ROOT / "profiles/slurm"), "--jobs", "4",
         # no slurmdbd here: sacct cannot answer, so job states come from squeue
         "--slurm-status-command", "squeue",
         "--slurm-init-seconds-before-status-checks", "1", "--seconds-between-status-checks", "1",
         "--latency-wait", "5", "--restart-times", "0", *args],
        capture_output=True, text=True, env=env, timeout=timeout, cwd=workdir)


def slurm_jobs(cluster) -> list[dict[str, str]]:
    """Every job the cluster knows (finished ones stay for MinJobAge), as ``scontrol show job`` fields."""
    out = subprocess.run(["scontrol", "show", "job", "-o"], env=cluster.env(), capture_output=True, text=True,
                         timeout=60, check=True).stdout
    jobs = []
    for line in out.splitlines():
        fields = dict(item.split("=", 1) for item in line.split() if "=" in item)
        if "JobId" in fields:
            jobs.append(fields)
    return jobs


def failure_report(proc: subprocess.CompletedProcess, workdir: Path, cluster) -> str:
    """The end of snakemake's output, every SLURM job log and rule log that mentions an error, the daemons' logs."""
    parts = [proc.stdout[-3000:], proc.stderr[-5000:]]
    for log in sorted((workdir / ".snakemake/slurm_logs").rglob("*.log")) + sorted((workdir / "logs").rglob("*.log")):
        text = log.read_text(errors="replace")
        if "rror" in text:
            parts.append(f"--- {log.relative_to(workdir)} ---\n{text[-2000:]}")
    parts += [cluster.tail(cluster.logs / "slurmctld.log", 15), cluster.tail(cluster.logs / "slurmd.log", 15)]
    return "\n".join(parts)


@pytest.fixture(scope="module")
def tiny(cluster, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("slurm-workflow")
    shutil.copytree(ROOT / "tests/data/workflow", workdir, dirs_exist_ok=True)
    proc = snakemake(cluster, workdir)
    assert proc.returncode == 0, failure_report(proc, workdir, cluster)
    return workdir, proc, slurm_jobs(cluster)


def test_the_cluster_starts_once_and_stops_by_pid():
    folder = Path(tempfile.mkdtemp(prefix="hese-slurm-"))
    other = slurm_cluster.LocalSlurm(folder)
    try:
        other.start()
        pids = {name: slurm_cluster.read_pid(path) for name, path in other.pid_files.items()}
        assert all(pids.values()) and other.node_state() == "idle"
        other.start()  # idempotent: the running daemons are kept
        assert pids == {name: slurm_cluster.read_pid(path) for name, path in other.pid_files.items()}
    finally:
        other.stop()
        shutil.rmtree(folder, ignore_errors=True)
    assert not any(slurm_cluster.pid_alive(pid) and slurm_cluster._is(pid, name) for name, pid in pids.items())


def job_stats(output: str) -> Counter:
    """Snakemake's "Job stats" table (rule → number of jobs) from its output."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.split() == ["job", "count"])
    stats = Counter()
    for line in lines[start + 2:]:
        parts = line.split()
        if len(parts) != 2 or parts[0] == "total":
            break
        stats[parts[0]] = int(parts[1])
    return stats


def test_every_job_ran_through_slurm_and_completed(tiny):
    workdir, proc, jobs = tiny
    ours = [j for j in jobs if j.get("WorkDir") == str(workdir)]
    assert all(j["JobState"] == "COMPLETED" for j in ours), [(j["Comment"], j["JobState"]) for j in ours]
    submitted = Counter(j["Comment"].removeprefix("rule_").split("_wildcards")[0] for j in ours)
    expected = job_stats(proc.stdout + proc.stderr)
    for local in ("all", "runs_table"):  # the Snakefile's localrules run in the main process
        del expected[local]
    assert submitted == expected
    assert {"build", "simulate", "analyze", "gather", "plots"} <= set(submitted)


def test_md_jobs_ask_for_one_gpu_and_analyses_for_none(tiny):
    workdir, _, jobs = tiny
    ours = {j["Comment"]: j for j in jobs if j.get("WorkDir") == str(workdir)}
    simulate = [j for c, j in ours.items() if c.startswith("rule_simulate")]
    assert len(simulate) == 1 and simulate[0].get("TresPerJob") == "gres:gpu:1", simulate
    analyses = [j for c, j in ours.items() if c.startswith("rule_analyze")]
    assert len(analyses) == len(ANALYSES)
    assert not any("gpu" in j.get("TresPerJob", "") + j.get("TRES", "") for j in analyses), analyses


def test_every_output_is_there(tiny):
    workdir, _, _ = tiny
    results = workdir / "results/tiny"
    assert (results / "runs.csv").is_file()
    assert (results / f"{RUN}/build/build.json").is_file()
    assert (results / f"{RUN}/md/equilibration.json").is_file()
    for analysis in ANALYSES:
        assert json.loads((results / f"{RUN}/analysis/{analysis}/summary.json").read_text()), analysis
    summary = pd.read_parquet(results / "tables/summary.parquet")
    assert list(summary["run"]) == [RUN]
    assert (results / "tables/summary.csv").is_file()
    assert PLOTS
    for plot in PLOTS:
        for ext in ("png", "svg"):
            assert (results / f"plots/{plot}.{ext}").stat().st_size > 1000, f"{plot}.{ext}"

"""A real single-node SLURM cluster on localhost, private to one test session.

Debian's ``slurm-wlm`` and ``munge`` packages, started as a one-node cluster usually is, but
with everything in one folder instead of ``/etc``, ``/run`` and ``/var``: ``slurm.conf`` (found
through ``SLURM_CONF``), ``gres.conf``, a munged on its own socket, state, spool, logs and pid
files. The ports are picked free at start, so two sessions on one machine do not meet. The node
offers two GPUs as generic resources backed by ``/dev/null`` and ``/dev/zero`` (no GPU is
touched): ``sbatch --gpus=1`` is accepted and sets ``CUDA_VISIBLE_DEVICES`` to 0 or 1, as a
GPU cluster would.

Usage::

    cluster = LocalSlurm(folder)
    cluster.start()            # idempotent: a running cluster in this folder is reused
    subprocess.run([...], env=cluster.env())
    cluster.stop()             # the daemons it started, by the pids in their pid files

Needs root (slurmd runs jobs as their user and munged runs as ``munge``), and a folder whose
parents the ``munge`` user may enter (e.g. one made by ``tempfile.mkdtemp()``, not pytest's
``tmp_path``, whose parent is private to root).
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

#: binaries the cluster needs (Debian: apt-get install slurm-wlm munge)
BINARIES = ("munged", "munge", "unmunge", "runuser", "slurmctld", "slurmd", "sinfo", "sbatch", "squeue", "srun",
            "scontrol")
SBIN = ("/usr/sbin", "/usr/local/sbin", "/sbin")
#: the fake GPUs: character devices every Linux has
GPU_FILES = ("/dev/null", "/dev/zero")


def which(name: str) -> str | None:
    """Path of a binary on PATH or in the sbin folders (often missing from a user's PATH)."""
    return shutil.which(name) or shutil.which(name, path=os.pathsep.join(SBIN))


def missing_binaries() -> list[str]:
    """The binaries of :data:`BINARIES` that cannot be found."""
    return [b for b in BINARIES if which(b) is None]


def why_not() -> str | None:
    """Why a local cluster cannot start here (a sentence for ``pytest.skip``), or None when it can."""
    if os.name != "posix" or os.geteuid() != 0:
        return "the local SLURM cluster needs root (slurmd runs jobs, munged runs as the munge user)"
    missing = missing_binaries()
    if missing:
        return f"SLURM/munge binaries missing ({', '.join(missing)}): apt-get install slurm-wlm munge"
    try:
        import pwd

        pwd.getpwnam("munge")
    except KeyError:
        return "no 'munge' user (install Debian's munge package)"
    if not Path("/etc/munge/munge.key").is_file():
        return "no /etc/munge/munge.key (install Debian's munge package)"
    return None


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def memory_mb() -> int:
    """90 % of the machine's memory in MB (slurmd refuses a node configured with more than it has)."""
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(int(line.split()[1]) / 1024 * 0.9)
    raise RuntimeError("no MemTotal in /proc/meminfo")


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


class LocalSlurm:
    """A one-node SLURM cluster (partition ``debug``, 2 fake GPUs) living in ``folder``."""

    partition = "debug"

    def __init__(self, folder: str | Path, gpus: int = len(GPU_FILES), cpus: int | None = None):
        self.folder = Path(folder).resolve()
        self.gpus = gpus
        #: CPUs the node offers; more than the machine has is allowed (config_overrides), so that
        #: short jobs that mostly wait (Python start-up, polling) can overlap on a small machine
        self.cpus = cpus or os.cpu_count() or 1
        self.conf = self.folder / "etc" / "slurm.conf"
        self.munge_dir = self.folder / "munge"
        self.socket = self.munge_dir / "munge.socket"
        self.logs = self.folder / "log"
        self.run_dir = self.folder / "run"

    # -- paths -------------------------------------------------------------------------------
    @property
    def pid_files(self) -> dict[str, Path]:
        return {"munged": self.munge_dir / "munged.pid", "slurmctld": self.run_dir / "slurmctld.pid",
                "slurmd": self.run_dir / "slurmd.pid"}

    def env(self, base: dict[str, str] | None = None) -> dict[str, str]:
        """The environment of a SLURM client of this cluster: ``SLURM_CONF`` and the sbin folders on PATH."""
        env = {k: v for k, v in (os.environ if base is None else base).items() if not k.startswith("SLURM_")}
        env["SLURM_CONF"] = str(self.conf)
        env["PATH"] = os.pathsep.join([str(self.bin), env.get("PATH", ""), *SBIN])
        return env

    @property
    def bin(self) -> Path:
        """Folder of the ``srun`` shim that points a job's nested ``srun`` at this cluster.

        snakemake-executor-plugin-slurm-jobstep runs every job's command through ``srun`` with
        all ``SLURM_*`` variables removed, ``SLURM_CONF`` included, and srun would then look for
        ``/etc/slurm/slurm.conf``. The shim sets ``SLURM_CONF`` again and runs the real srun.
        """
        return self.folder / "bin"

    # -- start -------------------------------------------------------------------------------
    def running(self) -> bool:
        """Whether all three daemons of this folder run and the node is up."""
        for name, path in self.pid_files.items():
            pid = read_pid(path)
            if pid is None or not pid_alive(pid) or not _is(pid, name):
                return False
        return self.node_state() in ("idle", "mixed", "allocated")

    def start(self, timeout_s: float = 60) -> LocalSlurm:
        """Write the configuration and start munged, slurmctld and slurmd; reuse them when they run."""
        reason = why_not()
        if reason:
            raise RuntimeError(reason)
        if self.conf.exists() and self.running():
            return self
        self.stop()  # leftovers of a half-started cluster in this folder
        self._make_folders()
        self._start_munged()
        self._write_conf()
        self._daemon("slurmctld")
        self._daemon("slurmd")
        self._wait_idle(timeout_s)
        return self

    def _make_folders(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.folder.chmod(0o755)  # munged runs as the munge user and must reach its socket
        for sub in ("bin", "etc", "log", "run", "state", "spool"):
            (self.folder / sub).mkdir(exist_ok=True)
        srun = self.bin / "srun"
        srun.write_text(f'#!/bin/sh\nSLURM_CONF={shlex.quote(str(self.conf))} exec {which("srun")} "$@"\n')
        srun.chmod(0o755)
        self.munge_dir.mkdir(exist_ok=True)
        shutil.chown(self.munge_dir, "munge", "munge")
        self.munge_dir.chmod(0o755)  # munged: "execute permissions for all required" on the socket folder

    def _start_munged(self) -> None:
        pid_file = self.pid_files["munged"]
        cmd = ["runuser", "-u", "munge", "--", which("munged"), f"--socket={self.socket}",
               f"--pid-file={pid_file}", f"--log-file={self.munge_dir / 'munged.log'}",
               f"--seed-file={self.munge_dir / 'munged.seed'}"]
        self._run(cmd, "munged", self.munge_dir / "munged.log")
        check = subprocess.run(f"{which('munge')} -n -S {self.socket} | {which('unmunge')} -S {self.socket}", shell=True,
                               capture_output=True, text=True, timeout=30)
        if check.returncode != 0:
            raise RuntimeError(f"munge does not work: {check.stdout}{check.stderr}")

    def _write_conf(self) -> None:
        host = socket.gethostname().split(".")[0]
        f = self.folder
        gres = "".join(f"Name=gpu File={dev}\n" for dev in GPU_FILES[: self.gpus])
        (f / "etc" / "gres.conf").write_text(gres)
        self.conf.write_text(f"""\
# written by tests/slurm_cluster.py for one test session
ClusterName=hesetest
SlurmctldHost={host}(127.0.0.1)
SlurmctldPort={free_port()}
SlurmdPort={free_port()}
SlurmUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={self.socket}
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
ReturnToService=2
SlurmctldPidFile={self.pid_files['slurmctld']}
SlurmdPidFile={self.pid_files['slurmd']}
StateSaveLocation={f / 'state'}
SlurmdSpoolDir={f / 'spool'}
SlurmctldLogFile={self.logs / 'slurmctld.log'}
SlurmdLogFile={self.logs / 'slurmd.log'}
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
# finished jobs stay visible to squeue (the executor's status command without slurmdbd)
MinJobAge=300
# the node is what this file says, not what slurmd finds (CPUs may exceed the machine's)
SlurmdParameters=config_overrides
GresTypes=gpu
NodeName={host} NodeAddr=127.0.0.1 CPUs={self.cpus} RealMemory={memory_mb()} \
{f"Gres=gpu:{self.gpus} " if self.gpus else ""}State=UNKNOWN
PartitionName={self.partition} Nodes={host} Default=YES MaxTime=INFINITE State=UP
""")

    def _daemon(self, name: str) -> None:
        self._run([which(name), "-f", str(self.conf)], name, self.logs / f"{name}.log")

    def _run(self, cmd: list, name: str, log: Path) -> None:
        """Start a daemon (it forks) and wait for its pid file."""
        proc = subprocess.run([str(c) for c in cmd], env=self.env(), capture_output=True, text=True, timeout=60)
        pid_file = self.pid_files[name]
        deadline = time.monotonic() + 20
        while proc.returncode == 0 and read_pid(pid_file) is None and time.monotonic() < deadline:
            time.sleep(0.1)
        if proc.returncode != 0 or read_pid(pid_file) is None:
            raise RuntimeError(f"{name} did not start (exit {proc.returncode}): {proc.stdout}{proc.stderr}"
                               f"{self.tail(log)}")

    def node_state(self) -> str:
        """The node's state as ``sinfo`` says it (``idle``, ``inval``, …), or '' when slurmctld does not answer."""
        try:
            proc = subprocess.run([which("sinfo"), "-h", "-o", "%T"], env=self.env(), capture_output=True,
                                  text=True, timeout=20)
        except subprocess.TimeoutExpired:
            return ""
        return proc.stdout.strip().rstrip("*") if proc.returncode == 0 else ""

    def _wait_idle(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        state = ""
        while time.monotonic() < deadline:
            state = self.node_state()
            if state == "idle":
                return
            time.sleep(0.5)
        raise RuntimeError(f"the node did not become idle in {timeout_s:.0f} s (state {state!r})"
                           f"{self.tail(self.logs / 'slurmctld.log')}{self.tail(self.logs / 'slurmd.log')}")

    # -- stop --------------------------------------------------------------------------------
    def stop(self, timeout_s: float = 20) -> None:
        """Stop the daemons of this folder by the pids in their pid files: slurmd, slurmctld, munged.

        Only a pid whose process is one of these daemons is signalled (a stale pid file from a
        reboot may name another process by now).
        """
        for name in ("slurmd", "slurmctld", "munged"):
            pid_file = self.pid_files[name]
            pid = read_pid(pid_file)
            if pid is None or not pid_alive(pid) or not _is(pid, name):
                pid_file.unlink(missing_ok=True)
                continue
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + timeout_s
            while pid_alive(pid) and _is(pid, name) and time.monotonic() < deadline:
                time.sleep(0.1)
            if pid_alive(pid) and _is(pid, name):
                os.kill(pid, signal.SIGKILL)
            pid_file.unlink(missing_ok=True)

    # -- diagnostics -------------------------------------------------------------------------
    @staticmethod
    def tail(path: Path, lines: int = 30) -> str:
        try:
            text = path.read_text(errors="replace").splitlines()[-lines:]
        except OSError:
            return ""
        return f"\n--- {path.name} ---\n" + "\n".join(text)


def _is(pid: int, name: str) -> bool:
    """Whether process ``pid`` runs the program ``name`` (its /proc comm, or its command line)."""
    try:
        comm = Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return False
    if comm == name[:15]:
        return True
    try:
        return name in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return False

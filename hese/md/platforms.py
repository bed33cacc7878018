"""Choose the OpenMM platform and claim a GPU that no other job uses.

``auto`` takes the first platform of CUDA, HIP, OpenCL and CPU that is installed, loads and
runs a two-particle test context, and logs why it passed over the others.

GPU choice, in order:

1. ``device_index`` given: that device, no claim.
2. The scheduler left exactly one device visible (``CUDA_VISIBLE_DEVICES=3`` under SLURM or
   a snakemake GPU profile): device 0 of the process, no claim.
3. Otherwise (several or all devices visible, as with ``snakemake -j 8 --resources gpu=8`` on
   one node) the job claims the first free device: an exclusive ``flock`` on
   ``<lock dir>/gpu-<id>.lock``, kept open for the life of the process. The kernel releases it
   when the process ends, however it ends (``kill -9`` included), so a lock never outlives its
   job. When every device is claimed the job waits for one to be released. With
   ``jobs_per_gpu`` N each device has N such locks (slots), so N jobs share it.
"""

from __future__ import annotations

import fcntl
import logging
import os
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import openmm as mm

from hese.errors import HeseInputError

AUTO_ORDER = ("CUDA", "HIP", "OpenCL", "CPU")
GPU_PLATFORMS = ("CUDA", "HIP", "OpenCL")
#: Environment variables a scheduler sets to the devices a job may use, per platform.
VISIBLE_ENV = {"CUDA": ("CUDA_VISIBLE_DEVICES",), "HIP": ("HIP_VISIBLE_DEVICES", "ROCR_VISIBLE_DEVICES"),
               "OpenCL": ("CUDA_VISIBLE_DEVICES", "HIP_VISIBLE_DEVICES")}
LOCK_DIR_ENV = "HESE_GPU_LOCK_DIR"

log = logging.getLogger("hese.md")


@dataclass
class DeviceClaim:
    """A claimed GPU: its index for OpenMM, its id in the lock file name, the open lock file.

    The lock lasts while the file descriptor is open: :meth:`release` (or process exit) frees it.
    """

    index: int
    device_id: str
    path: Path | None = None
    fd: int | None = field(default=None, repr=False)

    def release(self) -> None:
        """Release the lock (idempotent)."""
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


@dataclass
class PlatformChoice:
    """The platform to run on, its properties and how it was chosen."""

    platform: mm.Platform
    properties: dict[str, str]
    reasons: list[str]
    claim: DeviceClaim | None = None

    @property
    def name(self) -> str:
        """The platform name."""
        return self.platform.getName()

    def describe(self) -> str:
        """One line for logs: platform, precision, device."""
        props = ", ".join(f"{k}={v}" for k, v in sorted(self.properties.items()))
        return f"{self.name}" + (f" ({props})" if props else "")

    def release(self) -> None:
        """Release a claimed device."""
        if self.claim is not None:
            self.claim.release()


def lock_dir() -> Path:
    """Folder of the GPU lock files: ``$HESE_GPU_LOCK_DIR`` or ``<tmp>/hese-gpu-locks`` (node-local)."""
    return Path(os.environ.get(LOCK_DIR_ENV) or Path(tempfile.gettempdir()) / "hese-gpu-locks")


def visible_devices(platform: str, environ: dict[str, str] | None = None) -> list[str] | None:
    """Device ids a scheduler left visible to this job, or None when no variable is set.

    An empty list means the variable hides every device (``""`` or ``-1``).
    """
    env = os.environ if environ is None else environ
    for name in VISIBLE_ENV.get(platform, ()):
        value = env.get(name)
        if value is not None:
            ids = [v.strip() for v in value.split(",") if v.strip()]
            return [] if not ids or ids[0] in ("-1", "NoDevFiles") else ids
    return None


def count_gpus(platform: str) -> int:
    """Number of GPUs on this node for a platform (0 when none can be seen; never starts a GPU context)."""
    if platform in ("CUDA", "OpenCL"):
        proc = Path("/proc/driver/nvidia/gpus")
        if proc.is_dir():
            return len(list(proc.iterdir()))
        n = _lines_of(["nvidia-smi", "-L"], "GPU ")
        if n or platform == "CUDA":
            return n
    if platform in ("HIP", "OpenCL"):
        nodes = Path("/sys/class/kfd/kfd/topology/nodes")
        if nodes.is_dir():
            ids = [(p / "gpu_id").read_text().strip() for p in nodes.iterdir() if (p / "gpu_id").exists()]
            return sum(1 for i in ids if i not in ("", "0"))
    return 0


def _lines_of(cmd: Sequence[str], prefix: str) -> int:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return 0
    return sum(1 for line in out.splitlines() if line.startswith(prefix))


def try_claim(device_ids: Sequence[str], directory: Path | None = None, slots: int = 1) -> DeviceClaim | None:
    """Claim a free slot of a device of ``device_ids``; None when every slot is held.

    Each device has ``slots`` slots (``jobs_per_gpu``), each its own lock file (``gpu-<id>.lock``,
    then ``gpu-<id>.slot<k>.lock``). Slots are taken device by device before a device gets its
    second job, so jobs spread over the GPUs first.
    """
    directory = lock_dir() if directory is None else Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    try:  # shared by every user of the node
        os.chmod(directory, 0o1777)
    except OSError:
        pass
    candidates = [(slot, index, device_id) for slot in range(slots) for index, device_id in enumerate(device_ids)]
    for slot, index, device_id in candidates:
        path = directory / (f"gpu-{_safe(device_id)}.lock" if slot == 0 else f"gpu-{_safe(device_id)}.slot{slot}.lock")
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        except PermissionError:  # created by another user: flock needs only a read descriptor
            fd = os.open(path, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        _note_holder(fd)
        return DeviceClaim(index, device_id, path, fd)
    return None


def _safe(device_id: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in device_id)


def _note_holder(fd: int) -> None:
    """Write who holds the lock into the lock file (for people, not for the lock)."""
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} host {socket.gethostname()} since {time.ctime()}\n".encode(), 0)
    except OSError:
        pass


def claim_device(
    device_ids: Sequence[str],
    directory: Path | None = None,
    poll_s: float = 5.0,
    timeout_s: float | None = None,
    sleep: Callable[[float], None] = time.sleep,
    slots: int = 1,
) -> DeviceClaim:
    """Claim a free device slot (:func:`try_claim`), waiting while all are held by other jobs.

    Raises
    ------
    TimeoutError
        When ``timeout_s`` passes with every device held.
    """
    start = time.monotonic()
    said = 0.0
    while True:
        claim = try_claim(device_ids, directory, slots)
        if claim is not None:
            return claim
        waited = time.monotonic() - start
        if timeout_s is not None and waited >= timeout_s:
            raise TimeoutError(f"all {len(device_ids)} GPUs stayed claimed by other jobs for {waited:.0f} s")
        if waited - said >= 300 or said == 0.0:
            log.info("all %d GPUs (%s) are claimed by other jobs (locks in %s); waiting",
                     len(device_ids), ",".join(device_ids), directory or lock_dir())
            said = waited or 1e-9
        sleep(poll_s)


def _available() -> dict[str, mm.Platform]:
    platforms = (mm.Platform.getPlatform(i) for i in range(mm.Platform.getNumPlatforms()))
    return {p.getName(): p for p in platforms}


def _why_missing(name: str) -> str:
    """Why a platform is not registered: its plugin failed to load, found no device, or is absent."""
    for failure in mm.Platform.getPluginLoadFailures():
        if f"OpenMM{name}" in failure:
            return failure.split(":", 2)[-1].strip()
    plugins = Path(mm.version.openmm_library_path) / "plugins"
    if list(plugins.glob(f"*OpenMM{name}.*")):
        return "its plugin is installed but registered no platform (no driver or no device)"
    extra = {"CUDA": "; install e.g. openmm-cuda-12 or openmm-cuda-13", "HIP": "; install openmm-hip"}.get(name, "")
    return f"no plugin in this OpenMM installation{extra}"


def _test_context(platform: mm.Platform, properties: dict[str, str]) -> None:
    system = mm.System()
    for _ in range(2):
        system.addParticle(1.0)
    context = mm.Context(system, mm.VerletIntegrator(0.001), platform, properties)
    del context


def _properties(name: str, precision: str, device: int | None) -> dict[str, str]:
    props: dict[str, str] = {}
    if name in GPU_PLATFORMS:
        props["Precision"] = precision
        if device is not None:
            props["DeviceIndex"] = str(device)
    return props


def _gpu_device(name: str, device_index: int | None, reasons: list[str],
                slots: int = 1) -> tuple[int | None, DeviceClaim | None]:
    if device_index is not None:
        reasons.append(f"{name}: device {device_index} as requested (device_index)")
        return device_index, None
    visible = visible_devices(name)
    if visible is not None and len(visible) == 1:
        reasons.append(f"{name}: the one device the scheduler left visible ({VISIBLE_ENV[name][0]}={visible[0]})")
        return 0, None
    if visible:
        ids = visible
        where = f"{len(ids)} visible devices ({','.join(ids)})"
    else:
        ids = [str(i) for i in range(count_gpus(name))]
        where = f"{len(ids)} devices on this node"
    if not ids:
        reasons.append(f"{name}: no GPU count found (no /proc/driver/nvidia, nvidia-smi or kfd topology); "
                       f"OpenMM's default device, not claimed")
        return None, None
    claim = claim_device(ids, slots=slots)
    share = f", one of {slots} jobs per GPU" if slots > 1 else ""
    reasons.append(f"{name}: claimed device {claim.index} (id {claim.device_id}) of {where}{share}, lock {claim.path}")
    return claim.index, claim


def choose_platform(
    requested: str = "auto", precision: str = "mixed", device_index: int | None = None, jobs_per_gpu: int = 1
) -> PlatformChoice:
    """Pick and test the platform (see the module docstring); claim a GPU for GPU platforms.

    Raises
    ------
    HeseInputError
        A requested platform that is not installed or does not work here.
    """
    available = _available()
    reasons: list[str] = []
    order = AUTO_ORDER if requested == "auto" else (requested,)
    for name in order:
        if name not in available:
            why = _why_missing(name)
            reasons.append(f"{name}: not available ({why})")
            if requested != "auto":
                raise HeseInputError(f"platform: {name} is not available here ({why}); "
                                     f"available: {', '.join(available)}")
            continue
        if name in GPU_PLATFORMS and visible_devices(name) == []:
            reasons.append(f"{name}: skipped, {VISIBLE_ENV[name][0]} hides every device")
            if requested != "auto":
                raise HeseInputError(f"platform: {name}: {VISIBLE_ENV[name][0]} hides every device")
            continue
        claim = None
        try:
            device, claim = (_gpu_device(name, device_index, reasons, jobs_per_gpu) if name in GPU_PLATFORMS
                             else (None, None))
            props = _properties(name, precision, device)
            _test_context(available[name], props)
        except Exception as err:  # a platform that loads but cannot run here (no device, bad driver)
            if claim is not None:
                claim.release()
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            reasons.append(f"{name}: does not run here ({first})")
            if requested != "auto":
                raise HeseInputError(f"platform: {name} does not run here: {first}") from None
            continue
        if name == "CPU" and precision != "mixed":
            reasons.append(f"CPU: precision {precision} ignored (the CPU platform runs in mixed precision)")
        if name == "Reference" and precision != "double":
            reasons.append(f"Reference: precision {precision} ignored (the Reference platform runs in double)")
        reasons.append(f"{name}: chosen")
        return PlatformChoice(available[name], props, reasons, claim)
    raise HeseInputError(f"platform: no platform of {', '.join(order)} works here: {'; '.join(reasons)}")

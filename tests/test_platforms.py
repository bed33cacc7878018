"""Platform choice and GPU claiming (plain file locking: no GPU needed)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import openmm as mm
import pytest

from hese.errors import HeseInputError
from hese.md import platforms

REPO = Path(__file__).resolve().parents[1]
HAS_CUDA = "CUDA" in [mm.Platform.getPlatform(i).getName() for i in range(mm.Platform.getNumPlatforms())]

CHILD = textwrap.dedent("""
    import json, sys, time
    from pathlib import Path
    from hese.md import platforms
    lock_dir, go, hold = Path(sys.argv[1]), Path(sys.argv[2]), float(sys.argv[3])
    while not go.exists():
        time.sleep(0.01)
    claim = platforms.claim_device(["0", "1", "2"], lock_dir, poll_s=0.02)
    t0 = time.time()
    print("claimed", flush=True)
    time.sleep(hold)
    t1 = time.time()
    claim.release()
    print(json.dumps({"device": claim.device_id, "start": t0, "end": t1}), flush=True)
""")


def _child(tmp_path: Path, hold: float) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, "-c", CHILD, str(tmp_path / "locks"), str(tmp_path / "go"), str(hold)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_concurrent_jobs_get_distinct_devices_and_wait_for_a_free_one(tmp_path):
    children = [_child(tmp_path, hold=1.5) for _ in range(5)]
    (tmp_path / "go").touch()
    records = []
    for c in children:
        out, err = c.communicate(timeout=120)
        assert c.returncode == 0, err
        records.append(json.loads(out.strip().splitlines()[-1]))
    assert {r["device"] for r in records} <= {"0", "1", "2"}
    for i, a in enumerate(records):  # a device is never held twice at once …
        for b in records[i + 1:]:
            if a["device"] == b["device"]:
                assert a["end"] <= b["start"] or b["end"] <= a["start"], (a, b)
    events = sorted([(r["end"], -1) for r in records] + [(r["start"], 1) for r in records])
    running = peak = 0
    for _, d in events:
        running += d
        peak = max(peak, running)
    assert peak <= 3  # … so at most three jobs run at a time, whatever the scheduling


def test_a_job_waits_while_every_device_is_taken_and_takes_the_one_released(tmp_path):
    held = [platforms.try_claim(["0", "1", "2"], tmp_path / "locks") for _ in range(3)]
    (tmp_path / "go").touch()
    child = _child(tmp_path, hold=0)
    time.sleep(1.0)
    assert child.poll() is None  # all three devices are held here: it cannot have claimed one
    held[1].release()
    out, err = child.communicate(timeout=120)
    assert child.returncode == 0, err
    assert json.loads(out.strip().splitlines()[-1])["device"] == "1"
    held[0].release()
    held[2].release()


def test_a_killed_job_releases_its_device(tmp_path):
    (tmp_path / "go").touch()
    child = _child(tmp_path, hold=60)
    assert child.stdout.readline().strip() == "claimed"
    held = platforms.try_claim(["0"], tmp_path / "locks")
    assert held is None
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    claim = platforms.try_claim(["0"], tmp_path / "locks")
    assert claim is not None and claim.index == 0
    claim.release()


def test_claims_within_one_process_exclude_each_other(tmp_path):
    a = platforms.try_claim(["7", "8"], tmp_path)
    b = platforms.try_claim(["7", "8"], tmp_path)
    assert (a.index, b.index) == (0, 1)
    assert platforms.try_claim(["7", "8"], tmp_path) is None
    with pytest.raises(TimeoutError):
        platforms.claim_device(["7", "8"], tmp_path, poll_s=0.01, timeout_s=0.05)
    a.release()
    c = platforms.try_claim(["7", "8"], tmp_path)
    assert c.device_id == "7"
    assert "pid" in (tmp_path / "gpu-7.lock").read_text()
    b.release()
    c.release()


def test_visible_devices_from_the_scheduler():
    assert platforms.visible_devices("CUDA", {}) is None
    assert platforms.visible_devices("CUDA", {"CUDA_VISIBLE_DEVICES": "3"}) == ["3"]
    assert platforms.visible_devices("CUDA", {"CUDA_VISIBLE_DEVICES": "0,2, 5"}) == ["0", "2", "5"]
    assert platforms.visible_devices("CUDA", {"CUDA_VISIBLE_DEVICES": ""}) == []
    assert platforms.visible_devices("CUDA", {"CUDA_VISIBLE_DEVICES": "-1"}) == []
    assert platforms.visible_devices("HIP", {"ROCR_VISIBLE_DEVICES": "1"}) == ["1"]


def test_scheduler_choice_is_honoured_and_several_visible_devices_are_claimed(tmp_path, monkeypatch):
    monkeypatch.setenv(platforms.LOCK_DIR_ENV, str(tmp_path))
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3")
    reasons: list[str] = []
    assert platforms._gpu_device("CUDA", None, reasons) == (0, None)
    assert "CUDA_VISIBLE_DEVICES=3" in reasons[-1]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "4,6")
    first = platforms._gpu_device("CUDA", None, reasons)[1]
    second = platforms._gpu_device("CUDA", None, reasons)[1]
    assert (first.index, first.device_id, second.index, second.device_id) == (0, "4", 1, "6")
    assert (tmp_path / "gpu-6.lock").exists()
    first.release()
    second.release()
    assert platforms._gpu_device("CUDA", 2, reasons) == (2, None)


@pytest.mark.skipif(HAS_CUDA, reason="this OpenMM has CUDA")
def test_auto_falls_back_to_cpu_and_says_why():
    choice = platforms.choose_platform("auto", "mixed")
    assert choice.name == "CPU"
    assert any(r.startswith("CUDA: not available") for r in choice.reasons)
    assert any(r.startswith("OpenCL: ") for r in choice.reasons)
    assert choice.reasons[-1] == "CPU: chosen"
    assert choice.claim is None


@pytest.mark.skipif(HAS_CUDA, reason="this OpenMM has CUDA")
def test_a_requested_platform_that_is_missing_is_bad_input():
    with pytest.raises(HeseInputError, match=r"platform: CUDA is not available here .*available: "):
        platforms.choose_platform("CUDA")


def test_reference_platform_can_be_asked_for():
    choice = platforms.choose_platform("Reference", "double")
    assert choice.name == "Reference" and choice.properties == {}


def test_jobs_per_gpu_gives_each_device_that_many_slots_filled_device_by_device(tmp_path):
    claims = [platforms.try_claim(["4", "5"], tmp_path, slots=2) for _ in range(4)]
    assert [(c.index, c.device_id) for c in claims] == [(0, "4"), (1, "5"), (0, "4"), (1, "5")]
    assert {c.path.name for c in claims} == {"gpu-4.lock", "gpu-5.lock", "gpu-4.slot1.lock", "gpu-5.slot1.lock"}
    assert platforms.try_claim(["4", "5"], tmp_path, slots=2) is None  # every slot taken
    claims[2].release()
    again = platforms.try_claim(["4", "5"], tmp_path, slots=2)
    assert (again.device_id, again.path.name) == ("4", "gpu-4.slot1.lock")
    for c in (*claims, again):
        c.release()
    assert platforms.try_claim(["4", "5"], tmp_path).path.name == "gpu-4.lock"  # one job per GPU: the old locks

"""Folders replaced as a whole, and the lock that keeps two writers apart."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

import pytest

from hese import io
from hese.errors import HeseInputError


def _folder(path, files):
    path.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (path / name).write_text(text)


def _content(path):
    return {p.name: p.read_text() for p in sorted(path.iterdir())}


@pytest.mark.parametrize("atomic_exchange", [True, False])
def test_the_new_folder_replaces_the_old_one_entirely(tmp_path, monkeypatch, atomic_exchange):
    if not atomic_exchange:
        monkeypatch.setattr(io, "_exchange", lambda a, b: False)  # file systems without renameat2
    out = tmp_path / "analysis"
    _folder(out, {"a.parquet": "old", "zn_chains.parquet": "stale"})
    with io.replaced_folder(out) as new:
        assert _content(out) == {"a.parquet": "old", "zn_chains.parquet": "stale"}  # untouched while writing
        (new / "a.parquet").write_text("new")
    assert _content(out) == {"a.parquet": "new"}  # the table the new analysis did not write is gone
    assert [p.name for p in tmp_path.iterdir()] == ["analysis"]  # nothing left beside it


def test_a_failed_writer_leaves_the_old_folder(tmp_path):
    out = tmp_path / "tables"
    _folder(out, {"summary.parquet": "old"})
    with pytest.raises(RuntimeError), io.replaced_folder(out) as new:
        (new / "summary.parquet").write_text("half")
        raise RuntimeError("killed")
    assert _content(out) == {"summary.parquet": "old"} and [p.name for p in tmp_path.iterdir()] == ["tables"]


def test_a_writer_killed_half_way_leaves_the_old_folder_and_the_next_one_cleans_up(tmp_path):
    out = tmp_path / "tables"
    _folder(out, {"summary.parquet": "old"})
    code = textwrap.dedent(f"""
        import time
        from pathlib import Path
        from hese import io
        with io.replaced_folder({str(out)!r}) as new:
            (new / "summary.parquet").write_text("half")
            (Path({str(tmp_path)!r}) / "started").touch()
            time.sleep(60)
    """)
    child = subprocess.Popen([sys.executable, "-c", code])
    deadline = time.monotonic() + 120
    while not (tmp_path / "started").exists():
        assert child.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    child.kill()
    child.wait()
    assert _content(out) == {"summary.parquet": "old"}
    with io.replaced_folder(out) as new:
        (new / "summary.parquet").write_text("new")
    assert _content(out) == {"summary.parquet": "new"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["started", "tables"]


def test_two_writers_of_one_folder_cannot_meet(tmp_path):
    lock = tmp_path / ".tables.lock"
    with io.exclusive(lock, "hese gather"):
        with pytest.raises(HeseInputError, match=r"another `hese gather` is writing here; wait for it to end"):
            with io.exclusive(lock, "hese gather"):
                pass
    with io.exclusive(lock, "hese gather"):  # released at the end of the block
        pass


def test_temporaries_of_a_killed_writer_are_removed_and_nothing_else(tmp_path):
    (tmp_path / ".done.json.k3j2.tmp").write_text("half")
    (tmp_path / "done.json").write_text("{}")
    (tmp_path / ".lock").write_text("")
    assert [p.name for p in io.remove_stale_temporaries(tmp_path)] == [".done.json.k3j2.tmp"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [".lock", "done.json"]

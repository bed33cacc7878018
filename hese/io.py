"""Files hese writes and reads back.

Writes are atomic: a killed job never leaves a file that looks finished. Reads of hese's own
records (JSON) and tables (Parquet) turn a missing, truncated or damaged file into one
:class:`~hese.errors.HeseInputError` that names the file, what is wrong and what to do.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from hese.errors import HeseInputError


@contextmanager
def atomic_output(path: str | os.PathLike, binary: bool = True) -> Iterator[IO]:
    """A file handle whose content replaces ``path`` only once the block has finished.

    It writes a temporary file in the same folder, flushes it to disk and renames it over
    ``path``, so readers see the old file or the whole new one; if the block raises, the
    temporary file is removed and ``path`` is untouched. For content too large to hold in memory
    (trajectories); :func:`atomic_write` is the one-call form.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as err:
        raise HeseInputError(f"{path.parent}: cannot write here ({err.strerror}); choose another output folder "
                             "or fix its permissions") from None
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file the usual permissions
        with os.fdopen(fd, "wb" if binary else "w") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write(path: str | os.PathLike, data: str | bytes) -> Path:
    """Write ``data`` to ``path`` atomically (:func:`atomic_output`)."""
    with atomic_output(path, binary=isinstance(data, bytes)) as fh:
        fh.write(data)
    return Path(path)


@contextmanager
def replaced_folder(path: str | os.PathLike) -> Iterator[Path]:
    """Write a whole folder at once: yield an empty folder beside ``path``, then swap it in.

    On success the new folder takes the place of ``path`` in one atomic exchange (Linux
    ``renameat2(RENAME_EXCHANGE)``; on file systems without it, two renames) and the old one is
    removed; on an error, or a kill, the half-written folder is dropped and ``path`` keeps its old
    content. Readers therefore see the complete old folder or the complete new one, never a mix,
    and nothing of an earlier setting survives (a table the new analysis does not write is gone).
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        for stale in path.parent.glob(f".{path.name}.new-*"):  # left by a killed writer
            shutil.rmtree(stale, ignore_errors=True)
        new = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.new-"))
    except OSError as err:
        raise HeseInputError(f"{path.parent}: cannot write here ({err.strerror}); choose another output folder "
                             "or fix its permissions") from None
    os.chmod(new, 0o777 & ~_umask())
    try:
        yield new
    except BaseException:
        shutil.rmtree(new, ignore_errors=True)
        raise
    if path.exists() and _exchange(new, path):
        shutil.rmtree(new, ignore_errors=True)  # now holds the old content
        return
    if path.exists():
        old = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.new-"))
        os.replace(path, old / "old")
        os.replace(new, path)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(new, path)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux renameat2 with RENAME_EXCHANGE); False where unsupported."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    if ctypes.get_errno() in (errno.EINVAL, errno.ENOSYS, errno.EXDEV, errno.ENOTSUP):
        return False
    raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()), str(b))


@contextmanager
def exclusive(path: str | os.PathLike, what: str) -> Iterator[None]:
    """Hold the lock file ``path`` (created if needed) while the block runs; another holder is an error.

    ``what`` names the command in the message, e.g. ``"hese gather"``. The lock goes when the
    process ends, even after ``kill -9``. On a file system without locks the block runs unguarded.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as err:
        raise HeseInputError(f"{path.parent}: cannot write here ({err.strerror}); choose another output folder "
                             "or fix its permissions") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise HeseInputError(f"{path.parent}: another `{what}` is writing here; wait for it to end") from None
    except OSError:
        pass
    try:
        yield
    finally:
        os.close(fd)


def remove_stale_temporaries(folder: str | os.PathLike) -> list[Path]:
    """Remove the temporary files of :func:`atomic_write` (``.<name>.<random>.tmp``) left in ``folder``
    by a writer that was killed; call it only while holding the folder's lock."""
    removed = [p for p in Path(folder).glob(".*.tmp") if p.is_file()]
    for path in removed:
        path.unlink(missing_ok=True)
    return removed


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_json(path: str | os.PathLike, obj: Any) -> Path:
    """Atomically write ``obj`` as indented, key-sorted JSON."""
    return atomic_write(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


def read_json(path: str | os.PathLike, remedy: str, keys: tuple[str, ...] = ()) -> dict:
    """A JSON object from ``path``, with at least ``keys``; else one error naming the file and ``remedy``.

    Parameters
    ----------
    path
        The file.
    remedy
        What the user should do when the file is damaged, e.g. ``"rebuild the box (hese build)"``.
    keys
        Keys the object must have.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except FileNotFoundError:
        raise HeseInputError(f"{path}: missing; {remedy}") from None
    except OSError as err:
        raise HeseInputError(f"{path}: cannot read ({err.strerror}); {remedy}") from None
    except (UnicodeDecodeError, ValueError) as err:
        raise HeseInputError(f"{path}: damaged, not JSON ({str(err).splitlines()[0]}); {remedy}") from None
    if not isinstance(data, dict):
        raise HeseInputError(f"{path}: damaged, not a JSON object; {remedy}")
    missing = [k for k in keys if k not in data]
    if missing:
        raise HeseInputError(f"{path}: damaged, no {', '.join(missing)}; {remedy}")
    return data


def read_table(path: str | os.PathLike, remedy: str):
    """A Parquet table (pandas DataFrame) from ``path``; a damaged file is one error naming it and ``remedy``."""
    import pandas as pd
    import pyarrow

    path = Path(path)
    try:
        return pd.read_parquet(path)
    except FileNotFoundError:
        raise HeseInputError(f"{path}: missing; {remedy}") from None
    except OSError as err:
        if err.strerror:
            raise HeseInputError(f"{path}: cannot read ({err.strerror}); {remedy}") from None
        raise HeseInputError(f"{path}: damaged, not a Parquet table ({str(err).splitlines()[0]}); {remedy}") from None
    except (pyarrow.ArrowException, ValueError) as err:
        raise HeseInputError(f"{path}: damaged, not a Parquet table ({str(err).splitlines()[0]}); {remedy}") from None

"""Files hese writes and reads back.

Writes are atomic: a killed job never leaves a file that looks finished. Reads of hese's own
records (JSON) and tables (Parquet) turn a missing, truncated or damaged file into one
:class:`~hese.errors.HeseInputError` that names the file, what is wrong and what to do.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from hese.errors import HeseInputError


def atomic_write(path: str | os.PathLike, data: str | bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file in the same folder.

    The temporary file is renamed over ``path`` only after it is complete and
    flushed to disk, so readers see the old file or the whole new one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = "wb" if isinstance(data, bytes) else "w"
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file the usual permissions
        with os.fdopen(fd, mode) as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


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

"""Write analysis tables (Parquet, atomically, with exactly the documented columns) and JSON-safe numbers."""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from hese.io import atomic_write


def write_table(frame: pd.DataFrame, path: str | os.PathLike, columns: Sequence[str]) -> Path:
    """Write ``frame`` to the Parquet file ``path`` through a temporary file.

    Raises
    ------
    RuntimeError
        If the frame's columns are not ``columns`` in that order (a programming error,
        not bad user input).
    """
    if tuple(frame.columns) != tuple(columns):
        raise RuntimeError(f"{path}: columns {list(frame.columns)} differ from the documented {list(columns)}")
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return atomic_write(path, buffer.getvalue())


def json_number(value: object) -> object:
    """A value for JSON: numpy scalars become Python numbers, NaN and infinities become None (null)."""
    value = value.item() if isinstance(value, np.generic) else value
    return None if isinstance(value, float) and not np.isfinite(value) else value

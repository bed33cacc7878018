"""hese: molecular dynamics of high-entropy battery electrolytes."""

from hese.errors import HeseInputError

__version__ = "0.1.0"  # the one version source (pyproject.toml reads it; keep CITATION.cff in step)

__all__ = ["HeseInputError", "__version__"]

"""hese: molecular dynamics of high-entropy battery electrolytes."""

from hese.errors import HeseInputError

__version__ = "0.1.0"

__all__ = ["HeseInputError", "__version__"]

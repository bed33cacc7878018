"""Sphinx configuration of hese's documentation (`make docs`; `make test` builds it with -W)."""

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))

import hese  # noqa: E402

project = "hese"
author = "the hese developers"
release = version = hese.__version__
extensions = [
    "myst_nb",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "hese_reference",
]
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence"]
myst_heading_anchors = 3
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_ivar = True  # dataclass fields are documented once, by autodoc
autodoc_default_options = {"members": True, "undoc-members": False, "show-inheritance": False}
autodoc_typehints = "description"
autodoc_member_order = "bysource"
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "**.ipynb_checkpoints"]
html_theme = "alabaster"
html_static_path: list[str] = []
html_theme_options = {"description": "MD of high-entropy battery electrolytes", "fixed_sidebar": True}

# The tutorial notebook reads a study's gathered tables: it is executed when they exist (after
# `make demo`, or with HESE_RESULTS pointing at another study), and shown unexecuted otherwise.
_results = Path(os.environ.get("HESE_RESULTS", HERE.parent / "results" / "demo"))
os.environ.setdefault("HESE_RESULTS", str(_results))
nb_execution_mode = "force" if (_results / "tables" / "summary.parquet").is_file() else "off"
nb_execution_raise_on_error = True
nb_execution_timeout = 300

"""The files of a run, in one place: what ``hese build``, ``hese simulate`` and ``hese viscosity``
write and every later stage reads.

::

    build/      system.xml  topology.pdb  build.json (last)
    md/         trajectory.xtc  thermo.parquet  equilibration.parquet  equilibration.json
                final_state.xml  simulate.log  done.json (last)
    viscosity/  viscosity.json  viscosity_series.parquet  viscosity_profile.parquet/.png  viscosity.log
    analysis/<name>/  <table>.parquet …  summary.json (last)

A folder counts as finished once the file marked "last" exists (build/ and analysis/ are swapped
in whole, so there the marker and the rest arrive together). The study-level layout
(``results/<study>/<run>/…``) is :mod:`hese.workflow`'s.
"""

from __future__ import annotations

# build/
SYSTEM = "system.xml"
TOPOLOGY = "topology.pdb"
BUILD_RECORD = "build.json"
# md/
TRAJECTORY = "trajectory.xtc"
THERMO = "thermo.parquet"
EQUILIBRATION_THERMO = "equilibration.parquet"
EQUILIBRATION = "equilibration.json"
FINAL_STATE = "final_state.xml"
DONE = "done.json"
# viscosity/
VISCOSITY = "viscosity.json"
# analysis/<name>/
SUMMARY = "summary.json"

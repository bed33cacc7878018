#!/bin/bash
# Wheels the GPU machine needs for benchmarks/gpu_suite.py and hese simulate (it has Python 3.12,
# numpy, scipy, pandas, pyarrow, matplotlib, pyyaml, tqdm and the CUDA 13 runtime, but no package
# index): OpenMM with its CUDA 13 plugin, and what hese.md imports that is not there. Downloads into
# .whl/ (list it in .git/info/exclude; carry it with the device tool), then prints the total size.
#
#   bash benchmarks/gpu_wheels.sh          # here, with network
#   # there: python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl
#   #        export PYTHONPATH=/tmp/site:$PWD
set -euo pipefail
cd "$(dirname "$0")/.."
PLATFORMS="--platform manylinux_2_34_x86_64 --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64"
get() { python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp $PLATFORMS -d .whl "$@"; }
get openmm==8.6.1 openmm-cuda-13==8.6.1
get "MDAnalysis>=2.8" mda-xdrlib GridDataFormats mmtf-python msgpack mrcfile fasteners threadpoolctl joblib \
    waterdynamics pathsimanalysis packaging
get "jsonschema>=4.18" jsonschema-specifications referencing rpds-py attrs "pymbar>=4.0"
du -ch .whl/*.whl | tail -1

#!/usr/bin/env bash
# The design-space example from a clean checkout (docs/python.md):
#   bash examples/dse/run.sh
# builds Ember with its Python module (what scripts/quickstart.sh builds),
# then runs the sweep. The sweep builds the npu-sim plugin for DIM 8 and 32
# on first use (into the sweep cache, ~3 minutes each with a warm ccache)
# and writes examples/dse/out/results.csv, cycles.png and mac_util.png.
set -euo pipefail
cd "$(dirname "$0")/../.."
bash scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build --target ember _ember _ember_stub ember_cpu ember_npu_sim
PYTHONPATH=build/python${PYTHONPATH:+:$PYTHONPATH} python3 -m ember.sweep examples/dse/sweep.toml "$@"

#!/usr/bin/env bash
# The NPU compiler layer (core/accel) is generic: it includes only standard
# C++, its own headers and tables (.def), the scratchpad library, the SDK's
# errors, JSON and text string literals (support/Error.h, support/Json.h,
# support/Quote.h: Ember::support), the ABI
# (ember/backend.h and its C++ helpers, for the plugin base npu_plugin.hpp),
# the ABI schemas and the SDK's integer arithmetic (ember/quant/) (never
# core's other layers, backends/, simulator/ or hw/), and it names nothing
# of the example NPU: not its memories (ACT, WGT, ACC, OUT), engines (LOAD,
# VECTOR, STORE), instructions (MOVE, REQUANT, VADD, POOL, DWGEMM, SETREG),
# DIM, its spec's macros, or its field limits as literals (1023, 4095): all
# of that comes from the target description. Comments included. Fails
# naming each line. Usage: check_accel_generic.sh SOURCE_DIR
set -euo pipefail
root=${1:?usage: check_accel_generic.sh SOURCE_DIR}
dir=$root/core/accel
bad=$(grep -rnE '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$dir" |
  grep -vE '#[[:space:]]*include[[:space:]]*"(ember/accel/|ember/scratchpad/|support/Error\.h"|support/Json\.h"|support/Quote\.h"|ember/backend\.h"|ember/plugin_(helpers|table|handover)\.hpp"|ember/backend/v1/|ember/quant/|[A-Za-z0-9]+\.(h|def)")' || true)
names=$(grep -rnwE 'ACT|WGT|ACC|OUT|LOAD|LOADs|VECTOR|STORE|STOREs|MOVE|MOVEs|REQUANT|VADD|POOL|DWGEMM|SETREG|DIM|kDim|EMBER_NPU_[A-Z_]*|npu::|1023|4095' "$dir" || true)
if [ -n "$bad$names" ]; then
  { [ -z "$bad" ] || echo "$bad" | sed 's/^/error: core\/accel includes outside the SDK: /'
    [ -z "$names" ] || echo "$names" | sed 's/^/error: core\/accel names the example NPU: /'; } >&2
  exit 1
fi
echo "core/accel includes only the SDK and names nothing of the example NPU"

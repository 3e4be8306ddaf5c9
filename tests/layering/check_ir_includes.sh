#!/usr/bin/env bash
# The ir layer (core/ir, core/support) includes nothing from the layers above
# it: interp/, passes/, lower/, import/, lir/, backend/, quant/. Fails naming
# each offending include. Usage: check_ir_includes.sh SOURCE_DIR
set -euo pipefail
root=${1:?usage: check_ir_includes.sh SOURCE_DIR}
bad=$(grep -rnE '^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"](interp|passes|lower|import|lir|backend|quant)/' \
  "$root/core/ir" "$root/core/support" || true)
if [ -n "$bad" ]; then
  echo "$bad" | sed 's/^/error: the ir layer includes an upper layer: /' >&2
  exit 1
fi
echo "core/ir and core/support include nothing from the layers above them"

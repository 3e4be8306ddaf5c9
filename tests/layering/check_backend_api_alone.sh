#!/usr/bin/env bash
# backend-api (the ABI, its C++ helpers, the one definition of Ember's math
# and integer arithmetic) is the ground every other folder stands on: its
# files include only the standard library, one another and the headers
# generated from its own schemas, never core/, tools/, backends/ or
# simulator/. Fails naming each line. Usage: check_backend_api_alone.sh
# SOURCE_DIR
set -euo pipefail
root=${1:?usage: check_backend_api_alone.sh SOURCE_DIR}
dir=$root/backend-api
bad=""
while IFS= read -r line; do
  inc=$(sed -E 's/^[^:]*:[0-9]+:[[:space:]]*#[[:space:]]*include[[:space:]]*[<"]([^>"]+)[>"].*/\1/' <<<"$line")
  case "$inc" in
  ember/backend/v1/*.pb.h) continue ;; # generated from backend-api/proto
  esac
  [ -f "$dir/include/$inc" ] && continue
  bad+="$line"$'\n'
done < <(grep -rnE '^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"]ember/' "$dir" || true)
if [ -n "$bad" ]; then
  printf '%s' "$bad" | sed 's/^/error: backend-api includes outside itself: /' >&2
  exit 1
fi
echo "backend-api includes nothing outside itself"

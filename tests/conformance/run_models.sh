#!/usr/bin/env bash
# Runs every model of a models folder with its tolerance from models.tsv
# (rtol, atol and, for int8 models, output quanta) and requires at least
# MIN_PASS of them to pass.
#   run_models.sh EMBER MODELS_DIR MIN_PASS [conform options, e.g. --lir]
set -uo pipefail
ember=$1; dir=$2; min=$3; shift 3
here=$(cd "$(dirname "$0")" && pwd)
if [ ! -d "$dir" ]; then
  echo "skip: $dir is not present on this machine"
  exit 77
fi
pass=0; total=0
while read -r name rtol atol quanta; do
  case "$name" in ''|'#'*) continue ;; esac
  [ -d "$dir/$name" ] || { echo "missing $dir/$name"; continue; }
  total=$((total + 1))
  quanta=${quanta:-0}
  line=$("$ember" conform "$@" --rtol "$rtol" --atol "$atol" --quanta "$quanta" "$dir/$name" | head -n 1)
  echo "$line  (rtol $rtol, atol $atol, quanta $quanta)"
  case "$line" in PASS*) pass=$((pass + 1)) ;; esac
done < "$here/models.tsv"
echo "$pass passed, $((total - pass)) failed, 0 skipped"
[ "$pass" -ge "$min" ] || { echo "error: $pass models passed, the floor is $min"; exit 1; }

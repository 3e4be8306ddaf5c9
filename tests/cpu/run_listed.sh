#!/usr/bin/env bash
# ctest wrapper: every case named in LIST (one folder name a line, '#'
# comments) under SUITE must pass `ember conform` with the given options.
#   run_listed.sh EMBER SUITE LIST [conform options...]
# Exits 77 (ctest: skipped) when SUITE does not exist on this machine.
set -uo pipefail
ember=$1; suite=$2; list=$3; shift 3
if [ ! -d "$suite" ]; then
  echo "skip: $suite is not present on this machine"
  exit 77
fi
cases=()
while read -r c; do
  case "$c" in ''|'#'*) continue ;; esac
  if [ ! -d "$suite/$c" ]; then
    echo "error: $c (listed in $list) is not in $suite"
    exit 1
  fi
  cases+=("$suite/$c")
done <"$list"
log=$(mktemp)
"$ember" conform --jobs 2 "$@" "${cases[@]}" >"$log" 2>&1
rc=$?
grep -vE '^PASS ' "$log" | head -50
passed=$(tail -n 1 "$log" | awk '/passed,/ {print $1}')
rm -f "$log"
if [ -z "$passed" ]; then
  echo "error: conform did not finish (exit $rc)"
  exit 1
fi
if [ "$passed" -ne "${#cases[@]}" ]; then
  echo "error: $passed of the ${#cases[@]} listed cases passed"
  exit 1
fi
echo "ok: all ${#cases[@]} listed cases passed"

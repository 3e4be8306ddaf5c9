#!/usr/bin/env bash
# ctest wrapper around `ember conform` with a floor on the number of passing
# cases: a regression, or a suite that silently shrank, fails the test.
#   run_conform.sh EMBER SUITE_PATH MIN_PASS [conform options...]
# Exits 77 (ctest: skipped) when SUITE_PATH does not exist on this machine.
set -uo pipefail
ember=$1; suite=$2; min=$3; shift 3
if [ ! -e "$suite" ]; then
  echo "skip: $suite is not present on this machine"
  exit 77
fi
log=$(mktemp)
"$ember" conform --jobs 2 "$@" "$suite" >"$log" 2>&1
rc=$?
grep -E '^(FAIL|ERROR) ' "$log" | head -50
tail -n 1 "$log"
passed=$(tail -n 1 "$log" | awk '/passed,/ {print $1}')
rm -f "$log"
if [ -z "$passed" ]; then
  echo "error: conform did not finish (exit $rc)"
  exit 1
fi
if [ "$passed" -lt "$min" ]; then
  echo "error: $passed cases passed, the floor is $min"
  exit 1
fi
echo "ok: $passed passed (floor $min)"

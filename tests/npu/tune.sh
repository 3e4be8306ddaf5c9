#!/usr/bin/env bash
# ctest npu-tune: tuning against the simulator (--backend-opt tune=N; the
# host's tuner of the compiler layer measures on the plugin's timed device)
# and the tuning cache (docs/npu-sdk.md, "Tuning"): a miss
# measures and writes the cache, a hit measures nothing, a cached tiling is
# applied (and the outputs stay bit-exact), entries for another NPU
# configuration are re-tuned with a warning, a bad cache file is a warning
# naming it (never a crash, never overwritten), bad option values are errors.
#   tune.sh EMBER PYTHON MODEL INPUT WORKDIR
set -euo pipefail
ember=$1 python=$2 model=$3 input=$4 work=$5
rm -rf "$work" && mkdir -p "$work"
export XDG_CACHE_HOME="$work/xdg"
cache="$work/cache.json"
fail() { echo "FAIL: $*"; exit 1; }
# run NAME OPTIONS...: stdout to NAME.out, stderr to NAME.err, the output
# tensor line to NAME.val.
run() {
  local name=$1; shift
  "$ember" run "$model" --target=npu-sim --input "$input" "$@" \
    > "$work/$name.out" 2> "$work/$name.err" ||
    { cat "$work/$name.err"; fail "$name: ember run failed"; }
  grep '^output ' "$work/$name.out" > "$work/$name.val"
  sed -n '/info: \[npu-sim\] tune:/p; /warning:/p' "$work/$name.err"
}
expect_err() { grep -q -- "$2" "$work/$1.err" || { cat "$work/$1.err"; fail "$1: no '$2' on stderr"; }; }
same_output() { cmp -s "$work/base.val" "$work/$1.val" || fail "$1: outputs differ from the untuned run"; }

run base
# Miss: every layer with more than one candidate is measured; the cache has
# one entry per layer; the outputs are the untuned ones bit for bit.
run miss --backend-opt tune=3 --backend-opt "tune_cache=$cache" --npu-report
expect_err miss "tune: 3 layers, up to 3 candidates each: 3 measured on systemc ([1-9][0-9]* runs), 0 from the cache '$cache'"
expect_err miss "gain [0-9.-]*%"
same_output miss
grep -Eq "^part +layer .* tune_gain +tune_rank +tiles" "$work/miss.out" || fail "no tuning columns in --npu-report"
grep -Eq "^1 +Convolution28 .*; tuned \(sim, [1-9] candidates, kept #[1-9]\)" "$work/miss.out" || fail "no tuning detail in --npu-report"
"$python" - "$cache" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
assert c["format"] == "ember-npu-tune" and c["version"] == 1, c
e = c["entries"]
assert len(e) == 3, e
for x in e:
    assert x["config"].startswith("spec=") and " dim=" in x["config"], x
    assert x["cycles"] > 0 and x["model_cycles"] >= x["cycles"], x
    assert x["choice"].startswith("tile="), x
PY
# Hit: nothing measured, same program.
run hit --backend-opt tune=3 --backend-opt "tune_cache=$cache"
expect_err hit "0 measured on [a-z' -]* (0 runs), 3 from the cache"
same_output hit
# More candidates than were measured: a miss again.
run more --backend-opt tune=4 --backend-opt "tune_cache=$work/more.json"
run more2 --backend-opt tune=2 --backend-opt "tune_cache=$work/more.json"
expect_err more2 "0 measured on [a-z' -]* (0 runs), 3 from the cache"
# The cache alone (no tune): cached tilings, nothing measured.
run only --backend-opt "tune_cache=$cache"
expect_err only "0 measured on [a-z' -]* (0 runs), 3 from the cache"
same_output only
# A cached tiling that is not the model's pick is applied (y tile 2 for
# Convolution28, a 1x1 layer of 25 channels: the 5x5 convolution of the
# 1-channel image reads its patches), and the outputs stay bit-exact.
"$python" - "$cache" "$work/forced.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
for x in c["entries"]:
    if x["layer"].startswith("conv n1 c25 28x28"):
        t = x["choice"].split()
        tile = t[0][len("tile="):].split(",")
        tile[1] = "2"
        x["choice"] = " ".join(["tile=" + ",".join(tile)] + t[1:])
json.dump(c, open(sys.argv[2], "w"))
PY
run forced --backend-opt "tune_cache=$work/forced.json" --npu-report
grep -Eq "^1 +Convolution28 .* y=2x7 " "$work/forced.out" || { grep Convolution28 "$work/forced.out"; fail "the cached tiling was not applied"; }
same_output forced
# Entries made for another NPU configuration (spec hash): a warning naming
# the file, the layers re-tuned, the old entries kept.
sed 's/"config": "spec=[0-9a-f]*/"config": "spec=0000000000000000/g' "$cache" > "$work/stale.json"
run stale --backend-opt tune=3 --backend-opt "tune_cache=$work/stale.json"
expect_err stale "warning: \[npu-sim\] tuning cache '$work/stale.json': 3 layers have entries made for another NPU configuration (spec=0000000000000000"
expect_err stale "3 measured on systemc"
"$python" -c "import json,sys; assert len(json.load(open(sys.argv[1]))['entries']) == 6" "$work/stale.json" ||
  fail "stale: the cache should hold both configurations"
# A cached tiling that no longer fits: a warning, re-tuned, then replaced.
sed 's/"choice": "tile=1,[0-9]*,/"choice": "tile=1,999,/' "$cache" > "$work/nofit.json"
run nofit --backend-opt tune=3 --backend-opt "tune_cache=$work/nofit.json"
expect_err nofit "tuning cache '$work/nofit.json': the entry for layer 'Convolution28' (tile=1,999,"
expect_err nofit "no longer compiles"
same_output nofit
run nofit2 --backend-opt tune=3 --backend-opt "tune_cache=$work/nofit.json"
expect_err nofit2 "0 measured on [a-z' -]* (0 runs), 3 from the cache"
# Bad files: a warning naming the file, the compile goes on, the file is
# left as it is.
check_bad() { # NAME CONTENT EXPECTED
  printf '%s' "$2" > "$work/$1.json"
  cp "$work/$1.json" "$work/$1.orig"
  run "$1" --backend-opt tune=2 --backend-opt "tune_cache=$work/$1.json"
  expect_err "$1" "warning: \[npu-sim\] tuning cache '$work/$1.json' $3"
  same_output "$1"
  cmp -s "$work/$1.json" "$work/$1.orig" || fail "$1: the bad cache file was overwritten"
}
check_bad truncated '{"format": "ember-npu-tune", "version": 1, "entries": [' \
  "is not valid JSON: unexpected end of input (line 1, column 56); it is ignored and left as it is"
check_bad garbage $'\x01\x02binary\xff' "is not valid JSON: unexpected byte 0x01 (line 1, column 1)"
check_bad notcache '[1, 2, 3]' "is not an NPU tuning cache"
check_bad version '{"format": "ember-npu-tune", "version": 99, "entries": []}' "has format version 99"
# Malformed entries are dropped with a warning; the good ones are used.
"$python" - "$cache" "$work/mixed.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["entries"] += [{"config": 1}, {"config": "x", "layer": "y", "choice": "tile=a", "cycles": 1,
                                 "model_cycles": 1, "measured": 2, "rank": 0}]
json.dump(c, open(sys.argv[2], "w"))
PY
run mixed --backend-opt tune=3 --backend-opt "tune_cache=$work/mixed.json"
expect_err mixed "tuning cache '$work/mixed.json': 2 malformed entries ignored"
expect_err mixed "0 measured on [a-z' -]* (0 runs), 3 from the cache"
# The default location: $XDG_CACHE_HOME/ember/<plugin>-tune.json.
run default --backend-opt tune=2
[ -s "$XDG_CACHE_HOME/ember/npu-sim-tune.json" ] || fail "no cache at the default location"
# An unwritable location: a warning, the compile goes on.
run unwritable --backend-opt tune=2 --backend-opt "tune_cache=/proc/ember-no-such-dir/t.json"
expect_err unwritable "tuning cache '/proc/ember-no-such-dir/t.json' cannot be written"
same_output unwritable
# Bad values are errors naming the option.
for v in 0 65 x -1; do
  if "$ember" run "$model" --target=npu-sim --input "$input" --backend-opt "tune=$v" \
       > /dev/null 2> "$work/bad.err"; then fail "tune=$v was accepted"; fi
  grep -q "tune=$v is not a candidate count from 1 to 64" "$work/bad.err" || { cat "$work/bad.err"; fail "tune=$v: unclear error"; }
done
echo "npu-tune: ok"

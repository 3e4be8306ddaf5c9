#!/usr/bin/env bash
# ctest npu-case-args: a case folder's own ember options (ember_args.txt)
# and bounds (check_args.txt) in tests/npu/check_npu.py. One generated
# integer LSTM (gen_layers.py --lstm: it needs --integer-recurrent) passes
# with its files, fails without its options (the float LSTM has nothing for
# the NPU), fails a bound tighter than it meets and a layer op it has not,
# and each kind of bad content is one clear error naming the file.
#   case_args.sh EMBER PYTHON WORKDIR
set -uo pipefail
ember=$1 python=$2 work=$3
"$python" -c "import onnx, onnxruntime" 2>/dev/null ||
  { echo "skipped: needs onnx and onnxruntime (scripts/install-deps.sh)"; exit 77; }
here=$(dirname "$0")
rm -rf "$work" && mkdir -p "$work"
"$python" "$here/gen_layers.py" "$work/gen" --count 0 --extra 0 --placement 0 \
  --wide 0 --wide2 0 --lanes 0 --wide3 0 --wide4 0 --convt 0 --resize 0 \
  --shuffle 0 --bands 0 --pools2 0 --pads 0 --pcact 0 --pixels 0 --lstm 2 --gru 0 \
  --sequence 0 \
  >"$work/gen.log" 2>&1 || { cat "$work/gen.log"; exit 1; }
case=$work/gen/case_001
fail=0
# expect NAME REGEX: the check of $work/NAME (a copy of the case, changed
# by the caller) prints REGEX on its line; PASS cases exit 0, others 1.
expect() {
  local out
  out=$("$python" "$here/check_npu.py" --ember "$ember" "$work/$1" 2>&1)
  local rc=$? line
  line=$(grep -E '^(PASS|FAIL) ' <<<"$out")
  if ! grep -qE -- "$2" <<<"$line" ||
    { [[ $2 == ^PASS* ]] && [ $rc -ne 0 ]; } ||
    { [[ $2 != ^PASS* ]] && [ $rc -ne 1 ]; }; then
    echo "FAIL $1 (exit $rc): wanted '$2', got:"; echo "$out"; fail=1
  else
    echo "ok $1: $line"
  fi
}
copy() { rm -rf "${work:?}/$1" && cp -r "$case" "$work/$1"; }
copy good
expect good '^PASS .*share=1.0 '
copy no-options && rm "$work/no-options/ember_args.txt"
expect no-options '^FAIL .*nothing in the model runs on npu-sim'
copy tight && echo "--max-plugin-partitions 0" >>"$work/tight/check_args.txt"
expect tight '^FAIL .*plugin partitions > 0'
copy layer && echo "--require-layer convt" >>"$work/layer/check_args.txt"
expect layer '^FAIL .*no NPU layer of op convt \(layers: .*table16'
copy quote && echo '--integer-recurrent "' >"$work/quote/ember_args.txt"
expect quote 'quote/ember_args.txt: No closing quotation'
copy own && echo '--integer-recurrent --fallback=cpu' >"$work/own/ember_args.txt"
expect own 'own/ember_args.txt: --fallback=cpu is set by check_npu.py'
copy empty && echo '# only a comment' >"$work/empty/ember_args.txt"
expect empty 'empty/ember_args.txt: no arguments'
copy word && echo 'model.onnx' >"$work/word/ember_args.txt"
expect word "word/ember_args.txt: 'model.onnx' is not an option"
copy unknown && echo '--max-share 1' >"$work/unknown/check_args.txt"
expect unknown 'unknown/check_args.txt: unknown arguments --max-share 1'
copy value && echo '--min-share most' >"$work/value/check_args.txt"
expect value "value/check_args.txt: argument --min-share: invalid float value"
exit $fail

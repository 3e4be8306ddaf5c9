#!/usr/bin/env bash
# ctest python-wheel: `pip install .` into a fresh virtual environment (not
# editable), then the package's smoke tests there, against this build's
# `ember` command.
#   wheel.sh SOURCE_DIR BUILD_DIR PYTHON EMBER
# The venv sees the system's site packages (numpy, onnx, ray: install-deps
# installed them), and pip builds without isolation from them (nanobind,
# scikit-build-core), so nothing is downloaded. The wheel's build folder is
# BUILD_DIR-wheel, beside BUILD_DIR, with CCACHE_BASEDIR at the sources:
# its compile commands are the build's (same compilers, same relative
# paths), so ccache answers them.
set -euo pipefail
src=$1 build=$2 python=$3 ember=$4
venv=$build/python-venv
rm -rf "$venv"
"$python" -m venv --system-site-packages "$venv" ||
  { echo "python-wheel: no venv module (apt-get install python3-venv)"; exit 77; }
start=$(date +%s)
# The build's compilers (pip would otherwise take Python's, e.g. gcc for
# c++: the same compiler under another name misses the cache).
defs=()
for v in CMAKE_C_COMPILER CMAKE_CXX_COMPILER; do
  c=$(sed -n "s/^$v:FILEPATH=//p" "$build/CMakeCache.txt")
  [ -n "$c" ] && defs+=(-C "cmake.define.$v=$c")
done
CCACHE_BASEDIR=$src "$venv/bin/python" -m pip install -q --no-build-isolation \
  -C build-dir="$build-wheel" "${defs[@]}" "$src" >"$build/python-wheel.log" 2>&1 ||
  { tail -n 40 "$build/python-wheel.log"; exit 1; }
echo "python-wheel: pip install . in $(( $(date +%s) - start )) s"
"$venv/bin/python" -m pip show -f ember | grep -E "^(Version|Location)|_ember|libember_" 
# Not the source tree's package: the installed one.
cd "$src/tests/python"
"$venv/bin/python" -c "import ember, sys; assert 'site-packages' in ember.__file__, ember.__file__; print('ember', ember.__version__, ember.__file__, ember.plugin_dir())"
env -u EMBER_PYTHONPATH EMBER_BIN="$ember" RAY_USAGE_STATS_ENABLED=0 \
  "$venv/bin/python" -m pytest -q -p no:cacheprovider \
  test_model.py::test_run_equals_the_command test_model.py::test_npu_outputs_and_counters_equal_the_command \
  test_npu.py::test_sim_equals_the_command test_conform.py::test_results_equal_the_command \
  test_sweep.py::test_sweep_table_plots_and_cache

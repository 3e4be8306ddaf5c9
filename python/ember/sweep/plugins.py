"""The npu-sim plugin of each array size a sweep asks for.

DIM is fixed when the NPU is built (hw/spec/npu.json, EMBER_NPU_DIM), so
an array size other than this build's needs its own build of the npu-sim
plugin, as ctest npu-dim8/npu-dim32 do. A sweep gets it in this order:

1. this package's own plugin when the size is its DIM (``ember.npu.DIM``);
2. ``[npu] plugins = {8 = "path/libember_npu_sim.so"}`` in the config;
3. built on demand from the Ember sources (``[npu] source``, else
   $EMBER_SOURCE_DIR, else the tree this package was built from) into
   the sweep cache (``npu-plugins/dim<N>-...``): configured once with
   ``-DEMBER_NPU_DIM=<N>``, then ``ember_npu_sim`` only. ccache (when
   installed) makes the shared part cheap; a second sweep finds the build
   up to date in a second.
"""

from __future__ import annotations

import hashlib
import os
import pathlib
import shutil
import subprocess
from typing import Dict, Optional

from .. import _ember, npu
from .._errors import EmberError, UnsupportedError


def _build_source() -> Optional[str]:
    try:
        from .._build_info import SOURCE_DIR  # written by the build
    except ImportError:
        return None
    return SOURCE_DIR


def source_dir(configured: Optional[str]) -> str:
    for cand in (configured, os.environ.get("EMBER_SOURCE_DIR"), _build_source()):
        if cand and (pathlib.Path(cand) / "hw" / "spec" / "npu.json").is_file():
            return cand
    raise UnsupportedError(
        "an NPU array size other than this build's needs the npu-sim plugin "
        "built for it: give [npu] plugins = {DIM = \"path\"} in the config, or "
        "the Ember sources to build it from ([npu] source = \"...\" or "
        "$EMBER_SOURCE_DIR)")


def build_plugin(dim: int, source: str, cache: pathlib.Path, rtl: bool,
                 log=print) -> str:
    """Builds (or finds up to date) the npu-sim plugin for ``dim``; returns
    its path."""
    tag = hashlib.sha256(os.path.realpath(source).encode()).hexdigest()[:12]
    build = cache / "npu-plugins" / f"dim{dim}-{tag}"
    lib = build / "lib" / "ember" / "libember_npu_sim.so"
    gen = ["-G", "Ninja"] if shutil.which("ninja") else []
    launcher = []
    if shutil.which("ccache"):
        launcher = ["-DCMAKE_CXX_COMPILER_LAUNCHER=ccache",
                    "-DCMAKE_C_COMPILER_LAUNCHER=ccache"]
    cache_file = build / "CMakeCache.txt"
    want_rtl = "ON" if rtl else "OFF"
    if not cache_file.exists() or f"EMBER_NPU_RTL:BOOL={want_rtl}" not in cache_file.read_text():
        log(f"sweep: configuring the npu-sim plugin for DIM {dim} in {build}")
        cmd = ["cmake", "-S", source, "-B", str(build), *gen, *launcher,
               "-DCMAKE_BUILD_TYPE=Release", "-DEMBER_BUILD_TESTS=OFF",
               "-DEMBER_BUILD_PYTHON=OFF", f"-DEMBER_NPU_DIM={dim}",
               f"-DEMBER_NPU_RTL={want_rtl}", "-DEMBER_NPU_RTL_TRACE=OFF"]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            raise EmberError(f"configuring the DIM {dim} npu-sim plugin failed "
                             f"({build}):\n{r.stdout[-2000:]}{r.stderr[-2000:]}")
    log(f"sweep: building the npu-sim plugin for DIM {dim} (cmake --build {build} "
        f"--target ember_npu_sim; output in {build / 'build.log'})")
    with open(build / "build.log", "w") as out:
        r = subprocess.run(["cmake", "--build", str(build), "-j", str(os.cpu_count() or 2),
                            "--target", "ember_npu_sim"], stdout=out,
                           stderr=subprocess.STDOUT, text=True)
    if r.returncode != 0 or not lib.is_file():
        tail = (build / "build.log").read_text()[-4000:]
        raise EmberError(f"building the DIM {dim} npu-sim plugin failed ({build}):\n{tail}")
    return str(lib)


def resolve_plugins(dims, configured: Dict[int, str], source: Optional[str],
                    cache: pathlib.Path, rtl_dims, log=print) -> Dict[int, str]:
    """The plugin file of every DIM in ``dims``."""
    out: Dict[int, str] = {}
    for d in sorted(set(dims)):
        if d in configured:
            if not os.path.isfile(configured[d]):
                raise EmberError(f"[npu] plugins: {configured[d]} does not exist (DIM {d})")
            out[d] = configured[d]
        elif d == npu.DIM:
            out[d] = _ember.plugin_path("npu-sim")
        else:
            out[d] = build_plugin(d, source_dir(source), cache, d in rtl_dims, log)
    return out

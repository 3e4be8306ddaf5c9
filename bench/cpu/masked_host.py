#!/usr/bin/env python3
"""Runs a command as if this x86 CPU lacked AVX-512 (and, optionally,
AVX-VNNI), so that a benchmark on an AVX-512 host measures both engines as
an AVX2-only host would run them.

  bench/cpu/masked_host.py avx2 -- python3 bench/cpu/compare_ort.py ...
  bench/cpu/masked_host.py avxvnni -- build/bin/ember bench MODEL ...
  bench/cpu/masked_host.py --check avx2    # print what the CPU now reports

PROFILE is `avx2` (AVX2 + FMA: every AVX-512 subset, AMX, AVX-VNNI and the
newer VEX integer extensions masked; an AMD EPYC before Zen 4, Intel client
cores before Alder Lake) or `avxvnni` (the same with AVX-VNNI kept: Alder
Lake and later client cores).

How: bench/cpu/cpuid_mask.c, built here with the system C compiler into
build/cpuid-mask/ (or $TMPDIR) and preloaded (LD_PRELOAD) into the command
and everything it starts. It makes the CPUID instruction fault (Linux's
arch_prctl ARCH_SET_CPUID, on CPUs with CPUID faulting) and answers it with
the real values minus the masked feature bits. Every library that chooses
kernels from CPUID then sees the masked CPU: ONNX Runtime's MLAS (its
platform detection reads CPUID and XGETBV and has no switch to cap the
instruction set), LLVM's host features (the code Ember's JIT generates),
Ember's kernel dispatch and numpy. Not covered: glibc's own string
functions, chosen by the dynamic loader before any preload runs.

Fails with a one-line error when the CPU or kernel cannot make CPUID fault
(no "cpuid_fault" flag in /proc/cpuinfo), or the shim does not build.
"""
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
PROFILES = ("avx2", "avxvnni")


def fail(msg):
    print(f"error: {msg} (masked_host.py)", file=sys.stderr)
    sys.exit(2)


def build_shim():
    """The shim's path, rebuilt when its source is newer."""
    src = os.path.join(HERE, "cpuid_mask.c")
    out_dir = os.path.join(REPO, "build", "cpuid-mask")
    try:
        os.makedirs(out_dir, exist_ok=True)
    except OSError:
        out_dir = os.path.join(os.environ.get("TMPDIR", "/tmp"), "cpuid-mask")
        os.makedirs(out_dir, exist_ok=True)
    so = os.path.join(out_dir, "cpuid_mask.so")
    if os.path.exists(so) and os.path.getmtime(so) >= os.path.getmtime(src):
        return so
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if not cc:
        fail("no C compiler (cc) to build cpuid_mask.so")
    r = subprocess.run([cc, "-O2", "-shared", "-fPIC", "-Wall", "-o", so, src,
                        "-ldl"], capture_output=True, text=True)
    if r.returncode != 0:
        fail("cpuid_mask.c does not build: " +
             (r.stderr.strip().splitlines() or ["?"])[0])
    return so


def masked_env(profile):
    if profile not in PROFILES:
        fail(f"unknown profile '{profile}' (avx2 or avxvnni)")
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((l for l in f if l.startswith("flags")), "").split()
    except OSError:
        flags = []
    if "cpuid_fault" not in flags:
        fail("this CPU or kernel has no CPUID faulting (no cpuid_fault flag "
             "in /proc/cpuinfo): the instruction set cannot be masked here")
    env = dict(os.environ)
    so = build_shim()
    pre = env.get("LD_PRELOAD", "")
    env["LD_PRELOAD"] = so + (" " + pre if pre else "")
    env["EMBER_CPUID_MASK"] = profile
    return env


CHECK = r"""
import numpy as np
try:
    from numpy._core._multiarray_umath import __cpu_features__ as f
except ImportError:
    from numpy.core._multiarray_umath import __cpu_features__ as f
print(" ".join(k.lower() for k in ("AVX2", "FMA3", "AVX512F", "AVX512_SPR",
                                   "AVX512_ICL", "AVX512_CLX") if f.get(k)))
"""


def main(argv):
    if len(argv) >= 2 and argv[0] == "--check":
        env = masked_env(argv[1])
        r = subprocess.run([sys.executable, "-c", CHECK], env=env,
                           capture_output=True, text=True)
        print(f"{argv[1]}: numpy sees {r.stdout.strip() or r.stderr.strip()}")
        return r.returncode
    if len(argv) < 3 or argv[1] != "--":
        print(__doc__.strip().splitlines()[0], file=sys.stderr)
        print("usage: masked_host.py PROFILE -- COMMAND [ARG...]\n"
              "       masked_host.py --check PROFILE", file=sys.stderr)
        return 2
    env = masked_env(argv[0])
    cmd = argv[2:]
    try:
        os.execvpe(cmd[0], cmd, env)
    except OSError as e:
        fail(f"cannot run '{cmd[0]}': {e.strerror}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

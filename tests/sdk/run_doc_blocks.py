#!/usr/bin/env python3
"""Runs the shell blocks of a Markdown document, in order, as CI.

usage: run_doc_blocks.py DOC.md --build BUILD_DIR --source SOURCE_DIR

A block runs when it is a ```sh fence whose previous non-blank line is a
marker comment:

    <!-- ci:run -->
    <!-- ci:run needs=bin/ember-kit -->   (skipped, saying so, when
                                          $EMBER_PREFIX/bin/ember-kit is
                                          not there)

All runnable blocks are joined into one bash script (so `cd` and variables
carry over from block to block) run with `set -euo pipefail` in a fresh
temporary directory, with EMBER_SRC, EMBER_BUILD and EMBER_PREFIX (a
temporary prefix) set, and CMAKE_GENERATOR=Ninja and ccache as the compiler
launcher when available. Any failing command fails the run.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

MARKER = re.compile(r"^<!--\s*ci:run(?:\s+needs=(\S+))?\s*-->\s*$")


def blocks(path):
    """Yields (line number, needs, text) for each runnable block."""
    lines = open(path, encoding="utf-8").read().split("\n")
    i = 0
    pending = None  # (needs,) after a marker, until the next non-blank line
    while i < len(lines):
        line = lines[i]
        m = MARKER.match(line.strip())
        if m:
            pending = (m.group(1),)
            i += 1
            continue
        if line.strip().startswith("```"):
            fence = line.strip()
            start = i + 1
            j = start
            while j < len(lines) and lines[j].strip() != "```":
                j += 1
            if j == len(lines):
                sys.exit(f"{path}:{i + 1}: unterminated code block")
            if pending is not None:
                if fence not in ("```sh", "```bash"):
                    sys.exit(f"{path}:{i + 1}: a ci:run marker must precede "
                             f"a ```sh block, not {fence}")
                yield i + 1, pending[0], "\n".join(lines[start:j])
            pending = None
            i = j + 1
            continue
        if line.strip():
            if pending is not None:
                sys.exit(f"{path}:{i + 1}: text between a ci:run marker and "
                         f"its block")
        i += 1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("doc")
    ap.add_argument("--build", required=True)
    ap.add_argument("--source", required=True)
    ap.add_argument("--keep", action="store_true",
                    help="keep the temporary directory")
    a = ap.parse_args()
    doc = os.path.abspath(a.doc)
    found = list(blocks(doc))
    if not found:
        sys.exit(f"{doc}: no ci:run blocks")

    work = tempfile.mkdtemp(prefix="ember-doc-test.")
    script = ["set -euo pipefail"]
    for n, (line, needs, text) in enumerate(found, 1):
        where = f"{os.path.basename(doc)}:{line}"
        script.append(f"echo '== block {n}/{len(found)} ({where})'")
        if needs:
            script.append(f'if [ -e "$EMBER_PREFIX/{needs}" ]; then')
            script.append(text)
            script.append(f"else echo 'skip: the SDK has no {needs}'; fi")
        else:
            script.append(text)
    path = os.path.join(work, "doc.sh")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(script) + "\n")

    env = dict(os.environ)
    env["EMBER_SRC"] = os.path.abspath(a.source)
    env["EMBER_BUILD"] = os.path.abspath(a.build)
    env["EMBER_PREFIX"] = os.path.join(work, "prefix")
    if shutil.which("ninja"):
        env.setdefault("CMAKE_GENERATOR", "Ninja")
    if shutil.which("ccache"):
        env.setdefault("CMAKE_CXX_COMPILER_LAUNCHER", "ccache")
        env.setdefault("CMAKE_C_COMPILER_LAUNCHER", "ccache")
    run = os.path.join(work, "run")
    os.makedirs(run)
    print(f"running {len(found)} blocks of {doc} in {run}", flush=True)
    rc = subprocess.call(["bash", "-x", path], cwd=run, env=env)
    if a.keep or rc:
        print(f"(kept {work})")
    else:
        shutil.rmtree(work, ignore_errors=True)
    if rc:
        print(f"error: a command of {doc} failed (exit {rc})")
    else:
        print(f"ok: all {len(found)} blocks of {doc} ran")
    return rc


if __name__ == "__main__":
    sys.exit(main())

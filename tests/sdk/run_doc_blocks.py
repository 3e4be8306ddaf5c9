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

Code quoted from the tree: a block (any fence) after the marker

    <!-- ci:source examples/second-npu/plugin/Plugin.cpp -->

must appear, line for line (trailing blanks aside), in that file of
SOURCE_DIR, so the code a page shows is code that is built. With
--sources-only only these are checked (a page with no ci:run blocks).

Expected output: a ```text block after the marker

    <!-- ci:expect -->

is what the last runnable block before it must print (stdout and stderr).
Its lines must appear in the output in order and next to each other, except
that a line "..." stands for any number of lines and "..." inside a line
for any text. A mismatch fails the run, showing both.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

MARKER = re.compile(r"^<!--\s*ci:run(?:\s+needs=(\S+))?\s*-->\s*$")
EXPECT = re.compile(r"^<!--\s*ci:expect\s*-->\s*$")
SOURCE = re.compile(r"^<!--\s*ci:source\s+(\S+)\s*-->\s*$")


def blocks(path):
    """Yields (line number, kind, needs, text) for each marked block: kind
    "run" (a ```sh block to run), "expect" (a ```text block of expected
    output) or "source" (a block quoted from the file `needs`)."""
    lines = open(path, encoding="utf-8").read().split("\n")
    i = 0
    pending = None  # (kind, needs) after a marker, until the next block
    while i < len(lines):
        line = lines[i]
        m = MARKER.match(line.strip())
        src = SOURCE.match(line.strip())
        if m or src or EXPECT.match(line.strip()):
            pending = ("run", m.group(1)) if m else \
                ("source", src.group(1)) if src else ("expect", None)
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
            if pending is not None and pending[0] == "source":
                yield i + 1, "source", pending[1], "\n".join(lines[start:j])
            elif pending is not None:
                want = ("```sh", "```bash") if pending[0] == "run" else \
                    ("```text",)
                if fence not in want:
                    sys.exit(f"{path}:{i + 1}: a ci:{pending[0]} marker must "
                             f"precede a {want[0]} block, not {fence}")
                yield i + 1, pending[0], pending[1], "\n".join(
                    lines[start:j])
            pending = None
            i = j + 1
            continue
        if line.strip():
            if pending is not None:
                sys.exit(f"{path}:{i + 1}: text between a ci:run marker and "
                         f"its block")
        i += 1


def line_pattern(line):
    """An expected line as a regex: "..." matches any text."""
    return re.compile(".*".join(re.escape(p) for p in line.split("...")))


def matches(expected, output):
    """"" when `expected` (a ci:expect block) matches `output`, else why."""
    want = [ln.rstrip() for ln in expected.strip("\n").split("\n")]
    got = [ln.rstrip() for ln in output.split("\n")]
    # Segments of consecutive lines, separated by "..." lines; each must
    # appear after the previous one.
    segments, seg = [], []
    for ln in want:
        if ln.strip() == "...":
            if seg:
                segments.append(seg)
            seg = []
        else:
            seg.append(line_pattern(ln))
    if seg:
        segments.append(seg)
    at = 0
    for seg in segments:
        found = -1
        for start in range(at, len(got) - len(seg) + 1):
            if all(p.fullmatch(got[start + k]) for k, p in enumerate(seg)):
                found = start
                break
        if found < 0:
            first = seg[0].pattern.replace(".*", "...").replace("\\", "")
            return f"no lines matching the block starting {first!r}"
        at = found + len(seg)
    return ""


def check_source(doc, line, rel, text, source):
    """"" when the block quoted at doc:line is in SOURCE/rel, else why."""
    path = os.path.join(source, rel)
    if not os.path.isfile(path):
        return f"{doc}:{line}: the quoted file {rel} does not exist"
    want = [ln.rstrip() for ln in text.split("\n")]
    got = [ln.rstrip() for ln in
           open(path, encoding="utf-8", errors="replace").read().split("\n")]
    for at in range(len(got) - len(want) + 1):
        if got[at:at + len(want)] == want:
            return ""
    return (f"{doc}:{line}: the block is not in {rel} as quoted (update "
            f"the page from the file)")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("doc")
    ap.add_argument("--build", required=True)
    ap.add_argument("--source", required=True)
    ap.add_argument("--keep", action="store_true",
                    help="keep the temporary directory")
    ap.add_argument("--sources-only", action="store_true",
                    help="check the ci:source blocks only")
    a = ap.parse_args()
    doc = os.path.abspath(a.doc)
    marked = list(blocks(doc))
    quoted = [b for b in marked if b[1] == "source"]
    bad = [why for why in (check_source(doc, ln, rel, text, a.source)
                           for ln, _, rel, text in quoted) if why]
    if bad:
        sys.exit("error: " + "\nerror: ".join(bad))
    if a.sources_only:
        if not quoted:
            sys.exit(f"{doc}: no ci:source blocks")
        print(f"ok: the {len(quoted)} blocks of {doc} quoted from the "
              f"tree are in it")
        return
    marked = [b for b in marked if b[1] != "source"]
    found = [b for b in marked if b[1] == "run"]
    if not found:
        sys.exit(f"{doc}: no ci:run blocks")
    # Each expected output belongs to the last runnable block before it.
    expects = []  # (block number, line, needs, text)
    for line, kind, _, text in marked:
        if kind == "expect":
            prior = [n for n, b in enumerate(found, 1) if b[0] < line]
            if not prior:
                sys.exit(f"{doc}:{line}: ci:expect before any ci:run block")
            expects.append((prior[-1], line, found[prior[-1] - 1][2], text))

    work = tempfile.mkdtemp(prefix="ember-doc-test.")
    outdir = os.path.join(work, "out")
    os.makedirs(outdir)
    # Traces (bash -x) go to the log, not into the blocks' output files.
    script = ["set -euo pipefail", "exec 3>&1 4>&2 5>&2", "BASH_XTRACEFD=5"]
    for n, (line, _, needs, text) in enumerate(found, 1):
        where = f"{os.path.basename(doc)}:{line}"
        script.append(f"echo '== block {n}/{len(found)} ({where})'")
        # The block's output goes to a file (then to the log), for ci:expect.
        out = os.path.join(outdir, f"block-{n}.txt")
        script.append(f"exec >'{out}' 2>&1")
        if needs:
            script.append(f'if [ -e "$EMBER_PREFIX/{needs}" ]; then')
            script.append(text)
            script.append(f"else echo 'skip: the SDK has no {needs}'; fi")
        else:
            script.append(text)
        script.append(f"exec 1>&3 2>&4; cat '{out}'")
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
    if rc:
        # The failing block's output is in its file, not in the log yet.
        outs = sorted(os.listdir(outdir),
                      key=lambda f: int(f.split("-")[1].split(".")[0]))
        if outs:
            print(open(os.path.join(outdir, outs[-1]), encoding="utf-8",
                       errors="replace").read())
        print(f"error: a command of {doc} failed (exit {rc})")
    else:
        for n, line, needs, text in expects:
            path = os.path.join(outdir, f"block-{n}.txt")
            got = open(path, encoding="utf-8", errors="replace").read()
            if needs and f"skip: the SDK has no {needs}" in got:
                continue
            why = matches(text, got)
            if why:
                print(f"error: {os.path.basename(doc)}:{line}: the expected "
                      f"output does not match what block {n} printed: {why}"
                      f"\n---- expected ----\n{text}\n---- printed ----\n"
                      f"{got}")
                rc = 1
        if not rc:
            print(f"ok: all {len(found)} blocks of {doc} ran, "
                  f"{len(expects)} outputs as shown")
    if a.keep or rc:
        print(f"(kept {work})")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())

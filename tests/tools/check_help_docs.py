#!/usr/bin/env python3
"""Checks the tools' --help against docs/command-line.md.

Every command of `ember` and `ember-npu`, and `ember-kit`, must answer
--help (exit 0, usage line first, lines within 80 columns), and every option
its help describes must appear in docs/command-line.md, so an option cannot
be added without its documentation.

    check_help_docs.py EMBER EMBER_NPU DOC [EMBER_KIT]

EMBER_NPU and EMBER_KIT may be empty (not built).
"""
import re
import subprocess
import sys


def run_help(argv):
    p = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    if p.returncode != 0 or p.stderr:
        raise SystemExit(f"FAIL: {' '.join(argv)} exited {p.returncode}: {p.stderr}")
    return p.stdout


def commands(top):
    out, inside = [], False
    for line in top.splitlines():
        if line == "commands:":
            inside = True
        elif inside and not line:
            break
        elif inside:
            m = re.match(r"^  ([a-z][a-z-]*) ", line)
            if m:
                out.append(m.group(1))
    return out


def options(text):
    names = set()
    for line in text.splitlines():
        m = re.match(r"^  (-\S.*?)(?:  |$)", line)
        if m:
            names.update(re.findall(r"(?<![\w-])(--?[A-Za-z0-9][\w-]*)", m.group(1)))
    return names


def main():
    ember, npu, doc_path = sys.argv[1:4]
    kit = sys.argv[4] if len(sys.argv) > 4 else ""
    doc = open(doc_path, encoding="utf-8").read()
    failures = []
    tools = [(ember, ["--help"])]
    if npu:
        tools.append((npu, ["--help"]))
    checked = 0
    for tool, flag in tools:
        top = run_help([tool] + flag)
        cmds = commands(top)
        if not cmds:
            failures.append(f"{tool} --help lists no commands")
        helps = {"": top}
        for c in cmds:
            helps[c] = run_help([tool, c, "--help"])
        for c, text in helps.items():
            where = f"{tool.rsplit('/', 1)[-1]} {c} --help".replace("  ", " ")
            if c and not text.startswith("usage: "):
                failures.append(f"{where}: does not start with a usage line")
            for line in text.splitlines():
                if len(line) > 80:
                    failures.append(f"{where}: line over 80 columns: {line}")
            for name in sorted(options(text)):
                checked += 1
                if not re.search(r"(?<![\w-])" + re.escape(name) + r"(?![\w-])", doc):
                    failures.append(f"{where}: {name} is not in {doc_path}")
    if kit:
        # One command, no subcommands.
        text = run_help([kit, "--help"])
        where = "ember-kit --help"
        if not text.startswith("usage: "):
            failures.append(f"{where}: does not start with a usage line")
        for line in text.splitlines():
            if len(line) > 80:
                failures.append(f"{where}: line over 80 columns: {line}")
        for name in sorted(options(text)):
            checked += 1
            if not re.search(r"(?<![\w-])" + re.escape(name) + r"(?![\w-])", doc):
                failures.append(f"{where}: {name} is not in {doc_path}")
    for f in failures:
        print("FAIL:", f)
    print(f"{checked} option mentions checked, {len(failures)} problems")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

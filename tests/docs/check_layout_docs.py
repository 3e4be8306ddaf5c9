#!/usr/bin/env python3
"""A doc's layout table against the tree: the docs are checked like code.

  check_layout_docs.py ROOT DOC [--expand DIR]...
  check_layout_docs.py ROOT --selftest

DOC (relative to ROOT) has a section titled "Layout" whose first table's
first column names paths in backquotes (`core/ir`, `hw/`, ...). Two rules,
each failure one line `error: <what> (<DOC>, "Layout")`:

  - every folder of the tree must be named: the top-level folders, and the
    folders directly inside each --expand DIR (docs/architecture.md expands
    core, backends and tools), by a row naming it or a path inside it;
  - every path a row names must exist in the tree.

The tree is what git tracks under ROOT (so build folders do not count), or,
without git, every folder but hidden ones and build*. Exit 0 when the table
and the tree agree, 1 otherwise.

--selftest plants mismatches in copies of docs/architecture.md and README.md
(a row removed, a folder that is gone named) and checks that each fails
with the folder's name, and that the tables as they are pass.
"""
import os
import re
import subprocess
import sys


def tree_paths(root):
    """Every tracked file path, relative to root."""
    try:
        out = subprocess.run(["git", "-C", root, "ls-files", "-z"],
                             check=True, capture_output=True, text=True).stdout
        files = [f for f in out.split("\0") if f]
        if files:
            return files
    except (OSError, subprocess.CalledProcessError):
        pass
    files = []
    for d, dirs, names in os.walk(root):
        rel = os.path.relpath(d, root)
        dirs[:] = [x for x in dirs
                   if not x.startswith(".") and not x.startswith("build")]
        for n in names:
            files.append(os.path.normpath(os.path.join(rel, n)))
    return files


def folders(files, expand):
    """The folders a layout table must name."""
    need = set()
    for f in files:
        parts = f.split("/")
        if len(parts) > 1 and not parts[0].startswith("."):
            need.add(parts[0])
        for e in expand:
            ep = e.strip("/").split("/")
            if parts[:len(ep)] == ep and len(parts) > len(ep) + 1:
                need.add("/".join(parts[:len(ep) + 1]))
    return need


def layout_table(text):
    """The backquoted paths of the first column of the Layout section's
    first table, with their line numbers."""
    lines = text.split("\n")
    start = None
    for i, l in enumerate(lines):
        if re.match(r"^#+\s+Layout\b", l):
            start = i
            break
    if start is None:
        return None
    named = []
    in_table = False
    for i in range(start + 1, len(lines)):
        l = lines[i]
        if re.match(r"^#+\s", l):
            break
        if l.startswith("|"):
            in_table = True
            cells = l.split("|")
            if len(cells) < 3 or re.match(r"^\s*-+\s*$", cells[1]):
                continue
            for p in re.findall(r"`([^`]+)`", cells[1]):
                named.append((p.strip().rstrip("/"), i + 1))
        elif in_table:
            break
    return named


def check(root, doc, expand, text=None):
    """The errors of DOC's layout table (or of `text`, a changed copy)."""
    if text is None:
        with open(os.path.join(root, doc)) as f:
            text = f.read()
    named = layout_table(text)
    where = '%s, "Layout"' % doc
    if named is None:
        return ["error: no section titled Layout (%s)" % doc]
    files = tree_paths(root)
    errors = []
    for p, line in named:
        if not any(f == p or f.startswith(p + "/") for f in files):
            errors.append("error: the table names `%s` (line %d), which is "
                          "not in the tree: remove or rename its row (%s)"
                          % (p, line, where))
    for need in sorted(folders(files, expand)):
        if not any(p == need or p.startswith(need + "/") for p, _ in named):
            errors.append("error: the folder `%s/` is not in the table: add "
                          "a row saying what it holds (%s)" % (need, where))
    return errors


def selftest(root):
    """Plants mismatches in copies of the two docs; each must be caught."""
    failures = 0
    cases = [("docs/architecture.md", ["core", "backends", "tools"]),
             ("README.md", [])]
    for doc, expand in cases:
        errs = check(root, doc, expand)
        if errs:
            print("FAIL: %s as it is:\n  %s" % (doc, "\n  ".join(errs)))
            failures += 1
            continue
        with open(os.path.join(root, doc)) as f:
            text = f.read()
        named = layout_table(text)
        lines = text.split("\n")
        # Remove the row naming each top-level folder, one at a time (and for
        # architecture.md, a core/ folder's row).
        victims = [p for p, _ in named if "/" not in p]
        victims += [p for p, _ in named if p.startswith("core/")][:1]
        need = folders(tree_paths(root), expand)
        caught = covered = 0
        for v in victims:
            rows = {ln for p, ln in named if p == v}
            planted = "\n".join(l for i, l in enumerate(lines, 1)
                                if i not in rows)
            # A row naming several paths goes whole: each folder no other
            # row covers any more must be reported.
            left = [p for p, ln in named if ln not in rows]
            gone = {n for n in need
                    if not any(p == n or p.startswith(n + "/") for p in left)}
            errs = check(root, doc, expand, planted)
            if not gone:
                # Other rows name paths under this folder, so the table
                # still covers it; nothing to catch.
                covered += 1
                continue
            caught += 1
            for g in gone:
                if not any("`%s/`" % g in e for e in errs):
                    print("FAIL: %s without its `%s` row: no error for `%s/`"
                          % (doc, v, g))
                    failures += 1
        # A row naming a folder that is gone.
        row = "| `no-such-folder/` | a folder that was removed |"
        planted = text.replace(lines[named[0][1] - 1],
                               lines[named[0][1] - 1] + "\n" + row, 1)
        errs = check(root, doc, expand, planted)
        if not any("`no-such-folder`" in e for e in errs):
            print("FAIL: %s naming a folder that is gone: no error" % doc)
            failures += 1
        if caught == 0:
            print("FAIL: %s: removing no row uncovers a folder" % doc)
            failures += 1
        print("ok: %s: %d removed rows and a stale row caught (%d rows "
              "whose folders other rows still cover)" % (doc, caught, covered))
    if failures:
        print("%d check(s) failed" % failures)
        return 1
    print("all checks passed")
    return 0


def main(argv):
    if len(argv) >= 2 and argv[1] == "--selftest":
        return selftest(argv[0])
    if len(argv) < 2 or argv[1].startswith("-"):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    root, doc, rest = argv[0], argv[1], argv[2:]
    expand = []
    while rest:
        if rest[0] != "--expand" or len(rest) < 2:
            print("error: unknown argument '%s' (check_layout_docs.py)"
                  % rest[0], file=sys.stderr)
            return 2
        expand.append(rest[1])
        rest = rest[2:]
    errors = check(root, doc, expand)
    for e in errors:
        print(e, file=sys.stderr)
    if errors:
        return 1
    print("%s: the layout table names every folder of the tree, and only "
          "those" % doc)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

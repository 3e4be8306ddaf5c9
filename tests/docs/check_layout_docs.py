#!/usr/bin/env python3
"""A doc's layout table against the tree: the docs are checked like code.

  check_layout_docs.py ROOT DOC [--expand DIR|--expand-all]...
                        [--section-paths TITLE]...
  check_layout_docs.py ROOT --selftest

DOC (relative to ROOT) has a section titled "Layout" whose first table's
first column names paths in backquotes (`core/ir`, `hw/`, ...). Three rules,
each failure one line `error: <what> (<DOC>, "Layout")`:

  - every folder of the tree must be named: the top-level folders, and the
    folders directly inside each --expand DIR (--expand-all: inside every
    top-level folder, as docs/architecture.md's ctest asks), by a row naming
    it or a path inside it;
  - every path a row names must exist in the tree;
  - every file a row's other cells name in backquotes (`Target.cpp`,
    `ember/backend.h`: a name with an extension) must be a file under one
    of the row's paths, and every docs page a row cites (docs/x.md) must
    exist: a row cannot place a file in the wrong folder.

With --section-paths TITLE, every path the section TITLE names in its code
blocks (a word with a slash and an extension, `core/backend/LayerPath.cpp`,
`select/Build.cpp`) must be a file of the tree, whole or as its tail: the
data path drawn in docs/architecture.md names files that exist.

The tree is what git tracks under ROOT (so build folders do not count), or,
without git, every folder but hidden ones and build*. Exit 0 when the table
and the tree agree, 1 otherwise.

--selftest plants mismatches in copies of docs/architecture.md and README.md
(a row removed, a folder that is gone named, a file named in a row of the
wrong folder, a docs page that is not there) and checks that each fails
naming it, and that the tables as they are pass.
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
    """The folders a layout table must name. An --expand of `*` expands
    every top-level folder."""
    if "*" in expand:
        expand = [e for e in expand if e != "*"] + sorted(
            {f.split("/")[0] for f in files
             if "/" in f and not f.startswith(".")})
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


# A backquoted name in a row's description that is a file of the tree: a
# path ending in one of the tree's source, build or data extensions.
FILE_NAME = re.compile(r"^[\w.+-]+(/[\w.+-]+)*\.(cpp|hpp|h|c|inc|def|py|sh|"
                       r"cmake|in|json|proto|sv|md|txt|toml|nasm|tsv)$")
DOCS_PAGE = re.compile(r"(?<![\w/.-])(docs/[\w./-]+\.md)\b")


def layout_rows(text):
    """The rows of the Layout section's first table: (the backquoted paths
    of the first column, line number, the other cells' text)."""
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
            paths = [p.strip().rstrip("/")
                     for p in re.findall(r"`([^`]+)`", cells[1])]
            named.append((paths, i + 1, "|".join(cells[2:])))
        elif in_table:
            break
    return named


def layout_table(text):
    """The backquoted paths of the first column of the Layout section's
    first table, with their line numbers."""
    rows = layout_rows(text)
    if rows is None:
        return None
    return [(p, line) for paths, line, _ in rows for p in paths]


def row_file_errors(rows, files, where):
    """A file a row's description names that is not under the row's paths,
    and a docs page it cites that is not there."""
    errors = []
    fileset = set(files)
    for paths, line, rest in rows:
        for name in re.findall(r"`([^`]+)`", rest):
            name = name.strip()
            if not FILE_NAME.match(name):
                continue
            # A path from the root, or a file (or the tail of a path) under
            # one of the row's folders.
            if name in fileset or any(
                    f.startswith(p + "/") and f.endswith("/" + name)
                    for p in paths for f in files):
                continue
            errors.append("error: the row of %s (line %d) names `%s`, which "
                          "is not a file under %s: name the folder that "
                          "holds it (%s)" % (", ".join(
                              "`%s`" % p for p in paths), line, name,
                                             "it" if len(paths) == 1 else
                                             "them", where))
        for page in DOCS_PAGE.findall(rest):
            if page not in fileset:
                errors.append("error: the row of `%s` (line %d) cites %s, "
                              "which is not in the tree (%s)" %
                              (paths[0] if paths else "?", line, page, where))
    return errors


SECTION_PATH = re.compile(r"(?<![\w./*-])([\w.-]+(?:/[\w.-]+)+"
                          r"\.(?:cpp|hpp|h|c|def|json|proto|md|py|sv))\b")


def section_path_errors(text, title, files, doc):
    """A path in the code blocks of section `title` that is no file."""
    lines = text.split("\n")
    start = next((i for i, l in enumerate(lines)
                  if re.match(r"^#+\s+%s\s*$" % re.escape(title), l)), None)
    where = '%s, "%s"' % (doc, title)
    if start is None:
        return ["error: no section titled %s (%s)" % (title, doc)]
    errors = []
    in_code = False
    seen = 0
    for i in range(start + 1, len(lines)):
        l = lines[i]
        if l.startswith("```"):
            in_code = not in_code
            continue
        if not in_code and re.match(r"^#+\s", l):
            break
        if not in_code:
            continue
        for path in SECTION_PATH.findall(l):
            seen += 1
            if not any(f == path or f.endswith("/" + path) for f in files):
                errors.append("error: line %d names `%s`, which is not a "
                              "file of the tree (%s)" % (i + 1, path, where))
    if not seen:
        errors.append("error: the section names no file (%s)" % where)
    return errors


def check(root, doc, expand, text=None, sections=()):
    """The errors of DOC's layout table (or of `text`, a changed copy)."""
    if text is None:
        with open(os.path.join(root, doc)) as f:
            text = f.read()
    rows = layout_rows(text)
    where = '%s, "Layout"' % doc
    if rows is None:
        return ["error: no section titled Layout (%s)" % doc]
    named = layout_table(text)
    files = tree_paths(root)
    errors = row_file_errors(rows, files, where)
    for title in sections:
        errors += section_path_errors(text, title, files, doc)
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
    cases = [("docs/architecture.md", ["*"], ["The data path"]),
             ("README.md", [], [])]
    for doc, expand, sections in cases:
        errs = check(root, doc, expand, sections=sections)
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
        # A row naming a file that is in another folder (the first row's
        # paths hold no file of that name), and citing a page that is gone.
        first = lines[named[0][1] - 1]
        files = tree_paths(root)
        mine = [p for p, ln in named if ln == named[0][1]]
        under = {f.rsplit("/", 1)[-1] for f in files
                 for p in mine if f.startswith(p + "/")}
        elsewhere = sorted({f.rsplit("/", 1)[-1] for f in files
                            if f.endswith(".cpp")} - under)[0]
        for plant, expect in [(" `%s` |" % elsewhere, "`%s`" % elsewhere),
                              (" (docs/no-such-page.md) |",
                               "docs/no-such-page.md")]:
            planted = text.replace(first, first.rstrip().rstrip("|") + plant,
                                   1)
            errs = check(root, doc, expand, planted)
            if not any(expect in e for e in errs):
                print("FAIL: %s naming %s in the row of `%s`: no error" %
                      (doc, expect, named[0][0]))
                failures += 1
        # The drawing naming a file that was moved away.
        for title in sections:
            lines_t = text.split("\n")
            head = next(i for i, l in enumerate(lines_t)
                        if re.match(r"^#+\s+%s\s*$" % re.escape(title), l))
            fence = next(i for i in range(head, len(lines_t))
                         if lines_t[i].startswith("```"))
            lines_t.insert(fence + 1, " core/backend/NoSuchStage.cpp")
            errs = check(root, doc, expand, "\n".join(lines_t), [title])
            if not any("`core/backend/NoSuchStage.cpp`" in e for e in errs):
                print("FAIL: %s: a file that is gone in \"%s\": no error" %
                      (doc, title))
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
    expand, sections = [], []
    while rest:
        if rest[0] == "--section-paths" and len(rest) >= 2:
            sections.append(rest[1])
            rest = rest[2:]
            continue
        if rest[0] == "--expand-all":
            expand.append("*")
            rest = rest[1:]
            continue
        if rest[0] != "--expand" or len(rest) < 2:
            print("error: unknown argument '%s' (check_layout_docs.py)"
                  % rest[0], file=sys.stderr)
            return 2
        expand.append(rest[1])
        rest = rest[2:]
    errors = check(root, doc, expand, sections=sections)
    for e in errors:
        print(e, file=sys.stderr)
    if errors:
        return 1
    print("%s: the layout table names every folder of the tree, and only "
          "those, and the files its rows name are where they say" % doc)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

#!/usr/bin/env python3
"""The commits the results docs were measured on: each must be in the tree's
history, so a figure cannot silently outlive the code that made it.

  check_results_commits.py ROOT
  check_results_commits.py ROOT --selftest

A "measured sentence" is a sentence of a doc of ROOT/docs (not
docs/changelog, which keeps history) that says "measured", "re-measured",
"made" or "built" and then "on", "at" or "as" followed by a commit: a
token of 7 to 12 hex digits with at least one decimal digit, optionally
after "main", "commit" or "branch commit" and in bold ("Measured on main
**67835ec** (...)"). Sentences end at ". ", a blank line or a table. Rules,
each failure one line `error: <what> (<doc>:<line>)`:

  - the results docs (the list in docs/README.md's sentence "Results docs
    (a.md, b.md, ...)") each have a measured sentence;
  - every measured sentence names at least one commit that is HEAD or an
    ancestor of it. A sentence may also name a branch commit, as long as
    it says which commit of the history has the same figures ("measured at
    1234abc (the branch) and again at 5678def (main)"); a figure measured on
    a commit that was never merged, was rebased away, or whose hash is
    mistyped fails.

The history is `git -C ROOT`'s. Without git, or in a shallow clone (whose
history is cut), the second rule is skipped with a note; the first always
runs. Exit 0 when every rule holds, 1 otherwise.

--selftest checks the docs as they are, then plants mistakes in copies of
them and in a scratch repository (a results doc's commit removed, a mistyped
commit, a commit of a branch that was not merged) and checks that each is
reported.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

SENTENCE = re.compile(
    r"\b(?:re-)?(?:measured|made|built)\b(?:(?!\n\s*\n|\n\||\.\s)[^|])*?"
    r"\b(?:on|at|as)\s+(?:main\s+|commit\s+|branch\s+commit\s+)?\**"
    r"(?=[0-9a-f]*[0-9])([0-9a-f]{7,12})\**\b"
    r"(?:(?!\n\s*\n|\n\||\.\s).)*", re.I | re.S)
COMMIT = re.compile(r"(?<![0-9A-Za-z])(?=[0-9a-f]*[0-9])([0-9a-f]{7,12})(?![0-9A-Za-z])")
RESULTS_LIST = re.compile(r"Results docs\s*\(([^)]*)\)", re.S)


def git(root, *args):
    """(returncode, stdout) of git in root; (None, "") without git."""
    try:
        p = subprocess.run(["git", "-C", root] + list(args),
                           capture_output=True, text=True)
    except OSError:
        return None, ""
    return p.returncode, p.stdout.strip()


def history_usable(root):
    """None when HEAD's history can be asked, else why not."""
    rc, out = git(root, "rev-parse", "--is-shallow-repository")
    if rc is None:
        return "git is not installed"
    if rc != 0:
        return "%s is not a git checkout" % root
    if out == "true":
        return "the clone is shallow, its history is cut"
    return None


def in_history(root, sha):
    rc, _ = git(root, "merge-base", "--is-ancestor", sha, "HEAD")
    return rc == 0


def results_docs(readme_text):
    """The docs README.md's "Results docs (...)" sentence names."""
    m = RESULTS_LIST.search(readme_text)
    if not m:
        return None
    return sorted(set(re.findall(r"([A-Za-z0-9_.-]+\.md)", m.group(1))))


def measured_sentences(text):
    """(line, sentence, [commits]) of every measured sentence."""
    out = []
    for m in SENTENCE.finditer(text):
        line = text.count("\n", 0, m.start()) + 1
        out.append((line, m.group(0), COMMIT.findall(m.group(0))))
    return out


def load_docs(root):
    docs = {}
    ddir = os.path.join(root, "docs")
    for name in sorted(os.listdir(ddir)):
        if name.endswith(".md"):
            with open(os.path.join(ddir, name)) as f:
                docs[name] = f.read()
    return docs


def check(root, docs, history=True):
    """The errors of docs ({name: text}); history: ask git about commits."""
    errors = []
    listed = results_docs(docs.get("README.md", ""))
    if listed is None:
        return ['error: docs/README.md has no sentence "Results docs (a.md, '
                'b.md, ...)" naming the results docs (docs/README.md)']
    for name in listed:
        if name not in docs:
            errors.append("error: docs/README.md lists %s as a results doc, "
                          "and there is no such doc (docs/README.md)" % name)
        elif not any(c for _, _, c in measured_sentences(docs[name])):
            errors.append("error: no sentence says which commit its figures "
                          "were measured on (\"Measured on main <commit> with "
                          "<command>\") (docs/%s)" % name)
    if not history:
        return errors
    for name, text in sorted(docs.items()):
        for line, sentence, commits in measured_sentences(text):
            if not any(in_history(root, c) for c in commits):
                errors.append(
                    "error: measured on %s, which is not in this tree's "
                    "history (a branch commit, rebased or mistyped): "
                    "re-measure on a commit of main and name it (docs/%s:%d)"
                    % (" / ".join(commits), name, line))
    return errors


def selftest(root):
    failures = 0

    def expect(what, errs, needle):
        nonlocal failures
        if any(needle in e for e in errs):
            print("ok: %s is caught" % what)
        else:
            print("FAIL: %s: no error containing %r (got %s)"
                  % (what, needle, errs))
            failures += 1

    docs = load_docs(root)
    why = history_usable(root)
    errs = check(root, docs, history=why is None)
    if errs:
        print("FAIL: the docs as they are:\n  " + "\n  ".join(errs))
        failures += 1
    listed = results_docs(docs["README.md"]) or []
    if not listed:
        print("FAIL: docs/README.md lists no results doc")
        return 1
    # A results doc whose commits are all gone.
    name = listed[0]
    planted = dict(docs)
    planted[name] = COMMIT.sub("the current commit", docs[name])
    expect("%s without a commit" % name, check(root, planted, False), name)
    # A doc listed that does not exist.
    planted = dict(docs)
    planted["README.md"] = RESULTS_LIST.sub(
        "Results docs (no-such-results.md, \\1)", docs["README.md"], 1)
    expect("a listed doc that is missing", check(root, planted, False),
           "no-such-results.md")
    # A scratch repository: main has one commit, a branch another.
    if git(root, "--version")[0] is None:
        print("note: git is not installed; the history rules are not planted")
        return 1 if failures else 0
    tmp = tempfile.mkdtemp(prefix="results-commits-")
    try:
        def g(*a):
            subprocess.run(["git", "-C", tmp, "-c", "user.name=t", "-c",
                            "user.email=t@t", "-c", "commit.gpgsign=false"]
                           + list(a), check=True, capture_output=True)
        os.makedirs(os.path.join(tmp, "docs"))
        g("init", "-q", "-b", "main")
        with open(os.path.join(tmp, "docs", "README.md"), "w") as f:
            f.write("Results docs (perf.md) open with their table.\n")
        g("add", "-A")
        g("commit", "-q", "-m", "one")
        head = git(tmp, "rev-parse", "--short=7", "HEAD")[1]
        g("checkout", "-q", "-b", "side")
        g("commit", "-q", "--allow-empty", "-m", "two")
        side = git(tmp, "rev-parse", "--short=7", "HEAD")[1]
        g("checkout", "-q", "main")
        readme = "Results docs (perf.md) open with their table.\n"

        def doc(sentence):
            return {"README.md": readme,
                    "perf.md": "# Perf\n\n%s\n\n| a | b |\n|---|---|\n" % sentence}
        if not any(c.isdigit() for c in head + side):
            print("note: the scratch commits are all letters; not planted")
        else:
            ok = check(tmp, doc("Measured on main %s with `x`." % head))
            if ok:
                print("FAIL: a commit of main is reported: %s" % ok)
                failures += 1
            else:
                print("ok: a commit of main passes")
            expect("a commit of an unmerged branch",
                   check(tmp, doc("Measured on main **%s** (load 2)." % side)),
                   "docs/perf.md:3")
            ok = check(tmp, doc("Measured at %s (the branch) and again at "
                                "%s (main, the same figures)." % (side, head)))
            if ok:
                print("FAIL: a branch commit named with its main commit is "
                      "reported: %s" % ok)
                failures += 1
            else:
                print("ok: a branch commit named with its main commit passes")
        expect("a mistyped commit",
               check(tmp, doc("Measured at\n**0badc0de** with `x`.")),
               "0badc0de")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if failures:
        print("%d check(s) failed" % failures)
        return 1
    print("all checks passed")
    return 0


def main(argv):
    if len(argv) == 2 and argv[1] == "--selftest":
        return selftest(argv[0])
    if len(argv) != 1 or argv[0].startswith("-"):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    root = argv[0]
    why = history_usable(root)
    if why:
        print("note: commits not checked against the history: %s" % why)
    errors = check(root, load_docs(root), history=why is None)
    for e in errors:
        print(e, file=sys.stderr)
    if errors:
        return 1
    print("the results docs name the commits they were measured on, all in "
          "this tree's history")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

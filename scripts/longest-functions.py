#!/usr/bin/env python3
"""The longest C/C++ functions of the tree, or of some folders and files.

  scripts/longest-functions.py [PATH...] [--top N] [--min LINES]
  scripts/longest-functions.py PATH... --max LINES [--warn]

Prints one line per function definition, longest first:

    859  core/accel/GemmCode.cpp:102  genGemm

the lines from the one holding the function's name to its closing brace
(both counted, the way universal-ctags' `end:` field counts them), the file
and line of the name, and the name as written (`Builder::run`, `operator==`;
a member defined inside its class is named `Class::member`). A lambda is part
of the function it is written in; one at namespace scope (`auto f = [] {...}`)
is a variable's initializer and not listed.

PATH is a file or a folder (its .c, .cc, .cpp, .h, .hpp and .inc files,
recursively); without one, every tracked C/C++ file (git ls-files). --top N
(default 20, 0: all) lists the N longest; --min LINES only those of at least
LINES lines.

--max LINES is the check the style gate runs (scripts/check-style.sh,
docs/style-checks.md, "Function length"): every function over LINES lines
is an error, `error: function NAME has N lines, over the LINES-line budget
(PATH:LINE)`, and the exit status is 1 when there is one; with --warn they
are warnings and the status 0 (a folder the gate reports, not enforces).

The parser needs nothing but Python (no ctags, no compiler): comments,
string and character literals (raw strings and digit separators included)
and preprocessor lines are blanked first, then the braces are matched. A
brace at namespace or class scope opens a function body when the text
before it, back to the previous `;`, `{` or `}`, is a declarator with a
parameter list: `NAME(...)` followed only by qualifiers (const, noexcept,
override, final, `&`, `-> TYPE`) or a constructor's member initializers.
`class`, `struct` and `union` bodies are looked into (their members),
`namespace` and `extern "C"` blocks too; enum bodies and initializers
(`= {...}`) are not. Code inside both branches of an `#if` is read, so a
function whose braces differ between branches is not measured right
(nothing in the tree does that).
"""
import argparse
import os
import re
import subprocess
import sys

EXTS = (".c", ".cc", ".cpp", ".h", ".hpp", ".inc")
# Words before `(` that are not a function's name.
NOT_NAMES = {"if", "for", "while", "switch", "catch", "return", "sizeof",
             "decltype", "alignas", "alignof", "noexcept", "static_assert",
             "__attribute__", "__declspec", "requires", "throw", "typeid",
             "new", "delete", "defined"}
QUALIFIERS = re.compile(
    r"^(\s|const\b|volatile\b|noexcept\b|override\b|final\b|&|&&|try\b|"
    r"\bnoexcept\s*\([^()]*\)|->[^{]*)*$")
IDENT = re.compile(r"[A-Za-z_~][A-Za-z_0-9]*")


def blank(text):
    """The text with comments, literals and preprocessor lines replaced by
    spaces (newlines kept, so line numbers hold)."""
    out = []
    i, n = 0, len(text)
    line_start = True  # only whitespace since the last newline
    while i < n:
        c = text[i]
        if c == "\n":
            out.append(c)
            i += 1
            line_start = True
            continue
        if line_start and c == "#":
            # A preprocessor directive, with its continuation lines.
            while i < n and text[i] != "\n":
                if text[i] == "\\" and i + 1 < n and text[i + 1] == "\n":
                    out.append(" \n")
                    i += 2
                    continue
                if text.startswith("/*", i):
                    end = text.find("*/", i + 2)
                    end = n if end < 0 else end + 2
                    out.append(re.sub(r"[^\n]", " ", text[i:end]))
                    i = end
                    continue
                out.append(" ")
                i += 1
            continue
        if c in " \t\r\f\v":
            out.append(c)
            i += 1
            continue
        line_start = False
        if text.startswith("//", i):
            end = text.find("\n", i)
            end = n if end < 0 else end
            out.append(" " * (end - i))
            i = end
            continue
        if text.startswith("/*", i):
            end = text.find("*/", i + 2)
            end = n if end < 0 else end + 2
            out.append(re.sub(r"[^\n]", " ", text[i:end]))
            i = end
            continue
        m = re.match(r'(?:u8|u|U|L)?R"([^()\\\s]{0,16})\(', text[i:i + 24])
        if m and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            close = ")" + m.group(1) + '"'
            end = text.find(close, i + m.end())
            end = n if end < 0 else end + len(close)
            out.append('"' + re.sub(r"[^\n]", " ", text[i + 1:end - 1]) + '"')
            i = end
            continue
        if c == '"' or (c == "'" and not (
                i > 0 and (text[i - 1].isalnum() or text[i - 1] == "_"))):
            # (A ' after a digit or letter is a digit separator: 1'000.)
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            end = min(j + 1, n)
            out.append(c + " " * max(0, end - i - 2) + (c if end - i >= 2 else ""))
            i = end
            continue
        out.append(c)
        i += 1
    return "".join(out)


def matching(text, i, open_c, close_c):
    """Index of the bracket closing the one at i (len(text) if none)."""
    depth = 0
    for j in range(i, len(text)):
        if text[j] == open_c:
            depth += 1
        elif text[j] == close_c:
            depth -= 1
            if depth == 0:
                return j
    return len(text)


def strip_templates(head):
    """The head without leading `template <...>` clauses."""
    while True:
        m = re.match(r"\s*template\s*<", head)
        if not m:
            return head
        depth, j = 0, m.end() - 1
        while j < len(head):
            if head[j] == "<":
                depth += 1
            elif head[j] == ">":
                depth -= 1
                if depth == 0:
                    break
            j += 1
        head = head[j + 1:]


def declarator(head):
    """(name, offset of the name in head, text after the parameter list)
    when head (the text before a `{` at namespace or class scope) declares a
    function, else None. The parameter list is the first parenthesis after
    a name whose rest is only qualifiers or member initializers (macro
    invocations without a `;` may come before it)."""
    i = 0
    while True:
        p = head.find("(", i)
        if p < 0:
            return None
        close = matching(head, p, "(", ")")
        before = head[:p].rstrip()
        m = re.search(r"(operator\s*(\[\s*\]|[^\sA-Za-z0-9_(]+|"
                      r"\s[A-Za-z_][A-Za-z_0-9:<>\s*&]*?)|"
                      r"~?[A-Za-z_][A-Za-z_0-9]*(\s*<[^()]*>)?"
                      r"(\s*::\s*~?[A-Za-z_][A-Za-z_0-9]*(\s*<[^()]*>)?)*)$",
                      before)
        if m and re.search(r"operator$", m.group(0)) and \
                re.match(r"\(\s*\)", head[p:]):
            # operator(): its parameter list is the next parenthesis.
            q = head.find("(", close + 1)
            if q < 0:
                return None
            rest = head[matching(head, q, "(", ")") + 1:]
            if body_follows(rest):
                return re.sub(r"\s+", "", m.group(0)) + "()", m.start(), rest
        elif m and m.group(0).split("::")[-1].strip() not in NOT_NAMES:
            name = re.sub(r"\s+", "", m.group(0))
            if name.startswith("operator") and len(name) > 8 and \
                    name[8].isalpha():
                name = "operator " + name[8:]
            rest = head[close + 1:]
            if body_follows(rest):
                return name, m.start(), rest
        i = close + 1


def body_follows(rest):
    """Whether the text after a parameter list leads to a function body:
    qualifiers, or a constructor's member initializers."""
    return bool(QUALIFIERS.match(rest) or
                re.match(r"^\s*(noexcept\s*)?:(?!:)", rest))


def functions(path, text=None):
    """[(lines, line, name)] of the function definitions in one file."""
    if text is None:
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
    code = blank(text)
    starts = [0]  # the offset of each line
    for m in re.finditer("\n", code):
        starts.append(m.end())

    def lineno(off):
        lo, hi = 0, len(starts)
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if starts[mid] <= off:
                lo = mid
            else:
                hi = mid
        return lo + 1

    found = []
    # scopes: ("ns" | "class", name) for the scopes whose members count.
    scopes = []
    head_start = 0
    parens = 0  # open parentheses in the current head
    i, n = 0, len(code)
    while i < n:
        c = code[i]
        if c == "(":
            parens += 1
        elif c == ")":
            parens = max(0, parens - 1)
        elif c == "{" and parens:
            # A brace inside parentheses (a default argument `= {}`, a
            # braced value): part of the head.
            i = matching(code, i, "{", "}") + 1
            continue
        if c == ";" and not parens:
            head_start = i + 1
        elif c == "}":
            if scopes:
                scopes.pop()
            head_start = i + 1
        elif c == "{":
            head = code[head_start:i]
            flat = re.sub(r"\s+", " ", strip_templates(head)).strip()
            flat = re.sub(r"^((public|private|protected)\s*:\s*)+", "", flat)
            if re.match(r"^(inline\s+)?namespace\b", flat) or \
                    re.match(r'^extern\s*"\s*"$', flat) or not flat:
                scopes.append(("ns", None))
                head_start = i + 1
                i += 1
                continue
            m = re.match(r"^(typedef\s+)?(class|struct|union)\b([^(=]*)$",
                         flat)
            if m:
                nm = re.findall(r"[A-Za-z_][A-Za-z_0-9]*",
                                m.group(3).split(":")[0])
                nm = [w for w in nm if w not in ("final", "alignas")]
                scopes.append(("class", nm[-1] if nm else None))
                head_start = i + 1
                i += 1
                continue
            d = None
            if not re.match(r"^(typedef\s+)?enum\b", flat) and \
                    not re.search(r"=\s*$", flat) and \
                    not re.search(r"(^|[^=!<>])=([^=]|$)",
                                  re.sub(r"operator\s*\S+", "",
                                         flat.split("(")[0])):
                d = declarator(head)
            if d:
                name, at, rest = d
                body = i
                if QUALIFIERS.match(rest):
                    ok = True
                else:
                    # A constructor's member initializers: braces followed
                    # by `,` or `{` initialize a member; the next is the body.
                    ok = True
                    while True:
                        end = matching(code, body, "{", "}")
                        k = end + 1
                        while k < n and code[k] in " \t\r\n":
                            k += 1
                        if k < n and code[k] in ",{":
                            nxt = code.find("{", k) if code[k] == "," else k
                            if nxt < 0:
                                ok = False
                                break
                            body = nxt
                            continue
                        break
                if ok:
                    end = matching(code, body, "{", "}")
                    cls = [s[1] for s in scopes if s[0] == "class" and s[1]]
                    full = "::".join(cls + [name]) if cls and \
                        "::" not in name else name
                    first = lineno(head_start + at)
                    found.append((lineno(end) - first + 1, first, full))
                    head_start = end + 1
                    i = end + 1
                    continue
            # Anything else (an enum, an initializer, a lambda's body at
            # namespace scope): skip to its closing brace.
            end = matching(code, i, "{", "}")
            head_start = end + 1
            i = end + 1
            continue
        i += 1
    return found


def tracked():
    try:
        out = subprocess.run(["git", "ls-files", "-z"], capture_output=True,
                             check=True).stdout.decode()
    except (OSError, subprocess.CalledProcessError):
        sys.exit("error: not in a git checkout; name the files or folders "
                 "(scripts/longest-functions.py)")
    return [p for p in out.split("\0") if p.endswith(EXTS)]


def expand(paths):
    files = []
    for p in paths:
        if os.path.isdir(p):
            for d, subs, names in os.walk(p):
                subs.sort()
                files += [os.path.join(d, f) for f in sorted(names)
                          if f.endswith(EXTS)]
        elif os.path.isfile(p):
            files.append(p)
        else:
            sys.exit("error: no such file or folder '%s' "
                     "(scripts/longest-functions.py)" % p)
    return files


def main():
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("paths", nargs="*")
    ap.add_argument("--top", type=int, default=20)
    ap.add_argument("--min", type=int, default=0)
    ap.add_argument("--max", type=int)
    ap.add_argument("--warn", action="store_true")
    a = ap.parse_args()
    files = expand(a.paths) if a.paths else tracked()
    rows = []
    for f in files:
        rel = os.path.relpath(f) if os.path.isabs(f) else os.path.normpath(f)
        rows += [(n, rel, line, name) for n, line, name in functions(f)]
    rows.sort(key=lambda r: (-r[0], r[1], r[2]))
    if a.max is not None:
        over = [r for r in rows if r[0] > a.max]
        level = "warning" if a.warn else "error"
        for n, f, line, name in over:
            print("%s: function %s has %d lines, over the %d-line budget "
                  "(%s:%d)" % (level, name, n, a.max, f, line),
                  file=sys.stderr)
        return 1 if over and not a.warn else 0
    shown = [r for r in rows if r[0] >= a.min]
    if a.top:
        shown = shown[:a.top]
    for n, f, line, name in shown:
        print("%6d  %s:%d  %s" % (n, f, line, name))
    return 0


if __name__ == "__main__":
    sys.exit(main())

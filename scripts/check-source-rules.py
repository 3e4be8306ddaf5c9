#!/usr/bin/env python3
"""The source rules of the style gate (scripts/check-style.sh, step 4;
docs/style-checks.md, "Source rules"). Four rules, each naming every file
and line that breaks it as `error: <what> (<file>:<line>)`:

  wording   Docs and comments say what the code does, not how the work on
            it was organized: no numbered ticket ("<ticket word> 17") and no
            working-sitting word (WORDING below has both). Checked in every
            Markdown or text file, in the comments of C/C++, proto and HDL
            sources, the comments and docstrings of Python, and the `#`
            comments of shell, CMake and config files.
  op-switch No `default:` in a switch over OpKind (STYLE.md 12): -Wswitch
            then names every switch a new op must join. A switch is over
            OpKind when its condition names OpKind or one of its own case
            labels does (directly, or through a macro defined in the file);
            a `default:` of a switch nested inside it belongs to the inner
            switch.
  banners   Comment art clang-format's reflow damages: an LLVM file banner
            (`//===- NAME - what ---===//`, `/*===- ... ===*`) must be whole
            on its line, a `// ------- ` rule may not carry text after its
            dashes (the tail of a reflowed title), and a block comment's line
            keeps the space after its `*`.

  errors    The NPU compiler layer (core/accel) returns errors as Status or
            Expected<T> (core/support/Error.h), never as a string that is
            empty on success: the string idiom's propagation, `if
            (!e.empty()) return e;`, is refused there.

  scripts/check-source-rules.py [FILE...]   (default: every tracked file)

Exit status 0 when nothing breaks a rule, 1 otherwise, 2 on a usage error.
"""
import os
import re
import subprocess
import sys

# The words the wording rule refuses. Built from pieces so that this file
# states them without matching itself.
WORDING = [
    (re.compile(r"\b" + "iss" + r"ue\s*#?\d+|\b" + "iss" + r"ues\s+#?\d+\s*(,|and\b|&)",
                re.I),
     "a ticket number (cite the doc section that explains it instead)"),
    (re.compile(r"\b" + "sess" + r"ions?\b", re.I),
     "a word for how the work was organized (say what changed, with its "
     "date or commit; for an API object write its name, e.g. InferenceSession)"),
]

# Files that state the rules themselves (and the self-test that plants
# broken cases) are exempt from the wording rule.
WORDING_EXEMPT = {
    "scripts/check-source-rules.py",
    "tests/style/check_style_test.sh",
}
# Frozen copies that must stay byte-identical to what they copy.
FROZEN = {"tests/kit/skew/backend_abi_1_0.h"}

# The errors rule: where errors are Status or Expected only, and the string
# idiom it refuses (an error string returned when it is not empty).
STATUS_ONLY = ("core/accel/",)
STRING_ERROR = re.compile(r"\bif\s*\(\s*!\s*(\w+)\.empty\(\)\s*\)\s*"
                          r"(?:\{\s*)?return\s+\1\s*;")

C_EXT = (".c", ".h", ".cpp", ".hpp", ".cc", ".inc", ".def", ".proto", ".sv",
         ".v", ".svh", ".vh")
CXX_EXT = (".c", ".h", ".cpp", ".hpp", ".cc", ".inc")
TEXT_EXT = (".md", ".txt", ".rst")
HASH_EXT = (".sh", ".cmake", ".yml", ".yaml", ".toml", ".cfg", ".ini")
HASH_NAMES = ("CMakeLists.txt", ".gitignore", ".clang-format", "run",
              "Makefile", ".gitattributes")


def base_ext(path):
    """The extension that says the language: foo.cpp.in -> .cpp."""
    p = path[:-3] if path.endswith(".in") else path
    return os.path.splitext(p)[1]


def split_c(text):
    """Splits C-family source into (code, comments): code with every comment,
    string and character literal blanked (newlines kept, so offsets and line
    numbers stay), and the comments as (line, text) pairs."""
    out = []
    comments = []
    i, n, line = 0, len(text), 1
    while i < n:
        c = text[i]
        if c == "\n":
            out.append(c)
            line += 1
            i += 1
        elif text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            # A line comment continued by a backslash goes on.
            while j < n and text[j - 1] == "\\":
                k = text.find("\n", j + 1)
                j = n if k < 0 else k
            body = text[i:j]
            for k, part in enumerate(body.split("\n")):
                comments.append((line + k, part))
            out.append(re.sub(r"[^\n]", " ", body))
            line += body.count("\n")
            i = j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            body = text[i:j]
            for k, part in enumerate(body.split("\n")):
                comments.append((line + k, part))
            out.append(re.sub(r"[^\n]", " ", body))
            line += body.count("\n")
            i = j
        elif c == "R" and text.startswith('R"', i) and (
                i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            m = re.match(r'R"([^()\\ ]{0,16})\(', text[i:])
            if not m:
                out.append(c)
                i += 1
                continue
            end = text.find(")" + m.group(1) + '"', i + m.end())
            end = n if end < 0 else end + len(m.group(1)) + 2
            body = text[i:end]
            out.append(re.sub(r"[^\n]", " ", body))
            line += body.count("\n")
            i = end
        elif c == '"' or (c == "'" and not (
                i > 0 and text[i - 1].isalnum() and i + 1 < n and
                text[i + 1].isalnum())):  # not a digit separator (1'000)
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            j = min(j + 1, n)
            out.append(" " * (j - i))
            i = j
        else:
            out.append(c)
            i += 1
    return "".join(out), comments


def match_close(code, i, open_c, close_c):
    """Index just past the bracket that closes the one at code[i]."""
    depth = 0
    for j in range(i, len(code)):
        if code[j] == open_c:
            depth += 1
        elif code[j] == close_c:
            depth -= 1
            if depth == 0:
                return j + 1
    return len(code)


LABEL = re.compile(r"\bcase\b(.*?)(?<!:):(?!:)|\bdefault\s*:(?!:)", re.S)
DEFINE = re.compile(r"^[ \t]*#[ \t]*define[ \t]+(\w+)((?:[^\n]*\\\n)*[^\n]*)",
                    re.M)


def op_switch_defaults(code):
    """Offsets of each `default:` that belongs to a switch over OpKind."""
    macros = {m.group(1): m.group(2) for m in DEFINE.finditer(code)}
    op_macros = {k for k, v in macros.items() if "OpKind::" in v}
    switches = []  # (body start, body end, condition)
    for m in re.finditer(r"\bswitch\s*\(", code):
        p = m.end() - 1
        q = match_close(code, p, "(", ")")
        cond = code[p:q]
        b = q
        while b < len(code) and code[b].isspace():
            b += 1
        if b >= len(code) or code[b] != "{":
            continue
        switches.append((b, match_close(code, b, "{", "}"), cond))

    def owner(pos):
        best = None
        for s in switches:
            if s[0] < pos < s[1] and (best is None or s[0] > best[0]):
                best = s
        return best

    labels = {}  # switch -> [(offset, is default, label text)]
    for s in switches:
        labels[s] = []
    for s in switches:
        for m in LABEL.finditer(code, s[0], s[1]):
            if owner(m.start()) is s:
                labels[s].append((m.start(), m.group(0).startswith("default"),
                                  m.group(1) or ""))
    found = []
    for s in switches:
        over = "OpKind" in s[2] or any("OpKind::" in t for _, d, t in labels[s])
        if not over and op_macros:
            # Labels written by a macro of this file (`OPKIND_CASES`).
            inner = [x for x in switches if x is not s and s[0] < x[0] < s[1]]
            body = code[s[0]:s[1]]
            for x in sorted(inner, reverse=True):
                body = body[:x[0] - s[0]] + body[x[1] - s[0]:]
            over = any(re.search(r"\b%s\b" % re.escape(k), body)
                       for k in op_macros)
        if over:
            found += [off for off, d, _ in labels[s] if d]
    return found


def line_of(text, offset):
    return text.count("\n", 0, offset) + 1


def comment_lines(path, text):
    """(line, text) of what the wording rule reads in this file, or None."""
    name = os.path.basename(path)
    ext = base_ext(path)
    if ext in TEXT_EXT and name != "CMakeLists.txt":
        return list(enumerate(text.split("\n"), 1))
    if ext in C_EXT:
        return split_c(text)[1]
    if ext == ".py":
        return python_comments(text)
    if ext in HASH_EXT or name in HASH_NAMES or text.startswith("#!"):
        out = []
        for k, l in enumerate(text.split("\n"), 1):
            m = re.search(r"(^|\s)#(.*)$", l)
            if m:
                out.append((k, m.group(2)))
        return out
    return None


def python_comments(text):
    import io
    import tokenize
    out = []
    try:
        toks = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return list(enumerate(text.split("\n"), 1))
    for t in toks:
        if t.type == tokenize.COMMENT:
            out.append((t.start[0], t.string))
        elif t.type == tokenize.STRING and re.match(r"[rRbBuUfF]*('''|\"\"\")",
                                                    t.string):
            for k, part in enumerate(t.string.split("\n")):
                out.append((t.start[0] + k, part))
    return out


def check_file(path, text, errors):
    if path in FROZEN:
        return
    if path not in WORDING_EXEMPT:
        lines = comment_lines(path, text)
        for ln, s in lines or []:
            for rx, why in WORDING:
                m = rx.search(s)
                if m:
                    errors.append("error: '%s' in a doc or comment: %s (%s:%d)"
                                  % (m.group(0), why, path, ln))
    if base_ext(path) not in CXX_EXT:
        return
    code, comments = split_c(text)
    for off in op_switch_defaults(code):
        errors.append("error: `default:` in a switch over OpKind: list the "
                      "ops, or test a property or kind outside the switch "
                      "(docs/ops-and-kernels.md, \"The op table\") (%s:%d)"
                      % (path, line_of(code, off)))
    if path.startswith(STATUS_ONLY):
        for m in STRING_ERROR.finditer(code):
            errors.append("error: an error passed up as a string (`if "
                          "(!%s.empty()) return %s;`): core/accel returns "
                          "Status or Expected<T> (core/support/Error.h) "
                          "(%s:%d)" % (m.group(1), m.group(1), path,
                                       line_of(code, m.start())))
    by_line = {ln: s.strip() for ln, s in comments}
    for ln, s in comments:
        st = s.strip()
        nxt = by_line.get(ln + 1, "")
        if (re.match(r"//\s*-{2,}\s+\S", st) and not st.endswith("-") and
                re.match(r"//\s*-{10,}$", nxt)):
            errors.append("error: a section title whose rule of dashes went "
                          "to the next line: join them, within 80 columns "
                          "(%s:%d)" % (path, ln))
            continue
        if st.startswith("//===-") and len(s.rstrip()) > 80:
            errors.append("error: a file banner over 80 columns: clang-format "
                          "will break it (%s:%d)" % (path, ln))
        elif st.startswith("//===-") and not st.endswith("===//"):
            errors.append("error: a file banner broken over two lines: put "
                          "'//===- NAME - what ---===//' on one line of at "
                          "most 80 columns (%s:%d)" % (path, ln))
        elif st.startswith("/*===-") and not (st.endswith("===*") or
                                              st.endswith("===*/")):
            errors.append("error: a file banner broken over two lines: put "
                          "'/*===- NAME - what ---===*' on one line (%s:%d)"
                          % (path, ln))
        elif re.match(r"//\s*-{6,}\s+\w", st) and not st.endswith("-"):
            errors.append("error: text after a rule of dashes (a reflowed "
                          "title?): give the title its own line (%s:%d)"
                          % (path, ln))
        elif re.match(r"\*[A-Za-z0-9(`'\"]", st) and not st.startswith("*/") \
                and not st.startswith("/*"):
            errors.append("error: a block comment line without the space "
                          "after its '*' (a reflowed comment?) (%s:%d)"
                          % (path, ln))


def main(argv):
    if any(a in ("-h", "--help") for a in argv):
        print(__doc__.strip())
        return 0
    for a in argv:
        if a.startswith("-"):
            print("error: unknown argument '%s' (scripts/check-source-rules.py;"
                  " see --help)" % a, file=sys.stderr)
            return 2
    files = argv or subprocess.run(
        ["git", "ls-files", "-z"], check=True, capture_output=True,
        text=True).stdout.split("\0")
    errors = []
    checked = 0
    for f in files:
        if not f or not os.path.isfile(f):
            continue
        with open(f, "rb") as fh:
            raw = fh.read()
        if b"\0" in raw[:8192]:
            continue
        checked += 1
        check_file(f, raw.decode("utf-8", "replace"), errors)
    for e in errors:
        print(e, file=sys.stderr)
    print("rules: %d files, %d problems (wording, OpKind switches, banners, "
          "errors)"
          % (checked, len(errors)))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

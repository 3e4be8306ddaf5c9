#!/usr/bin/env python3
"""docs/npu-sdk.md's field tables against the target parser.

  check_field_tables.py ROOT

The section "Form and operation fields" of docs/npu-sdk.md has a table whose
header starts "form field" (one form field a row, in backquotes) and one
whose header starts "operation field" (the fields in backquotes, then the
operations they belong to, comma-separated, or "any"). They must name
exactly what core/accel/target/Target.cpp accepts: the form fields of
parseForms' `only` list, and per operation (kOpNames) its encoding's fields
(knownFields) and the flags allowedOpFields adds. Each mismatch is one line
`error: <what> (docs/npu-sdk.md, "Form and operation fields")`; exit 0 when
they agree.
"""
import os
import re
import sys

DOC = "docs/npu-sdk.md"
SECTION = "Form and operation fields"


def strings(text):
    return re.findall(r'"([^"]*)"', text)


def braces(text, start):
    """The text of the brace group opening at text[start] ('{')."""
    depth = 0
    for i in range(start, len(text)):
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        if depth == 0:
            return text[start + 1:i]
    raise ValueError("unbalanced braces")


def code_fields(src):
    """(form fields, {op: set of fields}) as Target.cpp accepts them."""
    m = re.search(r"kOpNames\[kNumOpKinds\] = \{", src)
    ops = strings(braces(src, m.end() - 1))
    m = re.search(r"f\[kNumOpKinds\] = \{", src)
    body = braces(src, m.end() - 1)
    groups, i = [], 0
    while True:
        j = body.find("{", i)
        if j < 0:
            break
        inner = braces(body, j)
        groups.append(set(strings(inner)))
        i = j + len(inner) + 2
    if len(groups) != len(ops):
        raise ValueError(f"{len(groups)} field lists for {len(ops)} operations")
    fields = dict(zip(ops, groups))
    m = re.search(r"std::vector<const char \*> allowedOpFields\(OpKind k\) \{",
                  src)
    body = braces(src, m.end() - 1)
    # Each statement adding fields: `for (... : {"a", "b"}) f.push_back(x);`
    # or `f.push_back("a");`, under the `if` before it (its OpKind names)
    # or none (every operation).
    for st in re.finditer(r"(if \(([^;{]*?)\)\s*)?(for \([^)]*\{([^}]*)\}\)\s*"
                          r"f\.push_back\(\w+\);|f\.push_back\(\"(\w+)\"\);)",
                          body):
        cond = st.group(2)
        names = strings(st.group(4)) if st.group(4) else [st.group(5)]
        kinds = re.findall(r"OpKind::(\w+)", cond or "")
        targets = ops if not kinds else [
            o for o in ops if any(o == k.lower() for k in kinds)]
        for o in targets:
            fields[o].update(names)
    m = re.search(r'f\.only\(\{"form",([^}]*)\}', src)
    form_fields = {"form"} | set(strings(m.group(1)))
    return form_fields, fields


def doc_tables(text):
    m = re.search(r"^### " + re.escape(SECTION) + r"\n(.*?)(?=^#{2,3} )", text,
                  re.S | re.M)
    if not m:
        return None, None
    form, ops, cur = set(), {}, None
    for line in m.group(1).splitlines():
        if not line.startswith("|"):
            cur = None
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells[0] in ("form field", "operation field"):
            cur = cells[0]
            continue
        if set(cells[0]) <= set("-: "):
            continue
        names = re.findall(r"`([^`]+)`", cells[0])
        if cur == "form field":
            form.update(names)
        elif cur == "operation field":
            for o in [x.strip() for x in cells[1].split(",")]:
                ops.setdefault(o, set()).update(names)
    return form, ops


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "."
    src = open(os.path.join(root, "core/accel/target/Target.cpp")).read()
    text = open(os.path.join(root, DOC)).read()
    where = f'({DOC}, "{SECTION}")'
    form_code, ops_code = code_fields(src)
    form_doc, ops_doc = doc_tables(text)
    if form_doc is None:
        print(f"error: no section {where}")
        return 1
    errors = []
    for f in sorted(form_code - form_doc):
        errors.append(f"form field '{f}' is not in the table")
    for f in sorted(form_doc - form_code):
        errors.append(f"form field '{f}' is not one the parser accepts")
    every = ops_doc.pop("any", set())
    for o in sorted(set(ops_doc) - set(ops_code)):
        errors.append(f"'{o}' is not an operation")
    for o, want in sorted(ops_code.items()):
        have = ops_doc.get(o, set()) | every
        for f in sorted(want - have):
            errors.append(f"field '{f}' of {o} is not in the table")
        for f in sorted(have - want):
            errors.append(f"field '{f}' is not one {o} accepts")
    for e in errors:
        print(f"error: {e} {where}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())

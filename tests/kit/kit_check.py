#!/usr/bin/env python3
"""Runs a command (ember, ember-kit) and checks how it ended, what it said,
and the kit's JSON and JUnit reports. Used by tests/kit/CMakeLists.txt.

  kit_check.py [--exit=0|nonzero|N] [--regex=RE]... [--stderr-regex=RE]...
               [--json=F] [--junit=F]
               [--failed=N] [--min-failed=N] [--all-pass=LAYER]...
               [--all-skip=LAYER]... [--test=NAME:STATUS[:RE]]...
               [--plugin-abi=M.m] [--failed-message=RE]
               [--junit-failure=RE] [--max-seconds=S] -- CMD ARGS...

A command killed by a signal always fails the check (the host must never
crash). --regex searches stdout and stderr together, --stderr-regex stderr,
--not-regex must not match either. --junit-failure needs a <failure> in the
JUnit file whose message matches; --max-seconds bounds the command's time.
"""
import argparse
import json
import re
import subprocess
import sys
import time
import xml.etree.ElementTree as ET


def fail(msg, out=""):
    sys.stderr.write("kit_check: FAIL: %s\n" % msg)
    if out:
        sys.stderr.write("---- output ----\n%s\n" % out[-6000:])
    sys.exit(1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--exit", default="0")
    ap.add_argument("--regex", action="append", default=[])
    ap.add_argument("--stderr-regex", action="append", default=[])
    ap.add_argument("--json")
    ap.add_argument("--junit")
    ap.add_argument("--failed", type=int)
    ap.add_argument("--min-failed", type=int)
    ap.add_argument("--all-pass", action="append", default=[])
    ap.add_argument("--all-skip", action="append", default=[])
    ap.add_argument("--test", action="append", default=[])
    ap.add_argument("--plugin-abi")
    ap.add_argument("--failed-message")
    ap.add_argument("--not-regex", action="append", default=[])
    ap.add_argument("--junit-failure", action="append", default=[])
    ap.add_argument("--max-seconds", type=float)
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    cmd = a.cmd[1:] if a.cmd and a.cmd[0] == "--" else a.cmd
    if not cmd:
        fail("no command")
    start = time.monotonic()
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=300)
    seconds = time.monotonic() - start
    out = p.stdout.decode("utf-8", "replace") + p.stderr.decode("utf-8",
                                                                "replace")
    print("kit_check: %s took %.1f s, exit status %d" %
          (cmd[0], seconds, p.returncode))
    if a.max_seconds is not None and seconds > a.max_seconds:
        fail("took %.1f s, more than %.1f s" % (seconds, a.max_seconds), out)
    if p.returncode < 0:
        fail("%s was killed by signal %d" % (cmd[0], -p.returncode), out)
    if a.exit == "nonzero":
        if p.returncode == 0:
            fail("exit status 0, expected non-zero", out)
    elif p.returncode != int(a.exit):
        fail("exit status %d, expected %s" % (p.returncode, a.exit), out)
    for r in a.regex:
        if not re.search(r, out):
            fail("output does not match /%s/" % r, out)
    for r in a.not_regex:
        m = re.search(r, out)
        if m:
            fail("output matches /%s/: %r" % (r, m.group(0)), out)
    err = p.stderr.decode("utf-8", "replace")
    for r in a.stderr_regex:
        if not re.search(r, err):
            fail("stderr does not match /%s/" % r, out)

    report = None
    if a.json:
        try:
            with open(a.json) as f:
                report = json.load(f)
        except Exception as e:  # noqa: BLE001
            fail("cannot read the JSON report %s: %s" % (a.json, e), out)
        for k in ("plugin", "host", "summary", "layers", "tests"):
            if k not in report:
                fail("the JSON report has no '%s'" % k)
        for k in ("name", "version", "abi"):
            if k not in report["plugin"]:
                fail("the JSON report's plugin has no '%s'" % k)
        s = report["summary"]
        if a.failed is not None and s["failed"] != a.failed:
            fail("%d failed tests, expected %d" % (s["failed"], a.failed), out)
        if a.min_failed is not None and s["failed"] < a.min_failed:
            fail("%d failed tests, expected at least %d" %
                 (s["failed"], a.min_failed), out)
        for layer in a.all_pass:
            c = report["layers"].get(layer)
            if not c or c["passed"] == 0 or c["failed"] or c["skipped"] or \
                    c["notrun"]:
                fail("layer %s: %s, expected every test passed" % (layer, c))
        for layer in a.all_skip:
            c = report["layers"].get(layer)
            if not c or c["skipped"] == 0 or c["passed"] or c["failed"] or \
                    c["notrun"]:
                fail("layer %s: %s, expected every test skipped" % (layer, c))
        tests = {t["name"]: t for t in report["tests"]}
        for spec in a.test:
            parts = spec.split(":", 2)
            t = tests.get(parts[0])
            if not t:
                fail("no test %s in the JSON report" % parts[0])
            if t["status"] != parts[1]:
                fail("%s is %s, expected %s: %s" %
                     (parts[0], t["status"], parts[1], t["message"]))
            if len(parts) > 2 and not re.search(parts[2], t["message"]):
                fail("%s: message does not match /%s/: %s" %
                     (parts[0], parts[2], t["message"]))
        if a.failed_message:
            if not any(t["status"] == "failed" and
                       re.search(a.failed_message, t["message"])
                       for t in report["tests"]):
                fail("no failed test's message matches /%s/" %
                     a.failed_message, out)
        if a.plugin_abi:
            abi = report["plugin"]["abi"]
            got = "%d.%d" % (abi["major"], abi["minor"]) if abi else "none"
            if got != a.plugin_abi:
                fail("plugin ABI %s in the report, expected %s" %
                     (got, a.plugin_abi))

    if a.junit:
        try:
            root = ET.parse(a.junit).getroot()
        except Exception as e:  # noqa: BLE001
            fail("cannot parse the JUnit report %s: %s" % (a.junit, e), out)
        cases = root.findall(".//testcase")
        failures = [c for c in cases if c.find("failure") is not None]
        for r in a.junit_failure:
            if not any(re.search(r, c.find("failure").get("message", ""))
                       for c in failures):
                fail("no JUnit failure message matches /%s/" % r, out)
        if root.get("tests") is None:  # ember conform's own JUnit
            pass
        elif int(root.get("tests", "-1")) != len(cases):
            fail("JUnit: tests=%s but %d testcases" %
                 (root.get("tests"), len(cases)))
        elif int(root.get("failures", "-1")) != len(failures):
            fail("JUnit: failures=%s but %d failed testcases" %
                 (root.get("failures"), len(failures)))
        if report is not None:
            if len(cases) != report["summary"]["total"]:
                fail("JUnit has %d testcases, the JSON report %d tests" %
                     (len(cases), report["summary"]["total"]))
            if len(failures) != report["summary"]["failed"]:
                fail("JUnit has %d failures, the JSON report %d" %
                     (len(failures), report["summary"]["failed"]))


if __name__ == "__main__":
    main()

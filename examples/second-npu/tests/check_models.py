#!/usr/bin/env python3
"""Runs ONNX test cases on the second NPU and checks them against Ember's
reference interpreter (docs/second-npu.md, "Tests").

For each case folder (model.onnx + test_data_set_0/input_*.pb), or each case
inside a folder given:
  1. `ember run --target=interp` and `ember run --target=plugin:SO
     --npu-report` on the same inputs;
  2. every output must equal the interpreter's byte for byte;
  3. from the run: the share of the model's MACs that ran on the NPU (the
     `second-npu: ... second-npu_mac_share=S` line) and, per layer, the cost
     model's prediction against the layer run alone on the simulator.

    check_models.py --ember EMBER --plugin SO [--min-share F]
        [--max-host-nodes N] [--max-median-err F] [--json OUT]
        [--requant PROFILE] CASE_OR_FOLDER...

--max-host-nodes: at most N nodes of each case on the host (the run's
fallback_nodes; a QDQ model's input QuantizeLinear and output
DequantizeLinear are two).

--requant: the profile the plugin declares (docs/quantization.md), which
both runs use.

A path that does not exist is skipped with a reason (the shared models are
optional); exit 77 when nothing was found to run, 1 on any failure.
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile


def cases_of(paths):
    out = []
    for p in paths:
        if not os.path.exists(p):
            print(f"skip: {p} not found")
        elif os.path.isfile(os.path.join(p, "model.onnx")):
            out.append(p)
        else:
            out += [os.path.join(p, d) for d in sorted(os.listdir(p))
                    if os.path.isfile(os.path.join(p, d, "model.onnx"))]
    return out


def input_names(model_path):
    import onnx
    m = onnx.load(model_path, load_external_data=False)
    inits = {t.name for t in m.graph.initializer}
    return [i.name for i in m.graph.input if i.name not in inits], \
        len(m.graph.output)


def run(args, model, target, inputs, out, extra=()):
    cmd = [args.ember, "run", model, "--target=" + target,
           "--save-outputs", out, "--fallback=interp"] + list(extra)
    if args.requant:
        cmd.append("--requant=" + args.requant)
    for name, path in inputs:
        cmd += ["--input", f"{name}={path}"]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=900)


def number(s):
    return re.match(r"^-?\d+(\.\d+)?([eE][-+]?\d+)?$", s) is not None


def layer_row(line):
    """A row of the layer report (part, layer, op, cycles, alone,
    predicted, model_err, ...) or None. The layer's name is the source
    node's and may be empty (an exporter that names no nodes) or hold
    spaces: the op is the field before the first three numbers."""
    f = line.split()
    if len(f) < 6 or not f[0].isdigit():
        return None
    for j in range(2, len(f) - 3):
        if number(f[j]) and number(f[j + 1]) and number(f[j + 2]) and \
                number(f[j + 3]) and not number(f[j - 1]):
            return {"layer": " ".join(f[1:j - 1]), "op": f[j - 1],
                    "alone": float(f[j + 1]), "predicted": float(f[j + 2])}
    return None


def check(case, args):
    model = os.path.join(case, "model.onnx")
    res = {"case": os.path.basename(case.rstrip("/")), "ok": True, "msg": "",
           "layers": []}
    names, nout = input_names(model)
    sets = sorted(d for d in os.listdir(case) if d.startswith("test_data_set"))
    inputs = []
    if sets:
        d = os.path.join(case, sets[0])
        inputs = [(n, os.path.join(d, f"input_{i}.pb"))
                  for i, n in enumerate(names)
                  if os.path.exists(os.path.join(d, f"input_{i}.pb"))]
    with tempfile.TemporaryDirectory() as tmp:
        ref = run(args, model, "interp", inputs, os.path.join(tmp, "ref"))
        if ref.returncode:
            return dict(res, ok=False, msg="interp: " + ref.stderr[-300:])
        npu = run(args, model, "plugin:" + args.plugin, inputs,
                  os.path.join(tmp, "npu"), ["--npu-report"])
        if npu.returncode:
            return dict(res, ok=False, msg="npu: " + npu.stderr[-400:])
        m = re.search(r"second-npu: cycles=(\d+) mac_util=(\S+) dma_bytes=(\d+)"
                      r" overlap=(\S+) second-npu_mac_share=(\S+)", npu.stdout)
        if m:
            res.update(cycles=int(m.group(1)), mac_util=float(m.group(2)),
                       share=float(m.group(5)))
        m = re.search(r"fallback_nodes=(\d+)", npu.stdout + npu.stderr)
        if m:
            res.update(host_nodes=int(m.group(1)))
        else:
            res.update(share=0.0)
        # The layer table: part, layer, op, cycles, alone, predicted, err, ...
        for line in npu.stdout.splitlines():
            row = layer_row(line)
            if row and row["alone"] > 0:
                res["layers"].append(row)
        for i in range(nout):
            a = open(os.path.join(tmp, "ref", f"output_{i}.pb"), "rb").read()
            b = open(os.path.join(tmp, "npu", f"output_{i}.pb"), "rb").read()
            if a != b:
                return dict(res, ok=False,
                            msg=f"output {i} differs from the interpreter")
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ember", required=True)
    ap.add_argument("--plugin", required=True)
    ap.add_argument("--min-share", type=float)
    ap.add_argument("--max-host-nodes", type=int)
    ap.add_argument("--max-median-err", type=float)
    ap.add_argument("--json")
    # The arithmetic the plugin declares (its description's `arithmetic`):
    # the interpreter runs in it, so it is bit-exact with the device.
    ap.add_argument("--requant")
    ap.add_argument("paths", nargs="*")
    args = ap.parse_args()
    cases = cases_of(args.paths)
    if not cases:
        print("skip: no test cases found")
        return 77
    results, errs, bad = [], [], 0
    for c in cases:
        r = check(c, args)
        results.append(r)
        share = r.get("share")
        if r["ok"] and args.min_share is not None and share is not None and \
                r.get("cycles") and share < args.min_share:
            r.update(ok=False, msg=f"MAC share {share} < {args.min_share}")
        host = r.get("host_nodes")
        if r["ok"] and args.max_host_nodes is not None and \
                (host is None or host > args.max_host_nodes):
            r.update(ok=False, msg=f"{host} nodes on the host > "
                     f"{args.max_host_nodes}")
        layer_errs = [(l["predicted"] - l["alone"]) / l["alone"]
                      for l in r["layers"]]
        errs += layer_errs
        bad += not r["ok"]
        med = statistics.median(abs(e) for e in layer_errs) \
            if layer_errs else 0.0
        r["median_abs_err"] = med
        print(f"{'PASS' if r['ok'] else 'FAIL'} {r['case']} "
              f"share={share if share is not None else '-'} "
              f"cycles={r.get('cycles', '-')} "
              f"mac_util={r.get('mac_util', '-')} "
              f"host_nodes={r.get('host_nodes', '-')} layers={len(layer_errs)} "
              f"median_err={med:.3f} {r['msg']}")
    med = statistics.median(abs(e) for e in errs) if errs else 0.0
    print(f"{len(cases) - bad} of {len(cases)} passed (bit-exact with the "
          f"interpreter, within the share and host-node bounds); "
          f"cost model vs simulator over {len(errs)} layers: median |error| "
          f"{med:.3f}")
    if args.json:
        json.dump({"cases": results, "median_abs_err": med}, open(args.json, "w"),
                  indent=1)
    if args.max_median_err is not None and errs and med > args.max_median_err:
        print(f"FAIL: median cost-model error {med:.3f} > {args.max_median_err}")
        return 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

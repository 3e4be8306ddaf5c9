#!/usr/bin/env python3
"""Runs int8 models on the NPU backend and checks them (tests/npu/README.md).

For every case folder (model.onnx + test_data_set_N/input_*.pb, output_*.pb):
  1. `ember run --target=interp`: the reference interpreter;
  2. `ember run --target=<npu> --fallback=interp` on the chosen executor;
  3. the NPU outputs must equal the interpreter's byte for byte, and every
     element must be within one output quantum of ONNX Runtime's reference
     (the scale of the QuantizeLinear/DequantizeLinear that makes the output);
     exact elements are counted.
It prints one line per case and a summary with the share of the model's
multiply-accumulates that ran on the NPU (from the run's npu: line).

    check_npu.py --ember build/bin/ember [--target npu-sim | --target
        plugin:PATH.so] [--executor systemc|golden] [--jobs N]
        [--min-share F] [--max-plugin-partitions N] [--qdq-from FP32_CASE]...
        [--json OUT] CASE_OR_FOLDER...

A folder holding case folders is expanded. --qdq-from adds an int8 QDQ copy
of an fp32 case made by ONNX Runtime's quantize_static
(scripts/quantize-with-ort.py; skipped without onnxruntime);
--max-plugin-partitions fails a model that the plugin runs in more
partitions (a model expected whole on the NPU between its input
QuantizeLinear and output DequantizeLinear: 1); --require-layer OP fails a
model whose compiled NPU layers (`--emit=npu-layers`) hold no layer of that
op (form). Exit 1 on any mismatch.

A case folder may carry two files of its own, each one line or more of
arguments (shell quoting, `#` comments):
  ember_args.txt  options given to every `ember` run of the case, the
                  interpreter's and the NPU's alike (e.g.
                  --integer-recurrent); not the ones this script sets
                  (--target, --fallback, --input, --save-outputs,
                  --backend-opt, --emit);
  check_args.txt  the case's own --min-share, --max-plugin-partitions,
                  --ort-max-quanta and --require-layer, in place of the
                  command line's (a looser bound says why in a comment).
Bad content in either is a clear error for that case.
"""
import argparse
import concurrent.futures
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import numpy_helper


def load_pb(path):
    t = onnx.TensorProto()
    t.ParseFromString(open(path, "rb").read())
    return numpy_helper.to_array(t)


def cases_of(paths):
    out = []
    for p in paths:
        if not os.path.exists(p):
            print(f"skip: {p} not found")
            continue
        if os.path.isfile(os.path.join(p, "model.onnx")):
            out.append(p)
        elif os.path.isdir(p):
            for d in sorted(os.listdir(p)):
                if os.path.isfile(os.path.join(p, d, "model.onnx")):
                    out.append(os.path.join(p, d))
    return out


def output_quanta(model):
    """Per graph output: the scale of the DequantizeLinear that makes it."""
    inits = {t.name: t for t in model.graph.initializer}
    consts = {}
    for n in model.graph.node:
        if n.op_type == "Constant":
            for a in n.attribute:
                if a.name == "value":
                    consts[n.output[0]] = a.t
    prod = {o: n for n in model.graph.node for o in n.output}
    quanta = []
    for o in model.graph.output:
        n = prod.get(o.name)
        # Walk back through shape-only ops to the DequantizeLinear.
        while n is not None and n.op_type in ("Reshape", "Flatten", "Squeeze",
                                              "Unsqueeze", "Identity",
                                              "Transpose"):
            n = prod.get(n.input[0])
        q = None
        if n is not None and n.op_type == "DequantizeLinear":
            t = inits.get(n.input[1]) or consts.get(n.input[1])
            if t is not None:
                q = float(np.max(numpy_helper.to_array(t)))
        quanta.append(q)
    return quanta


# Options check_npu.py sets itself, which a case's ember_args.txt must not.
OWN_OPTIONS = ("--target", "--fallback", "--input", "--save-outputs",
               "--backend-opt", "--emit")


def case_file_args(case, name):
    """The arguments in CASE/NAME ([] without the file); ValueError with
    the file's path for content that cannot be split."""
    path = os.path.join(case, name)
    if not os.path.exists(path):
        return []
    try:
        words = shlex.split(open(path).read(), comments=True)
    except ValueError as e:
        raise ValueError(f"{path}: {e}") from None
    if not words:
        raise ValueError(f"{path}: no arguments (remove the file)")
    if not words[0].startswith("--"):
        raise ValueError(f"{path}: '{words[0]}' is not an option (the "
                         "arguments start with --)")
    return words


def ember_args_of(case):
    words = case_file_args(case, "ember_args.txt")
    for w in words:
        if w.split("=")[0] in OWN_OPTIONS:
            raise ValueError(f"{os.path.join(case, 'ember_args.txt')}: {w} "
                             "is set by check_npu.py (allowed: any other "
                             "ember option)")
    return words


def check_args_parser():
    p = argparse.ArgumentParser(prog="check_args.txt", add_help=False,
                                exit_on_error=False)
    p.add_argument("--min-share", type=float)
    p.add_argument("--max-plugin-partitions", type=int)
    p.add_argument("--ort-max-quanta", type=int)
    p.add_argument("--require-layer", action="append")
    return p


def case_args(case, args):
    """ARGS with the case's check_args.txt bounds in place; ValueError on
    bad content."""
    words = case_file_args(case, "check_args.txt")
    if not words:
        return args
    path = os.path.join(case, "check_args.txt")
    try:
        own, rest = check_args_parser().parse_known_args(words)
    except argparse.ArgumentError as e:
        raise ValueError(f"{path}: {e}") from None
    if rest:
        raise ValueError(f"{path}: unknown arguments {' '.join(rest)} "
                         "(allowed: --min-share, --max-plugin-partitions, "
                         "--ort-max-quanta, --require-layer)")
    merged = argparse.Namespace(**vars(args))
    for k, v in vars(own).items():
        if v is not None:
            setattr(merged, k, v)
    return merged


def layer_ops(ember, model, target, extra):
    """The ops of the compiled NPU layers (`--emit=npu-layers`), or an
    error string."""
    p = subprocess.run([ember, "compile", model, "--target=" + target,
                        "--emit=npu-layers"] + extra, capture_output=True,
                       text=True, timeout=900)
    if p.returncode:
        return None, p.stderr.strip()[-300:]
    return set(re.findall(r'^layer \d+ .*? op="([^"]+)"', p.stdout,
                          re.M)), ""


def run(ember, model, target, inputs, outdir, extra):
    cmd = [ember, "run", model, "--target=" + target, "--save-outputs", outdir]
    for name, path in inputs:
        cmd += ["--input", f"{name}={path}"]
    cmd += extra
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    return p.returncode, p.stdout, p.stderr


def check_case(case, args):
    model_path = os.path.join(case, "model.onnx")
    model = onnx.load(model_path, load_external_data=False)
    init_names = {t.name for t in model.graph.initializer}
    names = [i.name for i in model.graph.input if i.name not in init_names]
    sets = sorted(d for d in os.listdir(case) if d.startswith("test_data_set"))
    quanta = output_quanta(model)
    res = {"case": os.path.basename(case.rstrip("/")), "ok": True,
           "elements": 0, "exact": 0, "within1": 0, "msg": ""}
    try:
        own = ember_args_of(case)
        args = case_args(case, args)
    except ValueError as e:
        res.update(ok=False, msg=str(e))
        return res
    res["args"] = args
    if args.require_layer:
        ops, err = layer_ops(args.ember, model_path, args.target, own)
        if ops is None:
            res.update(ok=False, msg="--emit=npu-layers: " + err)
            return res
        missing = [o for o in args.require_layer if o not in ops]
        if missing:
            res.update(ok=False, msg=f"no NPU layer of op {', '.join(missing)}"
                       f" (layers: {', '.join(sorted(ops)) or 'none'})")
            return res
    with tempfile.TemporaryDirectory() as tmp:
        for s in sets[:1]:
            d = os.path.join(case, s)
            inputs = [(n, os.path.join(d, f"input_{i}.pb"))
                      for i, n in enumerate(names)]
            rc, out, err = run(args.ember, model_path, "interp", inputs,
                               os.path.join(tmp, "ref"), own)
            if rc:
                res.update(ok=False, msg="interp: " + err.strip()[-300:])
                return res
            extra = ["--fallback=" + args.fallback,
                     "--backend-opt", "executor=" + args.executor]
            for kv in args.backend_opt:
                extra += ["--backend-opt", kv]
            extra += own
            rc, out, err = run(args.ember, model_path, args.target, inputs,
                               os.path.join(tmp, "npu"), extra)
            if rc:
                res.update(ok=False, msg="npu: " + err.strip()[-400:])
                return res
            m = re.search(r"npu: cycles=(\d+) mac_util=(\S+) dma_bytes=(\d+) "
                          r"overlap=(\S+) npu_mac_share=(\S+)", out)
            if m:
                res.update(cycles=int(m.group(1)), mac_util=float(m.group(2)),
                           dma_bytes=int(m.group(3)),
                           share=float(m.group(5)))
            m = re.search(r"plugin_nodes=(\d+) fallback_nodes=(\d+)", out)
            if m:
                res.update(npu_nodes=int(m.group(1)),
                           host_nodes=int(m.group(2)))
            m = re.search(r"plugin_partitions=(\d+)", out)
            if m:
                res.update(npu_partitions=int(m.group(1)))
            for i in range(len(model.graph.output)):
                a = open(os.path.join(tmp, "ref", f"output_{i}.pb"), "rb").read()
                b = open(os.path.join(tmp, "npu", f"output_{i}.pb"), "rb").read()
                if a != b:
                    x = load_pb(os.path.join(tmp, "ref", f"output_{i}.pb"))
                    y = load_pb(os.path.join(tmp, "npu", f"output_{i}.pb"))
                    bad = int(np.sum(x != y)) if x.shape == y.shape else -1
                    res.update(ok=False, msg=f"output {i}: {bad} elements "
                               "differ from the interpreter")
                    return res
                want = os.path.join(d, f"output_{i}.pb")
                if not os.path.exists(want):
                    continue
                y = load_pb(os.path.join(tmp, "npu", f"output_{i}.pb")).astype(
                    np.float64)
                w = load_pb(want).astype(np.float64)
                if y.shape != w.shape:
                    res.update(ok=False, msg=f"output {i}: shape {y.shape}, "
                               f"ONNX Runtime {w.shape}")
                    return res
                diff = np.abs(y - w)
                q = quanta[i] if i < len(quanta) else None
                res["elements"] += int(diff.size)
                res["exact"] += int(np.sum(diff == 0))
                if q:
                    quanta = np.rint(diff / q).astype(np.int64)
                    res["within1"] += int(np.sum(quanta <= 1))
                    hist = res.setdefault("quanta", {})
                    for k, c in zip(*np.unique(quanta, return_counts=True)):
                        hist[int(k)] = hist.get(int(k), 0) + int(c)
                    if int(quanta.max()) > args.ort_max_quanta:
                        res.update(ok=False, msg=f"output {i}: "
                                   f"{int(np.sum(quanta > args.ort_max_quanta))}"
                                   f" elements more than {args.ort_max_quanta}"
                                   f" quantum ({q:g}) from ONNX Runtime, max "
                                   f"{int(quanta.max())}")
                        return res
                else:
                    res["within1"] += int(diff.size)
                    res["msg"] = "no output quantum found"
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ember", required=True)
    ap.add_argument("--target", default="npu-sim")
    ap.add_argument("--executor", default="systemc")
    ap.add_argument("--fallback", default="interp")
    ap.add_argument("--backend-opt", action="append", default=[],
                    help="KEY=VALUE passed to the plugin (e.g. bias=gemm)")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--ort-max-quanta", type=int, default=1,
                    help="fail when an element is further from ONNX "
                    "Runtime's output (in output quanta)")
    ap.add_argument("--min-share", type=float, default=None,
                    help="fail when a model's npu_mac_share is lower")
    ap.add_argument("--max-plugin-partitions", type=int, default=None,
                    help="fail when a model runs in more plugin partitions")
    ap.add_argument("--require-layer", action="append", default=[],
                    help="fail when the compiled NPU layers hold no layer "
                    "of this op (e.g. table16)")
    ap.add_argument("--qdq-from", action="append", default=[])
    ap.add_argument("--json")
    ap.add_argument("paths", nargs="*")
    args = ap.parse_args()
    cases = cases_of(args.paths)
    tmp = tempfile.TemporaryDirectory()
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                    "..", "..", "scripts"))
    from qdq_copies import add_copies
    if not add_copies(cases, args.qdq_from, tmp.name):
        return 1
    if not cases:
        print("skip: no cases found")
        return 77
    results = []
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as ex:
        for r in ex.map(lambda c: check_case(c, args), cases):
            a = r.pop("args", args)  # with the case's own bounds
            if (a.min_share is not None and r["ok"] and
                    r.get("share", 0) < a.min_share):
                r.update(ok=False, msg=f"npu_mac_share {r.get('share', 0)} "
                         f"< {a.min_share}")
            if (a.max_plugin_partitions is not None and r["ok"] and
                    "npu_partitions" not in r):
                r.update(ok=False, msg="no partition summary in the run's "
                         "output (plugin_partitions=)")
            elif (a.max_plugin_partitions is not None and r["ok"] and
                    r["npu_partitions"] > a.max_plugin_partitions):
                r.update(ok=False, msg=f"{r['npu_partitions']} plugin "
                         f"partitions > {a.max_plugin_partitions}")
            results.append(r)
            share = r.get("share")
            hist = " ".join(f"{k}:{v}" for k, v in
                            sorted(r.get("quanta", {}).items()))
            print(f"{'PASS' if r['ok'] else 'FAIL'} {r['case']} "
                  f"exact={r['exact']}/{r['elements']} ort_quanta=[{hist}] "
                  f"share={share if share is not None else '-'} "
                  f"cycles={r.get('cycles', '-')} {r['msg']}", flush=True)
    ok = sum(r["ok"] for r in results)
    el = sum(r["elements"] for r in results)
    ex_ = sum(r["exact"] for r in results)
    w1 = sum(r["within1"] for r in results)
    placed = sum(1 for r in results if r.get("share", 0) > 0 or
                 r.get("npu_nodes", 0) > 0)
    print(f"{ok} of {len(results)} bit-exact with the interpreter; "
          f"{w1} of {el} elements within one quantum of ONNX Runtime, "
          f"{ex_} exact; {placed} cases ran on the NPU")
    if args.json:
        json.dump(results, open(args.json, "w"), indent=1)
    return 0 if ok == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())

"""Where Ember and ONNX Runtime first differ inside a quantized model, and why.

Used by `int8_vs_ort.py --per-layer`. Every quantized activation of the
model (the output of a QuantizeLinear, a QLinear* op or another node whose
result is 8-bit) becomes a graph output; ONNX Runtime (CPU EP, default
optimizations, so its QDQ fusions run as they do for users) and `ember run`
compute them all, and the tensors are compared in graph order. The first one
that differs is reported with the op that computed it, how many elements
differ and, for each of them, the exact value the op should round:

    v = op(dequantized inputs) / y_scale + y_zero_point

evaluated in float64 from the quantized inputs both sides agree on (ONNX's
reference evaluator runs the float op). An element whose v lies on .5 is a
*tie*, one within 1e-5 of .5 (the float32 error of ONNX Runtime's
requantization) a *near-tie*, anything else *other* (a different function:
a kernel's own algorithm, a table, a bug). Downstream tensors are then only
counted: their differences follow from the first.
"""
import os
import subprocess
import tempfile

import numpy as np
import onnx
from onnx import helper, numpy_helper

QLINEAR_Y = {  # op -> (index of y_scale, index of y_zero_point)
    "QLinearConv": (6, 7), "QLinearMatMul": (6, 7), "QLinearAdd": (6, 7),
    "QLinearMul": (6, 7), "QLinearGlobalAveragePool": (3, 4),
    "QLinearAveragePool": (3, 4), "QLinearSigmoid": (3, 4),
    "QLinearLeakyRelu": (3, 4), "QLinearSoftmax": (3, 4),
    "QLinearConcat": (0, 1), "QGemm": (6, 7)}

TIE_EPS = 1e-9      # float64 evaluation error on a value of order 1..255
NEAR_TIE = 1e-5     # float32 requantization error


def constants(model):
    out = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    for n in model.graph.node:
        if n.op_type == "Constant":
            for a in n.attribute:
                if a.name == "value":
                    out[n.output[0]] = numpy_helper.to_array(a.t)
    return out


def quantized_tensors(model):
    """Computed 8- and 16-bit tensors in graph order (name -> producing
    node)."""
    consts = constants(model)
    try:
        inferred = onnx.shape_inference.infer_shapes(model)
        types = {v.name: v.type.tensor_type.elem_type
                 for v in list(inferred.graph.value_info) +
                 list(inferred.graph.output)}
    except Exception:  # contrib ops shape inference cannot see
        types = {}
    eight = (onnx.TensorProto.UINT8, onnx.TensorProto.INT8,
             onnx.TensorProto.UINT16, onnx.TensorProto.INT16)
    out = {}
    for n in model.graph.node:
        if n.op_type in ("Constant", "DequantizeLinear"):
            continue
        if all(i in consts or not i for i in n.input):
            continue  # folded weights
        for o in n.output:
            if not o:
                continue
            if (n.op_type == "QuantizeLinear" or n.op_type in QLINEAR_Y or
                    types.get(o) in eight):
                out[o] = n
    return out


def feeds_of(case, sess):
    ds = sorted(d for d in os.listdir(case) if d.startswith("test_data_set_"))
    dsp = os.path.join(case, ds[0])
    names = [x.name for x in sess.get_inputs()]
    feed = {}
    for i, name in enumerate(names):
        p = os.path.join(dsp, f"input_{i}.pb")
        feed[name] = numpy_helper.to_array(onnx.load_tensor(p))
    return feed


def run_ember(ember, model_path, feed, target, requant, n_out):
    with tempfile.TemporaryDirectory() as td:
        cmd = [ember, "run", model_path, f"--target={target}",
               "--save-outputs", td]
        if requant:
            cmd.append(f"--requant={requant}")
        for i, (name, arr) in enumerate(feed.items()):
            p = os.path.join(td, f"in{i}.npy")
            np.save(p, arr)
            cmd += ["--input", f"{name}={p}"]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(r.stderr.strip()[-400:])
        return [numpy_helper.to_array(onnx.load_tensor(
            os.path.join(td, f"output_{k}.pb"))) for k in range(n_out)]


def dequant(q, scale, zp, axis):
    q = q.astype(np.float64)
    s = np.asarray(scale, np.float64)
    z = np.asarray(zp if zp is not None else 0, np.float64)
    if s.size > 1:
        shape = [1] * q.ndim
        shape[axis] = s.size
        s, z = s.reshape(shape), z.reshape(shape)
    return (q - z) * s


def _f64(a):
    return a.astype(np.float64) if a.dtype in (np.float32, np.float16) else a


def float_subgraph(model, out_name, known):
    """The nodes computing `out_name` in float from tensors in `known`
    (quantized activations both sides agree on, graph inputs, constants),
    with every DequantizeLinear on the boundary replaced by its float64
    value. Returns (nodes, boundary values) or None."""
    prod = {o: n for n in model.graph.node for o in n.output}
    consts = constants(model)
    nodes, bound, seen = [], {}, set()

    def visit(name):
        if name in seen or not name:
            return True
        seen.add(name)
        if name in consts:
            bound[name] = _f64(consts[name])
            return True
        n = prod.get(name)
        if n is None:
            if name in known:
                bound[name] = _f64(known[name])
                return True
            return False
        if n.op_type == "DequantizeLinear":
            x = known.get(n.input[0], consts.get(n.input[0]))
            if x is None:
                return False
            axis = next((a.i for a in n.attribute if a.name == "axis"), 1)
            if axis < 0:
                axis += x.ndim
            zp = consts.get(n.input[2]) if len(n.input) > 2 and n.input[2] \
                else None
            bound[name] = dequant(x, consts[n.input[1]], zp, axis)
            return True
        for i in n.input:
            if not visit(i):
                return False
        nodes.append(n)
        return True

    if not visit(out_name):
        return None
    return nodes, bound


def evaluate(nodes, bound, out_name, opsets):
    from onnx.reference import ReferenceEvaluator
    inputs = [helper.make_empty_tensor_value_info(k) for k in bound]
    g = helper.make_graph(list(nodes), "sub", inputs,
                          [helper.make_empty_tensor_value_info(out_name)])
    m = helper.make_model(g, opset_imports=opsets)
    return ReferenceEvaluator(m).run(None, dict(bound))[0]


def exact_values(model, node, known):
    """v (float64) for the tensor `node` computes, or None."""
    consts = constants(model)
    opsets = [o for o in model.opset_import if o.domain in ("", "ai.onnx")]
    if node.op_type == "QuantizeLinear":
        sub = float_subgraph(model, node.input[0], known)
        if sub is None:
            return None
        r = evaluate(sub[0], sub[1], node.input[0], opsets) \
            if sub[0] else sub[1][node.input[0]]
        s = np.float64(consts[node.input[1]].reshape(-1)[0])
        z = np.float64(consts[node.input[2]].reshape(-1)[0]) \
            if len(node.input) > 2 and node.input[2] else 0.0
        return r.astype(np.float64) / s + z
    if node.op_type not in QLINEAR_Y:
        return None
    # A QLinear op: its float op on the dequantized operands.
    i = list(node.input)
    get = lambda k: known.get(i[k], consts.get(i[k]))  # noqa: E731
    attrs = [a for a in node.attribute if a.name != "channels_last"]

    def dq(k, axis=0):
        zp = consts.get(i[k + 2]) if len(i) > k + 2 and i[k + 2] else None
        return dequant(get(k), consts[i[k + 1]], zp, axis)

    op = node.op_type
    if op == "QLinearConcat":
        ins = [dq(k) for k in range(2, len(i), 3)]
        fnode = helper.make_node("Concat", [f"x{k}" for k in range(len(ins))],
                                 ["y"], axis=next(a.i for a in attrs
                                                  if a.name == "axis"))
        bound = {f"x{k}": v for k, v in enumerate(ins)}
    elif op in ("QLinearConv", "QLinearMatMul", "QLinearAdd", "QLinearMul",
                "QGemm"):
        a = dq(0)
        b = dq(3, 0 if op in ("QLinearConv",) else -1)
        float_op = {"QLinearConv": "Conv", "QLinearMatMul": "MatMul",
                    "QLinearAdd": "Add", "QLinearMul": "Mul",
                    "QGemm": "Gemm"}[op]
        bound = {"a": a, "b": b}
        names = ["a", "b"]
        if op == "QLinearConv" and len(i) > 8 and i[8]:
            sx = np.float64(consts[i[1]].reshape(-1)[0])
            sw = np.asarray(consts[i[4]], np.float64).reshape(-1)
            bound["c"] = consts[i[8]].astype(np.float64) * sx * sw
            names.append("c")
        fnode = helper.make_node(float_op, names, ["y"],
                                 **{a.name: helper.get_attribute_value(a)
                                    for a in attrs})
    else:  # unary
        float_op = op[len("QLinear"):]
        bound = {"a": dq(0)}
        fnode = helper.make_node(float_op, ["a"], ["y"],
                                 **{a.name: helper.get_attribute_value(a)
                                    for a in attrs})
    ys, yz = QLINEAR_Y[op]
    if op == "QLinearConcat":
        ys, yz = 0, 1
    r = evaluate([fnode], bound, "y", opsets +
                 [helper.make_opsetid("com.microsoft", 1)])
    s = np.float64(consts[i[ys]].reshape(-1)[0])
    z = np.float64(consts[i[yz]].reshape(-1)[0]) if len(i) > yz and i[yz] \
        else 0.0
    return r / s + z


def classify(v, ember, ort_v):
    """'tie', 'near-tie' or 'other' for one element of exact value v."""
    if v is None or not np.isfinite(v):
        return "other"
    frac = v - np.floor(v)
    d = abs(frac - 0.5)
    # Both results must be the two neighbours of the .5 boundary.
    lo = np.floor(v)
    if {int(ember), int(ort_v)} != {int(lo), int(lo) + 1}:
        return "other"
    if d <= TIE_EPS * max(1.0, abs(v)):
        return "tie"
    if d <= NEAR_TIE * max(1.0, abs(v)):
        return "near-tie"
    return "other"


def exposed(model, names):
    """`model` with the tensors `names` added to its graph outputs."""
    aug = onnx.ModelProto()
    aug.CopyFrom(model)
    outs = {o.name for o in model.graph.output}
    for t in names:
        if t not in outs:
            aug.graph.output.append(helper.make_empty_tensor_value_info(t))
    return aug


def ort_tensors(case, model, qt):
    """ONNX Runtime's value of every tensor in `qt` (and of the graph
    outputs) on the case's first input. Returns (feed, ref, graph outputs,
    same), `same` False when exposing the tensors changed the outputs."""
    import onnxruntime as ort
    graph_outs = [o.name for o in model.graph.output]
    order = list(graph_outs) + [t for t in qt if t not in graph_outs]
    with tempfile.TemporaryDirectory() as td:
        path = os.path.join(td, "model.onnx")
        onnx.save(exposed(model, qt), path)
        sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        feed = feeds_of(case, sess)
        ref = dict(zip(order, sess.run(None, feed)))
    plain = ort.InferenceSession(os.path.join(case, "model.onnx"),
                                 providers=["CPUExecutionProvider"])
    same = all(np.array_equal(a, ref[o]) for o, a in
               zip(graph_outs, plain.run(None, feed)))
    return feed, ref, graph_outs, same


def first_divergence(case, ember, target="interp", requant=None,
                     show=8, log=print):
    """Prints the per-layer report of one case; returns a dict summary."""
    name = os.path.basename(os.path.normpath(case))
    model = onnx.load(os.path.join(case, "model.onnx"))
    qt = quantized_tensors(model)
    feed, ref, graph_outs, same = ort_tensors(case, model, qt)
    order = list(graph_outs) + [t for t in qt if t not in graph_outs]
    with tempfile.TemporaryDirectory() as td:
        path = os.path.join(td, "model.onnx")
        onnx.save(exposed(model, qt), path)
        got = dict(zip(order, run_ember(ember, path, feed, target, requant,
                                        len(order))))
    if not same:
        log(f"{name}: note: with its 8-bit tensors exposed, ONNX Runtime "
            "computes other outputs (exposing a tensor blocked a fusion); "
            "the layers below are those of the exposed model")
    # Graph order: tensors as the nodes compute them, then the outputs.
    node_order = [o for n in model.graph.node for o in n.output
                  if o in ref]
    node_order += [o for o in graph_outs if o not in node_order]
    differing = [t for t in node_order
                 if ref[t].shape != got[t].shape or
                 not np.array_equal(ref[t], got[t])]
    summary = {"case": name, "tensors": len(node_order),
               "differing": len(differing), "first": None, "why": {}}
    if not differing:
        log(f"{name}: all {len(node_order)} tensors equal")
        return summary
    t = differing[0]
    summary["first"] = t
    node = qt.get(t)
    a, b = got[t], ref[t]
    if a.shape != b.shape:
        log(f"{name}: first differing tensor '{t}': shapes "
            f"{a.shape} (ember) and {b.shape} (onnxruntime)")
        return summary
    idx = np.argwhere(a != b)
    if node is not None and node.op_type == "QuantizeLinear":
        prod = {o: n for n in model.graph.node for o in n.output}
        src = prod.get(node.input[0])
        op = f"{src.op_type} '{src.name}' -> QuantizeLinear" if src else \
            "QuantizeLinear"
    elif node is not None:
        op = f"{node.op_type} '{node.name}'"
    else:
        op = "graph output"
    known = {k: ref[k] for k in node_order if k not in differing}
    known.update(feed)
    v = None
    if node is not None:
        try:
            v = exact_values(model, node, known)
        except Exception as err:  # an op the reference cannot evaluate
            log(f"  (no exact value: {type(err).__name__}: {err})")
            v = None
    why = {"tie": 0, "near-tie": 0, "other": 0}
    rows = []
    for k, ix in enumerate(tuple(int(j) for j in r) for r in idx):
        vx = float(v[ix]) if v is not None and v.shape == a.shape else None
        c = classify(vx, a[ix], b[ix]) if a.dtype.kind in "iu" else "other"
        why[c] += 1
        if k < show:
            rows.append((ix, a[ix], b[ix], vx, c))
    summary["why"] = why
    delta = np.abs(a.astype(np.float64) - b.astype(np.float64))
    log(f"{name}: first differing tensor '{t}' ({op}): "
        f"{len(idx)} of {a.size} elements, max difference {delta.max():g}; "
        + ", ".join(f"{n} {why[n]}" for n in why if why[n]))
    for ix, ea, ob, vx, c in rows:
        vs = f"{vx:.9f}" if vx is not None else "?"
        log(f"  {list(ix)}: ember {ea}, onnxruntime {ob}, exact {vs} ({c})")
    log(f"  {len(differing)} of {len(node_order)} tensors differ from "
        "there on")
    return summary


def layer_model(model, out_name, boundary, values):
    """The subgraph of `model` computing `out_name` from the tensors in
    `boundary` (quantized activations and graph inputs, fed with `values`)
    and constants: the nodes between them, their initializers, one output.
    Returns (model, input names) or None when `out_name` is a boundary."""
    prod = {o: n for n in model.graph.node for o in n.output}
    inits = {i.name: i for i in model.graph.initializer}
    nodes, ins, used, seen = [], [], [], set()

    def visit(name, top=False):
        if name in seen or not name:
            return
        seen.add(name)
        if name in inits:
            used.append(inits[name])
            return
        if (name in boundary and not top) or name not in prod:
            ins.append(name)
            return
        n = prod[name]
        for i in n.input:
            visit(i)
        nodes.append(n)

    visit(out_name, top=True)
    if not nodes:
        return None
    ref = values[out_name]

    def info(name, a):
        return helper.make_tensor_value_info(
            name, helper.np_dtype_to_tensor_dtype(a.dtype), list(a.shape))

    g = helper.make_graph(nodes, "layer", [info(i, values[i]) for i in ins],
                          [info(out_name, ref)], initializer=used)
    m = helper.make_model(g, opset_imports=list(model.opset_import))
    m.ir_version = model.ir_version
    return m, ins


def off_exact(v, got, want):
    """Largest distance of Ember's and of ONNX Runtime's results from the
    exact value v clamped to the output type's range (None, None when v is
    unknown)."""
    if v is None or v.shape != want.shape:
        return None, None
    info = np.iinfo(want.dtype)
    vc = np.clip(v, info.min, info.max)
    return (float(np.abs(got.astype(np.float64) - vc).max()),
            float(np.abs(want.astype(np.float64) - vc).max()))


def layerwise(case, ember, target="interp", requant=None, why=True,
              log=print, exact_over=None):
    """Each quantized tensor of the case recomputed by Ember from ONNX
    Runtime's own values of the quantized tensors (and graph inputs) it is
    computed from: one `ember run` per layer, all fed the same bytes as
    ONNX Runtime's layer. Prints one row per layer (op, type, elements,
    differing elements, largest difference in the layer's output quanta
    and, with `why`, each differing element's class as --per-layer gives
    it, tie, near-tie or other, and how many of them Ember rounds to the
    integer nearest the exact value); returns a dict summary. With
    `exact_over` N, a layer differing by more than N quanta is also held
    against the exact value of its QLinear op (exact_values): its rows get
    `ember_off` and `ort_off`, each result's largest distance from it."""
    name = os.path.basename(os.path.normpath(case))
    model = onnx.load(os.path.join(case, "model.onnx"))
    qt = quantized_tensors(model)
    feed, ref, graph_outs, same = ort_tensors(case, model, qt)
    if not same:
        log(f"{name}: note: with its quantized tensors exposed, ONNX Runtime "
            "computes other outputs (exposing a tensor blocked a fusion)")
    values = dict(ref)
    values.update(feed)
    boundary = set(qt) | set(feed)
    rows = []
    log(f"{name}: {'tensor':48s} {'op':22s} {'type':6s} {'elements':>9s} "
        f"{'differ':>7s} {'max':>4s}")
    for t in [o for n in model.graph.node for o in n.output if o in qt]:
        if ref[t].dtype.kind not in "iu":
            continue
        lm = layer_model(model, t, boundary, values)
        if lm is None:
            continue
        sub, ins = lm
        body = [n.op_type for n in sub.graph.node if n.op_type not in
                ("Constant", "DequantizeLinear", "QuantizeLinear")]
        op = "+".join(body) if body else \
            "DQ->Q" if len(sub.graph.node) > 1 else qt[t].op_type
        with tempfile.TemporaryDirectory() as td:
            path = os.path.join(td, "layer.onnx")
            onnx.save(sub, path)
            try:
                got = run_ember(ember, path, {i: values[i] for i in ins},
                                target, requant, 1)[0]
            except RuntimeError as err:
                log(f"  {t}: ember failed: {err}")
                rows.append({"tensor": t, "op": op, "failed": True})
                continue
        want = ref[t]
        if got.shape != want.shape:
            log(f"  {t}: shapes {got.shape} (ember), {want.shape} "
                "(onnxruntime)")
            rows.append({"tensor": t, "op": op, "failed": True})
            continue
        d = np.abs(got.astype(np.int64) - want.astype(np.int64))
        r = {"tensor": t, "op": op, "type": str(want.dtype),
             "elements": int(d.size), "differ": int(np.count_nonzero(d)),
             "max": int(d.max()) if d.size else 0, "failed": False,
             "within1": int(np.count_nonzero(d <= 1)),
             "why": {"tie": 0, "near-tie": 0, "other": 0}, "nearest": 0}
        v = None
        if r["differ"] and (why or (exact_over is not None and
                                    r["max"] > exact_over)):
            try:
                v = exact_values(model, qt[t], values)
            except Exception:  # an op the reference cannot evaluate
                v = None
            r["ember_off"], r["ort_off"] = off_exact(v, got, want)
        if r["differ"] and why:
            for ix in map(tuple, np.argwhere(d)):
                vx = float(v[ix]) if v is not None and \
                    v.shape == want.shape else None
                r["why"][classify(vx, got[ix], want[ix])] += 1
                r["nearest"] += vx is not None and \
                    abs(float(got[ix]) - vx) <= 0.5 + TIE_EPS * abs(vx)
        rows.append(r)
        log(f"  {t[-48:]:48s} {op[:22]:22s} {r['type']:6s} "
            f"{r['elements']:9d} {r['differ']:7d} {r['max']:4d}" +
            ("  " + ", ".join(f"{k} {n}" for k, n in r["why"].items() if n)
             + f"; ember nearest {r['nearest']}"
             if r["differ"] and why else ""))
    ok = [r for r in rows if not r["failed"]]
    summary = {"case": name, "layers": len(rows),
               "failed": len(rows) - len(ok),
               "exact": sum(r["differ"] == 0 for r in ok),
               "within1": sum(r["max"] <= 1 for r in ok),
               "max": max((r["max"] for r in ok), default=0),
               "elements": sum(r["elements"] for r in ok),
               "differ": sum(r["differ"] for r in ok), "rows": rows,
               "why": {k: sum(r["why"][k] for r in ok)
                       for k in ("tie", "near-tie", "other")},
               "nearest": sum(r["nearest"] for r in ok)}
    log(f"{name}: layers={summary['layers']} exact={summary['exact']} "
        f"within1={summary['within1']} failed={summary['failed']} "
        f"max={summary['max']} differing={summary['differ']}/"
        f"{summary['elements']}" + "".join(
            f" {k}={n}" for k, n in summary["why"].items() if why) +
        (f" ember-nearest={summary['nearest']}" if why else ""))
    return summary

#!/usr/bin/env python3
"""Writes ONNX test cases whose If/Loop/Scan bodies read values of enclosing
scopes, in the standard layout (OUT/<case>/model.onnx,
test_data_set_<k>/input_<i>.pb, output_<i>.pb). Expected outputs come from
ONNX Runtime.

What the cases pin down (docs/onnx-import.md, "Control flow"): a body reads outer values of every kind
(graph inputs, computed values, initializers, Constant nodes), through
Squeeze/Unsqueeze chains whose axes are outer constants, through nested
branches, into recurrent ops (LSTM, RNN, GRU) and loop-carried state; and an
If whose untaken branch does not type-check for the input shapes (as in
Silero VAD, one branch per sample rate) runs as in ONNX Runtime.

usage: gen_control_flow_cases.py OUT_DIR
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
F = TensorProto.FLOAT
rng = np.random.RandomState(21)


def vi(name, elem, shape):
    return helper.make_tensor_value_info(name, elem, shape)


def const(name, arr):
    return numpy_helper.from_array(np.asarray(arr), name)


def const_node(out, arr):
    return helper.make_node("Constant", [], [out],
                            value=numpy_helper.from_array(np.asarray(arr)))


def graph(name, nodes, inputs, outputs, inits=()):
    return helper.make_graph(nodes, name, inputs, outputs,
                             initializer=list(inits))


def model(g):
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", OPSET)])
    m.ir_version = 8
    return m


def rnd(*shape):
    return rng.uniform(-1, 1, size=shape).astype(np.float32)


def case_if_lstm():
    """LSTM in one branch, RNN in the other, both fed from the outer scope
    through Unsqueeze (outside) and Squeeze (inside) with outer axes."""
    seq, batch, inp, hid = 3, 1, 4, 5
    inits = [
        const("W", rnd(1, 4 * hid, inp)), const("R", rnd(1, 4 * hid, hid)),
        const("B", rnd(1, 8 * hid)),
        const("Wr", rnd(1, hid, inp)), const("Rr", rnd(1, hid, hid)),
        const("axes0", np.array([0], np.int64)),
    ]
    outer = [
        helper.make_node("Unsqueeze", ["x", "axes0"], ["x4"]),  # [1,s,b,i]
        helper.make_node("Unsqueeze", ["h0", "axes0"], ["h4"]),  # [1,1,b,h]
        helper.make_node("If", ["cond"], ["y"],
                         then_branch=graph("lstm_branch", [
                             helper.make_node("Squeeze", ["x4", "axes0"], ["xs"]),
                             helper.make_node("Squeeze", ["h4", "axes0"], ["hs"]),
                             helper.make_node("LSTM", ["xs", "W", "R", "B", "", "hs"],
                                              ["", "yh"], hidden_size=hid),
                             helper.make_node("Squeeze", ["yh", "axes0"], ["t_out"]),
                         ], [], [vi("t_out", F, None)]),
                         else_branch=graph("rnn_branch", [
                             helper.make_node("Squeeze", ["x4", "axes0"], ["xs2"]),
                             helper.make_node("Squeeze", ["h4", "axes0"], ["hs2"]),
                             helper.make_node("RNN", ["xs2", "Wr", "Rr", "", "", "hs2"],
                                              ["", "yh2"], hidden_size=hid),
                             helper.make_node("Squeeze", ["yh2", "axes0"], ["e_out"]),
                         ], [], [vi("e_out", F, None)])),
    ]
    g = graph("if_lstm", outer,
              [vi("x", F, [seq, batch, inp]), vi("h0", F, [1, batch, hid]),
               vi("cond", TensorProto.BOOL, [])],
              [vi("y", F, [batch, hid])], inits)
    feeds = []
    for c in (True, False):
        feeds.append({"x": rnd(seq, batch, inp), "h0": rnd(1, batch, hid),
                      "cond": np.array(c)})
    return model(g), feeds


def case_if_nested():
    """An If inside an If: the inner branches read a graph input, a value of
    the middle scope and outer constants (Pad pads, Unsqueeze axes)."""
    inits = [const("pads", np.array([0, 1, 0, 1], np.int64)),
             const("ax1", np.array([1], np.int64)),
             const("k", np.float32(0.5))]
    inner = helper.make_node(
        "If", ["c2"], ["mid_out"],
        then_branch=graph("inner_then", [
            helper.make_node("Pad", ["a", "pads"], ["p"]),          # [2,5]
            helper.make_node("Unsqueeze", ["p", "ax1"], ["pu"]),    # [2,1,5]
            helper.make_node("Mul", ["pu", "m"], ["it"]),
            helper.make_node("Squeeze", ["it", "ax1"], ["it_out"]),
        ], [], [vi("it_out", F, None)]),
        else_branch=graph("inner_else", [
            helper.make_node("Pad", ["m2", "pads"], ["ie_out"]),
        ], [], [vi("ie_out", F, None)]))
    outer_then = graph("outer_then", [
        helper.make_node("Mul", ["a", "k"], ["m2"]),                 # [2,3]
        helper.make_node("Pad", ["m2", "pads"], ["mp"]),             # [2,5]
        helper.make_node("Unsqueeze", ["mp", "ax1"], ["m"]),         # [2,1,5]
        inner,
    ], [], [vi("mid_out", F, None)])
    outer_else = graph("outer_else", [
        helper.make_node("Neg", ["a"], ["n"]),
        helper.make_node("Pad", ["n", "pads"], ["oe_out"]),
    ], [], [vi("oe_out", F, None)])
    g = graph("if_nested", [
        helper.make_node("Relu", ["x"], ["a"]),
        helper.make_node("If", ["c1"], ["y"], then_branch=outer_then,
                         else_branch=outer_else)],
        [vi("x", F, [2, 3]), vi("c1", TensorProto.BOOL, []),
         vi("c2", TensorProto.BOOL, [])],
        [vi("y", F, [2, 5])], inits)
    feeds = [{"x": rnd(2, 3), "c1": np.array(a), "c2": np.array(b)}
             for a, b in ((True, True), (True, False), (False, True))]
    return model(g), feeds


def case_loop_state():
    """A Loop carrying a hidden state through a GRU step; the body reads an
    outer initializer, a computed outer value and outer Unsqueeze axes, and
    emits a scan output."""
    hid, inp, trips = 4, 3, 3
    inits = [const("M", np.array(trips, np.int64)),
             const("W", rnd(1, 3 * hid, inp)), const("R", rnd(1, 3 * hid, hid)),
             const("ax0", np.array([0], np.int64))]
    body = graph("loop_body", [
        helper.make_node("Identity", ["cond_in"], ["cond_out"]),
        helper.make_node("Unsqueeze", ["xb", "ax0"], ["x3"]),     # [1,1,inp]
        helper.make_node("Unsqueeze", ["h", "ax0"], ["h3"]),      # [1,1,hid]
        helper.make_node("GRU", ["x3", "W", "R", "", "", "h3"], ["", "hn"],
                         hidden_size=hid),
        helper.make_node("Squeeze", ["hn", "ax0"], ["h_next"]),   # [1,hid]
        helper.make_node("Cast", ["i"], ["fi"], to=F),
        helper.make_node("Mul", ["h_next", "fi"], ["scan_out"]),
    ], [vi("i", TensorProto.INT64, []), vi("cond_in", TensorProto.BOOL, []),
        vi("h", F, [1, hid])],
        [vi("cond_out", TensorProto.BOOL, []), vi("h_next", F, [1, hid]),
         vi("scan_out", F, [1, hid])])
    g = graph("loop_state", [
        helper.make_node("Tanh", ["x"], ["xb"]),                  # [1,inp]
        helper.make_node("Loop", ["M", "", "h0"], ["h_final", "hs"],
                         body=body)],
        [vi("x", F, [1, inp]), vi("h0", F, [1, hid])],
        [vi("h_final", F, [1, hid]), vi("hs", F, [trips, 1, hid])], inits)
    feeds = [{"x": rnd(1, inp), "h0": rnd(1, hid)}]
    return model(g), feeds


def case_scan_captured():
    """Scan accumulating x_t * w + b, with w a graph input and b a Constant
    node of the outer graph."""
    body = graph("scan_body", [
        helper.make_node("Mul", ["xt", "w"], ["xw"]),
        helper.make_node("Add", ["xw", "b"], ["xwb"]),
        helper.make_node("Add", ["s", "xwb"], ["s_next"]),
        helper.make_node("Identity", ["s_next"], ["y_t"]),
    ], [vi("s", F, [4]), vi("xt", F, [4])],
        [vi("s_next", F, [4]), vi("y_t", F, [4])])
    g = graph("scan_captured", [
        const_node("b", np.full([4], 0.25, np.float32)),
        helper.make_node("Scan", ["s0", "x"], ["s_final", "ys"], body=body,
                         num_scan_inputs=1)],
        [vi("s0", F, [4]), vi("x", F, [5, 4]), vi("w", F, [4])],
        [vi("s_final", F, [4]), vi("ys", F, [5, 4])])
    feeds = [{"s0": rnd(4), "x": rnd(5, 4), "w": rnd(4)}]
    return model(g), feeds


def case_if_shape_guarded():
    """One branch per input length (as Silero VAD has one per sample rate):
    the else branch reshapes to [3, 3], which does not type-check for an
    8-element input. ONNX Runtime runs it while the condition picks the
    then branch; so must Ember."""
    inits = [const("s24", np.array([2, 4], np.int64)),
             const("s33", np.array([3, 3], np.int64)),
             const("ax", np.array([1], np.int64))]
    g = graph("if_shape_guarded", [
        helper.make_node("If", ["cond"], ["y"],
                         then_branch=graph("fits", [
                             helper.make_node("Reshape", ["x", "s24"], ["r"]),
                             helper.make_node("ReduceSum", ["r", "ax"], ["t_out"],
                                              keepdims=0),
                         ], [], [vi("t_out", F, None)]),
                         else_branch=graph("misfits", [
                             helper.make_node("Reshape", ["x", "s33"], ["r2"]),
                             helper.make_node("ReduceMax", ["r2"], ["e_out"],
                                              axes=[1], keepdims=0),
                         ], [], [vi("e_out", F, None)]))],
        [vi("x", F, [1, 8]), vi("cond", TensorProto.BOOL, [])],
        [vi("y", F, None)], inits)
    feeds = [{"x": rnd(1, 8), "cond": np.array(True)}]
    return model(g), feeds


CASES = {
    "if_lstm_outer_scope": case_if_lstm,
    "if_nested_outer_scope": case_if_nested,
    "loop_gru_carried_state": case_loop_state,
    "scan_captured_values": case_scan_captured,
    "if_shape_guarded_branch": case_if_shape_guarded,
}


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    import onnxruntime as ort
    out = sys.argv[1]
    for name, make in CASES.items():
        m, feeds = make()
        d = os.path.join(out, name)
        os.makedirs(d, exist_ok=True)
        path = os.path.join(d, "model.onnx")
        onnx.save(m, path)
        sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        names = [i.name for i in m.graph.input
                 if i.name not in {t.name for t in m.graph.initializer}]
        for k, feed in enumerate(feeds):
            ds = os.path.join(d, "test_data_set_%d" % k)
            os.makedirs(ds, exist_ok=True)
            for i, n in enumerate(names):
                t = numpy_helper.from_array(np.asarray(feed[n]), n)
                with open(os.path.join(ds, "input_%d.pb" % i), "wb") as f:
                    f.write(t.SerializeToString())
            outs = sess.run(None, feed)
            for i, (o, v) in enumerate(zip(m.graph.output, outs)):
                t = numpy_helper.from_array(np.asarray(v), o.name)
                with open(os.path.join(ds, "output_%d.pb" % i), "wb") as f:
                    f.write(t.SerializeToString())
    print("wrote %d cases to %s" % (len(CASES), out))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""An fp32 ResNet-50 test case with seeded random weights, from the light
ResNet-50 of ../shared/onnx-backend/light (the ONNX zoo graph whose
initializers were replaced by ConstantOfShape nodes, so it holds no
weights). The NPU benchmark quantizes it with scripts/quantize-with-ort.py:

    bench/npu/make_resnet50.py ../shared/onnx-backend/light/light_resnet50.onnx /tmp/r50
    scripts/quantize-with-ort.py /tmp/r50 /tmp/r50-int8 --samples 4

Weights are He-normal per convolution (so activations keep their scale
through the network), BatchNorm scale near 1, bias, mean near 0 and variance
near 1; all from --seed. Cycle counts depend on shapes, not on these values
(except that no weight tile is all zero, which the NPU would skip).
"""
import argparse
import os
import sys

import numpy as np
import onnx
from onnx import helper, numpy_helper


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("light_onnx")
    ap.add_argument("out")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    rng = np.random.RandomState(a.seed)
    m = onnx.load(a.light_onnx)
    g = m.graph
    inits = {t.name: numpy_helper.to_array(t) for t in g.initializer}
    keep, new_inits = [], []
    produced = set()
    for n in g.node:
        if n.op_type != "ConstantOfShape" or n.input[0] not in inits:
            keep.append(n)
            continue
        shape = tuple(int(x) for x in inits[n.input[0]])
        name = n.output[0]
        produced.add(name)
        if name.endswith("_w_0") or len(shape) == 4 or len(shape) == 2:
            fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else 1
            v = rng.normal(0, np.sqrt(2.0 / fan_in), shape)
        elif name.endswith("_s_0"):
            v = rng.uniform(0.8, 1.2, shape)
        elif name.endswith("_riv_0") or name.endswith("_rv_0"):
            v = rng.uniform(0.8, 1.2, shape)
        else:
            v = rng.normal(0, 0.05, shape)
        new_inits.append(numpy_helper.from_array(v.astype(np.float32), name))
    del g.node[:]
    g.node.extend(keep)
    used = {i for n in keep for i in n.input}
    kept_inits = [t for t in g.initializer
                  if t.name in used and t.name not in produced]
    del g.initializer[:]
    g.initializer.extend(kept_inits + new_inits)
    ins = [i for i in g.input if i.name not in produced and i.name in used
           and i.name not in {t.name for t in g.initializer}]
    del g.input[:]
    g.input.extend(ins)
    if len(ins) != 1:
        sys.exit(f"error: expected one data input, found {[i.name for i in ins]}")
    if m.ir_version < 4:  # initializers no longer listed as inputs
        m.ir_version = 4
    onnx.checker.check_model(m)
    os.makedirs(os.path.join(a.out, "test_data_set_0"), exist_ok=True)
    onnx.save(m, os.path.join(a.out, "model.onnx"))
    dims = [d.dim_value or 1 for d in ins[0].type.tensor_type.shape.dim]
    x = rng.uniform(-1, 1, dims).astype(np.float32)
    with open(os.path.join(a.out, "test_data_set_0", "input_0.pb"), "wb") as f:
        f.write(numpy_helper.from_array(x, ins[0].name).SerializeToString())
    print(f"wrote {a.out}/model.onnx ({len(new_inits)} random initializers), "
          f"input {ins[0].name} {dims}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

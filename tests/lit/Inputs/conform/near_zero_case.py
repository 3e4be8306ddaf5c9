"""Writes an ONNX test-case folder (model.onnx, test_data_set_0) whose
model is y = x + 0 and whose expected output differs from x by 2e-6 at an
element near zero (1e-4) among values of about 10: the rounding a whole
model's sums leave on such a value."""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

out = sys.argv[1]
os.makedirs(os.path.join(out, "test_data_set_0"), exist_ok=True)
x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])
y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])
zero = numpy_helper.from_array(np.zeros(4, np.float32), "zero")
g = helper.make_graph([helper.make_node("Add", ["x", "zero"], ["y"])],
                      "near_zero", [x], [y], [zero])
m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
m.ir_version = 8
onnx.save(m, os.path.join(out, "model.onnx"))
xv = np.array([10.0, -9.5, 1e-4, 7.25], np.float32)
want = xv.copy()
want[2] += np.float32(2e-6)
for name, v in (("input_0.pb", xv), ("output_0.pb", want)):
    with open(os.path.join(out, "test_data_set_0", name), "wb") as f:
        f.write(numpy_helper.from_array(v).SerializeToString())

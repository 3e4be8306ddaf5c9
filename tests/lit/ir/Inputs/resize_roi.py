"""Writes OUT.onnx: y = Resize(x [1, 2, 3, 4], roi, scales 1, 1, 2, 2) in
coordinate transformation MODE (nearest, floor), with a constant roi of
ones as paddle2onnx writes it, or an empty one with --no-roi."""
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

out, mode = sys.argv[1], sys.argv[2]
roi = np.zeros(0, np.float32) if "--no-roi" in sys.argv else np.ones(
    8, np.float32)
if mode == "tf_crop_and_resize":
    roi = np.array([0, 0, 0, 0, 1, 1, 1, 1], np.float32)
inits = [numpy_helper.from_array(roi, "roi"),
         numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), "scales")]
node = helper.make_node("Resize", ["x", "roi", "scales"], ["y"],
                        mode="nearest", nearest_mode="floor",
                        coordinate_transformation_mode=mode)
g = helper.make_graph(
    [node], "resize_roi",
    [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 3, 4])],
    [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2, 6, 8])],
    inits)
m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
m.ir_version = 8
onnx.checker.check_model(m)
onnx.save(m, out)

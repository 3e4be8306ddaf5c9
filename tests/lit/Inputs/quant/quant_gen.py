"""Shared tail of the make_*.py generators of this folder: checks and writes
NAME.onnx (opset 13, IR 8; one input x, one output y) and four calibration
samples NAME-calib/s0..s3.npy drawn from `rng` after the weights."""
import os

import numpy as np
import onnx
from onnx import TensorProto, helper

here = os.path.dirname(os.path.abspath(__file__))


def save(name, nodes, inits, x_shape, y_shape, rng, sd):
    g = helper.make_graph(
        nodes, name,
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, x_shape)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, y_shape)],
        inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    onnx.checker.check_model(m)
    onnx.save(m, os.path.join(here, name + ".onnx"))
    calib = os.path.join(here, name + "-calib")
    os.makedirs(calib, exist_ok=True)
    for i in range(4):
        x = rng.normal(0, sd, x_shape).astype(np.float32)
        np.save(os.path.join(calib, f"s{i}.npy"), x)

"""The graph the test-model scripts build: its nodes and initializers, and
the two pieces every QDQ exporter writes (a constant, and a
QuantizeLinear/DequantizeLinear pair with its scale and zero point)."""
import numpy as np
from onnx import helper, numpy_helper


class QdqGraph:
    def __init__(self):
        self.nodes, self.inits = [], []

    def const(self, name, arr):
        self.inits.append(numpy_helper.from_array(arr, name))

    def qdq(self, x, scale, zp, out):
        """x quantized to int8 and back; the result is named out."""
        self.const(out + "_s", np.array(scale, np.float32))
        self.const(out + "_z", np.array(zp, np.int8))
        self.nodes.append(helper.make_node(
            "QuantizeLinear", [x, out + "_s", out + "_z"], [out + "_q"]))
        self.nodes.append(helper.make_node(
            "DequantizeLinear", [out + "_q", out + "_s", out + "_z"], [out]))
        return out

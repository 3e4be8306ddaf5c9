"""Whether ONNX Runtime's 8-bit matrix kernels compute exact sums on this
host. On x86 hosts without VNNI its u8 x s8 kernels add two products at a
time in int16 (`vpmaddubsw`), which saturates: 255 * 127 + 255 * 127 comes
out 32767, and a convolution reading large u8 activations comes out many
quanta off the exact result. There its outputs are no reference for the
bits of Ember's float32 profile, which computes the exact sums (the tests
comparing bit for bit skip, saying why; bench/quant/layer_quanta.py holds
such layers against the exact value instead).
"""


def ort_saturates():
    """True when ONNX Runtime's MatMulInteger of u8 255s by s8 127s, two
    products a sum, is not 64770 on this host."""
    import numpy as np
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper
    a = np.full((4, 2), 255, np.uint8)
    b = np.full((2, 16), 127, np.int8)
    g = helper.make_graph(
        [helper.make_node("MatMulInteger", ["a", "b"], ["y"])], "probe",
        [helper.make_tensor_value_info("a", TensorProto.UINT8, [4, 2])],
        [helper.make_tensor_value_info("y", TensorProto.INT32, [4, 16])],
        [numpy_helper.from_array(b, "b")])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    s = ort.InferenceSession(m.SerializeToString(),
                             providers=["CPUExecutionProvider"])
    return int(s.run(None, {"a": a})[0][0, 0]) != 255 * 127 * 2


def skip_if_ort_saturates(what):
    """Exits 77 (a skip) with the reason when ort_saturates()."""
    import sys
    if ort_saturates():
        print(f"skip: {what} compares with ONNX Runtime bit for bit, and "
              "ONNX Runtime's u8 x s8 kernels saturate on this host (no "
              "VNNI: vpmaddubsw pairs; tests/quant/ort_exact.py)")
        sys.exit(77)

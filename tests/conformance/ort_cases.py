"""Writes a generated ONNX test case in the standard layout
(OUT/<name>/model.onnx, test_data_set_0/input_<i>.pb and output_<i>.pb),
its expected outputs computed by ONNX Runtime: the shared tail of the
gen_*_cases.py generators."""
import os
import sys

import onnx
from onnx import numpy_helper


def write_case(out, name, model, inputs):
    """inputs: [(name, array)] in the graph's input order."""
    import onnxruntime as ort
    d = os.path.join(out, name)
    ds = os.path.join(d, "test_data_set_0")
    os.makedirs(ds, exist_ok=True)
    onnx.save(model, os.path.join(d, "model.onnx"))
    s = ort.InferenceSession(model.SerializeToString(),
                             providers=["CPUExecutionProvider"])
    ys = s.run(None, dict(inputs))
    for i, (n, a) in enumerate(inputs):
        onnx.save_tensor(numpy_helper.from_array(a, n),
                         os.path.join(ds, f"input_{i}.pb"))
    for i, (o, y) in enumerate(zip(s.get_outputs(), ys)):
        onnx.save_tensor(numpy_helper.from_array(y, o.name),
                         os.path.join(ds, f"output_{i}.pb"))


def main(doc, cases):
    """A generator's command line: OUT_DIR, every case of cases() there."""
    if len(sys.argv) != 2:
        print(doc)
        return 2
    for name, model, inputs in cases():
        write_case(sys.argv[1], name, model, inputs)
    return 0

#!/usr/bin/env python3
"""Writes ONNX's backend node tests to disk in the standard test-case layout.

onnx >= 1.23 no longer ships the node tests as files: its loader builds them
in memory from the Python reference. This script materializes them as
  OUT/<test_name>/model.onnx
  OUT/<test_name>/test_data_set_<k>/input_<i>.pb, output_<i>.pb
so `ember conform` runs the same suite on any machine with the onnx wheel.

usage: gen-onnx-node-tests.py OUT_DIR [--min-cases N]
Exits non-zero when fewer than N cases (default 1000) come out, so an empty
or truncated suite is never mistaken for a passing one.
"""
import argparse
import os
import sys
import warnings


def write_value(path, value, type_proto, numpy_helper, onnx):
    """Serializes a test input/output (tensors; sequences/optionals too)."""
    if isinstance(value, (onnx.TensorProto, onnx.SequenceProto,
                          onnx.OptionalProto, onnx.MapProto)):
        proto = value
    elif type_proto is not None and type_proto.HasField("sequence_type"):
        proto = numpy_helper.from_list(list(value))
    elif type_proto is not None and type_proto.HasField("optional_type"):
        proto = numpy_helper.from_optional(value)
    else:
        import numpy as np
        if not isinstance(value, np.ndarray):
            value = np.asarray(value)
        proto = numpy_helper.from_array(value)
    with open(path, "wb") as f:
        f.write(proto.SerializeToString())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--min-cases", type=int, default=1000)
    args = ap.parse_args()
    warnings.filterwarnings("ignore")
    import onnx
    from onnx import numpy_helper
    from onnx.backend.test import loader

    cases = loader.load_model_tests(kind="node")
    written = 0
    skipped = []
    for case in cases:
        if case.model is None or not case.data_sets:
            skipped.append(case.name)
            continue
        d = os.path.join(args.out, case.name)
        os.makedirs(d, exist_ok=True)
        model = case.model
        with open(os.path.join(d, "model.onnx"), "wb") as f:
            f.write(model.SerializeToString())
        inits = {i.name for i in model.graph.initializer}
        in_types = [i.type for i in model.graph.input if i.name not in inits]
        out_types = [o.type for o in model.graph.output]
        try:
            for k, (inputs, outputs) in enumerate(case.data_sets):
                ds = os.path.join(d, f"test_data_set_{k}")
                os.makedirs(ds, exist_ok=True)
                for i, v in enumerate(inputs):
                    t = in_types[i] if i < len(in_types) else None
                    write_value(os.path.join(ds, f"input_{i}.pb"), v, t,
                                numpy_helper, onnx)
                for i, v in enumerate(outputs):
                    t = out_types[i] if i < len(out_types) else None
                    write_value(os.path.join(ds, f"output_{i}.pb"), v, t,
                                numpy_helper, onnx)
        except Exception as e:  # a value numpy_helper cannot serialize
            skipped.append(f"{case.name} ({e.__class__.__name__}: {e})")
            continue
        written += 1
    for s in skipped[:3]:
        print(f"gen-onnx-node-tests: not written: {s}")
    print(f"gen-onnx-node-tests: wrote {written} cases to {args.out} "
          f"(onnx {onnx.__version__}; {len(skipped)} not serializable)")
    if written < args.min_cases:
        print(f"gen-onnx-node-tests: error: expected at least "
              f"{args.min_cases} cases", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

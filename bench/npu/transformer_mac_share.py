#!/usr/bin/env python3
"""The share of a generated transformer block's MACs a target description
claims, and the share of its attention MatMuls (docs/npu-backend.md,
"Limits": the two-activation MatMuls).

The block is tests/quant/check_transformer_qdq.py's (pre-norm attention and
MLP, 16 tokens of 32 channels, 2 heads, the weights of its seed 7),
quantized by ONNX Runtime's quantize_static (QDQ) with int8, uint8 and
int16 activations; each goes through bench/npu/accel_mac_share.py. The
attention share is the MACs of its MatMuls whose two operands are
activations (Q x K^T and scores x V) over the block's.

    bench/npu/transformer_mac_share.py build/bin/ember-accel DESC.json

Needs onnx, onnxruntime and numpy (scripts/install-deps.sh).
"""
import os
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "quant"))
import check_transformer_qdq as block  # noqa: E402


def attention_share():
    s, d, h, f = block.S, block.D, block.H, block.F
    projections = 4 * s * d * d + 2 * s * d * f
    attention = 2 * h * s * s * (d // h)
    return attention / (projections + attention)


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    accel, desc = sys.argv[1:3]
    rng = np.random.default_rng(67)
    calib = [rng.standard_normal((1, block.S, block.D)).astype(np.float32)
             for _ in range(16)]
    with tempfile.TemporaryDirectory() as tmp:
        fp32 = os.path.join(tmp, "block.onnx")
        block.build_block(fp32, "erf", np.random.default_rng(7))
        models = []
        for kind in ("int8", "uint8", "int16"):
            os.makedirs(os.path.join(tmp, f"transformer-{kind}"))
            path = os.path.join(tmp, f"transformer-{kind}", "model.onnx")
            block.quantize(fp32, path, kind, calib)
            models.append(path)
        r = subprocess.run([sys.executable,
                            os.path.join(HERE, "accel_mac_share.py"), accel,
                            desc] + models, capture_output=True, text=True)
        sys.stdout.write(r.stdout)
        if r.returncode:
            sys.stderr.write(r.stderr)
            return r.returncode
    print(f"attention MatMuls (two activations): {attention_share():.3f} "
          "of the block's MACs")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Prints a seeded attention of H heads as graph IR, as the lowering leaves a
QDQ transformer's attention once split per head (docs/quantization.md,
"Attention heads"): uint8 projections Q, K, V of [n, H d] computed on the
device, each Split into its heads at channel multiples of d, per head
Q_h x Transpose(K_h) and scores x V_h with both operands' zero points, the
heads' results concatenated. Drawn per seed: H (1-4), the head width d (8,
16, 24, 40 or 64: narrower or wider than the lanes, inside tiles or across
them), the tokens n (5-40) and the zero points.

  attention_heads.py SEED > case.eir
"""
import sys

import numpy as np


def main():
    r = np.random.default_rng(int(sys.argv[1]))
    H = int(r.integers(1, 5))
    d = int(r.choice([8, 16, 24, 40, 64]))
    n = int(r.integers(5, 41))
    D = H * d

    def const(name, shape):
        a = r.integers(-20, 21, size=shape)
        return "  %%%s = Constant dense<i8[%s]: [%s]>" % (
            name, ",".join(map(str, shape)), ", ".join(map(str, a.flatten())))

    zp = [int(z) for z in r.integers(100, 156, size=5)]
    print("// H %d, d %d, n %d" % (H, d, n))
    out = ["func @main(%%x: u8[%d,32]) {" % n]
    out += [const("wq", [32, D]), const("wk", [32, D]), const("wv", [32, D])]
    for name, z in zip(["zx", "zq", "zk", "zv", "zo"], zp):
        out.append("  %%%s = Constant dense<u8[]: [%d]>" % (name, z))
    out += ["  %z0 = Constant dense<u8[]: [0]>",
            "  %m = Constant dense<i32[1]: [1300000000]>",
            "  %sh = Constant dense<i32[1]: [-12]>",
            "  %sh8 = Constant dense<i32[1]: [-7]>"]
    heads = ", ".join(["u8[%d,%d]" % (n, d)] * H)
    for p in "qkv":
        out.append("  %%%sp = MatMulInteger(%%x, %%w%s, %%zx) : i32[%d,%d]"
                   % (p, p, n, D))
        out.append("  %%%s = Requantize(%%%sp, %%m, %%sh, _, %%z%s) {to = 2} "
                   ": u8[%d,%d]" % (p, p, p, n, D))
        parts = ", ".join("%%%s%d" % (p, h) for h in range(H))
        out.append("  %s = Split(%%%s) {axis = 1, split = [%s]} : %s"
                   % (parts, p, ", ".join([str(d)] * H), heads))
    for h in range(H):
        out += [
            "  %%kt%d = Transpose(%%k%d) {perm = [1, 0]} : u8[%d,%d]"
            % (h, h, d, n),
            "  %%ap%d = MatMulInteger(%%q%d, %%kt%d, %%zq, %%zk) : i32[%d,%d]"
            % (h, h, h, n, n),
            "  %%a%d = Requantize(%%ap%d, %%m, %%sh8, _, %%z0) {to = 2} : "
            "u8[%d,%d]" % (h, h, n, n),
            "  %%op%d = MatMulInteger(%%a%d, %%v%d, %%z0, %%zv) : i32[%d,%d]"
            % (h, h, h, n, d),
            "  %%o%d = Requantize(%%op%d, %%m, %%sh8, _, %%zo) {to = 2} : "
            "u8[%d,%d]" % (h, h, n, d)]
    if H > 1:
        out.append("  %%o = Concat(%s) {axis = 1} : u8[%d,%d]"
                   % (", ".join("%%o%d" % h for h in range(H)), n, D))
    out += ["  return %s" % ("%o" if H > 1 else "%o0"), "}"]
    print("\n".join(out))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Fits the coefficients of Ember's f32 erf, exp and tanh (backend-api/include/ember/math/).

Three polynomials, each by Lawson's iteratively reweighted least squares (which
converges to the minimax fit) on the double-precision erf/erfc of Python's math
module, and printed as the header's f32 arrays:
  kSmall: erf(x)/x - 1 in t = x^2 on [0, A^2]   (erf = x + x*P, |x| < A)
  kLarge: log2(erfc(x)) in u = x - M on [A, 4], weighted by erfc/erf (the
          weight of its error in erf = 1 - 2^Q)
  kExp2:  2^r on [-1/2, 1/2], relative error
Exp.h's
  kExp:   e^r on [-ln2/2, ln2/2] (a little wider: x*log2(e) rounds), relative
and Tanh.h's
  kSmall: (tanh(x)/x - 1)/x^2 in t = x^2 on [0, 0.9^2], weighted by x^3/tanh(x)
The headers' accuracy comments comes from the exhaustive check described there,
rerun (tests/unit/MathF32Test.cpp samples it) after any change here (the f32 rounding of the coefficients and the f32
Horner evaluation decide the final error, not the fit's).

usage: scripts/fit-math-f32.py [A M DEG_SMALL DEG_LARGE DEG_EXP2]
       (erf's parameters; default 0.875 1.125 5 8 6: the header's)
"""
import math
import sys

import numpy as np


def lawson(xs, f, w, deg, iters=300):
    V = np.stack([xs**k for k in range(deg + 1)], 1)
    lw = np.ones_like(xs)
    for _ in range(iters):
        W = np.sqrt(lw) * w
        c, *_ = np.linalg.lstsq(V * W[:, None], f * W, rcond=None)
        err = np.abs(V @ c - f) * w
        lw = lw * err
        lw /= lw.sum()
    return c, (np.abs(V @ c - f) * w).max()


def nodes(lo, hi, n=6000):
    mid, half = (lo + hi) / 2, (hi - lo) / 2
    return np.concatenate([np.linspace(lo, hi, n),
                           mid + half * np.cos(np.linspace(0, math.pi, n))])


def f32(cs):
    out = []
    for c in cs:
        s = "%.9g" % np.float32(c)
        out.append(s + ("f" if any(ch in s for ch in ".e") else ".0f"))
    return ", ".join(out)


def main():
    a, m, ds, dl, de = 0.875, 1.125, 5, 8, 6
    if len(sys.argv) == 6:
        a, m = float(sys.argv[1]), float(sys.argv[2])
        ds, dl, de = (int(v) for v in sys.argv[3:])
    xs = nodes(0.0, a)
    xs = xs[xs > 1e-4]
    cs, es = lawson(xs * xs, np.array([math.erf(x) / x - 1 for x in xs]),
                    np.ones_like(xs), ds)
    xl = nodes(a, 4.0)
    cl, el = lawson(xl - m, np.array([math.log2(math.erfc(x)) for x in xl]),
                    np.array([math.log(2) * math.erfc(x) / math.erf(x)
                              for x in xl]), dl)
    r = nodes(-0.5, 0.5)
    ce, ee = lawson(r, 2.0**r, 2.0**-r, de)
    print("// fit errors (double): small %.3g, large %.3g, exp2 %.3g" %
          (es, el, ee))
    print("kSmall = {%s};" % f32(cs))
    print("kLarge = {%s};" % f32(cl))
    print("kExp2 = {%s};" % f32(ce))
    h = math.log(2) / 2 + 1e-3
    r = nodes(-h, h)
    cx, ex = lawson(r, np.exp(r), np.exp(-r), 6)
    print("// Exp.h, fit error (double) %.3g" % ex)
    print("kExp = {%s};" % f32(cx))
    xt = nodes(0.0, 0.9)
    xt = xt[xt > 1e-4]
    t = xt * xt
    ct, et = lawson(t, (np.tanh(xt) / xt - 1) / t, xt * t / np.tanh(xt), 6)
    print("// Tanh.h, fit error (double) %.3g" % et)
    print("kSmall = {%s};" % f32(ct))


if __name__ == "__main__":
    main()

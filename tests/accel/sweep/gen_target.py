#!/usr/bin/env python3
"""Draws valid-looking target descriptions of the NPU compiler layer
(docs/npu-sdk.md, "Target descriptions") over what a description may say:

    gen_target.py SEED [OUT.json]

- lanes 8, 16 or 32; an array of rows x cols dividing lanes, square or not,
  weight- or output-stationary, with its timing;
- one to four memories, the five operand classes (act, wgt, acc, param, out)
  split over them at random, sizes drawn from a minimal tile to a roomy one
  (small weight and accumulator memories included), ports and banks;
- one to three DMA engines (one for everything; loads and stores apart;
  activations and weights apart; or three), a matrix engine and a vector
  engine, with the DRAM's and the DMA's timing;
- tokens (depth 1 to 8) or barriers (depth 1 to 15, 2 to 16 of them: too
  few is what `check` refuses, so some draws are refused);
- operation fields from narrow to wide (narrow loop fields make the tiler
  split), the optional copy, pool, vadd and Requant's bias field, each
  present or absent with the forms that need them;
- forms conv (kernel, stride and dilation limits, epilogues), matmul, pool
  (window and stride limits), add, requant, concat and reshape, each present
  or absent; requantization outputs i8, u8 or both;
- the forms that need nothing more than those operations: actmatmul, mean,
  permute and interleave, and with a pool operation pixels and resize, each
  present or absent; mul with its `vmul` operation (a row broadcast or not) and
  registers; tables (the lut stage in the epilogues that take it, `lutld`,
  `lut` and the producing operations' `lut` flag); norm and softmax with
  `vreduce`, `rscalar`, `vrowmul` or `vrowexp` and the row registers;
  upsample with its `upsample` operation; each present or absent (each
  drawn apart, as the sizes below);
- the depthwise array operation, the exact add and a declared arithmetic,
  store's rep/xstep/lanes, the reset and avg flags, conv's dilations, and
  16-bit activations (i16 outputs, act16 forms, table16), each present or
  absent (moreFields);
- sometimes a conv form's allowed kernels and strides, a pool form's allowed
  windows and strides (drawn apart: the rest of a draw stays the same).

The same SEED gives the same description. A module too: draw(seed) returns
the description as a dict.
"""
import json
import random
import sys

CLASSES = ["act", "wgt", "acc", "param", "out"]


def bits(n):
    """Bits to hold 0 .. n - 1."""
    return max(1, (max(n, 1) - 1).bit_length())


def restrictSizes(seed, forms):
    """Sometimes a form lists the sizes it allows (conv kernels and strides,
    pool windows and strides), within its limits. From a generator of its
    own, so that the rest of a seed's draw is what it was without them."""
    r = random.Random(seed * 7919 + 17)

    def subset(sizes, most):
        fit = [f"{s}x{s}" for s in sizes if s <= most]
        pick = [s for s in fit if r.random() < 0.6]
        return pick or fit[:1]

    for f in forms:
        if f["form"] == "conv" and r.random() < 0.25:
            f["kernels"] = subset([1, 3, 5, 7], f["kernel_max"])
            if r.random() < 0.5:
                f["strides"] = subset([1, 2], f["stride_max"])
        if f["form"] == "pool" and r.random() < 0.3:
            f["windows"] = subset([2, 3], f["window_max"])
            if r.random() < 0.5:
                f["strides"] = subset([1, 2], f["stride_max"])


def moreForms(seed, forms, has_pool):
    """The forms that need only what the draw already has (the GEMM and
    Requant operations; with a pool operation, the pool), each present or
    absent: actmatmul (two-activation MatMuls), mean, permute, and with a
    pool pixels and resize. From a generator of its own, so that the rest
    of a seed's draw is what it was without them."""
    r = random.Random(seed * 7919 + 29)
    epi = next(f["epilogue"] for f in forms if f["form"] == "conv")
    if r.random() < 0.5:
        forms.append({"form": "actmatmul",
                      "epilogue": [e for e in epi if e != "pool"]})
    if r.random() < 0.5:
        forms.append({"form": "mean"})
    if r.random() < 0.5:
        forms.append({"form": "permute"})
    if has_pool and r.random() < 0.5:
        forms.append({"form": "pixels"})
    if has_pool and r.random() < 0.5:
        forms.append({"form": "resize"})
    if r.random() < 0.5:
        forms.append({"form": "interleave"})


def moreOps(seed, d):
    """Forms that need operations of their own, each present or absent with
    them: mul (the vector engine's `vmul`, a per-channel broadcast or not,
    and the multiply's registers), tables (the lut stage), norm and
    softmax. From a generator of their own, as moreForms."""
    r = random.Random(seed * 7919 + 31)
    rb = d["ops"]["requant"]["dst"]  # the row fields' width
    loop = d["ops"]["gemm"]["inner"]  # the loop fields'
    vec = next(e for e in d["engines"] if e["name"] == "VEC")
    if r.random() < 0.5:
        d["ops"]["vmul"] = {"dst": rb, "a": rb, "b": rb, "rows": rb,
                            **({"bcast": 1} if r.random() < 0.6 else {})}
        vec["runs"].append("vmul")
        nid = 1 + max(g["id"] for g in d["registers"].values())
        for k in ["mul_a_zp", "mul_b_zp", "mul_mult", "mul_shift",
                  "mul_out_zp", "mul_min", "mul_max"]:
            d["registers"][k] = {"id": nid, "engine": "VEC"}
            nid += 1
        d["forms"].append({"form": "mul"})
    # Tables: the lut stage in the epilogues that take it, the table's load
    # (`lutld`), the flag on every producing operation, and a table's own
    # `lut` operation.
    if r.random() < 0.4:
        d["ops"]["lutld"] = {"src": rb}
        d["ops"]["lut"] = {"dst": rb, "src": rb, "rows": rb}
        for op in ("requant", "vadd", "pool", "vmul"):
            if op in d["ops"]:
                d["ops"][op]["lut"] = 1
        vec["runs"] += ["lutld", "lut"]
        for f in d["forms"]:
            if f["form"] in ("conv", "matmul", "actmatmul", "requant"):
                f["epilogue"] = f.get("epilogue", []) + ["lut"]
            if f["form"] == "mean":
                f["epilogue"] = ["lut"]
    # The integer LayerNorm and softmax: the row reduction (`vreduce`: sums,
    # squares about the mean, or exponentials), the per-row scalar
    # (`rscalar`, the reciprocal square root for the norm) and the row
    # broadcasts (`vrowmul`, `vrowexp`), with the row registers.
    norm, softmax = r.random() < 0.4, r.random() < 0.4
    if norm or softmax:
        d["ops"]["vreduce"] = {"dst": rb, "src": rb, "rows": rb, "len": loop,
                               "gstride": loop + 2, "kstride": loop + 2,
                               "last": 6,
                               **({"sum": 1, "sq": 1, "center": 1}
                                  if norm else {}),
                               **({"exp": 1} if softmax else {})}
        d["ops"]["rscalar"] = {"dst": rb, "src": rb, "rows": rb,
                               **({"rsqrt": 1} if norm else {})}
        vec["runs"] += ["vreduce", "rscalar"]
        regs = ["row_out_zp", "row_min", "row_max"]
        if norm:
            d["ops"]["vrowmul"] = {"dst": rb, "src": rb, "rows": rb,
                                   "stride": loop + 2, "scal": rb, "sum": rb,
                                   "param": rb, "center": 1}
            vec["runs"].append("vrowmul")
            regs += ["row_n", "row_x_zp", "row_eps_lo", "row_eps_hi"]
            d["forms"].append({"form": "norm"})
        if softmax:
            d["ops"]["vrowexp"] = {"dst": rb, "src": rb, "rows": rb,
                                   "stride": loop + 2, "scal": rb, "sum": rb}
            vec["runs"].append("vrowexp")
            regs += ["row_sm_in_mult", "row_sm_in_shift", "row_sm_out_mult",
                     "row_sm_out_shift"]
            d["forms"].append({"form": "softmax"})
        nid = 1 + max(g["id"] for g in d["registers"].values())
        for k in regs:
            d["registers"][k] = {"id": nid, "engine": "VEC"}
            nid += 1
    # Bilinear upsampling (the `upsample` operation).
    if r.random() < 0.4:
        d["ops"]["upsample"] = {"dst": rb, "src": rb, "w": loop, "h": loop,
                                "oy": loop + 2, "oh": loop + 2, "factor": 2,
                                "mode": 2, "zp": 8}
        vec["runs"].append("upsample")
        d["forms"].append({"form": "upsample"})


def addRegs(d, names, engine="VEC"):
    nid = 1 + max(g["id"] for g in d["registers"].values())
    for k in names:
        d["registers"][k] = {"id": nid, "engine": engine}
        nid += 1


def moreFields(seed, d):
    """The optional fields and operations the draws above leave out, each
    present or absent: the depthwise array operation (`dwgemm` and
    `depthwise`), the exact add (`vadd exact`, the `add_x_*` registers)
    and a declared `arithmetic`, store's `rep`, `xstep` and `lanes`, the
    `reset` and `avg` flags, the `lut` flag of `upsample`, conv's allowed
    dilations, and 16-bit activations (`i16` among the requantization
    outputs, the `rq16_*` registers, forms' `act16`, `act16_one_pass`, the
    row operations' `w16`/`out16`, and `table16` with the 16-bit table's
    timing). From a generator of their own, as moreForms."""
    r = random.Random(seed * 7919 + 37)
    ops = d["ops"]
    rb = ops["requant"]["dst"]
    loop = ops["gemm"]["inner"]
    vec = next(e for e in d["engines"] if e["name"] == "VEC")
    mac = next(e for e in d["engines"] if e["name"] == "MAC")
    forms = {f["form"]: f for f in d["forms"]}
    if r.random() < 0.4:
        taps = r.choice([3, 4, 5, 8])
        most = min(d["lanes"], r.choice([9, 9, 16]))
        ops["dwgemm"] = {"acc": rb, "act": rb, "wgt": rb, "inner": loop,
                         "outer": loop, "act_ostride": rb + 2,
                         "acc_ostride": rb + 2, "taps": taps, "stride": 2,
                         **({"bias": 1} if r.random() < 0.5 else {})}
        most = min(most, (1 << taps) - 1)
        d["depthwise"] = {"max_taps": most,
                          **({"bias_lanes": 4} if "bias" in ops["dwgemm"]
                             else {})}
        mac["runs"].append("dwgemm")
    if r.random() < 0.5:
        ops["gemm"]["reset"] = 1
        if "dwgemm" in ops:
            ops["dwgemm"]["reset"] = 1
    if "pool" in ops and r.random() < 0.5:
        ops["pool"]["avg"] = 1
    if "vadd" in ops and r.random() < 0.5:
        ops["vadd"]["exact"] = 1
        addRegs(d, ["add_x_shift", "add_x_offset_lo", "add_x_offset_hi",
                    "add_x_a_mult", "add_x_a_mult_hi", "add_x_b_mult",
                    "add_x_b_mult_hi"])
    if r.random() < 0.3:
        exact = "exact" in ops.get("vadd", {})
        d["arithmetic"] = r.choice([["fixed", "tflite"], ["fixed"]]
                                   if exact else [["tflite"]])
    st = ops["store"]
    if r.random() < 0.3:
        st["rep"] = r.choice([1, 2, 3])
    if r.random() < 0.3:
        st["xstep"] = 1
    if r.random() < 0.3:
        st["lanes"] = bits(d["lanes"]) + 1
    if "upsample" in ops and "lut" in ops and r.random() < 0.7:
        ops["upsample"]["lut"] = 1
    if "conv" in forms and forms["conv"]["dilation_max"] > 1 and \
            r.random() < 0.3:
        forms["conv"]["dilations"] = ["1x1", "2x2"]
    # 16-bit activations.
    if r.random() < 0.35:
        d["requant"]["outputs"] = d["requant"]["outputs"] + ["i16"]
        addRegs(d, ["rq16_min", "rq16_max"])
        for name in ("conv", "matmul", "mean", "requant", "pool", "add",
                     "mul", "concat", "reshape"):
            if name in forms and r.random() < 0.7:
                forms[name]["act16"] = True
        if r.random() < 0.5:
            d["array"]["act16_one_pass"] = True
        for op in ("vreduce", "vrowmul", "vrowexp"):
            if op in ops:
                ops[op]["w16"] = 1
                if op != "vreduce":
                    ops[op]["out16"] = 1
        if "lut" in ops and r.random() < 0.6:
            d["forms"].append({"form": "table16"})
            if r.random() < 0.5:
                d["vector"]["lut16_lanes_per_cycle"] = r.choice([1, 4, 8])


def draw(seed):
    r = random.Random(seed)
    lanes = r.choice([8, 16, 16, 32, 32])
    divs = [d for d in (4, 8, 16, 32) if d <= lanes and lanes % d == 0]
    rows, cols = r.choice(divs), r.choice(divs)
    flow = r.choice(["weight_stationary", "output_stationary"])
    d = {"format": "ember-accel-target", "version": 1,
         "name": f"gen{seed}", "lanes": lanes,
         "comment": f"Drawn by tests/accel/sweep/gen_target.py {seed}."}
    d["array"] = {"rows": rows, "cols": cols, "dataflow": flow,
                  "operand_bits": {"act": 8, "wgt": 8, "acc": 32},
                  "preload_rows": rows if flow == "weight_stationary" else 0,
                  "issue_overhead": r.randint(0, 4),
                  "drain_rows": r.choice([0, cols, lanes])}

    # Memories: the classes over 1..4 of them.
    nmem = r.randint(1, 4)
    groups = [[] for _ in range(nmem)]
    order = CLASSES[:]
    r.shuffle(order)
    for i, c in enumerate(order):
        groups[i if i < nmem else r.randrange(nmem)].append(c)
    names = ["SRAM", "WBUF", "ABUF", "OBUF"]
    mems = []
    for i, g in enumerate(groups):
        g.sort(key=CLASSES.index)
        wide = any(c in ("acc", "param") for c in g)
        # The smallest double-buffered tile of a 1x1 convolution, then
        # between 1x and 48x of it (a weight memory of 2 tiles is small).
        need = sum({"act": 2, "wgt": 2 * lanes, "acc": 2, "param": 3,
                    "out": 2}[c] for c in g)
        n = int(need * r.choice([2, 3, 4, 6, 8, 12, 16, 24, 48]))
        n = max(32, (n + 15) // 16 * 16)
        m = {"name": names[i] if nmem > 1 else "SRAM", "rows": n,
             "row_bytes": lanes * (4 if wide else 1) * r.choice([1, 1, 1, 2]),
             "holds": g}
        if r.random() < 0.3:
            m["read_ports"] = r.randint(1, 2)
            m["write_ports"] = 1
            m["banks"] = r.choice([1, 2, 4, 8])
        mems.append(m)
    d["memories"] = mems
    maxrows = max(m["rows"] for m in mems)
    beat = max(m["row_bytes"] for m in mems)
    d["dram"] = {"bytes": 1 << 27, "bytes_per_cycle": r.choice([4, 8, 16, 32, 64]),
                 "latency": r.choice([10, 32, 64, 100, 200]),
                 "burst_bytes": 64, "alignment": 64, "address_bits": 32}
    d["dma"] = {"issue_overhead": r.randint(0, 8), "turnaround": r.randint(0, 2),
                "rows_per_cycle": r.choice([1, 1, 2]), "beat_bytes": beat}
    d["vector"] = {"rows_per_cycle": r.choice([1, 1, 2]),
                   "issue_overhead": r.randint(0, 4)}

    # Forms and the optional operations they need.
    pool_form = r.random() < 0.6
    pool_epi = r.random() < 0.4
    has_pool = pool_form or pool_epi
    add_form = r.random() < 0.7
    add_epi = r.random() < 0.6
    has_vadd = add_form or add_epi
    has_copy = r.random() < 0.5
    bias_row = r.random() < 0.5
    epi = ["bias", "requant"] + (["pool"] if pool_epi else []) + \
        (["add"] if add_epi else [])
    forms = [{"form": "conv", "kernel_max": r.choice([3, 5, 7, 7, 7]),
              "stride_max": r.choice([1, 2, 2, 2, 4]),
              "dilation_max": r.choice([1, 1, 2]), "epilogue": epi}]
    if r.random() < 0.7:
        forms.append({"form": "matmul", "epilogue": epi})
    if pool_form:
        forms.append({"form": "pool", "window_max": r.choice([2, 3, 3, 8]),
                      "stride_max": r.choice([1, 2, 2, 8])})
    if add_form:
        forms.append({"form": "add"})
    if r.random() < 0.5:
        forms.append({"form": "requant",
                      **({"epilogue": ["add"]} if has_vadd else {})})
    if r.random() < 0.7:
        forms.append({"form": "concat"})
    if r.random() < 0.8:
        forms.append({"form": "reshape"})
    restrictSizes(seed, forms)
    moreForms(seed, forms, has_pool)
    d["forms"] = forms

    # Engines.
    dma_kind = r.choice(["one", "ldst", "classes", "three"])
    extra = ["copy"] if has_copy else []
    if dma_kind == "one":
        dmas = [{"name": "DMA", "runs": ["load", "store"] + extra}]
        pad_eng = "DMA"
    elif dma_kind == "ldst":
        dmas = [{"name": "DIN", "runs": ["load"] + extra},
                {"name": "DOUT", "runs": ["store"]}]
        pad_eng = "DIN"
    elif dma_kind == "classes":
        dmas = [{"name": "DMA0", "runs": ["load", "store"] + extra,
                 "classes": ["act", "out", "acc"]},
                {"name": "DMA1", "runs": ["load", "store"],
                 "classes": ["wgt", "param"]}]
        pad_eng = "DMA0"
    else:
        dmas = [{"name": "AIN", "runs": ["load"] + extra,
                 "classes": ["act", "out", "acc"]},
                {"name": "WIN", "runs": ["load"], "classes": ["wgt", "param"]},
                {"name": "DOUT", "runs": ["store"]}]
        pad_eng = "AIN"
    vec = ["requant"] + (["vadd"] if has_vadd else []) + \
        (["pool"] if has_pool else [])
    engines = dmas + [{"name": "MAC", "runs": ["gemm"]},
                      {"name": "VEC", "runs": vec}]
    d["engines"] = engines
    if r.random() < 0.5:
        d["sync"] = {"kind": "tokens", "depth": r.choice([1, 2, 3, 4, 8])}
    else:
        d["sync"] = {"kind": "barriers", "depth": r.choice([1, 2, 3, 7, 15]),
                     "barriers": r.randint(2, 16)}

    # Operation fields: row fields address every memory, loop fields from
    # narrow (the tiler splits) to wide.
    rb = bits(maxrows) + r.choice([0, 0, 1, 2])
    loop = r.choice([6, 8, 10, 12])
    ops = {
        "load": {"row": rb, "dram": 32, "ysize": loop, "xsize": loop,
                 "stride": loop + 4, "pad": r.choice([2, 3])},
        "store": {"row": rb, "dram": 32, "ysize": loop, "xsize": loop,
                  "stride": loop + 4},
        "gemm": {"acc": rb, "act": rb, "wgt": rb, "inner": loop,
                 "outer": loop, "act_ostride": rb, "acc_ostride": rb},
        "requant": {"dst": rb, "src": rb, "rows": rb, "param": rb, "zp": 8,
                    "min": 8, "max": 8, **({"bias": 1} if bias_row else {})},
        "setreg": {"reg": 6, "value": 32},
        "finish": {},
    }
    if has_copy:
        ops["copy"] = {"dst": rb, "src": rb, "ysize": loop, "xsize": loop,
                       "stride": loop + 4, "pad": 2}
    if has_vadd:
        ops["vadd"] = {"dst": rb, "a": rb, "b": rb, "rows": rb}
    if has_pool:
        ops["pool"] = {"dst": rb, "src": rb, "rows": rb}
    d["ops"] = ops
    d["register_count"] = 64
    regs = {"pad_value": {"id": 0, "engine": pad_eng}}
    nid = 1
    if has_pool:
        for k in ["pool_kh", "pool_kw", "pool_stride", "pool_in_w",
                  "pool_out_w"]:
            regs[k] = {"id": nid, "engine": "VEC"}
            nid += 1
    if has_vadd:
        for k in ["add_lshift", "add_a_zp", "add_a_mult", "add_a_shift",
                  "add_b_zp", "add_b_mult", "add_b_shift", "add_out_mult",
                  "add_out_shift", "add_out_zp", "add_min", "add_max"]:
            regs[k] = {"id": nid, "engine": "VEC"}
            nid += 1
    d["registers"] = regs
    d["requant"] = {"per_channel": True, "bias_row": bias_row,
                    "outputs": r.choice([["i8", "u8"], ["i8", "u8"], ["i8"],
                                         ["u8"]])}
    moreOps(seed, d)
    moreFields(seed, d)
    return d


def main_to(seed, path=None):
    text = json.dumps(draw(seed), indent=1) + "\n"
    if path:
        with open(path, "w") as f:
            f.write(text)
    else:
        sys.stdout.write(text)


def main():
    main_to(int(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else None)


if __name__ == "__main__":
    main()

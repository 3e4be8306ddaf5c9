// The layer IR of the NPU compiler layer (docs/npu-sdk.md): what a partition
// becomes after selection (Select.h), before tiling. A tensor lives in the
// device's DRAM in the channel-tiled layout [channel tile][pixel][lanes]: one
// row holds `lanes` channels of one pixel (the target's lanes), which is what
// a DMA load moves and what the array reads. A layer is one fused unit of
// work on the engines: a GEMM layer (Conv or MatMul, with its bias,
// requantization, clamp, and optionally a pooling or a quantized add on the
// vector engine), a pooling layer or an add layer.
#ifndef EMBER_ACCEL_LAYERS_H
#define EMBER_ACCEL_LAYERS_H

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace ember::accel {

inline int64_t ceilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

// A tensor in the tiled layout. Pixels are every index of the logical shape but
// the channel axis, row-major; for NCHW, pixel = (n * H + h) * W + w.
struct NTensor {
  enum class Kind { Activation, Input, Output, Constant };
  std::string name;
  Kind kind = Kind::Activation;
  int value = -1;   // graph value id (-1: none)
  bool i32 = false; // int32 elements (an accumulator stored to DRAM)
  bool u8 = false;  // a uint8 graph tensor, held as int8 (q - 128)
  bool i16 = false; // int16 elements (a 16-bit activation, 16x8)
  std::vector<int64_t> dims;
  int axis = 1; // the channel axis (lanes)
  int64_t C = 1, P = 1;
  int64_t lanes = 0; // channels per row: the target's (0: not set yet)
  // Storage: the tensor's own, or channel tiles of another tensor (a
  // Concat's input placed in its output).
  int base = -1;          // owner of the storage; -1: itself
  int64_t tileOffset = 0; // first channel tile inside the owner
  int64_t dram = -1;      // byte offset of the owner's storage (planned)
  // Placed inside channel tiles (a Concat input at a multiple of 8 channels
  // that is not one of the lanes): channels [0, laneFrom) of its first tile
  // are another tensor's, and its stores write only the 8-lane groups of
  // channels [laneFrom, C). -1: whole rows.
  int64_t laneFrom = -1;
  // Placed at a pixel offset of its owner (a Slice or Gather of pixels, a
  // Concat along an axis other than the channels): pixel p of its tile t
  // is pixel pixOff + p of tile tileOffset + t of `base`, whose tiles are
  // the owner's P pixels apart. -1: not placed so (a tensor with a base
  // then has its owner's P).
  int64_t pixOff = -1;
  // Placed at a pixel phase of its owner (a transposed convolution's
  // phase: `base` the result, tile 0): with strides sy = ilv and sx =
  // ilvX (0: ilv), pixel (n, y, x) of this map is pixel (n, sy*y + phase /
  // sx - top, sx*x + phase % sx - left) of the owner, and dropped when that
  // is outside the owner's map (a result cropped from the interleave); its
  // producer stores every row there (the store op's x step, sx 2). ilv 0:
  // not placed so.
  int64_t ilv = 0, phase = 0, ilvX = 0, top = 0, left = 0;
  int64_t strideY() const { return ilv; }
  int64_t strideX() const { return ilvX ? ilvX : ilv; }
  std::vector<int8_t>
      data; // Constant: bytes in the tiled layout (rowBytes per row)
  // An input the host lays out as the patches of the convolution reading it
  // (packPatches, Select.h): the graph's tensor is `srcDims` [N, C0, H0, W0]
  // and this one [N, kh kw C0, OH, OW], whose channel (dy kw + dx) C0 + c at
  // pixel (n, oy, ox) is graph element (n, c, oy sh - pt + dy dh, ox sw - pl
  // + dx dw), or `fill` (in the graph's dtype: its zero point) outside the
  // map. kh 0: not laid out so.
  struct Patches {
    int64_t kh = 0, kw = 0, sh = 1, sw = 1, dh = 1, dw = 1, pt = 0, pl = 0;
    std::vector<int64_t> srcDims;
    int32_t fill = 0;
  } patches;

  int64_t tiles() const { return ceilDiv(C, lanes); }
  int64_t elemBytes() const { return i32 ? 4 : i16 ? 2 : 1; }
  int64_t rowBytes() const { return lanes * elemBytes(); }
  uint64_t bytes() const { return uint64_t(tiles() * P * rowBytes()); }
};

// Whether `t`'s patches, when it has them, describe it: the geometry in
// range (kernel, strides and dilations 1 to 4096, pads 0 to 4096), the
// graph's dims [N, C0, H0, W0] and `t` [N, kh kw C0, OH, OW] on axis 1. The
// host reads the graph's tensor through them (Device.h), so a program or
// text that fails this is refused.
inline bool patchesDescribe(const NTensor &t) {
  const NTensor::Patches &p = t.patches;
  if (!p.kh && p.srcDims.empty())
    return true;
  bool ok = p.srcDims.size() == 4 && t.dims.size() == 4 && t.axis == 1;
  for (int64_t v : {p.kh, p.kw, p.sh, p.sw, p.dh, p.dw})
    ok = ok && v >= 1 && v <= 4096;
  ok = ok && p.pt >= 0 && p.pt <= 4096 && p.pl >= 0 && p.pl <= 4096;
  for (int64_t d : p.srcDims)
    ok = ok && d >= 1 && d <= (int64_t(1) << 31);
  return ok && t.dims[0] == p.srcDims[0] &&
         t.dims[1] == p.kh * p.kw * p.srcDims[1];
}

// The requantization of one output channel: int32 multiplier and
// shift, zero point and clamp, in stored-int8 terms (a uint8 output has its
// zero point and range shifted by -128).
struct Requant {
  std::vector<int32_t> mult, shift; // per output channel
  int32_t zp = 0, lo = -128, hi = 127;
};

// The VAdd registers, in stored-int8 terms: TFLite's quantized add, or
// with `exact` the exact one (quant::AddFixed on the lanes plus 128: the
// add_x_* registers; lo and hi are add_min and add_max).
struct AddRegs {
  int32_t lshift = 20;
  int32_t aZp = 0, aMult = 0, aShift = 0, bZp = 0, bMult = 0, bShift = 0;
  int32_t outMult = 0, outShift = 0, outZp = 0, lo = -128, hi = 127;
  bool exact = false;
  int64_t xaMult = 0, xbMult = 0, xOffset = 0;
  int32_t xShift = 0;
};

struct FusedPool {
  bool on = false;
  bool avg = false;
  int64_t kh = 1, kw = 1, s = 1; // no padding when fused
};

struct FusedAdd {
  bool on = false;
  int other = -1;              // the other operand (NTensor index)
  bool otherBroadcast = false; // one pixel, repeated over every pixel
  bool convIsA = true;         // the GEMM result is the add's first operand
  bool beforePool = false;     // add the conv rows, then pool (else pool first)
  AddRegs regs;
};

// Conv (2-D, groups, dilation) or MatMul (as a 1x1 convolution over the
// rows of A: `flat`), with the bias and requantization folded in.
struct GemmLayer {
  int in = -1, out = -1; // NTensor indices
  int64_t N = 1, C = 1, H = 1, W = 1, K = 1, OH = 1, OW = 1;
  int64_t kh = 1, kw = 1, sh = 1, sw = 1, dh = 1, dw = 1;
  int64_t pt = 0, pl = 0, pb = 0, pr = 0, groups = 1;
  bool flat = false; // 1x1, stride 1, no padding: pixels tile flat
  // A sum over the whole kh x kw image per channel (kh = H, kw = W, no
  // padding, depthwise): one identity weight tile, and GEMMs whose outer
  // loop accumulates every pixel into one accumulator row. `w` unused.
  bool sum = false;
  std::vector<int8_t> w; // [K][C / groups][kh][kw], zero points removed
  // Weights read from an activation (form actmatmul: a MatMul of two
  // activations, flat): the NTensor whose pixel j holds output channel j's
  // weights over its channels (its rows are the weight rows, loaded from
  // DRAM for each tile, rows past K from a zero block); `w` is then empty.
  // -1: the weights are `w`.
  int wAct = -1;
  // With wAct, the reduction in segments (two activations' zero points,
  // form actmatmul): segment s is channels [s C', (s + 1) C') of C, C' = C /
  // segs.size() a multiple of the lanes, whose act rows come from tensor
  // segs[s][0] and weight rows from segs[s][1] (-1: `in`, `wAct`); the
  // others are constant tensors laid out as those. Empty: one segment.
  std::vector<std::array<int, 2>> segs;
  std::vector<int32_t> bias; // [K]: bias, minus x_zp * sum(w), minus the
                             // requantization's input zero point
  int32_t padValue = 0;      // stored value padding reads (the input zp)
  bool requant = true;       // false: the int32 accumulators are the result
  // 16x8 (Target::wide16): an int16 input (its two byte planes through the
  // array, int64 `bias64` in place of `bias`: the bias plus 128 x the
  // weights' sum, the low plane's excess-128) and/or an int16 result.
  bool in16 = false, out16 = false;
  std::vector<int64_t> bias64; // [K], with in16
  Requant rq;
  FusedPool pool;
  FusedAdd add;
};

// MaxPool / AveragePool on stored int8 values (rounding half up).
struct PoolLayer {
  int in = -1, out = -1;
  int64_t N = 1, C = 1, H = 1, W = 1, OH = 1, OW = 1;
  // The strides per axis: the pooling op's stride register is one for both,
  // so a pool whose sh differs from sw runs one pooling op per output line
  // (its source at line oy sh, stride sw).
  int64_t kh = 1, kw = 1, sh = 1, sw = 1, pt = 0, pl = 0, pb = 0, pr = 0;
  bool avg = false;
  // Average without the padded taps (count_include_pad 0): a window that
  // overlaps the padding divides by its taps inside the image (every pad is
  // below its kernel size, so each window has one).
  bool excludePad = false;
  int32_t padValue = -128; // max: lowest; average with padding: the zp
  // Nearest upsampling by `up` as the result is stored (a nearest Resize:
  // a 1x1 pool): result pixel (y, x) goes to (y up + dy, x up + dx) for
  // dy, dx < up of the output tensor, which is OH up x OW up.
  int64_t up = 1;
  // Bilinear upsampling by `up` (2, 4 or 8) on the vector engine instead
  // (the Upsample op): 1 half_pixel, 2 asymmetric coordinates (the op's
  // mode); the four-tap sum taken around the stored zero point upZp. The
  // window is 1x1 and OH, OW are H, W, as for the nearest form.
  int upMode = 0;
  int32_t upZp = 0;
  // 16-bit rows (Target::wide16): the map and the result int16 (max on the
  // stored values, padding -32768; the average rounds as the 8-bit one).
  bool w16 = false;
};

// The VMul registers (quantized multiply: requantize((a - aZp) * (b - bZp),
// mult, shift) + outZp, clamped), in stored-int8 terms.
struct MulRegs {
  int32_t aZp = 0, bZp = 0, mult = 0, shift = 0, outZp = 0, lo = -128, hi = 127;
};

// Quantized elementwise add of two tensors of one shape (or b repeated);
// with `mul`, the quantized multiply instead (the squeeze-excitation scale:
// b one pixel of per-channel values).
struct AddLayer {
  int a = -1, b = -1, out = -1;
  bool bBroadcast = false; // b has one pixel, repeated over every pixel
  AddRegs regs;
  bool mul = false;
  MulRegs mulRegs;
  // 16-bit rows (Target::wide16): a, b and the result int16 (the add's
  // int16 form, zero points 0).
  bool w16 = false;
};

struct Layer {
  enum class Kind { Gemm, Pool, Add };
  Kind kind = Kind::Gemm;
  std::string name;               // the source node that names the layer
  std::vector<std::string> nodes; // every source node it covers
  GemmLayer gemm;
  PoolLayer pool;
  AddLayer add;
  // The output table (a TableLookup fused with the producer): 256 stored
  // results, entry k for the stored input k - 128 (docs/quantization.md);
  // empty: none. Applied after requantization (and its clamp).
  std::vector<int8_t> lut;
  // A 16-bit table (form table16: a TableLookup of an int16 tensor): a pool
  // layer of one 1x1 window on 16-bit rows whose vector op is the lookup
  // (Lut w16) of these 513 int16 entries (the interpolated table,
  // docs/quantization.md, "16-bit activations"); empty: none.
  std::vector<int16_t> lut16;
  // A form's own attributes, for the forms that emit their layers'
  // operations themselves (forms/<Form>.cpp, FormPattern::emits): name
  // "<form>.<attribute>" -> integers, printed and parsed as
  // `<form>.<attribute>=v,v,...` in the layer's text and checked there by
  // that form (FormPattern::verify). So a new form keeps what its layers
  // need without a field here or a line of the text format.
  std::map<std::string, std::vector<int64_t>> attrs;
  uint64_t usefulMacs = 0; // the model's multiply-accumulates
};

// The tensor a layer writes.
inline int layerOutput(const Layer &L) {
  return L.kind == Layer::Kind::Gemm   ? L.gemm.out
         : L.kind == Layer::Kind::Pool ? L.pool.out
                                       : L.add.out;
}

// Every tensor a layer reads or writes (a GEMM's fused add operand too).
inline std::vector<int> layerTensors(const Layer &L) {
  switch (L.kind) {
  case Layer::Kind::Gemm: {
    std::vector<int> r = {L.gemm.in, L.gemm.out};
    if (L.gemm.add.on)
      r.push_back(L.gemm.add.other);
    if (L.gemm.wAct >= 0)
      r.push_back(L.gemm.wAct);
    for (const auto &sg : L.gemm.segs)
      for (int k : sg)
        if (k >= 0)
          r.push_back(k);
    return r;
  }
  case Layer::Kind::Pool:
    return {L.pool.in, L.pool.out};
  case Layer::Kind::Add:
    break;
  }
  return {L.add.a, L.add.b, L.add.out};
}

// A partition in layer form: tensors, layers in execution order, and which
// tensors are the partition's inputs and outputs (in program order).
struct LayerProgram {
  std::vector<NTensor> tensors;
  std::vector<Layer> layers;
  std::vector<int> inputs, outputs;
};

} // namespace ember::accel

#endif // EMBER_ACCEL_LAYERS_H

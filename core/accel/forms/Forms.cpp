// The form table (SelectInternal.h): one row per op a layer form claims,
// giving the capability manifest's claim (dtypes, constraint in words, the
// fused pattern or placement it runs in) and the check and builder that
// implement it. A target enables forms by name (Target::forms); the
// manifest and the selector both read this table, so the plugin never
// claims a node that compile then refuses. Adding a form: its rows here,
// their check and builder (Select.cpp, Build.cpp), and the vendor's emission
// of any operation it needs.
#include "SelectInternal.h"

#include <algorithm>
#include <cstring>

namespace ember::accel::sel {

namespace {

std::string convText(const Target &t) {
  const Form *f = t.form("conv");
  const std::string k = std::to_string(f ? f->kernelMax : 0);
  return "2-D, kernel up to " + k + "x" + k +
         " (taps x lanes <= half of the weight memory), stride 1.." +
         std::to_string(f ? f->strideMax : 0) + ", dilation 1.." +
         std::to_string(f ? f->dilationMax : 0) +
         (t.maxPad < 1
              ? std::string(", no pads")
              : ", any pads (the loads pad up to " + std::to_string(t.maxPad) +
                    " per side and below the kernel's extent; "
                    "identity layers store the input with the "
                    "rest)") +
         ", groups (depthwise included), constant int8 weights (a weight "
         "zero point folds when w - zp fits int8), scalar input zero point";
}
std::string matmulText(const Target &) {
  return "rank-2 A (or rank 3, a sequence: channels last), constant "
         "rank-2 B, scalar A zero point";
}
std::string biasText(const Target &) {
  return "int32 bias on a ConvInteger/MatMulInteger result";
}
std::string requantText(const Target &t) {
  return std::string("rank 2 or 4 (or 3, a sequence: channels last); of an "
                     "accumulator the target computes") +
         (t.form("requant") ? ", or of an i8/u8 tensor" : "") +
         (t.requant.perChannel
              ? "; per-channel tables on the channel axis (1; 2 of a sequence)"
              : "");
}
std::string addText(const Target &) {
  return "rank 2 or 4 (or 3, a sequence: channels last); same shapes, or one "
         "operand repeated per channel or scalar (a constant, or a [1,C,...] "
         "tensor)";
}
std::string maxPoolText(const Target &t) {
  const Form *f = t.form("pool");
  const std::string w = std::to_string(f ? f->windowMax : 0);
  return "2-D, window <= " + w + "x" + w +
         ", strides <= " + std::to_string(f ? f->strideMax : 0) +
         " per axis, pads below the window (over " + std::to_string(t.maxPad) +
         ": stored with the input by identity layers)";
}
std::string avgPoolText(const Target &t) {
  return maxPoolText(t) +
         " (with count_include_pad 0: each <= " + std::to_string(t.maxPad) +
         ")";
}
std::string globalPoolText(const Target &t) {
  const Form *f = t.form("pool");
  return "H, W <= " + std::to_string(f ? f->windowMax : 0);
}
std::string concatText(const Target &) {
  return "axis 1, inputs at whole channel tiles (lane multiples but the last)";
}
std::string splitText(const Target &) {
  return "axis 1, parts at whole channel tiles (lane multiples but the last)";
}
std::string resizeText(const Target &) {
  return "nearest, H and W by one integer factor 2..8 reading source pixel "
         "floor(X / f) (asymmetric + floor, half_pixel + round_prefer_*, ...)";
}
std::string upsampleText(const Target &) {
  return "bilinear, H and W by one factor 2, 4 or 8 (half_pixel or "
         "asymmetric coordinates) of an i8/u8 map with equal input and "
         "output parameters";
}
std::string interleaveText(const Target &) {
  return "the sy x sx phases of a transposed convolution (strides 1..8, "
         "two phases or more), each the requantized result of an 8-bit "
         "convolution read by the Concat alone, the interleave cropped by a "
         "Slice of H and W when larger than the result";
}
std::string permuteText(const Target &) {
  return "a constant channel permutation: Reshape/Transpose chains of an "
         "i8/u8 tensor keeping the batch and the pixels (a channel shuffle "
         "of g groups: [N, g, C/g, H, W], perm [0, 2, 1, 3, 4])";
}
std::string moveText(const Target &) {
  return "of a tensor the target computes, keeping dim 1 and the pixel order "
         "(or a flatten into the MatMul that follows)";
}
std::string byteViewText(const Target &) {
  return "ending at a tensor of the same bytes: each element at its channel "
         "and pixel of the input (channel-tiled layout), each result read "
         "by the next alone";
}
std::string tableText(const Target &) {
  return "a constant 256-entry table, of a Requantize's only use";
}
std::string table16Text(const Target &) {
  return "i16 -> i16, a constant table of 513 int16 entries (the "
         "interpolated 16-bit table), any rank";
}
std::string pixelsText(const Target &) {
  return "along an axis other than the channels, one run of pixels per "
         "channel tile (every other dim before the axis 1); Slice with "
         "constant bounds and steps 1, Gather of one constant index";
}
std::string chainText(const Target &) {
  return "i32, in an output-table chain (TableLookup, Cast, Sub, Add, Mul, "
         "scalar Requantize; at most 16 ops)";
}
std::string mulText(const Target &) {
  return "rank 2 or 4; same shapes, or b one pixel of per-channel values (a "
         "constant, or a [1,C,...] tensor: the squeeze-excitation scale)";
}
std::string castText(const Target &) {
  return "i8/u8 to i32 starting a per-channel sum: Cast -> [Sub] -> "
         "ReduceSum over H, W -> Requantize";
}
std::string subText(const Target &) {
  return "the zero point of a per-channel sum";
}
std::string reduceText(const Target &) {
  return "over H, W (keepdims) in a per-channel sum";
}

// The fused patterns: ops the target runs only inside them (OpCapability
// context), so query_support refuses them as single nodes.
const char *const kBias =
    "fused: the int32 bias Add of a ConvInteger/MatMulInteger the target runs";
const char *const kAccumulator =
    "fused: an int32 accumulator the target computes (ConvInteger/"
    "MatMulInteger [+ bias Add], or a per-channel sum), requantized in the "
    "same layer";
const char *const kSum =
    "fused: a per-channel sum, Cast(i8/u8 -> i32) -> [Sub of a scalar zero "
    "point] -> ReduceSum over H, W (keepdims) -> Requantize";
const char *const kMove =
    "placement: of a tensor the target computes in the same partition (a "
    "free reshape; a lone one is not worth a partition)";
const char *const kTable =
    "fused: the output table of the layer requantizing its input (applied "
    "after the requantization and its clamp)";
const char *const kTableChain =
    "fused: integer elementwise ops of one requantized layer result alone "
    "(x * f(x): SiLU, HardSwish as x * HardSigmoid(x)), evaluated into its "
    "output table";
const char *const kMul =
    "fused: a quantized Mul, Requantize((Cast(a) - za) * (Cast(b) - zb)) with "
    "scalar parameters";
const char *const kUpsample =
    "fused: a bilinear upsampling as the importer lowers it, Requantize("
    "Resize(Cast(x) - z), 1, z) (docs/quantization.md, \"Upsampling\")";
const char *const kViews =
    "placement: of a tensor the target computes in the same partition, every "
    "part but the last a whole number of channel tiles (views of the input)";
const char *const kInterleave =
    "placement: a transposed convolution's phase interleave, Concat of the "
    "sy x sx phase maps -> Reshape -> Transpose [0, 3, 4, 1, 5, 2] -> Reshape "
    "[-> Slice of H and W] (each phase layer stores at its pixels of the "
    "result)";
const char *const kPermute =
    "placement: a constant channel permutation, Reshape and Transpose nodes "
    "of a tensor that only reorder its channels (folded into the producing "
    "layer's output channels, or a 1x1 GEMM of 0/1 weights)";
const char *const kByteView =
    "placement: a view, Reshape and Transpose nodes of a tensor the target "
    "computes in the same partition that keep every element's channel and "
    "pixel (a convolution's [1, M, 1, W] result as the sequence [W, M])";
const char *const kPixels =
    "placement: a Slice or Gather of pixels is a view of its input (loads at "
    "the offset); a Concat of pixels of layer results the target computes "
    "(their stores at the offsets)";
const char *const kPlaced =
    "placement: every input but the last a whole number of channel tiles "
    "(a multiple of the lanes), so producers store into the output";

} // namespace

const std::vector<FormRow> &formTable() {
  static const std::vector<FormRow> rows = {
      // forms, stage, op, dtypes, min rank, context, context dtypes,
      // index dtypes, constraint, check, builder
      {"conv",
       "",
       "ConvInteger",
       {"i8", "u8", "i32"},
       0,
       "",
       {},
       {},
       convText,
       whyGemmRootNode,
       buildGemmRoot},
      {"matmul",
       "",
       "MatMulInteger",
       {"i8", "u8", "i32"},
       0,
       "",
       {},
       {},
       matmulText,
       whyGemmRootNode,
       buildGemmRoot},
      {"conv|matmul",
       "bias",
       "Add",
       {"i32"},
       0,
       kBias,
       {},
       {},
       biasText,
       whyBiasNode,
       buildBias},
      // (its multiplier, shift and zero points may be scalars: rank 0)
      {"conv|matmul|mean|requant",
       "",
       "Requantize",
       {"i8", "u8", "i32"},
       0,
       kAccumulator,
       {"i32"},
       {},
       requantText,
       whyRequantNode,
       buildRequant},
      {"conv|matmul|mean|requant",
       "lut",
       "TableLookup",
       {"i8", "u8"},
       0,
       kTable,
       {},
       {},
       tableText,
       whyTableNode,
       buildTable},
      {"table16",
       "",
       "TableLookup",
       {"i16"},
       0,
       "",
       {},
       {},
       table16Text,
       whyTableNode,
       buildTable},
      {"conv|matmul|mean|requant",
       "lut",
       "Mul",
       {"i32"},
       0,
       kTableChain,
       {},
       {},
       chainText,
       whyChainPartNode,
       buildPatternPart},
      {"add",
       "",
       "QuantizedAdd",
       {"i8", "u8"},
       0,
       "",
       {},
       {},
       addText,
       whyAddNode,
       buildAdd},
      {"pool",
       "",
       "MaxPool",
       {"i8", "u8"},
       0,
       "",
       {},
       {},
       maxPoolText,
       whyPoolNode,
       buildPool},
      {"pool",
       "",
       "AveragePool",
       {"i8", "u8"},
       0,
       "",
       {},
       {},
       avgPoolText,
       whyPoolNode,
       buildPool},
      {"pool",
       "",
       "GlobalAveragePool",
       {"i8", "u8"},
       0,
       "",
       {},
       {},
       globalPoolText,
       whyPoolNode,
       buildPool},
      {"concat",
       "",
       "Concat",
       {"i8", "u8"},
       2,
       kPlaced,
       {},
       {},
       concatText,
       whyConcatNode,
       buildConcat},
      {"concat",
       "",
       "Split",
       {"i8", "u8"},
       0, // (the split sizes are rank 1; the data's rank is checked)
       kViews,
       {},
       {"i64"},
       splitText,
       whySplitNode,
       buildSplit},
      {"resize",
       "",
       "Resize",
       {"i8", "u8"},
       0, // (scales and sizes are rank 1; the image's rank is checked)
       "",
       {},
       {"f32", "i64"},
       resizeText,
       whyResizeNode,
       buildResize},
      {"upsample",
       "",
       "Resize",
       {"i32"},
       0,
       kUpsample,
       {"i32"},
       {"f32", "i64"},
       upsampleText,
       whyUpsampleNode,
       buildResize},
      {"interleave",
       "",
       "Transpose",
       {"i8", "u8"},
       4,
       kInterleave,
       {},
       {},
       interleaveText,
       whyInterleaveNode,
       buildInterleave},
      {"interleave",
       "",
       "Slice",
       {"i8", "u8"},
       0, // (starts, ends and axes are rank 1; the map's rank is checked)
       kInterleave,
       {},
       {"i64"},
       interleaveText,
       whyInterleaveNode,
       buildInterleave},
      // (After the interleave's and the move's rows: a Reshape or Transpose
      // outside a permutation gets their reasons; claimedOps adds this
      // context to theirs.)
      {"permute",
       "",
       "Transpose",
       {"i8", "u8"},
       2,
       kPermute,
       {},
       {},
       permuteText,
       whyPermuteNode,
       buildPatternPart},
      {"reshape",
       "",
       "Reshape",
       {"i8", "u8"},
       0,
       kMove,
       {},
       {"i64"},
       moveText,
       whyMoveNode,
       buildMove},
      {"reshape",
       "",
       "Flatten",
       {"i8", "u8"},
       0,
       kMove,
       {},
       {},
       moveText,
       whyMoveNode,
       buildMove},
      {"reshape",
       "",
       "Squeeze",
       {"i8", "u8"},
       0,
       kMove,
       {},
       {"i64"},
       moveText,
       whyMoveNode,
       buildMove},
      {"reshape",
       "",
       "Unsqueeze",
       {"i8", "u8"},
       0,
       kMove,
       {},
       {"i64"},
       moveText,
       whyMoveNode,
       buildMove},
      {"reshape",
       "",
       "Identity",
       {"i8", "u8"},
       0,
       kMove,
       {},
       {},
       moveText,
       whyMoveNode,
       buildMove},
      {"permute",
       "",
       "Reshape",
       {"i8", "u8"},
       0,
       kPermute,
       {},
       {"i64"},
       permuteText,
       whyPermuteNode,
       buildPatternPart},
      {"reshape",
       "",
       "Transpose",
       {"i8", "u8"},
       2,
       kByteView,
       {},
       {},
       byteViewText,
       whyViewNode,
       buildPatternPart},
      {"mean",
       "",
       "Cast",
       {"i8", "u8", "i32"},
       0,
       kSum,
       {},
       {},
       castText,
       whyCastNode,
       buildSumPart},
      {"mean",
       "",
       "Sub",
       {"i32"},
       0,
       kSum,
       {},
       {},
       subText,
       whySumPartNode,
       buildSumPart},
      {"mean",
       "",
       "ReduceSum",
       {"i32"},
       0,
       kSum,
       {},
       {"i64"},
       reduceText,
       whySumPartNode,
       buildSumPart},
      {"mul",
       "",
       "Mul",
       {"i32"},
       0,
       kMul,
       {},
       {},
       mulText,
       whyChainPartNode,
       buildPatternPart},
      {"mul",
       "",
       "Cast",
       {"i8", "u8", "i32"},
       0,
       kMul,
       {},
       {},
       mulText,
       whyChainPartNode,
       buildPatternPart},
      {"mul",
       "",
       "Sub",
       {"i32"},
       0,
       kMul,
       {},
       {},
       mulText,
       whyChainPartNode,
       buildPatternPart},
      {"pixels",
       "",
       "Slice",
       {"i8", "u8"},
       1,
       kPixels,
       {},
       {"i64"},
       pixelsText,
       whyPixelNode,
       buildPixels},
      {"pixels",
       "",
       "Gather",
       {"i8", "u8"},
       0, // (the index is rank 0; the data's rank is checked)
       kPixels,
       {},
       {"i64"},
       pixelsText,
       whyPixelNode,
       buildPixels},
      {"pixels",
       "",
       "Concat",
       {"i8", "u8"},
       2,
       kPixels,
       {},
       {},
       pixelsText,
       whyPixelNode,
       buildPixels},
  };
  return rows;
}

bool fuses(const Target &t, const std::string &form, const char *stage) {
  const Form *f = t.form(form);
  return f && f->fuses(stage);
}

namespace {

// Whether `row` serves on `t`: one of its forms is the target's (and fuses
// the row's stage).
bool serves(const Target &t, const FormRow &row) {
  const char *p = row.forms;
  while (*p) {
    const char *bar = std::strchr(p, '|');
    std::string name = bar ? std::string(p, size_t(bar - p)) : std::string(p);
    if (t.form(name) && (!*row.stage || fuses(t, name, row.stage)))
      return true;
    if (!bar)
      break;
    p = bar + 1;
  }
  return false;
}

} // namespace

const FormRow *rowFor(const Target &t, const std::string &op) {
  for (const FormRow &r : formTable())
    if (op == r.op && serves(t, r))
      return &r;
  return nullptr;
}

} // namespace ember::accel::sel

namespace ember::accel {

namespace {

// The 16-bit dtypes of the forms beyond the GEMM layers that declare 16-bit
// activations (Form::act16): a mean's int16 map and int64 sum, the int16
// pooling, reshapes and multiplies (docs/npu-backend.md, "16-bit
// activations (16x8)").
void add16Dtypes(const Target &t, const sel::FormRow &r, OpClaim &c) {
  const std::string op = r.op;
  auto has = [&](const char *form) {
    return std::strstr(r.forms, form) && sel::has16(t, form);
  };
  if ((has("mean") || has("mul")) && op == "Cast")
    c.dtypes.insert(c.dtypes.end(), {"i16", "i64"});
  else if (has("mean") && op == "ReduceSum")
    c.dtypes.push_back("i64");
  else if (has("pool") || has("reshape") || has("concat") || has("pixels"))
    c.dtypes.push_back("i16");
}

} // namespace

std::vector<OpClaim> claimedOps(const Target &t) {
  std::vector<OpClaim> out;
  for (const sel::FormRow &r : sel::formTable()) {
    if (!sel::serves(t, r))
      continue;
    bool seen = false;
    for (OpClaim &c : out)
      if (c.op == r.op) {
        seen = true;
        // A later row running other dtypes only in its fused pattern (the
        // int32 Resize of a bilinear upsampling beside the nearest one)
        // widens the claim with them, in that context.
        if (*r.context && c.context.empty() && c.contextDtypes.empty() &&
            !r.contextDtypes.empty()) {
          c.dtypes.insert(c.dtypes.end(), r.dtypes.begin(), r.dtypes.end());
          c.context = r.context;
          c.contextDtypes.assign(r.contextDtypes.begin(),
                                 r.contextDtypes.end());
        }
        // Pixel views and placements beside the channel ones (or the
        // interleave's crop).
        if (std::strcmp(r.forms, "pixels") == 0) {
          c.constraints += "; or " + r.constraints(t);
          c.context = c.context.empty() ? std::string(r.context)
                                        : c.context + "; or " + r.context;
          if (sel::has16(t, "pixels") &&
              std::find(c.dtypes.begin(), c.dtypes.end(), "i16") ==
                  c.dtypes.end())
            c.dtypes.push_back("i16");
        }
        // A 16-bit table lookup: a layer of its own beside the fused 8-bit
        // output table (its dtype and constraint added).
        if (std::strcmp(r.forms, "table16") == 0) {
          c.dtypes.push_back("i16");
          c.constraints += "; or " + r.constraints(t);
          c.context += "; or i16: a layer of its own";
        }
        // A channel permutation's Reshape and Transpose: that context too
        // (and the constraint), and its dtypes' claim when the row before
        // had none (a target without the move or interleave form).
        // A byte view's Transpose: that context and constraint, and the
        // reshape form's int16.
        if (std::strcmp(r.forms, "reshape") == 0 &&
            std::strcmp(r.op, "Transpose") == 0) {
          c.context = c.context.empty() ? std::string(r.context)
                                        : c.context + "; or " + r.context;
          c.constraints += "; or " + r.constraints(t);
          if (sel::has16(t, "reshape") &&
              std::find(c.dtypes.begin(), c.dtypes.end(), "i16") ==
                  c.dtypes.end())
            c.dtypes.push_back("i16");
        }
        if (std::strcmp(r.forms, "permute") == 0) {
          c.context = c.context.empty() ? std::string(r.context)
                                        : c.context + "; or " + r.context;
          c.constraints += "; or " + r.constraints(t);
          c.maxRank = std::max(c.maxRank, 6u);
        }
      }
    if (seen)
      continue; // one claim per op
    OpClaim c;
    c.op = r.op;
    c.dtypes.assign(r.dtypes.begin(), r.dtypes.end());
    // 16x8 (Form::act16): the int16 input and int64 accumulator of a conv or
    // matmul form declaring 16-bit activations, its int64 bias, its int16
    // or int64-input requantization.
    const std::string op = r.op;
    bool act16 = false;
    for (const char *f : {"conv", "matmul"})
      act16 = act16 || (t.form(f) && t.form(f)->act16 && t.wide16 &&
                        std::strstr(r.forms, f));
    if (act16 &&
        (op == "ConvInteger" || op == "MatMulInteger" || op == "Requantize"))
      c.dtypes.insert(c.dtypes.end(), {"i16", "i64"});
    else if (act16 && op == "Add" && *r.stage)
      c.dtypes.push_back("i64");
    if (op == "QuantizedAdd" && t.form("add") && t.form("add")->act16 &&
        t.wide16)
      c.dtypes.push_back("i16");
    add16Dtypes(t, r, c);
    c.constraints = r.constraints(t);
    c.minRank = r.minRank;
    // (A phase interleave's Concat, Reshape and Transpose hold the rank-6
    // [N, s, s, K, H, W] between them; query_support refuses them elsewhere.)
    if (t.form("interleave") &&
        (op == "Concat" || op == "Reshape" || op == "Transpose"))
      c.maxRank = 6;
    // (A channel permutation's [N, g, C/g, H, W], or more axes.)
    if (t.form("permute") && (op == "Reshape" || op == "Transpose"))
      c.maxRank = 6;
    c.context = r.context;
    c.contextDtypes.assign(r.contextDtypes.begin(), r.contextDtypes.end());
    // A 16x8 layer's requantization (int64 accumulator in, int16 out) runs
    // only in its layer: a lone int16 conversion stays on the host.
    if (act16 && op == "Requantize")
      c.contextDtypes.insert(c.contextDtypes.end(), {"i16", "i64"});
    if (op == "Requantize" && sel::has16(t, "requant"))
      c.contextDtypes.erase(
          std::remove(c.contextDtypes.begin(), c.contextDtypes.end(), "i16"),
          c.contextDtypes.end());
    // Without vadd's exact flag only TFLite's attribute form runs: the
    // fixed profile's exact add of a QDQ graph stays on the host.
    if (op == "QuantizedAdd" && !t.exactAddFlag())
      c.context = "TFLite's attribute form only (left_shift and multipliers "
                  "given); the exact add needs vadd's exact flag";
    c.indexDtypes.assign(r.indexDtypes.begin(), r.indexDtypes.end());
    out.push_back(std::move(c));
  }
  return out;
}

} // namespace ember::accel

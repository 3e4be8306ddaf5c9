// A layer form (docs/npu-sdk.md, "Layer forms", "Adding a layer form"): a
// pattern of the lowered graph that the target runs as layers. Each form is
// one file of this folder defining `const FormPattern &form<Name>()` and
// one line of the form table (Forms.def), and holds all of it:
//  - what it needs of a target description that names it (its own fields,
//    the memories, operations and registers it uses: Target.cpp's checks);
//  - its selection: the rows of the form table it adds (per op: the
//    manifest's claim, the check that says whether the target runs a node,
//    and its builder), and the claims of patterns of several nodes it makes
//    before the per-node checks and settles after them;
//  - its building: each row's builder, and buildPart for the nodes of its
//    patterns, making layers of the layer IR (Layers.h) with the shared
//    steps of the builder (Builder.h);
//  - its scheduling, when its layers need operations the layer kinds'
//    schedulers do not emit (schedule/: GEMM, pool and add layers): the
//    layers it emits, their constants in the static image, and their code.
// A row of a fused stage of the GEMM forms (bias, requant, lut) belongs to
// the requant form (Requant.cpp), whose layers those stages end.
#pragma once

#include "Builder.h"
#include "CodegenInternal.h"
#include "Pack.h"
#include "SelectInternal.h"

#include "ember/accel/Select.h"

#include <functional>

#include <set>
#include <string>
#include <vector>

namespace ember::accel {

// What the forms of a description use (Target.cpp, validate): operand
// classes, operation kinds, and the register groups of padded loads,
// pools, adds and multiplies. `gemm`: a form whose layers are GEMM layers
// (one double-buffered tile of a 1x1 convolution must fit).
struct FormNeeds {
  std::set<int> classes; // Cls
  std::set<int> kinds;   // OpKind
  bool gemm = false, pads = false, pools = false, adds = false, muls = false;
};

namespace sel {

// The form table's check of one node: ok or why the target does not run it
// (the violated constraint, with the target's limits); a check that claims
// the node may fill the analysis (chains, patterns).
using WhyFn = Status (*)(const View &v, Analysis &a, int node, bool forCompile);
// A node's builder: folds it into a pending layer or emits layers.
using BuildFn = void (*)(Builder &b, int node);

// One row of the form table: an op a form claims, with its capability claim
// (the manifest's OpCapability), its check and its builder. A row serves on
// a target when one of its forms is the target's (and, for a fused stage,
// in that form's epilogue). The rows serving a node are tried in `rank`
// order: the first whose check claims it builds it; when none does, the
// node gets the reason of the first whose dtypes hold its input's (else of
// the first), followed by those of later rows marked `appendReason`.
struct FormRow {
  const char *forms = ""; // "conv|matmul": the target forms enabling it
  const char *stage = ""; // a fused stage of those forms (bias, ...), or ""
  const char *op = "";    // the ONNX op
  int rank = 0;           // its place among the rows of all forms
  std::vector<const char *> dtypes;
  unsigned minRank = 0;     // the lowest rank of its tensors
  const char *context = ""; // the fused pattern or placement it runs in
  std::vector<const char *> contextDtypes, indexDtypes;
  std::string (*constraints)(const Target &t) = nullptr; // in words
  WhyFn why = nullptr;
  BuildFn build = nullptr;
  // Only for the nodes it holds true for: a row that applies to a node is
  // tried before (and instead of) the rows that have no such test.
  bool (*applies)(const View &v, const v1::Node &n) = nullptr;
  bool appendReason = false;
  // The nodes it claims may read a value laid out with its channels on
  // another axis (View::chan); other rows refuse such a node.
  bool anyLayout = false;
  // After it claims `node` (and the node's layout is checked): patterns
  // the claim starts (the output-table chain after a Requantize).
  void (*claimed)(const View &v, Analysis &a, int node) = nullptr;
  // The manifest: the claim of the op by its first serving row, adjusted
  // (`claim`), and widened by each later serving row (`widen`, after the
  // generic widening: a later row's context dtypes when the claim has
  // none).
  void (*claim)(const Target &t, const FormRow &r, OpClaim &c) = nullptr;
  void (*widen)(const Target &t, const FormRow &r, OpClaim &c) = nullptr;
};

// Whether `row` serves on `t`.
bool serves(const Target &t, const FormRow &row);
// The rows serving `op` on `t` that apply to node n, in rank order (the
// rows with an `applies` test that holds, else those without one).
std::vector<const FormRow *> rowsFor(const Target &t, const View &v,
                                     const v1::Node &n);
// Whether form `form` of the target fuses `stage`.
bool fuses(const Target &t, const std::string &form, const char *stage);

// Shared by the GEMM forms (conv, matmul, mean, requant, permute): the
// manifest's 16x8 dtypes of a row of the conv or matmul form when that form
// declares 16-bit activations (its int16 input and int64 accumulator, the
// bias Add's int64, the requantization's int16 and int64), and what a GEMM
// form needs of a description (`requantizes`: its layers requantize; `pads`:
// its loads pad).
void claimGemm16(const Target &t, const FormRow &r, OpClaim &c);
bool gemmAct16(const Target &t, const FormRow &r);
void gemmNeeds(const Form &f, FormNeeds &n, bool requantizes, bool pads);

// Adds to `claims` a claim of `op` unless one is there: a form whose
// pattern runs nodes of ops no other form of the target claims (the
// host's partitioner asks query_support about every claimed node).
void ensureClaim(std::vector<OpClaim> &claims, const char *op,
                 std::vector<std::string> dtypes,
                 const std::string &constraints, const char *context,
                 std::vector<std::string> indexDtypes = {},
                 unsigned minRank = 0);

} // namespace sel

// A layer form: see the top of this file.
struct FormPattern {
  const char *name = ""; // the description's form name (Forms.def)
  // ---- the description ----
  // ok or why form `f` lacks a field it needs (the message follows the
  // form's path: "forms[0]: conv needs kernel_max, ...").
  Status (*fields)(const Form &f) = nullptr;
  // ok or why the description cannot run the form; adds what it uses.
  Status (*needs)(const Target &t, const Form &f, FormNeeds &n) = nullptr;
  // The operation that carries the lut flag when the form fuses the lut
  // stage (its layers' result through the output table).
  OpKind lutOp = OpKind::Requant;
  // ---- selection ----
  std::vector<sel::FormRow> rows;
  // Lays out values (View::chan) before any check (the pixels form's
  // channel axes).
  void (*layout)(sel::View &v) = nullptr;
  // Claims patterns of several nodes before the per-node checks
  // (Analysis::claim), and settles them (and its rows' claims) after them,
  // each in form table order; run only when the target names the form.
  void (*claim)(const sel::View &v, sel::Analysis &a) = nullptr;
  void (*settle)(const sel::View &v, sel::Analysis &a,
                 bool forCompile) = nullptr;
  // After any form's row claims node i (that row's own `claimed` first):
  // patterns of nodes after it that the node's result starts.
  void (*claimedNode)(const sel::View &v, sel::Analysis &a, int i) = nullptr;
  // Adjusts the manifest's claims once every row has added its own.
  void (*manifest)(const Target &t, std::vector<OpClaim> &claims) = nullptr;
  // ---- building ----
  // A node of one of its patterns (Analysis::Part), ending at node `last`.
  void (*buildPart)(sel::Builder &b, int node, int last) = nullptr;
  // ---- scheduling ----
  // The layers whose operations it emits itself (null: none; a layer
  // kind's scheduler emits them), what the program calls such a layer
  // (LayerInfo::op), their constants in the static image, and their code:
  // the tiling problem, the setup and the steps (as schedule/'s
  // schedulers; ok or why the layer cannot be scheduled).
  bool (*emits)(const Layer &L) = nullptr;
  // Ok or why layer L's attributes of this form (Layer::attrs, those named
  // "<form>.") are not ones its layers can have: the layer text's parser
  // asks it of every layer carrying them.
  Status (*verify)(const Layer &L) = nullptr;
  // Its layers' constants written into a program's image where `tables`
  // placed them (`tb`; writeConstants, for a program sent without its
  // image: the vendor's packing); `lanes` the program's.
  void (*pack)(const Layer &L, const GemmTables &tb, int64_t lanes,
               std::vector<uint8_t> &image) = nullptr;
  std::string (*opName)(const Layer &L) = nullptr;
  Status (*tables)(const Target &t, const Layer &L, Image &img,
                   GemmTables &tb) = nullptr;
  Status (*schedule)(const Target &t, const Layer &L,
                     const std::vector<NTensor> &ts, const GemmTables &tb,
                     const CodegenOptions &o, LayerCode &code,
                     LayerInfo &info) = nullptr;
};

#define ACCEL_FORM(Pattern, Name, What) const FormPattern &form##Pattern();
#include "Forms.def"

// A row-wise vector layer (forms norm and softmax: a 1x1 pool layer whose
// rows the form reduces and multiplies): its tensors and the rows it may use.
struct RowLayer {
  const NTensor *x = nullptr, *y = nullptr;
  bool in16 = false, out16 = false, inPlace = true; // in place: same width
  int64_t outCap = 0; // Out rows (16-bit rows when either side is)
  int64_t accCap = 0; // Acc rows below the output tables' reserve
  // Acc and out in one memory (rowSharedRows): its rows the layer may use.
  // splitSharedRows places the acc rows from row 0 and the out rows from
  // outBase above them.
  bool shared = false;
  int64_t sharedRows = 0;
  int64_t outBase = 0;
  // The cost model's DRAM and DMA (machineOf), and whether to predict.
  scratchpad::Machine machine;
  bool predict = true;
};
// The rows the row forms (norm, softmax) may use of a memory holding both
// the acc and the out classes, or 0 when they are apart: all of them below
// the output tables' reserve (`reserve` when the params share it), for
// 16-bit rows (w16) the lower half's (a 16-bit row pairs rows r and r +
// rows/2).
int64_t rowSharedRows(const Target &t, bool w16, int64_t reserve);
// The most param rows a program keeps at the top of the param memory for
// its tables on t (rowSharedRows' `reserve` at selection).
int64_t rowTablesReserve(const Target &t);
// A row layer's blocks of B rows (at most) in a shared memory
// (RowLayer::sharedRows): the acc rows (accFixed, then accPerRow a row)
// from row 0, the out rows (outPerRow a row) above them, within the memory
// and the out rows' fields (rowLayerOutRows of rowOp). Sets outBase, outCap
// and accCap and returns the rows a block (0: none fits); B itself with two
// memories.
int64_t splitSharedRows(const Target &tg, RowLayer &r, OpKind rowOp,
                        int64_t accFixed, int64_t accPerRow, int64_t outPerRow,
                        int64_t B);
// Layer L's RowLayer, or an error naming `what` (its tensors missing, a
// 16-bit layer on a target without 16-bit rows, acc and out in one memory).
Status rowLayerOf(const Target &tg, const Layer &L,
                  const std::vector<NTensor> &ts, const CodegenOptions &o,
                  const char *what, RowLayer &r);
// The steps of a row-wise layer in blocks of B rows: each block's Ct
// channel tiles loaded to Out rows base + k*B, `compute` (the block's step,
// rows and base), its result's tiles stored from Out rows base + yBase +
// k*B; base 0, or with `second` (two buffers) every other block's at
// `second`, so that a block's loads run beside the operations of the block
// before. Fills the tiling line and the DRAM the layer needs, and returns
// the predicted cycles (into `info` too with RowLayer::predict): the
// operations as the reference simulator times them, in the stream's order.
double emitRowBlocks(
    const Target &tg, const std::vector<NTensor> &ts, const Layer &L,
    const RowLayer &r, int64_t B, int64_t yBase, int64_t second,
    LayerCode &code, LayerInfo &info,
    const std::function<void(StepCode &sc, int64_t n, int64_t base)> &compute);
// A row layer in blocks of B rows with one buffer, or of fewer rows with two
// where the out memory and the fields (rowOp's, rowLayerOutRows) hold two
// blocks of more than one row and the prediction is lower (smaller blocks:
// more loads and stores, each with its latency). `emit(Bk, second, code,
// info)` emits it in blocks of Bk rows (second buffer at `second`, 0 for
// one) and returns its predicted cycles.
void emitBuffered(
    const Target &tg, const RowLayer &r, OpKind rowOp, int64_t B,
    LayerCode &code, LayerInfo &info,
    const std::function<double(int64_t Bk, int64_t second, LayerCode &c,
                               LayerInfo &inf)> &emit);
// The Out rows a row layer's operations can address (the loads' and stores'
// rows, vreduce's sources, the row operation `rowOp`'s both ends).
int64_t rowLayerOutRows(const Target &tg, OpKind rowOp);

// The form table in order (Forms.def).
const std::vector<const FormPattern *> &formPatterns();
// The form named `name`, or null.
const FormPattern *formNamed(const std::string &name);
// The form that emits layer L's operations, or null (its kind's scheduler).
const FormPattern *emitterOf(const Layer &L);

} // namespace ember::accel

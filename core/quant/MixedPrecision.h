// Per-layer choice between 8- and 16-bit activations (`ember quantize
// --mixed-precision BUDGET`, docs/quantization.md "Mixed precision: 8 or
// 16 bits per layer"): measured sensitivity against predicted NPU cycles
// (each layer's cycles in each precision form, from the NPU compiler's
// cost model on compiles of a few mixes; the choice itself compiled). The
// sensitivity of an activation is output-referred: the noise the model
// outputs carry when that activation alone is quantized to 8 bits (the
// rest fp32), measured on calibration samples with one compiled probe
// model; the set removing the most of it (greedy by noise per cycle, or a
// knapsack) within BUDGET x the all-int8 model's cycles, checked on the
// device's cycles; then, at the limit where it fits, that set and a few
// near it (candidateSets) run as quantized models on calibration samples,
// the best measured output SQNR kept.
#pragma once

#include "quant/RangeMethods.h"
#include "quant/Sensitivity.h"

#include <array>
#include <functional>
#include <ostream>
#include <set>

namespace ember::quant {

// Predicted device cycles per ONNX node name of a QDQ model (the NPU cost
// model through a plugin's estimate_cost; the tool supplies it, core never
// names a backend). Nodes the device does not run are absent.
using NodeCostFn = std::function<Expected<std::map<std::string, double>>(
    const onnx::ModelProto &)>;

// The device cycles a QDQ model takes on the NPU's timed model, run once
// on the given inputs (the tool supplies it; empty: the cost model alone).
using NodeMeasureFn = std::function<Expected<double>(
    const onnx::ModelProto &, const std::vector<Tensor> &)>;

// The QDQ model with the given plan roots held as int16.
using WideBuildFn =
    std::function<Expected<onnx::ModelProto>(const std::set<std::string> &)>;

struct MixedPrecisionOptions {
  double budget = 1.3;     // predicted cycles at most budget x all-int8's
  size_t evalSamples = 16; // the all-int8 and chosen models' output SQNR
  size_t rankSamples = 8;  // the output-referred ranking (one run each
                           // per activation tensor)
  // Candidate sets of 16-bit tensors per choice (candidateSets), each
  // built and run on the first selectSamples samples; the best by output
  // SQNR compiled and checked first, at most checksPerChoice of them.
  // candidates = 1: the summed-noise proxy's choice alone.
  size_t candidates = 4;
  size_t selectSamples = 8;
  size_t maxMeasured = 8; // candidate runs over all choices
  size_t checksPerChoice = 3;
  // Also log every activation tensor's output noise and extra cycles
  // (`--report` with `--mixed-precision`).
  bool listRanking = false;
  RunOptions run;
  // When set, the choice is also run on the timed model and chosen again
  // while its cycles exceed the budget against the all-int8 model's there.
  NodeMeasureFn measure;
  std::ostream *log = nullptr;
};

struct MixedPrecisionResult {
  onnx::ModelProto model;
  std::set<std::string> wide; // plan roots held as int16
  // The device cycles the NPU compiler predicts for the all-int8 model and
  // for the chosen one (its own compile), and what the table predicted.
  double baseCycles = 0, cycles = 0, tableCycles = 0;
  size_t offDevice = 0; // groups the choice sends to the host
  // The timed model's cycles of both (0: not measured).
  double measuredBase = 0, measured = 0;
  double int8Sqnr = 0, outputSqnr = 0;
};

// The relative cost of a group reading a 16-bit activation where nothing
// better is known (CycleTable::doubling, and a signature no compile
// measured): a 16x8 layer on a two-pass array runs at half the int8 MAC
// rate (docs/npu-architecture.md, spec version 3) and moves twice the bytes;
// a one-pass array (spec version 5) costs less, which the compiles measure.
constexpr double kWideCostFactor = 2.0;
// How much better (dB of output SQNR, on the search's few samples) a
// candidate set costing more cycles than the proxy's choice must measure
// to replace it.
constexpr double kCostlierMarginDb = 0.25;
// Whether a candidate set measuring `candidateDb` replaces the choice
// measuring `chosenDb` (a costlier one by more than kCostlierMarginDb: on a
// few samples a tenth of a dB either way is noise, and cycles are not).
bool measuredBetter(double candidateDb, double chosenDb, bool costlier);

// Predicted device cycles of any choice of 16-bit roots: per quantized
// group, its cycles under each precision signature (how its activation
// inputs are held: all 8-bit, all 16-bit or some of each; whether it writes
// a 16-bit tensor), as the NPU compiler predicts them for compiled mixes
// (`measure`), plus the cycles of the nodes outside every group. A group
// a signature sends to the host (the device runs it at int8 but not in that
// form, e.g. an add of an 8-bit and a 16-bit tensor) costs the device
// nothing there.
struct CycleTable {
  enum In { kIn8 = 0, kIn16 = 1, kInMixed = 2 };
  static constexpr int kSignatures = 6; // in * 2 + writes16
  struct Roots {
    std::set<std::string> in, out;
  };
  std::vector<Roots> roots;                            // per group
  std::vector<std::array<double, kSignatures>> cycles; // per group
  std::vector<std::array<bool, kSignatures>> measured; // per group
  // Whether a measured form's compile ran any of the group's nodes on the
  // device (a node fused into another layer is there at 0 cycles).
  std::vector<std::array<bool, kSignatures>> present; // per group
  double other = 0; // nodes outside every group (the all-int8 compile)
  // Per group: whether it multiplies two activations (a MatMul of two
  // non-constant operands). Its integer form reads them 8-bit: the 16x8
  // form wants the other operand int8 with zero point 0, which a mixed
  // model's 8-bit activations (asymmetric) are not, so a 16-bit operand
  // leaves the product in float.
  std::vector<bool> twoActivations;

  int signature(size_t group, const std::set<std::string> &wide) const;
  double predict(const std::set<std::string> &wide) const;
  // Groups the device runs at int8 that `wide` sends to the host.
  size_t offDevice(const std::set<std::string> &wide) const;
  // Whether `wide` leaves every group in an integer form: no product of two
  // activations reading a 16-bit one (twoActivations). The search never
  // chooses a set that is not.
  bool allowed(const std::set<std::string> &wide) const;

  // From the all-int8 model's per-node cycles, a group reading a 16-bit
  // activation at kWideCostFactor times them (writing one changes nothing).
  static CycleTable doubling(const onnx::GraphProto &g, const QdqPlan &plan,
                             const std::map<std::string, double> &nodeCycles);
  // An empty table for the plan's groups (every signature unmeasured).
  static CycleTable empty(const onnx::GraphProto &g, const QdqPlan &plan);
  // Records the per-node cycles of a compile of the mix `wide` (nodes the
  // device does not run absent): each group's cycles under its signature
  // there. `first`: the all-int8 compile, which also sets `other`.
  void measure(const onnx::GraphProto &g, const QdqPlan &plan,
               const std::set<std::string> &wide,
               const std::map<std::string, double> &nodeCycles, bool first);
  // Whether group `gi` can take signature `s` (a group of one input never
  // has some of each, a group without inputs reads none 16-bit).
  bool reachable(size_t gi, int s) const;
  // A mix that puts as many groups as it can, in order, into a reachable
  // signature no compile measured and `tried` does not hold (each such
  // group's inputs and outputs held as the signature wants, the first
  // input 16-bit and the rest 8-bit for some of each; a group whose wish
  // contradicts an earlier one's waits for the next mix); the pairs it
  // aims at go into `tried`. Empty when none is left: compiles of these
  // mixes measure the forms the fixed mixes miss (an add's 8-bit inputs
  // into 16 bits where its output feeds another many-input group).
  std::set<std::string> coverMix(std::set<std::pair<size_t, int>> &tried) const;
  // Signatures no compile measured take the nearest measured one: some
  // inputs 16-bit as all of them, then the other output width, else the
  // int8 cycles (times kWideCostFactor when it reads 16 bits).
  void fill();
};

// Predicted cycles of the plan with roots `wide` held as int16, from the
// all-int8 model's per-node cycles: each group reading a wide activation
// costs kWideCostFactor times its int8 cycles (CycleTable::doubling).
double predictCycles(const onnx::GraphProto &g, const QdqPlan &plan,
                     const std::map<std::string, double> &nodeCycles,
                     const std::set<std::string> &wide);

// The relative noise each root's own 8-bit quantization (params8, in [qmin,
// qmax]; QuantizeLinear then DequantizeLinear) puts on its fp32 values,
// sum (x - DQ(Q(x)))^2 / sum x^2 over the first n samples: what the tensor
// loses, not what of it reaches the output.
Expected<std::map<std::string, double>> tensorNoise(
    const onnx::ModelProto &fp32, const std::map<std::string, QParams> &params8,
    int32_t qmin, int32_t qmax, const std::vector<Sample> &samples,
    const std::vector<InputDecl> &inputs, size_t n, const RunOptions &run);

// Output-referred sensitivity of every root in params8: the relative noise
// power of the model outputs (sum over outputs of sum (y - y_fp32)^2 / sum
// y_fp32^2, over the first n samples) when that root and the tensors
// sharing its parameters alone are quantized to 8 bits, every other tensor
// fp32. One probe model is compiled: the fp32 graph with each planned
// tensor x replaced by x + m_r (DQ(Q(x)) - x), m_r a 0/1 graph input per
// root r; each root costs one run per sample.
Expected<std::map<std::string, double>>
outputNoise(const onnx::ModelProto &fp32, const QdqPlan &plan,
            const std::map<std::string, QParams> &params8, int32_t qmin,
            int32_t qmax, const std::vector<Sample> &samples,
            const std::vector<InputDecl> &inputs, size_t n,
            const RunOptions &run);

// The roots to hold as int16, maximizing the noise removed (the sum of
// their `noise`) while the predicted cycles stay within `limit`: the better
// of a greedy choice by noise removed per cycle added (roots costing
// nothing first, ties by name) and a 0/1 knapsack on each root's own extra
// cycles filled up greedily. Roots absent from `noise` stay 8-bit.
std::set<std::string> chooseWide(const CycleTable &t,
                                 const std::map<std::string, double> &noise,
                                 double limit);
// The sets the search measures, every one within `limit` on the table, at
// most maxCount, distinct, the best by the summed noise first (chooseWide's
// choice): the greedy and knapsack choices, then the best one's neighbours
// (one of its 16-bit tensors back at 8 bits, the room it frees filled
// greedily by the others: one cheaper tensor, two or more), in the order of
// the noise they leave. The summed noise ignores how the tensors' noises
// interact; sets close on it differ by up to 1.5 dB of measured output
// SQNR, so the search runs each and keeps the best measured.
std::vector<std::set<std::string>>
candidateSets(const CycleTable &t, const std::map<std::string, double> &noise,
              double limit, size_t maxCount);
// The same on CycleTable::doubling of the all-int8 cycles.
std::set<std::string>
chooseWide(const onnx::GraphProto &g, const QdqPlan &plan,
           const std::map<std::string, double> &nodeCycles,
           const std::map<std::string, double> &noise, double limit);

// params8: the 8-bit parameters of every root, in [qmin, qmax].
Expected<MixedPrecisionResult> searchMixedPrecision(
    const onnx::ModelProto &fp32, const onnx::ModelProto &int8,
    const QdqPlan &plan, const std::map<std::string, QParams> &params8,
    int32_t qmin, int32_t qmax, const std::vector<Sample> &samples,
    const std::vector<InputDecl> &inputs,
    const std::map<std::string, std::string> &aliases, const NodeCostFn &cost,
    const WideBuildFn &build, const MixedPrecisionOptions &o);

} // namespace ember::quant

// The stages the fixed profile's integer recurrent layers share
// (docs/quantization.md, "LSTM" and "GRU"; IntegerLstm.cpp, IntegerGru.cpp):
// int16 gate pre-activations at 2^-12, gates and the hidden state at 2^-15,
// per-row int8 weights, 513-entry 16-bit tables.
#pragma once

#include "lower/IntegerForms.h"

namespace ember::recurrent {

// Gate pre-activations (+-8: sigmoid and tanh are within 3.4e-4 and 2.3e-7
// of their limits there), gates ([0, 1] or [-1, 1]) and the hidden state
// (|h| <= 1).
constexpr double kPreScale = 0x1p-12, kGateScale = 0x1p-15,
                 kHiddenScale = 0x1p-15;

// int16 parameters at scale s, zero point 0.
QParams int16Params(double s);

// The real values of a constant operand: a float constant, or the
// DequantizeLinear of a constant. Empty otherwise.
std::optional<std::vector<double>> realValues(Value v);

// The rows [row0, row0 + H) of a [rows, K] matrix (values) quantized per
// row to int8 (symmetric, scale max |row| / 127, 1 for a zero row),
// transposed to [K, H] for MatMulInteger; p along axis 1.
struct QuantRows {
  Tensor w;
  QParams p;
};
QuantRows quantizeRows(const std::vector<double> &v, int64_t row0, int64_t H,
                       int64_t K);

// The multipliers sx * w.scales[c] / sy, and a single multiplier m.
Rescale perChannel(double sx, const QParams &w, double sy);
Rescale single(double m);

double sigmoid(double x);
double tanhOf(double x);

// The 513-entry int16 table of f from scale sIn to kGateScale, a constant
// named `name`.
Value table16Of(LoweringBuilder &b, double (*f)(double), double sIn,
                const std::string &name);

// The input projection of every step of x2 ([T * B, I]: stored integers
// with per-tensor params *px, or float when px is null) by the rows
// [row0, row0 + H) of W ([rows, I] real values) plus bias (F64, {H}): int16
// at kPreScale, [T * B, H]. An 8x8 or 16x8 MatMulInteger with an int32 (or
// int64) bias, or (a float input) the float product quantized.
Expected<Value> inputProjection(LoweringBuilder &b, Value x2,
                                const std::vector<double> &W, int64_t row0,
                                int64_t H, int64_t I, const Tensor &bias,
                                const QParams *px);

// Rows [t * B, (t + 1) * B) of xp.
Expected<Value> stepRows(LoweringBuilder &b, Value xp, int64_t t, int64_t B);

// v (int16 at sv, [B, K]) times the quantized rows r (int8 [K, H], params
// rp), plus bias (real values, F64 {H}) when not null: int16 at kPreScale
// (a 16x8 MatMulInteger, saturated at +-8).
Expected<Value> recurrentTerm(LoweringBuilder &b, Value v, double sv, Value r,
                              const QParams &rp, const Tensor *bias);

// The elementwise product of a (int16 at sa) and v (int16 at sv) into
// int16 params out (an int32 Mul, requantized).
Expected<Value> product(LoweringBuilder &b, Value a, Value v, double sa,
                        double sv, const QParams &out);

// The int16 add of a and c, both at params p; `what` names the sum in the
// error when no add was built.
Expected<Value> addInt16(LoweringBuilder &b, const Node &n, Value a, Value c,
                         const QParams &p, const char *what);

// Whether the per-row int8 weights keep the NPU's 16x8 product sums within
// int32 (docs/quantization.md, "Exactness"): 127 K < 2^24 for every K.
bool sumsFit(int64_t I, int64_t H);

// A recurrent node the integer form takes, read once: x [T, B, I] (rank 3),
// hidden_size H, a direction of forward, reverse or bidirectional (D 1 or
// 2), the default activations, no clip, layout 0, no input past B, and
// constant W ([D, gates H, I]), R ([D, gates H, H]) and optional B ([D,
// 2 gates H]) whose products sumsFit. Empty when any of it does not hold.
struct Recurrence {
  std::string dir;
  int64_t T = 0, B = 0, I = 0, H = 0, D = 1;
  std::vector<double> W, R;
  std::optional<std::vector<double>> Bv;
  bool reverse(int64_t d) const { return dir == "reverse" || d == 1; }
};
std::optional<Recurrence> readRecurrence(const Node &n, Value x, int64_t gates);

// The values concatenated along axis (the one value itself when alone): the
// steps of a direction of Y (axis 0), then its directions (axis 1).
Expected<Value> concatOrOne(LoweringBuilder &b, const std::vector<Value> &v,
                            int64_t axis);

} // namespace ember::recurrent

// Reading and writing tensors: ONNX TensorProto (.pb) and NumPy (.npy).
#pragma once

#include "ir/Tensor.h"
#include "support/File.h" // readFileBytes

#include <string>

namespace onnx {
class TensorProto;
}

namespace ember {

// Largest tensor Ember will materialize (guards hostile sizes).
constexpr uint64_t kMaxTensorBytes = uint64_t(8) << 30;

// Checks that dims are non-negative and the byte size fits the limit.
Status checkTensorSize(const Dims &d, ElemKind k, const std::string &what);

// Converts a TensorProto; `baseDir` resolves external data locations.
Expected<Tensor> tensorFromProto(const onnx::TensorProto &p,
                                 const std::string &baseDir);
void tensorToProto(const Tensor &t, onnx::TensorProto &p);

// Whole-file helpers; the format is chosen by extension (.npy, else .pb).
Expected<Tensor> readTensorFile(const std::string &path,
                                std::string *nameOut = nullptr);
Status writeTensorFile(const Tensor &t, const std::string &path,
                       const std::string &name = "");

} // namespace ember

// Conversions between Ember's IRs and the backend-api schemas
// (backend-api/proto/ember/backend/v1/*.proto): what crosses the plugin ABI
// as bytes. Deserialization treats its input as hostile: every id, dtype,
// op name, operand count, size and nested graph is checked, result types are
// re-inferred and compared, and errors name the node or buffer.
#pragma once

#include "ir/Graph.h"
#include "lir/LIR.h"
#include "support/Error.h"

#include <cstdint>
#include <memory>
#include <string>

namespace ember::backend::v1 {
class Graph;
class LirProgram;
class TensorType;
} // namespace ember::backend::v1

namespace ember::backend {

constexpr uint32_t kGraphSchemaVersion = 1;
constexpr uint32_t kLirSchemaVersion = 1;

// ---- graph ----------------------------------------------------------------
// Any graph IR function (typically lowered) -> ember.backend.v1.Graph.
// Graph.nodes holds the non-storage nodes in order; node i of the proto is
// the i-th such node of `f` (partition reports and SupportReport use this
// numbering).
Expected<std::string> serializeGraph(const Function &f);
Status toProto(const Function &f, v1::Graph &out);

// ember.backend.v1.Graph bytes -> a Module whose main() is the function.
Expected<std::unique_ptr<Module>> deserializeGraph(const void *data,
                                                   size_t size);
Expected<std::unique_ptr<Module>> fromProto(const v1::Graph &g);

// ---- LIR --------------------------------------------------------------------
Expected<std::string> serializeLir(const lir::Function &f);
Expected<lir::Function> deserializeLir(const void *data, size_t size);

// ---- types ------------------------------------------------------------------
void toProto(const Type &t, v1::TensorType &out);
Expected<Type> fromProto(const v1::TensorType &t);

} // namespace ember::backend

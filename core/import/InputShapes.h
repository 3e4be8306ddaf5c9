// Binding a model's symbolic input dims to concrete values: from whole
// input shapes (input files, --input-shape, the executor's tensors), from
// dims bound by name (--dim NAME=VALUE), and from defaults (a batch-like or
// sequence dim is 1, with a note). docs/onnx-import.md states the rules.
#pragma once

#include "ir/Type.h"
#include "support/Error.h"

#include <map>
#include <string>
#include <vector>

namespace ember {

// One dim of a graph input as the model declares it.
struct DeclaredDim {
  int64_t value = -1; // >= 0: static
  std::string name;   // dim_param; empty for an unnamed unknown dim
  bool isStatic() const { return value >= 0; }
};

// A graph input (not an initializer) as the model declares it.
struct DeclaredInput {
  std::string name;
  int onnxElemType = 0;  // TensorProto::DataType; 0 when not a tensor
  bool hasShape = false; // false: not even the rank is known
  std::vector<DeclaredDim> dims;
};

// How a message tells the user to bind a dim or give a shape: the `ember`
// command's options unless a front end spells its own (the Python package
// says `ember.load(path, dims={...})`), so users read their own terms.
// In each pattern `{}` stands for the dim's or the input's name.
struct BindingSpelling {
  std::string dim = "--dim {}=N";
  std::string shape = "--input-shape {}=D0xD1x...";
  std::string data = "--input {}=FILE";
  std::string anyDim = "--dim NAME=N";
  std::string anyShape = "--input-shape";
  // The pattern with `{}` replaced by name.
  std::string spell(const std::string &pattern, const std::string &name) const;
};

// What binds the dims. Every entry says where it came from, so a message
// names the option the user actually gave.
struct ShapeBindings {
  struct Shape {
    Dims dims;
    std::string origin; // "--input-shape x=1x3", "--input x=a.npy", ...
  };
  std::map<std::string, Shape> inputs;          // whole shapes, by input name
  std::map<std::string, int64_t> dims;          // by dim name
  std::map<std::string, std::string> dimOrigin; // "--dim batch=4"
  // Give unbound batch-like and sequence dims the value 1 (with a note);
  // otherwise every symbolic dim must be bound.
  bool defaults = false;
  // Leave a dim nothing binds as -1 (listed in ResolvedShapes::unbound)
  // instead of failing: a front end that binds dims from each run's arrays
  // (the Python package) describes such a model before it has data.
  bool allowUnbound = false;
  BindingSpelling spelling;
};

struct ResolvedShapes {
  std::map<std::string, Dims> inputs;  // every declared input
  std::map<std::string, int64_t> dims; // every named dim's value
  std::vector<std::string> notes;      // one line per defaulted dim
  // "batch=1, input 'x' dim 0=1": what was defaulted, for the context of a
  // later import error (empty when nothing was).
  std::string defaulted;
  // With allowUnbound: the dims left -1, one line each ("dim 'H' (input
  // 'x' [N,3,H,W] dim 2)"); empty when every dim is bound.
  std::vector<std::string> unbound;
};

// The rules, in order: a whole shape given for an input must match its
// rank and static dims; named dims take one value everywhere (a conflict
// names both sources); --dim binds a name; then, with `defaults`, a
// batch-like dim (dim 0 wherever its name appears, a name that says batch,
// or an unnamed dim 0) or a sequence dim (name mentions seq, len, time,
// step, token, frame, word) is 1; any other unbound dim is an error asking
// for --dim or --input-shape (b.spelling), or with b.allowUnbound is left
// -1. Every binding must name a declared input or dim.
Expected<ResolvedShapes>
resolveInputShapes(const std::vector<DeclaredInput> &inputs,
                   const ShapeBindings &b);

// An error that may come from defaulted dims, with them named and the way
// to bind them: "<message> (with defaulted dims batch=1; bind them with
// --dim NAME=N or --input-shape)" (as `spelling` says). `defaulted` empty:
// the error as is.
Status withDefaultedDims(const Status &s, const std::string &defaulted,
                         const BindingSpelling &spelling = {});

// The declared inputs of an ONNX model file (initializers excluded).
Expected<std::vector<DeclaredInput>>
onnxDeclaredInputs(const std::string &path);
// The same from the model's bytes; `where` names it in messages.
Expected<std::vector<DeclaredInput>>
onnxDeclaredInputsFromBytes(const std::string &bytes, const std::string &where);
// The graph outputs as the model declares them (element type, dims).
Expected<std::vector<DeclaredInput>>
onnxDeclaredOutputsFromBytes(const std::string &bytes,
                             const std::string &where);

// "NAME=VALUE" (--dim) into b.dims; errors name the argument.
Status parseDimBinding(const std::string &arg, ShapeBindings &b);
// "NAME=D0xD1x..." (--input-shape) into b.inputs.
Status parseInputShapeBinding(const std::string &arg, ShapeBindings &b);

} // namespace ember

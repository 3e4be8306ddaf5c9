// The low-level IR (LIR): address-based, not SSA, no control flow.
//
// A lir::Function holds memory spaces (name, capacity, alignment), buffers
// placed in those spaces (inputs, outputs, constant weights, mutable
// activations), views (a typed alias of a buffer at a byte offset) and an
// ordered list of instructions. Compute instructions reuse the graph op
// table (OpKind + attributes) and run the graph's reference kernels;
// alloc/dealloc mark activation lifetimes; copy and the asynchronous
// dma.start/dma.wait pair move bytes. See docs/lir.md.
#pragma once

#include "ir/Graph.h"

#include <cstdint>
#include <map>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

namespace ember::lir {

struct MemorySpace {
  std::string name;
  uint64_t capacity = 0;  // bytes; 0 means unbounded
  uint64_t alignment = 1; // every planned offset is a multiple of this
};

enum class BufferKind { Input, Output, Weight, Activation };
const char *bufferKindName(BufferKind k);

struct Buffer {
  std::string name;
  Type type;
  unsigned space = 0; // index into Function::spaces
  BufferKind kind = BufferKind::Activation;
  std::shared_ptr<const Tensor> payload; // weights only
  int64_t offset = -1; // activations: planned byte offset in the space
  uint64_t bytes() const { return type.sizeInBytes(); }
};

struct View {
  std::string name;
  unsigned buffer = 0; // the aliased buffer (never another view)
  uint64_t offset = 0; // bytes from the start of the buffer
  Type type;
};

// A reference to storage: a buffer, a view, or an absent optional operand.
struct Ref {
  enum class Kind { None, Buffer, View };
  Kind kind = Kind::None;
  unsigned index = 0;
  static Ref none() { return Ref(); }
  static Ref buffer(unsigned i) { return Ref{Kind::Buffer, i}; }
  static Ref view(unsigned i) { return Ref{Kind::View, i}; }
  explicit operator bool() const { return kind != Kind::None; }
  bool operator==(const Ref &o) const {
    return kind == o.kind && (kind == Kind::None || index == o.index);
  }
};

enum class Access { In, Out, InOut };
const char *accessName(Access a);

struct Operand {
  Ref ref;
  Access access = Access::In;
  bool reads() const { return access != Access::Out; }
  bool writes() const { return access != Access::In; }
};

enum class InstKind { Compute, Alloc, Dealloc, Copy, DmaStart, DmaWait };

struct Instruction {
  InstKind kind = InstKind::Compute;
  // Compute: the graph op and its attributes. Operands are in op-table
  // order: kernel inputs are the In/InOut operands, results the Out/InOut
  // operands, each in list order.
  OpKind op = OpKind::Placeholder;
  AttrMap attrs;
  std::vector<Operand> operands;
  // DmaStart (produces) and DmaWait (consumes).
  std::string token;
  // DmaStart: either `bytes` (contiguous, shape empty) or a strided shape
  // of rank 2 or 3, outermost first; the innermost extent counts bytes and
  // is contiguous; dstStrides/srcStrides give byte strides of the outer
  // dims (rank - 1 entries each).
  uint64_t bytes = 0;
  std::vector<int64_t> shape, dstStrides, srcStrides;
  std::string loc; // source node name, may be empty
};

class Function {
public:
  std::string name = "main";
  std::vector<MemorySpace> spaces;
  std::vector<Buffer> buffers;
  std::vector<View> views;
  std::vector<Instruction> insts;

  const Type &typeOf(Ref r) const {
    return r.kind == Ref::Kind::View ? views[r.index].type
                                     : buffers[r.index].type;
  }
  const std::string &nameOf(Ref r) const {
    return r.kind == Ref::Kind::View ? views[r.index].name
                                     : buffers[r.index].name;
  }
  // The underlying buffer and the byte offset of `r` inside it.
  unsigned baseOf(Ref r) const {
    return r.kind == Ref::Kind::View ? views[r.index].buffer : r.index;
  }
  uint64_t offsetOf(Ref r) const {
    return r.kind == Ref::Kind::View ? views[r.index].offset : 0;
  }
  int findSpace(const std::string &n) const;
  // Buffers of a kind in declaration order (inputs and outputs define the
  // calling convention).
  std::vector<unsigned> buffersOfKind(BufferKind k) const;
};

// Text of one instruction as printed (for messages).
std::string instText(const Function &f, const Instruction &in);
// "instruction #4 'dealloc %t1'": how errors name an instruction.
std::string describeInst(const Function &f, size_t idx);

// ---- text form (Printer.cpp, Parser.cpp): round-trips exactly ----------
// elideConstantsAbove > 0 prints bigger weights as `elided` (for reading;
// not parseable), like the graph printer's --elide-constants.
void printFunction(std::ostream &os, const Function &f,
                   int64_t elideConstantsAbove = 0);
std::string printFunction(const Function &f);
Expected<Function> parseFunction(const std::string &text,
                                 const std::string &fileName = "<lir>");

// ---- IRGen.cpp ---------------------------------------------------------
struct IRGenOptions {
  // Spaces the target declares; empty takes defaultSpaces().
  std::vector<MemorySpace> spaces;
  std::string ioSpace = "host";         // inputs and outputs
  std::string weightSpace = "dram";     // constants
  std::string activationSpace = "dram"; // intermediates
};
// host (unbounded, align 64), dram (unbounded, align 64), sram (1 MiB,
// align 32): what the reference target declares.
std::vector<MemorySpace> defaultSpaces();
// Lowered graph -> LIR: one compute instruction per primitive node, views
// for Reshape, alloc before each activation's producer and dealloc after
// its last use. Offsets are left unplanned (-1).
Expected<Function> generateLir(const ember::Function &g,
                               const IRGenOptions &opts = {});

// ---- Verifier.cpp ------------------------------------------------------
struct VerifyOptions {
  // Require every activation to have a planned offset (after planning).
  bool requirePlanned = false;
  // Check each compute instruction's result operand types against what
  // its kernel infers from the operand types (and small weights' values).
  bool checkTypes = true;
};
Status verify(const Function &f, const VerifyOptions &opts = {});

// ---- MemoryPlanner.cpp -------------------------------------------------
struct SpaceReport {
  std::string space;
  uint64_t peak = 0;       // bytes used by the chosen placement
  uint64_t lowerBound = 0; // max over time of live (aligned) bytes
  uint64_t noReuse = 0;    // sum of every activation's aligned size
  std::string heuristic;   // which placement won
  // Every heuristic tried and its peak, in the order tried.
  std::vector<std::pair<std::string, uint64_t>> tried;
  size_t buffers = 0;
};
struct MemoryPlan {
  std::vector<SpaceReport> spaces; // one per memory space, in order
};
// Assigns an offset to every activation (overwrites existing ones) and
// returns the report. Fails when a space's capacity cannot hold the plan.
Expected<MemoryPlan> planMemory(Function &f);
// "memory: space=<name> peak=<bytes> lower_bound=<bytes> no_reuse=<bytes>"
void printMemoryReport(std::ostream &os, const MemoryPlan &p);

// ---- Interpreter.cpp ---------------------------------------------------
// Executes planned LIR: activations live in one byte array per space at
// their offsets, inputs/outputs/weights in their own arrays. Inputs in
// input-buffer order, results in output-buffer order.
Expected<std::vector<Tensor>> execute(const Function &f,
                                      const std::vector<Tensor> &inputs);

} // namespace ember::lir

// The LIR layer, for plugins whose manifest sets accepts_lir: planned LIR
// of a small graph and a MatMul staged through the sram space with DMA,
// each run and compared with the graph interpreter;
// and programs the plugin must refuse at compile time: a DMA out of its
// buffer's bounds, and a read of a DMA's destination before its dma.wait.
#include "KitInternal.h"

#include "backend/Partitioner.h"
#include "backend/ProgramProto.h"
#include "interp/Interpreter.h"
#include "lir/LirPipeline.h"

#include "ember/backend/v1/lir.pb.h"

namespace ember::kit {

lir::IRGenOptions lirTargetOptions();

namespace {

// Skips unless the manifest claims every compute node of `g`.
std::string unclaimed(const Function &g) {
  for (auto &n : g.nodes()) {
    if (isStorage(n->kind))
      continue;
    std::string why;
    if (!backend::manifestClaims(state().manifest, *n, why))
      return concat("the manifest does not claim ", opName(n->kind), ": ", why);
  }
  return "";
}

std::vector<Type> lirOutputTypes(const lir::Function &f) {
  std::vector<Type> v;
  for (unsigned b : f.buffersOfKind(lir::BufferKind::Output))
    v.push_back(f.buffers[b].type);
  return v;
}

// Compiles serialized LIR on the plugin, runs it and compares with the
// graph interpreter on `g`.
void runAndCompare(const std::string &program, const lir::Function &f,
                   const Function &g, const std::vector<Tensor> &in) {
  KitState &s = state();
  KIT_ASSIGN(backend::Device * d, pluginDevice());
  KIT_ASSIGN(backend::Executable x,
             s.plugin->compile(d, EMBER_PROGRAM_LIR, program));
  KIT_ASSIGN(auto got, runExecutable(*s.plugin, *d, x, in, lirOutputTypes(f)));
  KIT_ASSIGN(auto want, interpret(g, in));
  std::string why = compareOutputs(got, want, s.config.rtol, s.config.atol);
  KIT_CHECK(why.empty()) << "LIR program '" << f.name << "': " << why;
}

struct MatMulGraph {
  std::unique_ptr<Module> m;
  std::vector<Tensor> inputs;
};

// y = relu(x @ w + b), or the bare x @ w.
MatMulGraph buildMatMul(int64_t M, int64_t K, int64_t N, bool epilogue) {
  MatMulGraph r;
  r.m = std::make_unique<Module>();
  Function &g = *r.m->addFunction("main");
  Type xt(ElemKind::F32, {M, K});
  Node *x = g.addPlaceholder("x", xt);
  Node *w = g.addConstant("w", randomTensor(Type(ElemKind::F32, {K, N}), 11));
  Value y = Value(*g.create(OpKind::MatMul, {Value(x), Value(w)}));
  if (epilogue) {
    Node *b = g.addConstant("b", randomTensor(Type(ElemKind::F32, {N}), 12));
    y = Value(*g.create(OpKind::Add, {y, Value(b)}));
    y = Value(*g.create(OpKind::Relu, {y}));
  }
  g.addOutput(y, "y");
  r.inputs.push_back(randomTensor(xt, 13));
  return r;
}

// Every compute instruction of `f` staged through sram, as a plugin that
// accepts LIR with its own memories receives it from a vendor's tools (Ember
// plans buffers, not tiles: docs/lir.md): each operand outside sram is
// copied into an sram buffer by dma.start (the weights' before the inputs'
// wait, so the transfers overlap) and each result copied out after.
Status stageThroughSram(lir::Function &f) {
  const int sram = f.findSpace("sram");
  if (sram < 0)
    return unsupported("the manifest declares no 'sram' memory space");
  std::vector<lir::Instruction> out;
  int tokens = 0;
  for (lir::Instruction &in : f.insts) {
    if (in.kind != lir::InstKind::Compute) {
      out.push_back(in);
      continue;
    }
    std::vector<std::pair<unsigned, lir::Ref>> results; // staged, original
    std::vector<std::string> waits;
    std::vector<unsigned> staged;
    for (lir::Operand &op : in.operands) {
      if (!op.ref || f.buffers[f.baseOf(op.ref)].space == unsigned(sram))
        continue;
      lir::Buffer b;
      b.name = "sram" + std::to_string(f.buffers.size());
      b.type = f.typeOf(op.ref);
      b.space = unsigned(sram);
      f.buffers.push_back(b);
      const unsigned k = unsigned(f.buffers.size() - 1);
      lir::Instruction alloc;
      alloc.kind = lir::InstKind::Alloc;
      alloc.operands = {{lir::Ref::buffer(k), lir::Access::Out}};
      out.push_back(alloc);
      if (op.reads()) {
        lir::Instruction d;
        d.kind = lir::InstKind::DmaStart;
        d.token = "stage" + std::to_string(tokens++);
        d.bytes = b.type.sizeInBytes();
        d.operands = {{lir::Ref::buffer(k), lir::Access::Out},
                      {op.ref, lir::Access::In}};
        out.push_back(d);
        waits.push_back(d.token);
      }
      if (op.writes())
        results.push_back({k, op.ref});
      staged.push_back(k);
      op.ref = lir::Ref::buffer(k);
    }
    for (const std::string &t : waits) {
      lir::Instruction w;
      w.kind = lir::InstKind::DmaWait;
      w.token = t;
      out.push_back(w);
    }
    out.push_back(in);
    for (const auto &[k, orig] : results) {
      lir::Instruction d;
      d.kind = lir::InstKind::DmaStart;
      d.token = "stage" + std::to_string(tokens++);
      d.bytes = f.buffers[k].type.sizeInBytes();
      d.operands = {{orig, lir::Access::Out},
                    {lir::Ref::buffer(k), lir::Access::In}};
      out.push_back(d);
      lir::Instruction w;
      w.kind = lir::InstKind::DmaWait;
      w.token = d.token;
      out.push_back(w);
    }
    for (unsigned k : staged) {
      lir::Instruction dealloc;
      dealloc.kind = lir::InstKind::Dealloc;
      dealloc.operands = {{lir::Ref::buffer(k), lir::Access::In}};
      out.push_back(dealloc);
    }
  }
  f.insts = std::move(out);
  return Status::ok();
}

// The graph staged through sram with DMA, planned.
Expected<lir::Function> stagedProgram(const Function &g) {
  lir::IRGenOptions o = lirTargetOptions();
  EMBER_ASSIGN(lir::Function f, lir::generateLir(g, o));
  EMBER_TRY(stageThroughSram(f));
  EMBER_TRY(lir::verify(f));
  EMBER_TRY(lir::planMemory(f).status());
  EMBER_TRY(lir::verify(f, lir::VerifyOptions{/*requirePlanned=*/true}));
  return f;
}

#define KIT_REQUIRE_LIR_PROGRAM(var, graph)                                    \
  std::string var##_skip = unclaimed(graph);                                   \
  if (!var##_skip.empty()) {                                                   \
    GTEST_SKIP() << var##_skip;                                                \
  }                                                                            \
  auto var = stagedProgram(graph);                                             \
  if (!var && var.status().code() == ErrorCode::Unsupported) {                 \
    GTEST_SKIP() << var.status().message();                                    \
  }                                                                            \
  KIT_REQUIRE(var.hasValue()) << var.status().message()

void plannedGraph() {
  MatMulGraph mm = buildMatMul(4, 8, 16, true);
  const Function &g = *mm.m->main();
  std::string skip = unclaimed(g);
  if (!skip.empty()) {
    GTEST_SKIP() << skip;
  }
  KIT_ASSIGN(lir::Function f, buildPlannedLir(g, nullptr, lirTargetOptions()));
  KIT_ASSIGN(std::string bytes, backend::serializeLir(f));
  runAndCompare(bytes, f, g, mm.inputs);
}

void stagedWithDma() {
  MatMulGraph mm = buildMatMul(16, 32, 24, false);
  const Function &g = *mm.m->main();
  KIT_REQUIRE_LIR_PROGRAM(f, g);
  size_t dmas = 0;
  for (auto &in : f->insts)
    dmas += in.kind == lir::InstKind::DmaStart;
  note(concat("MatMul staged through sram: ", f->insts.size(),
              " instructions, ", dmas, " dma.start"));
  KIT_ASSIGN(std::string bytes, backend::serializeLir(*f));
  runAndCompare(bytes, *f, g, mm.inputs);
}

// Compiling must fail; `what` says how the program is broken.
void expectRefused(const v1::LirProgram &p, const std::string &what) {
  KitState &s = state();
  KIT_ASSIGN(backend::Device * d, pluginDevice());
  auto x = s.plugin->compile(d, EMBER_PROGRAM_LIR, p.SerializeAsString());
  KIT_CHECK(!(x.hasValue())) << "compiled an LIR program with " << what
                             << "; it must be refused at compile time";
  if (!x)
    note("refused: " + x.status().message());
}

void rejectsOutOfBoundsDma() {
  MatMulGraph mm = buildMatMul(64, 64, 64, false);
  const Function &g = *mm.m->main();
  KIT_REQUIRE_LIR_PROGRAM(f, g);
  KIT_ASSIGN(std::string bytes, backend::serializeLir(*f));
  v1::LirProgram p;
  KIT_REQUIRE(p.ParseFromString(bytes));
  for (int i = 0; i < p.instructions_size(); ++i) {
    v1::Instruction *in = p.mutable_instructions(i);
    if (in->kind() != v1::Instruction::DMA_START)
      continue;
    std::string what;
    if (in->shape_size() == 0) {
      in->set_bytes(in->bytes() + 4096);
      what = concat("dma.start #", i, " moving ", in->bytes(),
                    " bytes, 4096 more than its buffers hold");
    } else {
      in->set_shape(0, in->shape(0) + 64);
      what = concat("strided dma.start #", i,
                    " with 64 rows more than its buffers hold");
    }
    expectRefused(p, what);
    return;
  }
  KIT_REQUIRE(false) << "the staged program has no dma.start";
}

void rejectsReadBeforeWait() {
  MatMulGraph mm = buildMatMul(64, 64, 64, false);
  const Function &g = *mm.m->main();
  KIT_REQUIRE_LIR_PROGRAM(f, g);
  KIT_ASSIGN(std::string bytes, backend::serializeLir(*f));
  v1::LirProgram p;
  KIT_REQUIRE(p.ParseFromString(bytes));
  // Move the first dma.wait after the compute that follows it (the one that
  // reads what the DMA brings).
  int wait = -1;
  for (int i = 0; i < p.instructions_size() && wait < 0; ++i)
    if (p.instructions(i).kind() == v1::Instruction::DMA_WAIT)
      wait = i;
  ASSERT_GE(wait, 0) << "the staged program has no dma.wait";
  int compute = -1;
  for (int i = wait + 1; i < p.instructions_size() && compute < 0; ++i)
    if (p.instructions(i).kind() == v1::Instruction::COMPUTE)
      compute = i;
  ASSERT_GT(compute, wait) << "no compute follows the first dma.wait";
  std::string token = p.instructions(wait).token();
  for (int i = wait; i < compute; ++i)
    p.mutable_instructions()->SwapElements(i, i + 1);
  expectRefused(p, concat("a compute reading the destination of DMA token '",
                          token, "' before its dma.wait"));
}

} // namespace

// The memory spaces the manifest declares, as IRGen options.
lir::IRGenOptions lirTargetOptions() {
  const v1::CapabilityManifest &m = state().manifest;
  lir::IRGenOptions o;
  for (int i = 0; i < m.memory_spaces_size(); ++i) {
    lir::MemorySpace s;
    s.name = m.memory_spaces(i);
    s.capacity = i < m.memory_capacities_size() ? m.memory_capacities(i) : 0;
    s.alignment = i < m.memory_alignments_size() && m.memory_alignments(i)
                      ? m.memory_alignments(i)
                      : 1;
    o.spaces.push_back(s);
  }
  auto has = [&](const std::string &n) {
    for (auto &s : o.spaces)
      if (s.name == n)
        return true;
    return false;
  };
  if (!o.spaces.empty()) {
    o.ioSpace = has("host") ? "host" : o.spaces[0].name;
    o.weightSpace = o.activationSpace = has("dram") ? "dram" : o.ioSpace;
  }
  return o;
}

Expected<std::vector<Tensor>> runLirOnPlugin(const Function &g,
                                             const std::vector<Tensor> &in) {
  KitState &s = state();
  EMBER_ASSIGN(lir::Function f,
               buildPlannedLir(g, nullptr, lirTargetOptions()));
  EMBER_ASSIGN(std::string bytes, backend::serializeLir(f));
  EMBER_ASSIGN(backend::Device * d, pluginDevice());
  EMBER_ASSIGN(backend::Executable x,
               s.plugin->compile(d, EMBER_PROGRAM_LIR, bytes));
  return runExecutable(*s.plugin, *d, x, in, lirOutputTypes(f));
}

void registerLirTests() {
  if (!state().manifest.accepts_lir()) {
    addTest("Lir", "Programs", [] {
      GTEST_SKIP() << "the plugin does not take LIR (accepts_lir is false)";
    });
    return;
  }
  addTest("Lir", "PlannedGraph", plannedGraph);
  addTest("Lir", "StagedWithDma", stagedWithDma);
  addTest("Lir", "RejectsOutOfBoundsDma", rejectsOutOfBoundsDma);
  addTest("Lir", "RejectsReadBeforeWait", rejectsReadBeforeWait);
}

} // namespace ember::kit

// Heterogeneous bundles (HeteroBundle.h; docs/edge.md).
#include "backend/HeteroBundle.h"

#include "backend/Aot.h"
#include "backend/Artifact.h"
#include "backend/LayerPath.h"
#include "backend/Partitioner.h"
#include "ember/accel/Device.h"
#include "ember/accel/Program.h"
#include "ember/backend/v1/capability.pb.h"
#include "lir/LIR.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <sstream>
#include <sys/stat.h>

namespace ember::backend {

namespace {

#include "HeteroRuntime.inc"

uint64_t align64(uint64_t v) { return (v + 63) / 64 * 64; }

// A file of an artifact's bundle list; empty when absent.
Expected<std::string> artifactFile(const std::string &artifact,
                                   const std::string &name) {
  EMBER_ASSIGN(ParsedArtifact a,
               readArtifact(artifact.data(), artifact.size()));
  for (auto &f : a.header.files())
    if (f.name() == name) {
      if (f.offset() > a.payload.size() ||
          f.size() > a.payload.size() - f.offset())
        return makeError(ErrorCode::Backend, "bundle file '", name,
                         "' lies outside the artifact's payload");
      return a.payload.substr(f.offset(), f.size());
    }
  return makeError(ErrorCode::Backend, "plugin '", a.header.plugin_name(),
                   "' wrote no '", name, "' in its artifact");
}

std::map<std::string, std::string> facts(const std::string &text) {
  std::map<std::string, std::string> out;
  std::istringstream is(text);
  std::string line;
  while (std::getline(is, line)) {
    size_t eq = line.find('=');
    if (eq != std::string::npos)
      out[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return out;
}

uint64_t number(std::map<std::string, std::string> &kv, const char *k) {
  return std::strtoull(kv[k].c_str(), nullptr, 10);
}

// One partition as the bundle runs it.
struct Part {
  bool npu = false;
  std::string entry;       // CPU: its entry point
  uint64_t scratch = 0;    // CPU: its arena; NPU: its window
  uint64_t weightsOff = 0; // CPU: its weights in weights.bin
  uint64_t insnsOff = 0, count = 0, imageOff = 0, imageBytes = 0;
  std::vector<accel::NTensor> ins, outs; // NPU: where its tensors lie
};

// A tensor's descriptor line for ember_npu_tensor_t (HeteroRuntime.inc).
Expected<std::string> tensorInit(const accel::NTensor &t, uint64_t bytesOnHost,
                                 const std::string &what) {
  if (t.pixOff >= 0 || t.ilv != 0 || t.laneFrom >= 0 || t.lanes <= 0 ||
      t.dram < 0)
    return unsupported(what, " '", t.name,
                       "' lies inside another tensor of the NPU's memory; a "
                       "bundle moves whole tensors only");
  if (accel::hostBytes(t) != bytesOnHost)
    return makeError(ErrorCode::Internal, what, " '", t.name, "' is ",
                     accel::hostBytes(t), " bytes on the NPU side, ",
                     bytesOnHost, " on the host's");
  int64_t pre = 1, post = 1;
  for (size_t i = 0; i < t.dims.size(); ++i) {
    if (int(i) < t.axis)
      pre *= t.dims[i];
    else if (int(i) > t.axis)
      post *= t.dims[i];
  }
  const auto &p = t.patches;
  std::ostringstream os;
  os << "{" << t.dram << "u, " << t.elemBytes() << ", " << (t.u8 ? 1 : 0)
     << ", " << pre << ", " << t.C << ", " << post << ", " << t.P << ", "
     << t.lanes << ", " << t.bytes() << "u, {" << p.kh << ", " << p.kw << ", "
     << p.sh << ", " << p.sw << ", " << p.dh << ", " << p.dw << ", " << p.pt
     << ", " << p.pl;
  for (size_t i = 0; i < 4; ++i)
    os << ", " << (p.kh ? p.srcDims.at(i) : 0);
  os << ", " << (p.kh ? t.dims.at(3) : 0) << ", " << p.fill << "}}";
  return os.str();
}

Status writeFile(const std::string &dir, const std::string &name,
                 const std::string &bytes) {
  EMBER_TRY(writeFileBytes(dir + "/" + name, bytes));
  std::printf("%s/%s %llu bytes\n", dir.c_str(), name.c_str(),
              static_cast<unsigned long long>(bytes.size()));
  return Status::ok();
}

std::string cString(const std::string &s) {
  std::string out = "\"";
  for (char c : s)
    out += (c == '"' || c == '\\' || static_cast<unsigned char>(c) < 0x20) ? '_'
                                                                           : c;
  return out + "\"";
}

// The bundle being written: its partitions compiled one by one into
// weights.bin and the host objects, the arena planned over the values that
// pass between partitions, then model.h and model.c generated from them.
class HeteroWriter {
public:
  HeteroWriter(Plugin &npu, Plugin &cpu, const accel::Target &target,
               const Function &f, const CompileOptions &o,
               const CompileOptions &npuOpts, const PartitionPlan &plan,
               const std::string &dir)
      : npu_(npu), cpu_(cpu), target_(target), f_(f), o_(o), npuOpts_(npuOpts),
        plan_(plan), dir_(dir) {
    for (size_t i = 0; i < f.params().size(); ++i)
      inputOf_[{f.params()[i], 0}] = i;
    for (size_t i = 0; i < f.outputs().size(); ++i) {
      const Value &v = f.outputs()[i].value;
      outputOf_.insert({{v.node, v.idx}, i});
    }
    arena_.spaces.push_back({"arena", 0, 64});
  }

  // Compiles every partition, plans the arena and writes every file.
  Status write() {
    for (size_t i = 0; i < plan_.parts.size(); ++i) {
      const Partition &pt = plan_.parts[i];
      Part p;
      p.npu = pt.onPlugin;
      EMBER_TRY(pt.onPlugin ? addNpuPart(i, p) : addHostPart(i, p));
      scratch_ = std::max(scratch_, p.scratch);
      EMBER_TRY(planPart(i));
      parts_.push_back(std::move(p));
    }
    EMBER_ASSIGN(lir::MemoryPlan mp, lir::planMemory(arena_));
    scratchOff_ = align64(mp.spaces.empty() ? 0 : mp.spaces[0].peak);
    arenaBytes_ = std::max<uint64_t>(64, scratchOff_ + scratch_);
    EMBER_ASSIGN(std::string source, modelSource());
    EMBER_TRY(writeFile(dir_, "model.h", modelHeader()));
    EMBER_TRY(writeFile(dir_, "model.c", source));
    EMBER_TRY(writeFile(dir_, "ember_npu.h", kNpuHeader));
    EMBER_TRY(writeFile(dir_, "ember_npu.c", kNpuRuntime));
    std::string main = kHeteroMain;
    const std::string mark = "@OBJECTS@";
    main.replace(main.find(mark), mark.size(), objects_);
    EMBER_TRY(writeFile(dir_, "main.c", main));
    EMBER_TRY(writeFile(dir_, "weights.bin", weights_));
    printSummary();
    return Status::ok();
  }

private:
  using Key = std::pair<const Node *, unsigned>;
  static Key keyOf(const Value &v) { return {v.node, v.idx}; }
  bool inArena(const Value &v) const {
    return !inputOf_.count(keyOf(v)) && !outputOf_.count(keyOf(v));
  }

  // Appends `bytes` to weights.bin at a 64-byte boundary; its offset.
  uint64_t appendWeights(const std::string &bytes) {
    const uint64_t off = align64(weights_.size());
    weights_.resize(size_t(off));
    weights_ += bytes;
    return off;
  }

  // An NPU partition: compiled on the host's layer path, its program read
  // back for the description, its image and command stream in weights.bin.
  Status addNpuPart(size_t i, Part &p) {
    const Partition &pt = plan_.parts[i];
    EMBER_ASSIGN(std::string art,
                 compileAhead(npu_, *pt.graph->main(), npuOpts_));
    EMBER_ASSIGN(std::string progBytes, artifactFile(art, "npu.program"));
    EMBER_ASSIGN(std::string insns, artifactFile(art, "npu.insns"));
    accel::Program prog;
    const Status st = accel::deserializeProgram(target_, progBytes, prog);
    if (st.failed())
      return makeError(ErrorCode::Backend, npu_.describe(), " partition ", i,
                       ": ", st.message());
    if (prog.inputs.size() != pt.inputs.size() ||
        prog.outputs.size() != pt.outputs.size())
      return makeError(ErrorCode::Backend, "partition ", i,
                       ": the NPU program's inputs and outputs are not the "
                       "partition's");
    uint64_t window = std::max<uint64_t>(prog.dramBytes, prog.image.size());
    for (auto *ts : {&prog.inputs, &prog.outputs})
      for (const accel::NTensor &t : *ts)
        window = std::max<uint64_t>(window, uint64_t(t.dram) + t.bytes());
    p.scratch = align64(window);
    p.imageOff =
        appendWeights(std::string(prog.image.begin(), prog.image.end()));
    p.imageBytes = prog.image.size();
    p.insnsOff = appendWeights(insns);
    p.count = insns.size() / 16;
    p.ins = prog.inputs;
    p.outs = prog.outputs;
    return Status::ok();
  }

  // A host partition: an object of its own with entry point ember_partI,
  // its weights in weights.bin.
  Status addHostPart(size_t i, Part &p) {
    CompileOptions co;
    co.optLevel = o_.optLevel;
    co.targetTriple = o_.targetTriple;
    co.targetCpu = o_.targetCpu;
    p.entry = "ember_part" + std::to_string(i);
    co.vendor["entry"] = p.entry;
    EMBER_ASSIGN(std::string art,
                 compileAhead(cpu_, *plan_.parts[i].graph->main(), co));
    EMBER_ASSIGN(std::string obj, artifactFile(art, "model.o"));
    EMBER_ASSIGN(std::string w, artifactFile(art, "weights.bin"));
    EMBER_ASSIGN(std::string txt, artifactFile(art, "cpu.txt"));
    auto kv = facts(txt);
    if (kv["triple"].find("linux") == std::string::npos)
      return unsupported("heterogeneous bundles are for Linux application "
                         "cores (x86_64-linux-gnu, aarch64-linux-gnu), not '",
                         kv["triple"], "'");
    p.scratch = align64(number(kv, "arena_bytes"));
    flashCode_ += number(kv, "flash_code");
    ramState_ += number(kv, "ram_state");
    p.weightsOff = appendWeights(w);
    const std::string file = "part" + std::to_string(i) + ".o";
    EMBER_TRY(writeFile(dir_, file, obj));
    objects_ += " " + file;
    return Status::ok();
  }

  // The planner's view of partition i: one instruction that reads its
  // inputs and writes its outputs, over the values between partitions.
  Status planPart(size_t i) {
    const Partition &pt = plan_.parts[i];
    lir::Instruction in;
    in.kind = lir::InstKind::Compute;
    in.loc = "partition" + std::to_string(i);
    for (int pass = 0; pass < 2; ++pass)
      for (const Value &v : pass ? pt.outputs : pt.inputs) {
        if (!inArena(v))
          continue;
        if (!bufferOf_.count(keyOf(v))) {
          if (isStorage(v.node->kind))
            return unsupported("partition ", i, " reads constant ",
                               v.node->describe(), " from another partition");
          lir::Buffer b;
          b.name = v.name();
          b.type = v.type();
          arena_.buffers.push_back(b);
          bufferOf_[keyOf(v)] = unsigned(arena_.buffers.size() - 1);
        }
        in.operands.push_back({lir::Ref::buffer(bufferOf_[keyOf(v)]),
                               pass ? lir::Access::Out : lir::Access::In});
      }
    arena_.insts.push_back(std::move(in));
    return Status::ok();
  }

  // A value as model.c names it: a graph input or output, or its place in
  // the arena.
  std::string where(const Value &v) const {
    auto ki = inputOf_.find(keyOf(v));
    if (ki != inputOf_.end())
      return "inputs[" + std::to_string(ki->second) + "]";
    auto ko = outputOf_.find(keyOf(v));
    if (ko != outputOf_.end())
      return "outputs[" + std::to_string(ko->second) + "]";
    return "(void *)(arena + " +
           std::to_string(arena_.buffers[bufferOf_.at(keyOf(v))].offset) + "u)";
  }

  std::string modelHeader() const {
    std::ostringstream h;
    h << "/* Generated by Ember: the heterogeneous bundle of model "
      << cString(f_.name())
      << ". Do not edit.\n"
         " * ember_model_run runs it: host partitions on this core, NPU\n"
         " * partitions through the driver (ember_npu.h). weights: "
         "weights.bin,\n"
         " * arena: EMBER_MODEL_ARENA_BYTES (both 64-byte aligned), inputs "
         "and\n"
         " * outputs one pointer per tensor, row-major. 0, or a non-zero "
         "status. "
         "*/\n"
         "#ifndef EMBER_MODEL_H\n#define EMBER_MODEL_H\n\n"
         "#include \"ember_npu.h\"\n\n#include <stdint.h>\n\n"
         "#define EMBER_MODEL_ALIGNMENT 64\n"
      << "#define EMBER_MODEL_WEIGHTS_BYTES " << weights_.size() << "u\n"
      << "#define EMBER_MODEL_ARENA_BYTES " << arenaBytes_ << "u\n"
      << "#define EMBER_MODEL_NUM_INPUTS " << f_.params().size() << "\n"
      << "#define EMBER_MODEL_NUM_OUTPUTS " << f_.outputs().size() << "\n"
      << "#define EMBER_MODEL_NUM_PARTITIONS " << parts_.size() << "\n\n";
    h << "static const uint64_t ember_model_input_bytes[] = {";
    for (size_t i = 0; i < f_.params().size(); ++i)
      h << (i ? ", " : "") << Value(f_.params()[i], 0).type().sizeInBytes()
        << "u";
    h << (f_.params().empty() ? "0" : "")
      << "};\nstatic const uint64_t ember_model_output_bytes[] = {";
    for (size_t i = 0; i < f_.outputs().size(); ++i)
      h << (i ? ", " : "") << f_.outputs()[i].value.type().sizeInBytes() << "u";
    h << (f_.outputs().empty() ? "0" : "")
      << "};\n\nint32_t ember_model_run(const ember_npu_driver_t *npu,\n"
         "                        const uint8_t *weights, uint8_t *arena,\n"
         "                        void **inputs, void **outputs);\n\n"
         "#endif /* EMBER_MODEL_H */\n";
    return h.str();
  }

  // model.c's declarations: each host partition's entry point, each NPU
  // partition's tensor descriptors and part record.
  Status declareParts(std::ostringstream &c) const {
    for (size_t i = 0; i < parts_.size(); ++i) {
      const Part &p = parts_[i];
      const Partition &pt = plan_.parts[i];
      if (!p.npu) {
        c << "int32_t " << p.entry
          << "(const uint8_t *weights, uint8_t *arena, void **inputs,\n"
             "                   void **outputs);\n";
        continue;
      }
      for (int pass = 0; pass < 2; ++pass) {
        const auto &ts = pass ? p.outs : p.ins;
        c << "static const ember_npu_tensor_t part" << i
          << (pass ? "_out" : "_in") << "[] = {\n";
        for (size_t k = 0; k < ts.size(); ++k) {
          const Value &v = pass ? pt.outputs[k] : pt.inputs[k];
          EMBER_ASSIGN(std::string init,
                       tensorInit(ts[k], v.type().sizeInBytes(),
                                  pass ? "output" : "input"));
          c << "    " << init << ",\n";
        }
        c << "};\n";
      }
      c << "static const ember_npu_part_t part" << i << " = {" << p.insnsOff
        << "u, " << p.count << "u, " << p.imageOff << "u, " << p.imageBytes
        << "u, " << p.scratch << "u, " << p.ins.size() << "u, part" << i
        << "_in, " << p.outs.size() << "u, part" << i << "_out};\n";
    }
    return Status::ok();
  }

  // model.c: the declarations, then ember_model_run calling the partitions
  // in order and copying the outputs that are another's value or an input.
  Expected<std::string> modelSource() const {
    std::ostringstream c;
    c << "/* Generated by Ember: the partitions of model " << cString(f_.name())
      << " in order (model.h). */\n#include \"model.h\"\n\n#include "
         "<string.h>\n\n";
    EMBER_TRY(declareParts(c));
    c << "\nint32_t ember_model_run(const ember_npu_driver_t *npu,\n"
         "                        const uint8_t *weights, uint8_t *arena,\n"
         "                        void **inputs, void **outputs) {\n"
         "  int32_t s;\n"
         "  (void)npu;\n";
    for (size_t i = 0; i < parts_.size(); ++i) {
      const Part &p = parts_[i];
      const Partition &pt = plan_.parts[i];
      c << "  { /* partition " << i << ": " << (p.npu ? "NPU" : "host") << ", "
        << pt.nodes.size() << " nodes */\n    void *in[] = {";
      for (const Value &v : pt.inputs)
        c << where(v) << ", ";
      c << "0};\n    void *out[] = {";
      for (const Value &v : pt.outputs)
        c << where(v) << ", ";
      c << "0};\n";
      if (p.npu)
        c << "    s = ember_npu_part_run(npu, &part" << i
          << ", weights, in, out, arena + " << scratchOff_ << "u);\n";
      else
        c << "    s = " << p.entry << "(weights + " << p.weightsOff
          << "u, arena + " << scratchOff_ << "u, in, out);\n";
      c << "    if (s)\n      return s;\n  }\n";
    }
    for (size_t i = 0; i < f_.outputs().size(); ++i) {
      const Value &v = f_.outputs()[i].value;
      auto ko = outputOf_.find(keyOf(v));
      std::string src;
      if (ko->second != i)
        src = "outputs[" + std::to_string(ko->second) + "]";
      else if (inputOf_.count(keyOf(v)))
        src = "inputs[" + std::to_string(inputOf_.at(keyOf(v))) + "]";
      else if (isStorage(v.node->kind))
        return unsupported("graph output ", f_.outputs()[i].name,
                           " is a constant");
      else
        continue;
      c << "  memcpy(outputs[" << i << "], " << src << ", "
        << v.type().sizeInBytes() << "u);\n";
    }
    c << "  return 0;\n}\n";
    return c.str();
  }

  void printSummary() const {
    std::printf("partitions: %zu (%zu on %s)\n", parts_.size(),
                size_t(std::count_if(parts_.begin(), parts_.end(),
                                     [](const Part &p) { return p.npu; })),
                npu_.describe().c_str());
    std::printf("bundle: flash_code=%llu flash_weights=%llu ram_arena=%llu "
                "ram_state=%llu\n",
                static_cast<unsigned long long>(flashCode_),
                static_cast<unsigned long long>(weights_.size()),
                static_cast<unsigned long long>(arenaBytes_),
                static_cast<unsigned long long>(ramState_));
  }

  Plugin &npu_, &cpu_;
  const accel::Target &target_;
  const Function &f_;
  const CompileOptions &o_, &npuOpts_;
  const PartitionPlan &plan_;
  const std::string &dir_;
  std::map<Key, size_t> inputOf_, outputOf_;
  std::map<Key, unsigned> bufferOf_;
  lir::Function arena_; // the values between partitions, planned as LIR
  std::string weights_, objects_;
  std::vector<Part> parts_;
  uint64_t scratch_ = 0, scratchOff_ = 0, arenaBytes_ = 0;
  uint64_t flashCode_ = 0, ramState_ = 0;
};

} // namespace

Status writeHeteroBundle(Plugin &npu, Plugin &cpu, const Function &f,
                         const CompileOptions &o, const std::string &dir) {
  // The NPU's partitions are compiled by compileAhead, on the host's layer
  // path (LayerPath.h); their programs are read back for this description.
  EMBER_ASSIGN(std::optional<accel::Target> route, hostLayerTarget(npu));
  if (!route)
    return unsupported(npu.describe(),
                       " does not take scheduled programs: a heterogeneous "
                       "bundle needs an NPU plugin on the NPU compiler layer");
  CompileOptions npuOpts = o;
  npuOpts.targetTriple.clear();
  npuOpts.targetCpu.clear();
  EMBER_ASSIGN(Support s, querySupport(npu, f, &npuOpts));
  EMBER_ASSIGN(PartitionPlan plan, partition(f, std::move(s)));
  if (mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST)
    return makeError(ErrorCode::Io, "cannot create '", dir,
                     "': ", std::strerror(errno));
  return HeteroWriter(npu, cpu, *route, f, o, npuOpts, plan, dir).write();
}

} // namespace ember::backend

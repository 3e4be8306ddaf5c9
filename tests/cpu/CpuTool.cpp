// ember_cpu_tool: test helper for the CPU backend, used by the ctest
// scripts in this folder. It goes through the plugin ABI exactly as the
// `ember` driver would (and prototypes `ember compile --emit=bundle`).
//
//   ember_cpu_tool bundle MODEL.onnx -o DIR [--target-triple T]
//                  [--target-cpu C] [--threads N] [--opt-level N]
//                  [--vendor k=v]...
//                  [--inputs-from CASE/test_data_set_0]
//       compiles with the cpu plugin, serializes, and writes the artifact's
//       files (model.o, model.h, weights.bin, main.c, ...) into DIR; with
//       --inputs-from also the case's inputs as raw DIR/input<i>.bin.
//   ember_cpu_tool compare GOT.bin EXPECTED.pb [--rtol R] [--atol A]
//       compares a raw output against an ONNX TensorProto.
//   ember_cpu_tool reload MODEL.onnx CASE/test_data_set_0 [--rtol R]
//       compile, serialize, load the artifact back, run it on the case's
//       inputs and compare with its outputs (artifact reload).
#include "backend/Artifact.h"
#include "backend/CompileOptions.h"
#include "backend/Plugin.h"
#include "backend/ProgramProto.h"
#include "import/OnnxImporter.h"
#include "import/TensorIO.h"
#include "passes/Pass.h"

#include "ember/backend/v1/artifact.pb.h"

#include <climits>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <dirent.h>
#include <fstream>
#include <optional>
#include <sys/stat.h>
#include <unistd.h>

using namespace ember;

namespace {

int fail(const std::string &msg) {
  std::fprintf(stderr, "error: %s\n", msg.c_str());
  return 1;
}

std::string pluginPath() {
  char buf[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  std::string exe(buf, n > 0 ? size_t(n) : 0);
  return exe.substr(0, exe.rfind('/')) + "/../lib/ember/libember_cpu.so";
}

// input_<i>.pb / output_<i>.pb of a test data set, in order.
std::vector<std::string> caseFiles(const std::string &dir,
                                   const std::string &prefix) {
  std::vector<std::string> out;
  for (int i = 0;; ++i) {
    std::string p = dir + "/" + prefix + std::to_string(i) + ".pb";
    struct stat st;
    if (stat(p.c_str(), &st) != 0)
      break;
    out.push_back(p);
  }
  return out;
}

struct Options {
  std::string model, out, triple, cpu, inputsFrom, dataSet;
  unsigned threads = 1;
  std::optional<uint32_t> optLevel; // unset: the plugin's default
  double rtol = 1e-4, atol = 1e-5;
  std::vector<std::pair<std::string, std::string>> vendor;
  std::vector<std::string> positional;
};

bool parse(int argc, char **argv, Options &o, std::string &err) {
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&](std::string &v) {
      if (i + 1 >= argc) {
        err = a + " needs a value";
        return false;
      }
      v = argv[++i];
      return true;
    };
    std::string v;
    if (a == "-o") {
      if (!next(o.out))
        return false;
    } else if (a == "--target-triple") {
      if (!next(o.triple))
        return false;
    } else if (a == "--target-cpu") {
      if (!next(o.cpu))
        return false;
    } else if (a == "--inputs-from") {
      if (!next(o.inputsFrom))
        return false;
    } else if (a == "--threads") {
      if (!next(v))
        return false;
      o.threads = unsigned(std::atoi(v.c_str()));
    } else if (a == "--opt-level") {
      if (!next(v))
        return false;
      o.optLevel = uint32_t(std::atoi(v.c_str()));
    } else if (a == "--rtol") {
      if (!next(v))
        return false;
      o.rtol = std::atof(v.c_str());
    } else if (a == "--atol") {
      if (!next(v))
        return false;
      o.atol = std::atof(v.c_str());
    } else if (a == "--vendor") {
      if (!next(v))
        return false;
      size_t eq = v.find('=');
      if (eq == std::string::npos) {
        err = "--vendor takes key=value";
        return false;
      }
      o.vendor.push_back({v.substr(0, eq), v.substr(eq + 1)});
    } else if (!a.empty() && a[0] == '-') {
      err = "unknown option " + a;
      return false;
    } else {
      o.positional.push_back(a);
    }
  }
  return true;
}

// Imports and lowers MODEL; input shapes come from the data set when given.
Expected<std::unique_ptr<Module>> loadLowered(const std::string &path,
                                              const std::string &dataSet) {
  ImportOptions io;
  if (!dataSet.empty()) {
    EMBER_ASSIGN(auto names, onnxInputNames(path));
    auto files = caseFiles(dataSet, "input_");
    for (size_t i = 0; i < files.size() && i < names.size(); ++i) {
      EMBER_ASSIGN(Tensor t, readTensorFile(files[i]));
      io.inputShapes[names[i]] = t.dims();
    }
  }
  EMBER_ASSIGN(auto m, importOnnxFile(path, io));
  PipelineOptions po;
  EMBER_TRY(runPipeline(*m, po));
  return m;
}

std::string optionBytes(const Options &o) {
  backend::CompileOptions c;
  c.numThreads = o.threads;
  c.optLevel = o.optLevel;
  c.targetTriple = o.triple;
  c.targetCpu = o.cpu;
  for (auto &kv : o.vendor)
    c.vendor[kv.first] = kv.second;
  return backend::serializeCompileOptions(c);
}

bool compareTensors(const Tensor &got, const Tensor &want, double rtol,
                    double atol, std::string &why) {
  if (got.type().elem() != want.type().elem() || got.size() != want.size()) {
    why = "type " + got.type().toString() + " vs " + want.type().toString();
    return false;
  }
  for (int64_t i = 0; i < got.size(); ++i) {
    double g = got.getDouble(i), w = want.getDouble(i);
    if (std::isnan(g) && std::isnan(w))
      continue;
    if (!(std::fabs(g - w) <= atol + rtol * std::fabs(w))) {
      why = concat("element ", i, ": got ", g, ", expected ", w);
      return false;
    }
  }
  return true;
}

int bundleMain(const Options &o) {
  if (o.positional.size() != 1 || o.out.empty())
    return fail("usage: ember_cpu_tool bundle MODEL.onnx -o DIR [...]");
  auto m = loadLowered(o.positional[0], o.inputsFrom);
  if (!m)
    return fail(m.status().message());
  auto plugin = backend::Plugin::load(pluginPath());
  if (!plugin)
    return fail(plugin.status().message());
  auto bytes = backend::serializeGraph(*(*m)->main());
  if (!bytes)
    return fail(bytes.status().message());
  auto exe =
      (*plugin)->compile(nullptr, EMBER_PROGRAM_GRAPH, *bytes, optionBytes(o));
  if (!exe)
    return fail(exe.status().message());
  auto art = (*plugin)->serialize(*exe);
  if (!art)
    return fail(art.status().message());
  auto parsed = backend::readArtifact(art->data(), art->size());
  if (!parsed)
    return fail(parsed.status().message());
  mkdir(o.out.c_str(), 0755);
  for (auto &f : parsed->header.files()) {
    if (f.name().find('/') != std::string::npos || f.name().empty() ||
        f.name()[0] == '.')
      return fail("bad bundle file name '" + f.name() + "'");
    std::ofstream os(o.out + "/" + f.name(), std::ios::binary);
    os.write(parsed->payload.data() + f.offset(), std::streamsize(f.size()));
    if (!os)
      return fail("cannot write " + o.out + "/" + f.name());
    std::printf("%s/%s %llu bytes\n", o.out.c_str(), f.name().c_str(),
                (unsigned long long)f.size());
  }
  if (!o.inputsFrom.empty()) {
    auto files = caseFiles(o.inputsFrom, "input_");
    for (size_t i = 0; i < files.size(); ++i) {
      auto t = readTensorFile(files[i]);
      if (!t)
        return fail(t.status().message());
      std::ofstream os(o.out + "/input" + std::to_string(i) + ".bin",
                       std::ios::binary);
      os.write(reinterpret_cast<const char *>(t->raw()),
               std::streamsize(t->bytes()));
    }
  }
  return 0;
}

int compareMain(const Options &o) {
  if (o.positional.size() != 2)
    return fail("usage: ember_cpu_tool compare GOT.bin EXPECTED.pb");
  auto want = readTensorFile(o.positional[1]);
  if (!want)
    return fail(want.status().message());
  auto raw = readFileBytes(o.positional[0], uint64_t(1) << 32);
  if (!raw)
    return fail(raw.status().message());
  Tensor got(want->type());
  if (raw->size() != got.bytes())
    return fail(concat(o.positional[0], " has ", raw->size(),
                       " bytes, expected ", got.bytes()));
  std::memcpy(got.raw(), raw->data(), raw->size());
  std::string why;
  if (!compareTensors(got, *want, o.rtol, o.atol, why))
    return fail(o.positional[0] + ": " + why);
  std::printf("ok %s\n", o.positional[0].c_str());
  return 0;
}

int reloadMain(const Options &o) {
  if (o.positional.size() != 2)
    return fail("usage: ember_cpu_tool reload MODEL.onnx DATASET");
  const std::string &ds = o.positional[1];
  auto m = loadLowered(o.positional[0], ds);
  if (!m)
    return fail(m.status().message());
  auto plugin = backend::Plugin::load(pluginPath());
  if (!plugin)
    return fail(plugin.status().message());
  auto bytes = backend::serializeGraph(*(*m)->main());
  if (!bytes)
    return fail(bytes.status().message());
  auto exe =
      (*plugin)->compile(nullptr, EMBER_PROGRAM_GRAPH, *bytes, optionBytes(o));
  if (!exe)
    return fail(exe.status().message());
  auto art = (*plugin)->serialize(*exe);
  if (!art)
    return fail(art.status().message());
  auto dev = (*plugin)->openDevice(0);
  if (!dev)
    return fail(dev.status().message());
  auto loaded = (*plugin)->loadArtifact(&*dev, *art);
  if (!loaded)
    return fail(loaded.status().message());
  auto sig = (*plugin)->signature(*loaded);
  if (!sig)
    return fail(sig.status().message());
  std::vector<Tensor> inputs;
  for (auto &f : caseFiles(ds, "input_")) {
    auto t = readTensorFile(f);
    if (!t)
      return fail(t.status().message());
    inputs.push_back(std::move(*t));
  }
  auto outs = (*plugin)->run(*dev, *loaded, inputs, sig->outputs);
  if (!outs)
    return fail(outs.status().message());
  auto expected = caseFiles(ds, "output_");
  for (size_t i = 0; i < expected.size() && i < outs->size(); ++i) {
    auto want = readTensorFile(expected[i]);
    if (!want)
      return fail(want.status().message());
    std::string why;
    if (!compareTensors((*outs)[i], *want, o.rtol, o.atol, why))
      return fail(concat("output ", i, ": ", why));
  }
  std::printf("ok: %zu artifact bytes, %zu outputs match\n", art->size(),
              outs->size());
  return 0;
}

} // namespace

int main(int argc, char **argv) {
  if (argc < 2)
    return fail("usage: ember_cpu_tool bundle|compare|reload ...");
  Options o;
  std::string err;
  if (!parse(argc, argv, o, err))
    return fail(err);
  std::string cmd = argv[1];
  if (cmd == "bundle")
    return bundleMain(o);
  if (cmd == "compare")
    return compareMain(o);
  if (cmd == "reload")
    return reloadMain(o);
  return fail("unknown command '" + cmd + "'");
}

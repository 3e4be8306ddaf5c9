// libFuzzer target fuzz_program_proto: arbitrary bytes through the
// backend-api program readers (deserializeGraph, deserializeLir), which
// must return an error or a program, never crash. A program that is
// accepted must also serialize again and read back to the same printed
// text; anything else aborts (a finding).
// Build: scripts/fuzz.sh (clang-19, -fsanitize=fuzzer,address,undefined).
//
// Built with EMBER_PROGRAM_PROTO_SEEDS this file is instead
// fuzz_program_proto_seeds SOURCE_DIR OUT_DIR, which writes the seed
// corpus: the graphs of the lit tests (as parsed and lowered), their
// planned LIR, the lit LIR programs and the bundled MNIST model, all
// serialized (so no binary seeds live in the repository).
#include "backend/ProgramProto.h"
#include "ir/Printer.h"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>

namespace {

[[noreturn]] void finding(const char *what, const std::string &detail) {
  std::fprintf(stderr, "fuzz_program_proto: %s\n%s\n", what, detail.c_str());
  std::abort();
}

std::string printed(const ember::Module &m) {
  std::ostringstream os;
  ember::printModule(os, m);
  return os.str();
}

// True when the bytes are accepted (and then round-trip, or this aborts).
bool checkGraph(const uint8_t *data, size_t size) {
  auto m = ember::backend::deserializeGraph(data, size);
  if (!m)
    return false;
  std::string text = printed(**m);
  auto again = ember::backend::serializeGraph(*(*m)->main());
  if (!again)
    finding("an accepted graph does not serialize again",
            again.status().message() + "\n" + text);
  auto m2 = ember::backend::deserializeGraph(again->data(), again->size());
  if (!m2)
    finding("a re-serialized graph is rejected",
            m2.status().message() + "\n" + text);
  if (printed(**m2) != text)
    finding("a graph prints differently after a round trip",
            text + "\n---\n" + printed(**m2));
  return true;
}

bool checkLir(const uint8_t *data, size_t size) {
  auto f = ember::backend::deserializeLir(data, size);
  if (!f)
    return false;
  std::string text = ember::lir::printFunction(*f);
  auto again = ember::backend::serializeLir(*f);
  if (!again)
    finding("an accepted LIR program does not serialize again",
            again.status().message() + "\n" + text);
  auto f2 = ember::backend::deserializeLir(again->data(), again->size());
  if (!f2)
    finding("a re-serialized LIR program is rejected",
            f2.status().message() + "\n" + text);
  if (ember::lir::printFunction(*f2) != text)
    finding("an LIR program prints differently after a round trip",
            text + "\n---\n" + ember::lir::printFunction(*f2));
  return true;
}

} // namespace

#ifndef EMBER_PROGRAM_PROTO_SEEDS

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  (void)checkGraph(data, size);
  (void)checkLir(data, size);
  return 0;
}

#else // the seed generator

#include "import/OnnxImporter.h"
#include "import/TensorIO.h"
#include "lir/LirPipeline.h"
#include "passes/Pass.h"

#include <dirent.h>
#include <fstream>
#include <vector>

namespace {

std::vector<std::string> filesIn(const std::string &dir, const char *ext) {
  std::vector<std::string> r;
  std::string e = ext;
  if (DIR *d = opendir(dir.c_str())) {
    while (dirent *x = readdir(d)) {
      std::string n = x->d_name;
      if (n.size() > e.size() &&
          n.compare(n.size() - e.size(), e.size(), e) == 0)
        r.push_back(n);
    }
    closedir(d);
  }
  return r;
}

int written = 0;

void write(const std::string &dir, const std::string &name,
           const ember::Expected<std::string> &bytes) {
  if (!bytes) {
    std::fprintf(stderr, "skip %s: %s\n", name.c_str(),
                 bytes.status().message().c_str());
    return;
  }
  // A seed the readers reject would start the fuzzer off course.
  auto *p = reinterpret_cast<const uint8_t *>(bytes->data());
  bool lir = name.compare(0, 4, "lir-") == 0;
  if (!(lir ? checkLir(p, bytes->size()) : checkGraph(p, bytes->size())))
    finding("a serialized seed is rejected", name);
  std::ofstream(dir + "/" + name, std::ios::binary) << *bytes;
  ++written;
}

// The graph as given, lowered, and its planned LIR.
void graphSeeds(const std::string &out, const std::string &base,
                ember::Module &m) {
  write(out, "graph-" + base + ".pb",
        ember::backend::serializeGraph(*m.main()));
  if (!ember::runPipeline(m, ember::PipelineOptions()).isOk())
    return;
  write(out, "graph-" + base + "-lowered.pb",
        ember::backend::serializeGraph(*m.main()));
  auto f = ember::buildPlannedLir(*m.main());
  if (f)
    write(out, "lir-" + base + "-planned.pb", ember::backend::serializeLir(*f));
}

} // namespace

int main(int argc, char **argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s SOURCE_DIR OUT_DIR\n", argv[0]);
    return 2;
  }
  std::string src = argv[1], out = argv[2];
  for (const char *sub : {"tests/lit/ir", "tests/lit/passes", "tests/lit/lir"})
    for (auto &name : filesIn(src + "/" + sub, ".eir")) {
      auto text = ember::readFileBytes(src + "/" + sub + "/" + name);
      if (!text)
        continue;
      auto m = ember::parseModule(*text, name);
      if (m)
        graphSeeds(out, name.substr(0, name.size() - 4), **m);
    }
  for (auto &name : filesIn(src + "/tests/lit/lir", ".lir")) {
    auto text = ember::readFileBytes(src + "/tests/lit/lir/" + name);
    if (!text)
      continue;
    auto f = ember::lir::parseFunction(*text, name);
    if (f && ember::lir::verify(*f).isOk())
      write(out, "lir-" + name.substr(0, name.size() - 4) + ".pb",
            ember::backend::serializeLir(*f));
  }
  auto mnist = ember::importOnnxFile(src + "/examples/mnist/model.onnx",
                                     ember::ImportOptions());
  if (mnist)
    graphSeeds(out, "mnist", **mnist);
  std::printf("fuzz_program_proto_seeds: %d seeds in %s\n", written,
              out.c_str());
  return written ? 0 : 1;
}

#endif

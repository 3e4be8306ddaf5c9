// Optional C++17 helpers (part of plugin_helpers.hpp, usable alone): what an
// NPU backend hands over so that a co-simulation of a compiled model can
// name the layer and the source (ONNX) nodes of a divergent instruction.
// Header-only; nothing here crosses the ABI.
//
// A hand-over is one program run as the backend's executor would start it:
// the program (in whatever form the target's co-simulation reads: assembly
// text, a binary program file), the device DRAM as the run starts (the
// static image and the inputs in the device layout), and the layer map
// (instruction index -> layer and source nodes). A backend writes one per
// program run into a directory (writeHandover); a co-simulation reads the
// directory's manifest and runs the programs in order (readManifest).
//
// Files in DIR, for the run numbered N (from 0, in the order they ran):
//   program-N<ext>      the program (ext chosen by the backend: ".nasm")
//   program-N.dram      DRAM from address 0 as the run starts
//   program-N.layers    the layer map (LayerMap::toText)
//   handover.txt        one line per run:
//                       "program-N<ext> program-N.dram program-N.layers
//                        insns=<n> dram_bytes=<n>"  (space separated)
// docs/npu-rtl.md, "Whole models".
#ifndef EMBER_PLUGIN_HANDOVER_HPP
#define EMBER_PLUGIN_HANDOVER_HPP

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace ember_plugin {

// Which layer each instruction of a program belongs to, and each layer's
// name and source nodes. Instructions of no layer (setup, the final
// FINISH) map to -1.
struct LayerMap {
  struct Layer {
    std::string name;               // the layer (usually its main node)
    std::vector<std::string> nodes; // every source node it covers
  };
  std::vector<Layer> layers;
  std::vector<int32_t> insnLayer; // per instruction: index into layers, or -1

  const Layer *layerOf(uint64_t insn) const {
    if (insn >= insnLayer.size() || insnLayer[insn] < 0 ||
        size_t(insnLayer[insn]) >= layers.size())
      return nullptr;
    return &layers[size_t(insnLayer[insn])];
  }

  // "layer 'conv1' (nodes: Conv_0, Relu_1)", or "" for no layer.
  std::string describe(uint64_t insn) const {
    const Layer *l = layerOf(insn);
    if (!l)
      return "";
    std::string s = "layer '" + l->name + "'";
    if (!l->nodes.empty()) {
      s += " (nodes: ";
      for (size_t i = 0; i < l->nodes.size(); ++i)
        s += (i ? ", " : "") + l->nodes[i];
      s += ")";
    }
    return s;
  }

  // Text form: "ember-layer-map 1", then per layer "layer\t<name>\t<node>..."
  // and per run of instructions of one layer "insns\t<first>\t<end>\t<layer>"
  // ([first, end), layer -1: none). Tabs and newlines in names become spaces.
  std::string toText() const {
    auto clean = [](std::string s) {
      for (char &c : s)
        if (c == '\t' || c == '\n' || c == '\r')
          c = ' ';
      return s;
    };
    std::string out = "ember-layer-map 1\n";
    for (const Layer &l : layers) {
      out += "layer\t" + clean(l.name);
      for (const std::string &n : l.nodes)
        out += "\t" + clean(n);
      out += "\n";
    }
    for (size_t i = 0; i < insnLayer.size();) {
      size_t j = i;
      while (j < insnLayer.size() && insnLayer[j] == insnLayer[i])
        ++j;
      out += "insns\t" + std::to_string(i) + "\t" + std::to_string(j) + "\t" +
             std::to_string(insnLayer[i]) + "\n";
      i = j;
    }
    return out;
  }

  // Parses toText's form: "" or what is wrong ("line N: ...").
  static std::string parse(const std::string &text, LayerMap &out) {
    out = LayerMap();
    std::istringstream in(text);
    std::string line;
    size_t n = 0;
    auto fields = [](const std::string &l) {
      std::vector<std::string> f;
      size_t a = 0;
      for (;;) {
        size_t b = l.find('\t', a);
        f.push_back(l.substr(a, b == std::string::npos ? b : b - a));
        if (b == std::string::npos)
          return f;
        a = b + 1;
      }
    };
    auto num = [](const std::string &s, long long lo, long long hi,
                  long long &v) {
      if (s.empty() || s.size() > 18 ||
          s.find_first_not_of("-0123456789") != std::string::npos)
        return false;
      v = std::stoll(s);
      return v >= lo && v <= hi;
    };
    while (std::getline(in, line)) {
      ++n;
      const std::string at = "line " + std::to_string(n) + ": ";
      if (n == 1) {
        if (line != "ember-layer-map 1")
          return at + "expected 'ember-layer-map 1'";
        continue;
      }
      if (line.empty())
        continue;
      std::vector<std::string> f = fields(line);
      if (f[0] == "layer" && f.size() >= 2) {
        Layer l;
        l.name = f[1];
        l.nodes.assign(f.begin() + 2, f.end());
        out.layers.push_back(l);
      } else if (f[0] == "insns" && f.size() == 4) {
        long long a = 0, b = 0, l = 0;
        if (!num(f[1], 0, 1ll << 40, a) || !num(f[2], a, 1ll << 40, b) ||
            !num(f[3], -1, (long long)out.layers.size() - 1, l) ||
            size_t(a) != out.insnLayer.size())
          return at + "bad instruction range (expected 'insns FIRST END "
                      "LAYER', ranges in order, a layer listed before)";
        out.insnLayer.resize(size_t(b), int32_t(l));
      } else {
        return at + "expected 'layer NAME NODE...' or 'insns FIRST END LAYER'";
      }
    }
    if (n == 0)
      return "line 1: expected 'ember-layer-map 1'";
    return "";
  }
};

// One program run handed over for co-simulation.
struct ProgramHandover {
  std::string program;       // the program file's bytes
  std::string programExt;    // its extension (".nasm", ".nbin")
  uint64_t insns = 0;        // instructions in the program
  std::vector<uint8_t> dram; // DRAM from 0 as the run starts
  uint64_t dramBytes = 0;    // the device DRAM the run needs (>= dram)
  LayerMap layers;
};

inline bool writeWholeFile(const std::string &path, const void *data,
                           size_t size) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(static_cast<const char *>(data), std::streamsize(size));
  return bool(f);
}

// Writes run `seq` into `dir` (which must exist) and appends its manifest
// line: "" or what failed. Callers number the runs and serialize the calls.
inline std::string writeHandover(const std::string &dir, uint64_t seq,
                                 const ProgramHandover &h) {
  const std::string base = "program-" + std::to_string(seq);
  const std::string prog = base + h.programExt, dram = base + ".dram",
                    layers = base + ".layers";
  const std::string text = h.layers.toText();
  if (!writeWholeFile(dir + "/" + prog, h.program.data(), h.program.size()) ||
      !writeWholeFile(dir + "/" + dram, h.dram.data(), h.dram.size()) ||
      !writeWholeFile(dir + "/" + layers, text.data(), text.size()))
    return "cannot write the co-simulation hand-over into '" + dir + "'";
  std::ofstream m(dir + "/handover.txt", std::ios::app);
  m << prog << ' ' << dram << ' ' << layers << " insns=" << h.insns
    << " dram_bytes=" << h.dramBytes << '\n';
  if (!m)
    return "cannot write '" + dir + "/handover.txt'";
  return "";
}

// One line of a hand-over directory's manifest, paths made absolute to it.
struct HandoverEntry {
  std::string program, dram, layers;
  uint64_t insns = 0, dramBytes = 0;
};

// Reads DIR/handover.txt: "" or what is wrong with it.
inline std::string readManifest(const std::string &dir,
                                std::vector<HandoverEntry> &out) {
  out.clear();
  std::ifstream m(dir + "/handover.txt");
  if (!m)
    return "no hand-over manifest '" + dir + "/handover.txt'";
  std::string line;
  size_t n = 0;
  while (std::getline(m, line)) {
    ++n;
    if (line.empty())
      continue;
    std::istringstream f(line);
    HandoverEntry e;
    std::string insns, bytes;
    f >> e.program >> e.dram >> e.layers >> insns >> bytes;
    unsigned long long a = 0, b = 0;
    char tail = 0;
    if (!f || std::sscanf(insns.c_str(), "insns=%llu%c", &a, &tail) != 1 ||
        std::sscanf(bytes.c_str(), "dram_bytes=%llu%c", &b, &tail) != 1)
      return "handover.txt line " + std::to_string(n) +
             ": expected 'PROGRAM DRAM LAYERS insns=N dram_bytes=N'";
    e.insns = a;
    e.dramBytes = b;
    for (std::string *p : {&e.program, &e.dram, &e.layers})
      *p = dir + "/" + *p;
    out.push_back(e);
  }
  if (out.empty())
    return "the hand-over manifest '" + dir + "/handover.txt' lists no program";
  return "";
}

} // namespace ember_plugin

#endif // EMBER_PLUGIN_HANDOVER_HPP

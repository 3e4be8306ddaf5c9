//===- Assembler.cpp - NPU assembly text <-> binary -----------------------===//
#include "ember/npu/Assembler.h"

#include <cerrno>
#include <cstdlib>
#include <sstream>

namespace ember::npu {

namespace {

bool parseInt(const std::string &s, int64_t &v) {
  if (s.empty())
    return false;
  errno = 0;
  char *end = nullptr;
  long long r = std::strtoll(s.c_str(), &end, 0);
  if (errno || *end)
    return false;
  v = r;
  return true;
}

std::string formatMask(uint32_t mask) {
  if (!mask)
    return "0";
  std::string s;
  for (int ch = 0; ch < kNumChannels; ++ch) {
    if ((mask >> ch) & 1u) {
      if (!s.empty())
        s += ",";
      s += channelName(ch);
    }
  }
  return s;
}

std::string parseMask(const std::string &text, uint32_t &mask) {
  int64_t v;
  if (parseInt(text, v)) {
    if (v < 0 || v > 0xffff)
      return "mask " + text + " does not fit in 16 bits";
    mask = static_cast<uint32_t>(v);
    return "";
  }
  mask = 0;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    bool found = false;
    for (int ch = 0; ch < kNumChannels; ++ch) {
      if (item == channelName(ch)) {
        mask |= 1u << ch;
        found = true;
      }
    }
    if (!found)
      return "unknown token channel '" + item +
             "' (expected SRC->DST, e.g. LOAD->GEMM)";
  }
  return "";
}

std::string parseLine(const std::string &line, Insn &insn) {
  std::stringstream ss(line);
  std::string mnemonic;
  ss >> mnemonic;
  insn = Insn();
  if (!opcodeFromName(mnemonic, insn.op))
    return "unknown mnemonic '" + mnemonic + "'";
  const std::vector<FieldDesc> &fields = fieldsOf(insn.op);
  std::vector<bool> seen(fields.size() + 2, false);
  std::string tok;
  while (ss >> tok) {
    size_t eq = tok.find('=');
    if (eq == std::string::npos || eq == 0)
      return "expected field=value, got '" + tok + "'";
    std::string name = tok.substr(0, eq), val = tok.substr(eq + 1);
    if (name == "wait" || name == "signal") {
      size_t idx = name == "wait" ? 0 : 1;
      if (seen[idx])
        return "field '" + name + "' given twice";
      seen[idx] = true;
      std::string err =
          parseMask(val, name == "wait" ? insn.wait : insn.signal);
      if (!err.empty())
        return "field '" + name + "': " + err;
      continue;
    }
    size_t fi = 0;
    while (fi < fields.size() && name != fields[fi].name)
      ++fi;
    if (fi == fields.size())
      return "field '" + name + "' is not an operand of " + mnemonic;
    if (seen[fi + 2])
      return "field '" + name + "' given twice";
    seen[fi + 2] = true;
    const FieldDesc &f = fields[fi];
    int64_t v = 0;
    unsigned id = 0;
    bool named = false;
    if (name == "mem") {
      for (int m = 0; m < kNumMems; ++m)
        if (val == memName(m)) {
          v = m;
          named = true;
        }
    } else if (name == "reg" && regFromName(val, id)) {
      v = id;
      named = true;
    }
    if (!named && !parseInt(val, v))
      return "field '" + name + "': bad value '" + val + "'";
    int64_t lo = f.isSigned ? -(int64_t(1) << (f.width - 1)) : 0;
    int64_t hi = f.isSigned ? (int64_t(1) << (f.width - 1)) - 1
                            : (int64_t(1) << f.width) - 1;
    if (v < lo || v > hi)
      return "field '" + name + "': value " + val + " does not fit in " +
             std::to_string(f.width) + (f.isSigned ? " signed" : " unsigned") +
             " bits";
    insn.*f.member = v;
  }
  return "";
}

} // namespace

std::string assemble(const std::string &text, std::vector<Word> &program) {
  program.clear();
  std::stringstream in(text);
  std::string line;
  int lineNo = 0;
  while (std::getline(in, line)) {
    ++lineNo;
    size_t hash = line.find('#');
    if (hash != std::string::npos)
      line.resize(hash);
    if (line.find_first_not_of(" \t\r") == std::string::npos)
      continue;
    Insn insn;
    std::string err = parseLine(line, insn);
    if (!err.empty())
      return "line " + std::to_string(lineNo) + ": " + err;
    program.push_back(encode(insn));
  }
  return "";
}

std::string formatInsn(const Insn &insn) {
  std::string s = opcodeName(insn.op);
  for (const FieldDesc &f : fieldsOf(insn.op)) {
    int64_t v = insn.*f.member;
    if (v == 0 && isLaterField(insn.op, f))
      continue; // a field added later: unset means the older behaviour
    s += " ";
    s += f.name;
    s += "=";
    if (std::string(f.name) == "mem")
      s += memName(static_cast<int>(v));
    else if (std::string(f.name) == "reg" && regName(static_cast<unsigned>(v)))
      s += regName(static_cast<unsigned>(v));
    else
      s += std::to_string(v);
  }
  if (insn.wait)
    s += " wait=" + formatMask(insn.wait);
  if (insn.signal)
    s += " signal=" + formatMask(insn.signal);
  return s;
}

std::string disassemble(const std::vector<Word> &program, std::string &text) {
  text.clear();
  for (size_t i = 0; i < program.size(); ++i) {
    Insn insn;
    std::string err = decode(program[i], insn);
    if (!err.empty())
      return "instruction " + std::to_string(i) + ": " + err;
    text += formatInsn(insn);
    text += "\n";
  }
  return "";
}

} // namespace ember::npu

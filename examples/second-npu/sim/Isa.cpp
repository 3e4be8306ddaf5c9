// The second NPU's encoding (Isa.h).
#include "snpu/Isa.h"

#include <cstdlib>
#include <sstream>

namespace snpu {

namespace {

constexpr unsigned kHeaderBits = 30;

using I = Insn;

const std::vector<Field> kLoad = {
    {"row", 12, &I::row},       {"dram", 32, &I::dram},
    {"ysize", 12, &I::ysize},   {"xsize", 12, &I::xsize},
    {"stride", 16, &I::stride}, {"pt", 3, &I::pt},
    {"pb", 3, &I::pb},          {"pl", 3, &I::pl},
    {"pr", 3, &I::pr},          {"wide", 1, &I::wide}};
const std::vector<Field> kStore = {
    {"row", 12, &I::row},       {"dram", 32, &I::dram},
    {"ysize", 12, &I::ysize},   {"xsize", 12, &I::xsize},
    {"stride", 16, &I::stride}, {"wide", 1, &I::wide}};
const std::vector<Field> kMac = {
    {"acc", 12, &I::acc},     {"act", 12, &I::act},     {"wgt", 12, &I::wgt},
    {"inner", 12, &I::inner}, {"outer", 12, &I::outer}, {"acts", 16, &I::acts},
    {"accs", 16, &I::accs},   {"reset", 1, &I::reset}};
const std::vector<Field> kReq = {
    {"dst", 12, &I::dst},     {"src", 12, &I::src},    {"rows", 12, &I::rows},
    {"param", 12, &I::param}, {"zp", 8, &I::zp, true}, {"lo", 8, &I::lo, true},
    {"hi", 8, &I::hi, true},  {"lut", 1, &I::lut},     {"bias", 1, &I::bias}};
const std::vector<Field> kAdd = {{"dst", 12, &I::dst},
                                 {"a", 12, &I::a},
                                 {"b", 12, &I::b},
                                 {"rows", 12, &I::rows},
                                 {"lut", 1, &I::lut}};
const std::vector<Field> kMul = {{"dst", 12, &I::dst}, {"a", 12, &I::a},
                                 {"b", 12, &I::b},     {"rows", 12, &I::rows},
                                 {"lut", 1, &I::lut},  {"bcast", 1, &I::bcast}};
const std::vector<Field> kLutld = {{"src", 12, &I::src}};
const std::vector<Field> kSetreg = {{"reg", 6, &I::reg},
                                    {"value", 32, &I::value, true}};
const std::vector<Field> kNone = {};

const char *const kQueues[kNumQueues] = {"DMA0", "DMA1", "MAC", "OUT"};

// Which queues may run an opcode (bit per queue).
unsigned queuesOf(Opcode op) {
  switch (op) {
  case Opcode::LOAD:
  case Opcode::STORE:
    return 0x3;
  case Opcode::MAC:
    return 0x4;
  case Opcode::REQ:
  case Opcode::ADD:
  case Opcode::MUL:
  case Opcode::LUTLD:
    return 0x8;
  case Opcode::NOP:
  case Opcode::SETREG:
  case Opcode::END:
    return 0xf;
  }
  return 0;
}

uint64_t mask(unsigned bits) { return bits >= 64 ? ~0ull : (1ull << bits) - 1; }

void put(Word &w, unsigned &at, unsigned bits, uint64_t v) {
  v &= mask(bits);
  for (unsigned i = 0; i < bits; ++i, ++at)
    if (v >> i & 1)
      (at < 64 ? w.lo : w.hi) |= 1ull << (at % 64);
}

uint64_t get(const Word &w, unsigned &at, unsigned bits) {
  uint64_t v = 0;
  for (unsigned i = 0; i < bits; ++i, ++at)
    v |= (((at < 64 ? w.lo : w.hi) >> (at % 64)) & 1) << i;
  return v;
}

} // namespace

const std::vector<Field> &fieldsOf(Opcode op) {
  switch (op) {
  case Opcode::LOAD:
    return kLoad;
  case Opcode::STORE:
    return kStore;
  case Opcode::MAC:
    return kMac;
  case Opcode::REQ:
    return kReq;
  case Opcode::ADD:
    return kAdd;
  case Opcode::MUL:
    return kMul;
  case Opcode::LUTLD:
    return kLutld;
  case Opcode::SETREG:
    return kSetreg;
  case Opcode::NOP:
  case Opcode::END:
    break;
  }
  return kNone;
}

const char *opcodeName(Opcode op) {
  static const char *const names[kNumOpcodes] = {
      "NOP", "LOAD",  "STORE",  "MAC", "REQ",
      "ADD", "LUTLD", "SETREG", "END", "MUL"};
  return unsigned(op) < kNumOpcodes ? names[unsigned(op)] : "?";
}

const char *queueName(uint32_t q) { return q < kNumQueues ? kQueues[q] : "?"; }

Word encode(const Insn &in) {
  Word w;
  unsigned at = 0;
  put(w, at, 4, uint64_t(in.op));
  put(w, at, 2, in.queue);
  put(w, at, kNumBarriers, in.wait);
  put(w, at, kNumBarriers, in.signal);
  for (const Field &f : fieldsOf(in.op))
    put(w, at, f.bits, in.*f.member);
  return w;
}

std::string decode(const Word &w, Insn &out) {
  out = Insn();
  unsigned at = 0;
  uint64_t op = get(w, at, 4);
  if (op >= uint64_t(kNumOpcodes))
    return "unknown opcode " + std::to_string(op);
  out.op = Opcode(op);
  out.queue = uint32_t(get(w, at, 2));
  out.wait = uint32_t(get(w, at, kNumBarriers));
  out.signal = uint32_t(get(w, at, kNumBarriers));
  if (!(queuesOf(out.op) >> out.queue & 1))
    return std::string(opcodeName(out.op)) + " cannot run on queue " +
           queueName(out.queue);
  for (const Field &f : fieldsOf(out.op))
    out.*f.member = get(w, at, f.bits);
  Word rest = w;
  if (at < 64) {
    rest.lo &= ~mask(at);
  } else {
    rest.lo = 0;
    rest.hi &= ~mask(at - 64);
  }
  if (rest.lo || rest.hi)
    return std::string(opcodeName(out.op)) + ": bits set beyond its fields";
  return "";
}

int64_t signedField(const Insn &in, uint64_t Insn::*member) {
  for (const Field &f : fieldsOf(in.op))
    if (f.member == member) {
      uint64_t v = in.*member & mask(f.bits);
      if (f.isSigned && f.bits < 64 && (v >> (f.bits - 1) & 1))
        return int64_t(v | ~mask(f.bits));
      return int64_t(v);
    }
  return int64_t(in.*member);
}

namespace {

std::string bitList(uint32_t m) {
  std::string s;
  for (int b = 0; b < kNumBarriers; ++b)
    if (m >> b & 1)
      s += (s.empty() ? "" : ",") + std::to_string(b);
  return s.empty() ? "-" : s;
}

bool parseBits(const std::string &s, uint32_t &m) {
  m = 0;
  if (s == "-")
    return true;
  std::stringstream ss(s);
  std::string tok;
  while (std::getline(ss, tok, ',')) {
    char *end = nullptr;
    long b = std::strtol(tok.c_str(), &end, 10);
    if (tok.empty() || *end || b < 0 || b >= kNumBarriers)
      return false;
    m |= 1u << b;
  }
  return true;
}

} // namespace

std::string format(const Insn &in) {
  std::string s = std::string(opcodeName(in.op)) + " q=" + queueName(in.queue) +
                  " wait=" + bitList(in.wait) + " signal=" + bitList(in.signal);
  for (const Field &f : fieldsOf(in.op))
    s += std::string(" ") + f.name + "=" +
         std::to_string(f.isSigned ? signedField(in, f.member)
                                   : int64_t(in.*f.member));
  return s;
}

std::string parse(const std::string &text, Insn &out) {
  out = Insn();
  std::stringstream ss(text);
  std::string word;
  ss >> word;
  int op = 0;
  while (op < kNumOpcodes && word != opcodeName(Opcode(op)))
    ++op;
  if (op == kNumOpcodes)
    return "unknown mnemonic '" + word + "'";
  out.op = Opcode(op);
  while (ss >> word) {
    size_t eq = word.find('=');
    if (eq == std::string::npos)
      return "expected key=value, got '" + word + "'";
    std::string k = word.substr(0, eq), v = word.substr(eq + 1);
    if (k == "q") {
      uint32_t q = 0;
      while (q < kNumQueues && v != kQueues[q])
        ++q;
      if (q == kNumQueues)
        return "unknown queue '" + v + "'";
      out.queue = q;
      continue;
    }
    if (k == "wait" || k == "signal") {
      if (!parseBits(v, k == "wait" ? out.wait : out.signal))
        return "bad barrier list '" + v + "'";
      continue;
    }
    const Field *f = nullptr;
    for (const Field &x : fieldsOf(out.op))
      if (k == x.name)
        f = &x;
    if (!f)
      return std::string(opcodeName(out.op)) + " has no field '" + k + "'";
    char *end = nullptr;
    long long n = std::strtoll(v.c_str(), &end, 10);
    if (v.empty() || *end)
      return "bad number '" + v + "' for " + k;
    int64_t lo = f->isSigned ? -(int64_t(1) << (f->bits - 1)) : 0;
    int64_t hi = f->isSigned ? (int64_t(1) << (f->bits - 1)) - 1
                             : int64_t(mask(f->bits));
    if (n < lo || n > hi)
      return std::string(f->name) + "=" + v + " does not fit " +
             std::to_string(f->bits) + " bits";
    out.*f->member = uint64_t(n) & mask(f->bits);
  }
  if (!(queuesOf(out.op) >> out.queue & 1))
    return std::string(opcodeName(out.op)) + " cannot run on queue " +
           queueName(out.queue);
  return "";
}

} // namespace snpu

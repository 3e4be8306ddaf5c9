// LIR text form (docs/lir.md). parseFunction reads exactly what this prints.
#include "lir/LIR.h"

#include "ir/Printer.h"

#include <cmath>
#include <cstdio>
#include <sstream>

namespace ember::lir {

const char *bufferKindName(BufferKind k) {
  switch (k) {
  case BufferKind::Input:
    return "input";
  case BufferKind::Output:
    return "output";
  case BufferKind::Weight:
    return "weight";
  case BufferKind::Activation:
    return "activation";
  }
  return "?";
}

const char *accessName(Access a) {
  switch (a) {
  case Access::In:
    return "in";
  case Access::Out:
    return "out";
  case Access::InOut:
    return "inout";
  }
  return "?";
}

int Function::findSpace(const std::string &n) const {
  for (size_t i = 0; i < spaces.size(); ++i)
    if (spaces[i].name == n)
      return int(i);
  return -1;
}

std::vector<unsigned> Function::buffersOfKind(BufferKind k) const {
  std::vector<unsigned> r;
  for (size_t i = 0; i < buffers.size(); ++i)
    if (buffers[i].kind == k)
      r.push_back(unsigned(i));
  return r;
}

// Shortest "%.Ng" that reads back to the same double; always marked as a
// float (contains '.', 'e', "nan" or "inf").
static std::string floatText(double d) {
  if (std::isnan(d))
    return "nan";
  if (std::isinf(d))
    return d < 0 ? "-inf" : "inf";
  char buf[40];
  for (int prec = 1; prec <= 17; ++prec) {
    snprintf(buf, sizeof buf, "%.*g", prec, d);
    if (std::strtod(buf, nullptr) == d)
      break;
  }
  std::string s = buf;
  if (s.find_first_of(".e") == std::string::npos)
    s += ".0";
  return s;
}

template <typename T, typename F>
static void printList(std::ostream &os, const std::vector<T> &v, F f) {
  os << '[';
  for (size_t i = 0; i < v.size(); ++i)
    os << (i ? ", " : "") << f(v[i]);
  os << ']';
}

static void printAttr(std::ostream &os, const Attr &a, int64_t elide) {
  switch (a.kind) {
  case Attr::Kind::Int:
    os << a.i;
    return;
  case Attr::Kind::Float:
    os << floatText(a.f);
    return;
  case Attr::Kind::String:
    os << quoteString(a.s);
    return;
  case Attr::Kind::Ints:
    os << "ints";
    printList(os, a.ints, [](int64_t x) { return std::to_string(x); });
    return;
  case Attr::Kind::Floats:
    os << "floats";
    printList(os, a.floats, floatText);
    return;
  case Attr::Kind::Strings:
    os << "strings";
    printList(os, a.strings, quoteString);
    return;
  case Attr::Kind::Tensor:
    os << printTensorLiteral(*a.t, elide);
    return;
  case Attr::Kind::Graph:
    os << "<subgraph>"; // IRGen rejects these; never parsed
    return;
  }
}

static std::string refText(const Function &f, Ref r) {
  if (!r)
    return "_";
  return valueRef(f.nameOf(r));
}

static void printInst(std::ostream &os, const Function &f,
                      const Instruction &in, int64_t elide = 0) {
  auto operands = [&](size_t from) {
    for (size_t i = from; i < in.operands.size(); ++i)
      os << (i > from ? ", " : "") << accessName(in.operands[i].access) << ' '
         << refText(f, in.operands[i].ref);
  };
  switch (in.kind) {
  case InstKind::Alloc:
  case InstKind::Dealloc:
    os << (in.kind == InstKind::Alloc ? "alloc " : "dealloc ");
    os << (in.operands.empty() ? "_" : refText(f, in.operands[0].ref));
    break;
  case InstKind::Copy:
    os << "copy ";
    operands(0);
    break;
  case InstKind::DmaStart: {
    os << valueRef(in.token) << " = dma.start ";
    operands(0);
    auto ints = [](int64_t x) { return std::to_string(x); };
    if (in.shape.empty()) {
      os << ", bytes " << in.bytes;
    } else {
      os << ", shape ";
      printList(os, in.shape, ints);
      os << " dst_strides ";
      printList(os, in.dstStrides, ints);
      os << " src_strides ";
      printList(os, in.srcStrides, ints);
    }
    break;
  }
  case InstKind::DmaWait:
    os << "dma.wait " << valueRef(in.token);
    break;
  case InstKind::Compute:
    os << opName(in.op) << '(';
    operands(0);
    os << ')';
    if (!in.attrs.empty()) {
      os << " {";
      bool first = true;
      for (auto &kv : in.attrs) {
        os << (first ? "" : ", ") << kv.first << " = ";
        printAttr(os, kv.second, elide);
        first = false;
      }
      os << '}';
    }
    break;
  }
  if (!in.loc.empty())
    os << " loc(" << quoteString(in.loc) << ')';
}

std::string instText(const Function &f, const Instruction &in) {
  std::ostringstream os;
  printInst(os, f, in);
  return os.str();
}

std::string describeInst(const Function &f, size_t idx) {
  if (idx >= f.insts.size())
    return concat("instruction #", idx);
  return concat("instruction #", idx, " '", instText(f, f.insts[idx]), "'");
}

void printFunction(std::ostream &os, const Function &f, int64_t elide) {
  os << "lir @" << valueRef(f.name).substr(1) << " {\n";
  for (auto &s : f.spaces)
    os << "  space " << s.name << " capacity " << s.capacity << " align "
       << s.alignment << '\n';
  for (auto &b : f.buffers) {
    os << "  " << bufferKindName(b.kind) << ' ' << valueRef(b.name) << " : "
       << b.type.toString() << " in "
       << (b.space < f.spaces.size() ? f.spaces[b.space].name : "?");
    if (b.offset >= 0)
      os << " offset " << b.offset;
    if (b.payload)
      os << " = " << printTensorLiteral(*b.payload, elide);
    os << '\n';
  }
  for (auto &v : f.views)
    os << "  view " << valueRef(v.name) << " = "
       << (v.buffer < f.buffers.size() ? valueRef(f.buffers[v.buffer].name)
                                       : "?")
       << '[' << v.offset << "] : " << v.type.toString() << '\n';
  for (auto &in : f.insts) {
    os << "  ";
    printInst(os, f, in, elide);
    os << '\n';
  }
  os << "}\n";
}

std::string printFunction(const Function &f) {
  std::ostringstream os;
  printFunction(os, f);
  return os.str();
}

} // namespace ember::lir

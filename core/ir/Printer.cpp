#include "ir/Printer.h"

#include "ir/OpRegistry.h"

#include <cmath>
#include <cstdio>
#include <sstream>

namespace ember {

static bool isIdentChar(char c) {
  return isalnum(uint8_t(c)) || c == '_' || c == '.' || c == '$' || c == '-';
}

std::string valueRef(const std::string &name) {
  bool plain = !name.empty();
  for (char c : name)
    plain = plain && isIdentChar(c);
  return "%" + (plain ? name : quoteString(name));
}

static std::string doubleText(double d) {
  if (std::isnan(d))
    return "nan";
  if (std::isinf(d))
    return d > 0 ? "inf" : "-inf";
  char buf[40];
  snprintf(buf, sizeof buf, "%.17g", d);
  std::string s = buf;
  if (s.find_first_of(".eE") == std::string::npos)
    s += ".0";
  return s;
}

static std::string floatText(float f) {
  if (std::isnan(f) || std::isinf(f))
    return doubleText(double(f));
  char buf[32];
  snprintf(buf, sizeof buf, "%.9g", double(f));
  std::string s = buf;
  if (s.find_first_of(".eE") == std::string::npos)
    s += ".0";
  return s;
}

std::string printTensorLiteral(const Tensor &t, int64_t elideAbove) {
  std::ostringstream os;
  os << "dense<" << t.type().toString() << ": ";
  int64_t n = t.size();
  if (elideAbove > 0 && n > elideAbove) {
    os << "elided>";
    return os.str();
  }
  bool hasNan = false;
  if (isFloatKind(t.elem()))
    for (int64_t i = 0; i < n && !hasNan; ++i)
      hasNan = std::isnan(t.getDouble(i));
  if (n > 64 || hasNan) {
    static const char *hex = "0123456789abcdef";
    std::string h = "0x";
    h.reserve(2 + t.bytes() * 2);
    for (size_t i = 0; i < t.bytes(); ++i) {
      h += hex[t.raw()[i] >> 4];
      h += hex[t.raw()[i] & 15];
    }
    os << h << ">";
    return os.str();
  }
  os << "[";
  for (int64_t i = 0; i < n; ++i) {
    if (i)
      os << ", ";
    switch (t.elem()) {
    case ElemKind::F64:
      os << doubleText(t.data<double>()[i]);
      break;
    case ElemKind::F32:
    case ElemKind::F16:
    case ElemKind::BF16:
      os << floatText(float(t.getDouble(i)));
      break;
    case ElemKind::U64:
      os << t.data<uint64_t>()[i];
      break;
    default:
      os << t.getInt(i);
    }
  }
  os << "]>";
  return os.str();
}

static void printFunctionIndented(std::ostream &os, const Function &f,
                                  const PrintOptions &o,
                                  const std::string &ind);

// A custom op prints as `domain::name@opset` (its `$op` and `$opset`
// attributes), like a built-in op's name.
static std::string opText(const Node &n) {
  if (n.kind != OpKind::Custom || !n.hasAttr(kCustomOpAttr))
    return opName(n.kind);
  return concat(nodeOpName(n), "@", n.attrInt(kCustomOpsetAttr, 0));
}
static bool inOpText(const Node &n, const std::string &attr) {
  return n.kind == OpKind::Custom && n.hasAttr(kCustomOpAttr) &&
         (attr == kCustomOpAttr || attr == kCustomOpsetAttr);
}

static void printAttr(std::ostream &os, const Attr &a, int64_t elide,
                      const std::string &ind) {
  switch (a.kind) {
  case Attr::Kind::Int:
    os << a.i;
    break;
  case Attr::Kind::Float:
    os << doubleText(a.f);
    break;
  case Attr::Kind::String:
    os << quoteString(a.s);
    break;
  case Attr::Kind::Ints:
    os << "[";
    for (size_t i = 0; i < a.ints.size(); ++i)
      os << (i ? ", " : "") << a.ints[i];
    os << "]";
    break;
  case Attr::Kind::Floats:
    os << (a.floats.empty() ? "floats[" : "[");
    for (size_t i = 0; i < a.floats.size(); ++i)
      os << (i ? ", " : "") << doubleText(a.floats[i]);
    os << "]";
    break;
  case Attr::Kind::Strings:
    os << (a.strings.empty() ? "strings[" : "[");
    for (size_t i = 0; i < a.strings.size(); ++i)
      os << (i ? ", " : "") << quoteString(a.strings[i]);
    os << "]";
    break;
  case Attr::Kind::Tensor:
    os << printTensorLiteral(*a.t, elide);
    break;
  case Attr::Kind::Graph: {
    PrintOptions o;
    o.elideConstantsAbove = elide;
    printFunctionIndented(os, *a.g, o, ind + "    ");
    break;
  }
  }
}

void printFunction(std::ostream &os, const Function &f, const PrintOptions &o) {
  printFunctionIndented(os, f, o, "");
}

// Subgraph attributes print as nested functions, indented.
static void printFunctionIndented(std::ostream &os, const Function &f,
                                  const PrintOptions &o,
                                  const std::string &ind) {
  os << "func @" << f.name() << "(";
  for (size_t i = 0; i < f.params().size(); ++i) {
    const Node *p = f.params()[i];
    os << (i ? ", " : "") << valueRef(p->outNames[0]) << ": "
       << p->types[0].toString();
  }
  os << ") {\n";
  for (auto &np : f.nodes()) {
    const Node &n = *np;
    if (n.kind == OpKind::Placeholder)
      continue;
    os << ind << "  ";
    for (size_t i = 0; i < n.outNames.size(); ++i)
      os << (i ? ", " : "") << valueRef(n.outNames[i]);
    if (n.kind == OpKind::Constant) {
      os << " = Constant "
         << printTensorLiteral(*n.payload, o.elideConstantsAbove) << "\n";
      continue;
    }
    os << " = " << opText(n) << "(";
    for (size_t i = 0; i < n.inputs.size(); ++i) {
      os << (i ? ", " : "");
      if (n.inputs[i].node)
        os << valueRef(n.inputs[i].name());
      else
        os << "_";
    }
    os << ")";
    size_t shown = 0;
    for (auto &kv : n.attrs)
      shown += !inOpText(n, kv.first);
    if (shown) {
      os << " {";
      bool first = true;
      for (auto &kv : n.attrs) {
        if (inOpText(n, kv.first))
          continue;
        os << (first ? "" : ", ") << kv.first << " = ";
        printAttr(os, kv.second, o.elideConstantsAbove, ind);
        first = false;
      }
      os << "}";
    }
    os << " : ";
    for (size_t i = 0; i < n.types.size(); ++i)
      os << (i ? ", " : "") << n.types[i].toString();
    if (!n.name.empty())
      os << " loc(" << quoteString(n.name) << ")";
    os << "\n";
  }
  os << ind << "  return";
  for (size_t i = 0; i < f.outputs().size(); ++i) {
    const auto &out = f.outputs()[i];
    os << (i ? ", " : " ") << valueRef(out.value.name());
    if (out.name != out.value.name())
      os << " as " << quoteString(out.name);
  }
  os << "\n" << ind << "}" << (ind.empty() ? "\n" : "");
}

void printModule(std::ostream &os, const Module &m, const PrintOptions &o) {
  bool first = true;
  for (auto &f : m.functions()) {
    if (!first)
      os << "\n";
    printFunction(os, *f, o);
    first = false;
  }
}

void printDot(std::ostream &os, const Function &f) {
  os << "digraph " << quoteString(f.name()) << " {\n  rankdir=TB;\n"
     << "  node [shape=box, fontname=\"monospace\", fontsize=10];\n";
  std::unordered_map<const Node *, size_t> id;
  for (auto &n : f.nodes())
    id[n.get()] = id.size();
  for (auto &np : f.nodes()) {
    const Node &n = *np;
    std::string label;
    if (n.kind == OpKind::Placeholder)
      label = "input " + n.outNames[0];
    else if (n.kind == OpKind::Constant)
      label = "const " + n.outNames[0];
    else
      label = nodeOpName(n) + (n.name.empty() ? "" : "\\n" + n.name);
    for (auto &t : n.types)
      label += "\\n" + t.toString();
    std::string shape = n.kind == OpKind::Placeholder ? ", shape=ellipse"
                        : n.kind == OpKind::Constant
                            ? ", shape=note, color=gray"
                            : "";
    std::string esc;
    for (char c : label)
      esc += c == '"' ? std::string("\\\"") : std::string(1, c);
    os << "  n" << id[&n] << " [label=\"" << esc << "\"" << shape << "];\n";
    for (auto &in : n.inputs)
      if (in.node)
        os << "  n" << id[in.node] << " -> n" << id[&n] << ";\n";
  }
  for (size_t i = 0; i < f.outputs().size(); ++i) {
    os << "  out" << i
       << " [label=" << quoteString("output " + f.outputs()[i].name)
       << ", shape=ellipse];\n";
    os << "  n" << id[f.outputs()[i].value.node] << " -> out" << i << ";\n";
  }
  os << "}\n";
}

} // namespace ember

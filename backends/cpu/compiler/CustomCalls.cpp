#include "CustomCalls.h"

#include "ir/OpRegistry.h"

#include "ember/op_library.h"

#include <cmath>
#include <cstdio>
#include <dlfcn.h>
#include <mutex>
#include <sstream>

// The op library ABI's header, embedded (its path is a compile definition,
// backends/cpu/CMakeLists.txt): a bundle with custom ops carries it beside
// custom_ops.c. (The #include above puts its text into ccache's key.)
#define EMBER_INCBIN(sym, file)                                                \
  __asm__(".section .rodata\n"                                                 \
          ".balign 16\n"                                                       \
          ".hidden " #sym "_begin\n"                                           \
          ".hidden " #sym "_end\n" #sym "_begin:\n"                            \
          ".incbin \"" file "\"\n" #sym "_end:\n"                              \
          ".byte 0\n"                                                          \
          ".previous\n");                                                      \
  extern "C" const char sym##_begin[];                                         \
  extern "C" const char sym##_end[];
EMBER_INCBIN(ember_cpu_op_library_h, EMBER_OP_LIBRARY_HEADER)

namespace ember::cpugen {

std::string customNodeSymbol(size_t k) {
  return concat("ember_custom_node_", k);
}

// ---- the JIT's calls --------------------------------------------------------
struct CustomCalls::Call {
  std::unique_ptr<CustomKernel> kernel;
  CustomCalls *owner = nullptr;
};

CustomCalls::~CustomCalls() = default;

namespace {
// ember_rt_custom in the JIT: one call site's kernel.
int32_t nativeCustomCall(const void *call, void **ins, void **outs) {
  auto *c = static_cast<const CustomCalls::Call *>(call);
  Status s = c->kernel->run(ins, outs);
  if (s.isOk())
    return 0;
  c->owner->setError(s.message());
  return kStatusCustomOp;
}
} // namespace

Expected<std::unique_ptr<CustomCalls>>
CustomCalls::prepare(const std::vector<const Node *> &nodes) {
  auto calls = std::make_unique<CustomCalls>();
  for (const Node *n : nodes) {
    EMBER_ASSIGN(const CustomOp *op, requireCustomOp(*n));
    auto c = std::make_unique<Call>();
    EMBER_ASSIGN(c->kernel, op->instantiate(*n));
    c->owner = calls.get();
    calls->calls_.push_back(std::move(c));
  }
  return calls;
}

std::map<std::string, void *> CustomCalls::symbols() {
  std::map<std::string, void *> s;
  if (calls_.empty())
    return s;
  s[kCustomCallSymbol] = reinterpret_cast<void *>(&nativeCustomCall);
  for (size_t k = 0; k < calls_.size(); ++k)
    s[customNodeSymbol(k)] = calls_[k].get();
  return s;
}

void CustomCalls::setError(const std::string &message) {
  std::lock_guard<std::mutex> l(mu_);
  lastError_ = message;
}

std::string CustomCalls::lastError() const {
  std::lock_guard<std::mutex> l(mu_);
  return lastError_.empty() ? std::string("a custom op's kernel failed")
                            : lastError_;
}

std::string customNodeNames(const CompiledModel &m) {
  std::string s;
  for (const Node *n : m.customNodes)
    s += (s.empty() ? "" : ",") + n->outNames[0];
  return s;
}

Expected<std::vector<const Node *>>
customNodesByName(const Function &f, const std::string &names) {
  std::map<std::string, const Node *> byName;
  for (auto &n : f.nodes())
    if (n->kind == OpKind::Custom)
      byName[n->outNames[0]] = n.get();
  std::vector<const Node *> out;
  std::istringstream is(names);
  std::string name;
  while (std::getline(is, name, ','))
    if (!name.empty()) {
      auto it = byName.find(name);
      if (it == byName.end())
        return invalid("artifact: no custom op computes '", name,
                       "' in its program");
      out.push_back(it->second);
    }
  return out;
}

// ---- custom_ops.c -----------------------------------------------------------
namespace {

std::string cStr(const std::string &s) {
  std::string out = "\"";
  char buf[8];
  for (unsigned char c : s) {
    if (c == '"' || c == '\\' || c == '?') {
      out += '\\';
      out += char(c);
    } else if (c < 0x20 || c >= 0x7f) {
      std::snprintf(buf, sizeof buf, "\\%03o", unsigned(c));
      out += buf;
    } else {
      out += char(c);
    }
  }
  return out + "\"";
}

std::string cInt(int64_t v) {
  if (v == INT64_MIN)
    return "(-INT64_C(9223372036854775807) - 1)";
  return concat("INT64_C(", v, ")");
}

std::string cDouble(double v) {
  if (std::isnan(v))
    return "NAN";
  if (std::isinf(v))
    return v > 0 ? "HUGE_VAL" : "(-HUGE_VAL)";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%a", v);
  return buf;
}

std::string cBytes(const uint8_t *p, size_t n) {
  std::string s = "{";
  char buf[8];
  for (size_t i = 0; i < n; ++i) {
    std::snprintf(buf, sizeof buf, "%s%u", i ? (i % 24 ? "," : ",\n  ") : "",
                  unsigned(p[i]));
    s += buf;
  }
  return s + (n ? "}" : "0}");
}

// One node's static description: its ember_op_node `nK_node` and the
// types its tensors use (nK_in<i>, nK_out<r>).
class NodeWriter {
public:
  NodeWriter(std::ostream &os, size_t k, const Node &n, const CustomOp &op)
      : os_(os), p_(concat("n", k)), n_(n), op_(op) {}

  Status write() {
    auto q = n_.attrs.find(kCustomQuantAttr);
    if (q != n_.attrs.end())
      quant_ = q->second.floats;
    os_ << "/* ---- call " << p_.substr(1) << ": " << op_.fullName() << " at "
        << commentSafe(n_.describe()) << " */\n";
    std::vector<std::string> ins, consts, outs, attrs;
    for (size_t i = 0; i < n_.inputs.size(); ++i) {
      const Value &v = n_.inputs[i];
      std::string t = concat(p_, "_in", i);
      ins.push_back("&" + t);
      if (!v.node) {
        os_ << "static ember_op_type " << t
            << " = {sizeof(ember_op_type), NULL, 0, 0, NULL, 0.0f, 0};\n";
        consts.push_back("NULL");
        continue;
      }
      type(t, v.type(), i);
      const Tensor *c = n_.constantInput(i);
      consts.push_back(c ? "&" + tensor(concat(p_, "_c", i), t, *c) : "NULL");
    }
    for (size_t r = 0; r < n_.types.size(); ++r) {
      std::string t = concat(p_, "_out", r);
      type(t, n_.types[r], n_.inputs.size() + r);
      outs.push_back("&" + t);
    }
    size_t a = 0;
    for (auto &kv : n_.attrs) {
      if (!kv.first.empty() && kv.first[0] == '$')
        continue;
      std::string name = concat(p_, "_a", a++);
      EMBER_TRY(attr(name, kv.first, kv.second));
      attrs.push_back("&" + name);
    }
    list("const ember_op_type *const", p_ + "_inputs", ins);
    list("const ember_op_tensor *const", p_ + "_constants", consts);
    list("const ember_op_type *const", p_ + "_outputs", outs);
    list("const ember_op_attr *const", p_ + "_attrs", attrs);
    os_ << "static const ember_op_node " << p_
        << "_node = {sizeof(ember_op_node), NULL, " << cStr(op_.domain) << ", "
        << cStr(op_.name) << ", "
        << cInt(n_.attrInt(kCustomOpsetAttr, op_.opsetFirst)) << ", "
        << cStr(n_.name) << ", " << ins.size() << ", " << p_ << "_inputs, "
        << p_ << "_constants, " << outs.size() << ", " << p_ << "_outputs, "
        << attrs.size() << ", " << p_ << "_attrs};\n\n";
    return Status::ok();
  }

private:
  static std::string commentSafe(std::string s) {
    for (char &c : s)
      if (c == '*' || c == '/' || static_cast<unsigned char>(c) < 0x20)
        c = '_';
    return s;
  }
  void list(const char *type, const std::string &name,
            const std::vector<std::string> &items) {
    os_ << "static " << type << " " << name << "[] = {";
    for (size_t i = 0; i < items.size(); ++i)
      os_ << (i ? ", " : "") << items[i];
    os_ << (items.empty() ? "NULL" : "") << "};\n";
  }
  // ember_op_type `name` of t, quantized as $quant's entry k says.
  void type(const std::string &name, const Type &t, size_t k) {
    double scale = 0;
    int64_t zp = 0;
    if (3 * k + 2 < quant_.size()) {
      scale = quant_[3 * k];
      zp = int64_t(quant_[3 * k + 1]);
    }
    os_ << "static int64_t " << name << "_dims[] = {";
    for (size_t i = 0; i < t.rank(); ++i)
      os_ << (i ? ", " : "") << cInt(t.dim(i));
    os_ << (t.rank() ? "" : "0") << "};\n";
    os_ << "static ember_op_type " << name
        << " = {sizeof(ember_op_type), NULL, " << elemKindToOnnx(t.elem())
        << ", " << t.rank() << ", " << name << "_dims, (float)"
        << cDouble(double(float(scale))) << ", " << cInt(zp) << "};\n";
  }
  // A constant tensor `name` over bytes of its own, of type `typeName`.
  std::string tensor(const std::string &name, const std::string &typeName,
                     const Tensor &t) {
    os_ << "static const unsigned char " << name
        << "_data[] = " << cBytes(t.raw(), t.bytes()) << ";\n";
    os_ << "static const ember_op_tensor " << name
        << " = {sizeof(ember_op_tensor), NULL, &" << typeName << ", (void *)"
        << name << "_data, " << t.bytes() << "u};\n";
    return name;
  }
  Status attr(const std::string &name, const std::string &key, const Attr &a) {
    std::string fields; // from `type` on
    switch (a.kind) {
    case Attr::Kind::Int:
      fields = concat(EMBER_OP_ATTR_INT, ", ", cInt(a.i),
                      ", 0.0, NULL, 0, 0, NULL, NULL, NULL, NULL, NULL");
      break;
    case Attr::Kind::Float:
      fields = concat(EMBER_OP_ATTR_FLOAT, ", 0, ", cDouble(a.f),
                      ", NULL, 0, 0, NULL, NULL, NULL, NULL, NULL");
      break;
    case Attr::Kind::String:
      fields = concat(EMBER_OP_ATTR_STRING, ", 0, 0.0, ", cStr(a.s), ", ",
                      a.s.size(), "u, 0, NULL, NULL, NULL, NULL, NULL");
      break;
    case Attr::Kind::Ints: {
      std::vector<std::string> v;
      for (int64_t x : a.ints)
        v.push_back(cInt(x));
      list("const int64_t", name + "_v", v);
      fields = concat(EMBER_OP_ATTR_INTS, ", 0, 0.0, NULL, 0, ", a.ints.size(),
                      "u, ", name, "_v, NULL, NULL, NULL, NULL");
      break;
    }
    case Attr::Kind::Floats: {
      std::vector<std::string> v;
      for (double x : a.floats)
        v.push_back(cDouble(x));
      list("const double", name + "_v", v);
      fields =
          concat(EMBER_OP_ATTR_FLOATS, ", 0, 0.0, NULL, 0, ", a.floats.size(),
                 "u, NULL, ", name, "_v, NULL, NULL, NULL");
      break;
    }
    case Attr::Kind::Strings: {
      std::vector<std::string> v, sizes;
      for (auto &x : a.strings) {
        v.push_back(cStr(x));
        sizes.push_back(concat(x.size(), "u"));
      }
      list("const char *const", name + "_v", v);
      list("const size_t", name + "_n", sizes);
      fields =
          concat(EMBER_OP_ATTR_STRINGS, ", 0, 0.0, NULL, 0, ", a.strings.size(),
                 "u, NULL, NULL, ", name, "_v, ", name, "_n, NULL");
      break;
    }
    case Attr::Kind::Tensor: {
      std::string tn = name + "_t";
      os_ << "static int64_t " << tn << "_dims[] = {";
      for (size_t i = 0; i < a.t->rank(); ++i)
        os_ << (i ? ", " : "") << cInt(a.t->dims()[i]);
      os_ << (a.t->rank() ? "" : "0") << "};\n";
      os_ << "static ember_op_type " << tn
          << "_type = {sizeof(ember_op_type), NULL, "
          << elemKindToOnnx(a.t->elem()) << ", " << a.t->rank() << ", " << tn
          << "_dims, 0.0f, 0};\n";
      tensor(tn, tn + "_type", *a.t);
      fields = concat(EMBER_OP_ATTR_TENSOR,
                      ", 0, 0.0, NULL, 0, 0, NULL, NULL, NULL, NULL, &", tn);
      break;
    }
    case Attr::Kind::Graph:
      return unsupported(n_.describe(), ": attribute '", key,
                         "' is a graph; op libraries take no graphs");
    }
    os_ << "static const ember_op_attr " << name
        << " = {sizeof(ember_op_attr), NULL, " << cStr(key) << ", " << fields
        << "};\n";
    return Status::ok();
  }

  std::ostream &os_;
  std::string p_;
  const Node &n_;
  const CustomOp &op_;
  std::vector<double> quant_;
};

// The C symbol that returns a library's table in the application: its
// named alias when it has one (EMBER_OP_LIBRARY_ENTRY defines it), else the
// plain entry, which only one library linked into a program can have.
Expected<std::map<std::string, std::string>>
entrySymbols(const std::vector<const CustomOp *> &ops) {
  std::map<std::string, std::string> sym; // library path -> symbol
  for (const CustomOp *op : ops) {
    if (sym.count(op->libraryPath))
      continue;
    std::string alias =
        std::string(EMBER_OP_LIBRARY_ENTRY_SYMBOL) + "_" + op->libraryName;
    void *h = dlopen(op->libraryPath.c_str(), RTLD_LAZY | RTLD_NOLOAD);
    bool hasAlias = h && dlsym(h, alias.c_str());
    if (h)
      dlclose(h);
    sym[op->libraryPath] = hasAlias ? alias : EMBER_OP_LIBRARY_ENTRY_SYMBOL;
  }
  if (sym.size() > 1)
    for (auto &kv : sym)
      if (kv.second == EMBER_OP_LIBRARY_ENTRY_SYMBOL)
        return unsupported(
            "op library ", kv.first, " exports no '",
            EMBER_OP_LIBRARY_ENTRY_SYMBOL,
            "_<name>' alias (EMBER_OP_LIBRARY_ENTRY defines it); a bundle "
            "that calls the ops of several libraries links each through it");
  return sym;
}

const char *kGlueHead = R"GLUE(#include "op_library.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The host table the kernels see: errors and memory of this program. */
struct ember_op_error {
  int32_t code;
  char message[512];
};
static struct ember_op_error ember_glue_error;
static void ember_glue_log(void *user, int32_t level, const char *message) {
  (void)user;
  if (level >= EMBER_OP_LOG_WARNING)
    fprintf(stderr, "%s\n", message);
}
static ember_op_error *ember_glue_error_new(void *user, int32_t code,
                                            const char *message) {
  (void)user;
  ember_glue_error.code = code;
  strncpy(ember_glue_error.message, message ? message : "",
          sizeof ember_glue_error.message - 1);
  return &ember_glue_error;
}
static void *ember_glue_alloc(void *user, size_t size, size_t alignment) {
  (void)user;
  (void)alignment;
  return malloc(size ? size : 1);
}
static void ember_glue_free(void *user, void *p) {
  (void)user;
  free(p);
}
static const ember_op_host_api ember_glue_host = {
    sizeof(ember_op_host_api), NULL, EMBER_OP_LIBRARY_VERSION_MAJOR,
    EMBER_OP_LIBRARY_VERSION_MINOR, "ember-bundle", "0.1.0", NULL,
    ember_glue_log, ember_glue_error_new, ember_glue_alloc, ember_glue_free};

/* A failed call: its message on stderr, ember_main returns 101. */
static int32_t ember_glue_fail(const char *op, const char *what) {
  fprintf(stderr, "error: %s: %s\n", op, what);
  return 101;
}

/* The definition of domain::name at opset in a library's table. */
static const ember_op_def *ember_glue_find(const ember_op_library *lib,
                                           const char *domain,
                                           const char *name, int64_t opset) {
  size_t i;
  if (!lib || lib->abi_major != EMBER_OP_LIBRARY_VERSION_MAJOR)
    return NULL;
  for (i = 0; i < lib->num_ops; ++i) {
    const ember_op_def *d = lib->ops[i];
    const char *dd = d->domain && d->domain[0] ? d->domain : "ai.onnx";
    if (strcmp(dd, domain) == 0 && strcmp(d->name, name) == 0 &&
        opset >= d->opset_first && (!d->opset_last || opset <= d->opset_last))
      return d;
  }
  return NULL;
}

/* One call site: its definition, state, and tensors over the pointers
 * ember_main passes. */
struct ember_glue_call {
  const ember_op_node *node;
  const ember_op_library *(*entry)(const ember_op_host_api *);
  const char *op;
  const ember_op_def *def;
  void *state;
  int ready;
  ember_op_tensor *in, *out;
  const ember_op_tensor **pin, **pout;
};

static int32_t ember_glue_run(struct ember_glue_call *c, void **ins,
                              void **outs) {
  ember_op_compute_args a;
  ember_op_error *e;
  size_t i;
  if (!c->ready) {
    c->def = ember_glue_find(c->entry(&ember_glue_host), c->node->domain,
                             c->node->name, c->node->opset);
    if (!c->def)
      return ember_glue_fail(c->op, "the op library linked in does not "
                                    "define it (or is of another ABI major)");
    for (i = 0; i < c->node->num_inputs; ++i) {
      c->in[i].struct_size = sizeof(ember_op_tensor);
      c->in[i].type = c->node->inputs[i];
      c->in[i].size_bytes =
          (size_t)ember_op_num_elements(c->node->inputs[i]) *
          ember_op_dtype_size(c->node->inputs[i]->dtype);
    }
    for (i = 0; i < c->node->num_outputs; ++i) {
      c->out[i].struct_size = sizeof(ember_op_tensor);
      c->out[i].type = c->node->outputs[i];
      c->out[i].size_bytes =
          (size_t)ember_op_num_elements(c->node->outputs[i]) *
          ember_op_dtype_size(c->node->outputs[i]->dtype);
      c->pout[i] = &c->out[i];
    }
    if (c->def->kernel_create) {
      ember_op_create_args k;
      memset(&k, 0, sizeof k);
      k.struct_size = sizeof k;
      k.host = &ember_glue_host;
      k.user_data = c->def->user_data;
      k.node = c->node;
      k.state = &c->state;
      e = c->def->kernel_create(&k);
      if (e)
        return ember_glue_fail(c->op, e->message);
    }
    c->ready = 1;
  }
  for (i = 0; i < c->node->num_inputs; ++i) {
    c->in[i].data = ins[i];
    c->pin[i] = c->node->inputs[i]->dtype ? &c->in[i] : NULL;
  }
  for (i = 0; i < c->node->num_outputs; ++i)
    c->out[i].data = outs[i];
  memset(&a, 0, sizeof a);
  a.struct_size = sizeof a;
  a.host = &ember_glue_host;
  a.user_data = c->def->user_data;
  a.state = c->state;
  a.node = c->node;
  a.inputs = c->pin;
  a.outputs = c->pout;
  e = c->def->compute(&a);
  return e ? ember_glue_fail(c->op, e->message) : 0;
}

)GLUE";

} // namespace

Expected<std::vector<BundleFile>> customOpBundleFiles(const CompiledModel &m) {
  if (m.customNodes.empty())
    return std::vector<BundleFile>{};
  std::vector<const CustomOp *> ops;
  for (const Node *n : m.customNodes) {
    EMBER_ASSIGN(const CustomOp *op, requireCustomOp(*n));
    ops.push_back(op);
  }
  EMBER_ASSIGN(auto entries, entrySymbols(ops));
  std::ostringstream os;
  os << "/* Generated by the Ember CPU backend: the custom ops this bundle's "
        "model.o\n * calls (docs/custom-ops.md, \"AOT bundles\"). Compile it "
        "with the model and\n * link the op libraries it names, built for the "
        "target, e.g.\n *   cc -O2 main.c custom_ops.c model.o";
  for (auto &kv : entries)
    os << " \\\n *      " << kv.first;
  os << " -lm\n * Calls are not thread-safe (a bundle runs one model at a "
        "time). */\n";
  os << kGlueHead;
  for (auto &kv : entries)
    os << "extern const ember_op_library *" << kv.second
       << "(const ember_op_host_api *host);\n";
  os << "\n";
  for (size_t k = 0; k < m.customNodes.size(); ++k)
    EMBER_TRY(NodeWriter(os, k, *m.customNodes[k], *ops[k]).write());
  for (size_t k = 0; k < m.customNodes.size(); ++k) {
    const Node &n = *m.customNodes[k];
    size_t nin = std::max<size_t>(n.inputs.size(), 1),
           nout = std::max<size_t>(n.numResults(), 1);
    os << "static ember_op_tensor n" << k << "_tin[" << nin << "], n" << k
       << "_tout[" << nout << "];\n"
       << "static const ember_op_tensor *n" << k << "_pin[" << nin << "], *n"
       << k << "_pout[" << nout << "];\n"
       << "static struct ember_glue_call n" << k << "_call = {&n" << k
       << "_node, " << entries.at(ops[k]->libraryPath) << ", "
       << cStr(ops[k]->fullName()) << ", NULL, NULL, 0, n" << k << "_tin, n"
       << k << "_tout, n" << k << "_pin, n" << k << "_pout};\n";
  }
  os << "\n/* What model.o refers to: one symbol per call site, and the call. "
        "*/\n";
  for (size_t k = 0; k < m.customNodes.size(); ++k)
    os << "const int " << customNodeSymbol(k) << " = " << k << ";\n";
  os << "int32_t " << kCustomCallSymbol
     << "(const void *call, void **ins, void **outs);\n"
     << "int32_t " << kCustomCallSymbol
     << "(const void *call, void **ins, void **outs) {\n"
     << "  switch (*(const int *)call) {\n";
  for (size_t k = 0; k < m.customNodes.size(); ++k)
    os << "  case " << k << ":\n    return ember_glue_run(&n" << k
       << "_call, ins, outs);\n";
  os << "  default:\n    return 101;\n  }\n}\n";
  std::vector<BundleFile> files;
  files.push_back({"custom_ops.c", os.str()});
  files.push_back(
      {"op_library.h", std::string(ember_cpu_op_library_h_begin,
                                   size_t(ember_cpu_op_library_h_end -
                                          ember_cpu_op_library_h_begin))});
  return files;
}

} // namespace ember::cpugen

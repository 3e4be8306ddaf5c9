#include "ir/OpRegistry.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <mutex>
#include <shared_mutex>

namespace ember {

namespace {

struct Registry {
  std::shared_mutex mu;
  // By "domain::name"; each list sorted by opsetFirst, ranges disjoint.
  std::map<std::string, std::vector<std::shared_ptr<const CustomOp>>> ops;
};

Registry &registry() {
  static Registry r;
  return r;
}

// Letters, digits and . _ - (what graph IR text reads as one identifier).
bool identLike(const std::string &s) {
  if (s.empty())
    return false;
  for (char c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' ||
          c == '-'))
      return false;
  return true;
}

bool overlaps(const CustomOp &a, const CustomOp &b) {
  int64_t aHi = a.opsetLast ? a.opsetLast : INT64_MAX;
  int64_t bHi = b.opsetLast ? b.opsetLast : INT64_MAX;
  return a.opsetFirst <= bHi && b.opsetFirst <= aHi;
}

std::string rangeText(const CustomOp &op) {
  return op.opsetLast ? concat("opsets ", op.opsetFirst, "-", op.opsetLast)
                      : concat("opsets ", op.opsetFirst, "+");
}

Status checkOp(const CustomOp &op) {
  std::string what = concat(op.describeLibrary(), ": op '", op.fullName(), "'");
  if (!identLike(op.domain) || !identLike(op.name))
    return invalid(what, ": domain and name must be letters, digits, '.', '_' "
                         "or '-'");
  if (op.opsetFirst < 1 || (op.opsetLast && op.opsetLast < op.opsetFirst))
    return invalid(what, ": bad opset range [", op.opsetFirst, ", ",
                   op.opsetLast, "]");
  if (op.minInputs > op.maxInputs || op.minOutputs < 1 ||
      op.minOutputs > op.maxOutputs)
    return invalid(what, ": bad operand or result counts (inputs ",
                   op.minInputs, " to ", op.maxInputs, ", outputs ",
                   op.minOutputs, " to ", op.maxOutputs, ")");
  if (op.integerForm == IntegerForm::Lowering && !op.hasLowering)
    return invalid(what, ": declares the integer form of its lowering but "
                         "has no lowering");
  OpKind k;
  if (op.domain == "ai.onnx" && opKindFromName(op.name, k) &&
      !hasProp(k, P_Internal))
    return invalid(what, ": Ember defines ", op.name,
                   " in the default domain; register it in a domain of "
                   "your own");
  return Status::ok();
}

} // namespace

std::string CustomOp::describeLibrary() const {
  return concat("op library '", libraryName, "' (", libraryPath, ")");
}

std::string normalizeDomain(const std::string &domain) {
  return domain.empty() ? std::string("ai.onnx") : domain;
}

bool splitCustomName(const std::string &s, std::string &domain,
                     std::string &name) {
  size_t p = s.rfind("::");
  if (p == std::string::npos || p == 0 || p + 2 >= s.size())
    return false;
  domain = s.substr(0, p);
  name = s.substr(p + 2);
  return true;
}

Status registerCustomOps(const std::vector<std::shared_ptr<CustomOp>> &ops) {
  Registry &r = registry();
  std::unique_lock<std::shared_mutex> lock(r.mu);
  for (size_t i = 0; i < ops.size(); ++i) {
    const CustomOp &op = *ops[i];
    EMBER_TRY(checkOp(op));
    auto clash = [&](const CustomOp &other) {
      return invalid("op '", op.fullName(), "' (", rangeText(op), ") of ",
                     op.describeLibrary(), " is already registered by ",
                     other.describeLibrary(), " (", rangeText(other),
                     "): two libraries define it");
    };
    auto it = r.ops.find(op.fullName());
    if (it != r.ops.end())
      for (auto &other : it->second)
        if (overlaps(op, *other))
          return clash(*other);
    for (size_t j = 0; j < i; ++j)
      if (ops[j]->fullName() == op.fullName() && overlaps(op, *ops[j]))
        return invalid(op.describeLibrary(), ": op '", op.fullName(),
                       "' is registered twice for the same opsets (",
                       rangeText(*ops[j]), " and ", rangeText(op), ")");
  }
  for (auto &op : ops) {
    auto &list = r.ops[op->fullName()];
    list.push_back(op);
    std::sort(list.begin(), list.end(),
              [](const std::shared_ptr<const CustomOp> &a,
                 const std::shared_ptr<const CustomOp> &b) {
                return a->opsetFirst < b->opsetFirst;
              });
  }
  return Status::ok();
}

std::shared_ptr<const CustomOp> findCustomOp(const std::string &domain,
                                             const std::string &name,
                                             int64_t opset) {
  Registry &r = registry();
  std::shared_lock<std::shared_mutex> lock(r.mu);
  auto it = r.ops.find(normalizeDomain(domain) + "::" + name);
  if (it == r.ops.end())
    return nullptr;
  for (auto &op : it->second)
    if (op->coversOpset(opset))
      return op;
  return nullptr;
}

std::shared_ptr<const CustomOp> findNewestCustomOp(const std::string &domain,
                                                   const std::string &name) {
  Registry &r = registry();
  std::shared_lock<std::shared_mutex> lock(r.mu);
  auto it = r.ops.find(normalizeDomain(domain) + "::" + name);
  if (it == r.ops.end() || it->second.empty())
    return nullptr;
  return it->second.back();
}

std::vector<std::shared_ptr<const CustomOp>> registeredCustomOps() {
  Registry &r = registry();
  std::shared_lock<std::shared_mutex> lock(r.mu);
  std::vector<std::shared_ptr<const CustomOp>> out;
  for (auto &kv : r.ops)
    out.insert(out.end(), kv.second.begin(), kv.second.end());
  return out;
}

Expected<const CustomOp *> requireCustomOp(const Node &n) {
  auto it = n.attrs.find(kCustomOpAttr);
  if (n.kind != OpKind::Custom || it == n.attrs.end() ||
      it->second.kind != Attr::Kind::String)
    return invalid(n.describe(), ": a Custom node without its '", kCustomOpAttr,
                   "' attribute");
  std::string domain, name;
  if (!splitCustomName(it->second.s, domain, name))
    return invalid(n.describe(), ": '", it->second.s,
                   "' is not a custom op name (domain::name)");
  int64_t opset = n.attrInt(kCustomOpsetAttr, 0);
  if (auto op = findCustomOp(domain, name, opset))
    return op.get();
  if (findNewestCustomOp(domain, name))
    return unsupported("custom op '", it->second.s,
                       "' has no definition for opset ", opset, " of '", domain,
                       "' in the op libraries loaded");
  return unsupported("custom op '", it->second.s,
                     "' is not registered (load its library with "
                     "--op-library PATH.so)");
}

const CustomOp *customOpOf(const Node &n) {
  if (n.kind != OpKind::Custom)
    return nullptr;
  auto op = requireCustomOp(n);
  return op ? *op : nullptr;
}

void setCustomOpAttrs(AttrMap &attrs, const CustomOp &op, int64_t opset) {
  attrs[kCustomOpAttr] = Attr::ofString(op.fullName());
  attrs[kCustomOpsetAttr] = Attr::ofInt(opset);
}

std::string nodeOpName(const Node &n) {
  if (n.kind == OpKind::Custom) {
    auto it = n.attrs.find(kCustomOpAttr);
    if (it != n.attrs.end() && it->second.kind == Attr::Kind::String)
      return it->second.s;
  }
  return opName(n.kind);
}

} // namespace ember

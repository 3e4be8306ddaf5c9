#include "ir/Graph.h"
#include "ir/OpRegistry.h"

#include <algorithm>
#include <cassert>

namespace ember {

bool Attr::operator==(const Attr &o) const {
  if (kind != o.kind)
    return false;
  switch (kind) {
  case Kind::Int:
    return i == o.i;
  case Kind::Float:
    return f == o.f;
  case Kind::String:
    return s == o.s;
  case Kind::Ints:
    return ints == o.ints;
  case Kind::Floats:
    return floats == o.floats;
  case Kind::Strings:
    return strings == o.strings;
  case Kind::Tensor:
    return t && o.t && t->bitEqual(*o.t);
  case Kind::Graph:
    return g == o.g;
  }
  return false;
}

const Type &Value::type() const { return node->types[idx]; }
const std::string &Value::name() const { return node->outNames[idx]; }

const Tensor *Node::constantInput(size_t i) const {
  return hasInput(i) && inputs[i].node->kind == OpKind::Constant
             ? inputs[i].node->payload.get()
             : nullptr;
}

std::optional<int64_t> Node::scalarZeroPoint(size_t i) const {
  if (!hasInput(i))
    return 0;
  const Tensor *t = constantInput(i);
  if (!t || t->size() != 1)
    return std::nullopt;
  return t->getInt(0);
}

int64_t Node::attrInt(const std::string &n, int64_t def) const {
  auto it = attrs.find(n);
  if (it == attrs.end())
    return def;
  if (it->second.kind == Attr::Kind::Float)
    return int64_t(it->second.f);
  return it->second.i;
}

double Node::attrFloat(const std::string &n, double def) const {
  auto it = attrs.find(n);
  if (it == attrs.end())
    return def;
  if (it->second.kind == Attr::Kind::Int)
    return double(it->second.i);
  return it->second.f;
}

std::string Node::attrString(const std::string &n,
                             const std::string &def) const {
  auto it = attrs.find(n);
  return it == attrs.end() ? def : it->second.s;
}

std::vector<int64_t> Node::attrInts(const std::string &n) const {
  auto it = attrs.find(n);
  if (it == attrs.end())
    return {};
  if (it->second.kind == Attr::Kind::Int)
    return {it->second.i};
  return it->second.ints;
}

std::vector<double> Node::attrFloats(const std::string &n) const {
  auto it = attrs.find(n);
  if (it == attrs.end())
    return {};
  if (it->second.kind == Attr::Kind::Float)
    return {it->second.f};
  return it->second.floats;
}

const Tensor *Node::attrTensor(const std::string &n) const {
  auto it = attrs.find(n);
  return it == attrs.end() ? nullptr : it->second.t.get();
}

Function *Node::attrGraph(const std::string &n) const {
  auto it = attrs.find(n);
  return it == attrs.end() ? nullptr : it->second.g.get();
}

std::string Node::describe() const {
  std::string s = name.empty() ? (outNames.empty() ? std::string("<node>")
                                                   : "%" + outNames[0])
                               : "'" + name + "'";
  return s + " (" + nodeOpName(*this) + ")";
}

Node *Function::insertRaw(std::unique_ptr<Node> n, Node *before) {
  n->parent_ = this;
  for (auto &nm : n->outNames)
    names_.insert(nm);
  auto pos = before ? before->self_ : nodes_.end();
  auto it = nodes_.insert(pos, std::move(n));
  (*it)->self_ = it;
  if ((*it)->kind == OpKind::Placeholder)
    params_.push_back(it->get());
  return it->get();
}

Node *Function::addPlaceholder(const std::string &name, Type t) {
  auto n = std::make_unique<Node>();
  n->kind = OpKind::Placeholder;
  n->types = {std::move(t)};
  n->outNames = {name};
  // Placeholders go first, in declaration order.
  Node *before = nullptr;
  for (auto &x : nodes_)
    if (x->kind != OpKind::Placeholder) {
      before = x.get();
      break;
    }
  return insertRaw(std::move(n), before);
}

Node *Function::addConstant(const std::string &name, Tensor t) {
  return addConstant(name, std::make_shared<const Tensor>(std::move(t)));
}

Node *Function::addConstant(const std::string &name,
                            std::shared_ptr<const Tensor> payload) {
  auto n = std::make_unique<Node>();
  n->kind = OpKind::Constant;
  n->types = {payload->type()};
  n->outNames = {nameTaken(name) ? freshName(name) : name};
  n->payload = std::move(payload);
  // Constants go right after the placeholders so they dominate every use.
  Node *before = nullptr;
  for (auto &x : nodes_)
    if (!isStorage(x->kind)) {
      before = x.get();
      break;
    }
  return insertRaw(std::move(n), before);
}

Expected<Node *> Function::create(OpKind kind, std::vector<Value> inputs,
                                  AttrMap attrs, const std::string &nodeName,
                                  int numResults, Node *before,
                                  std::vector<std::string> outNames) {
  auto n = std::make_unique<Node>();
  n->kind = kind;
  n->name = nodeName;
  n->inputs = std::move(inputs);
  n->attrs = std::move(attrs);
  const OpInfo &info = opInfo(kind);
  int nres = numResults >= 0 ? numResults : (info.numOut < 0 ? 1 : info.numOut);
  n->types.resize(size_t(nres));
  n->outNames = outNames; // for error messages; made unique below
  n->outNames.resize(size_t(nres));
  EMBER_TRY(inferNodeTypes(*n));
  for (int i = 0; i < nres; ++i) {
    std::string want = size_t(i) < outNames.size() ? outNames[size_t(i)] : "";
    if (want.empty() || nameTaken(want))
      want = freshName(want.empty() ? std::string(opName(kind)) : want);
    n->outNames[size_t(i)] = want;
  }
  return insertRaw(std::move(n), before);
}

void Function::erase(Node *n) {
  if (n->kind == OpKind::Placeholder)
    params_.erase(std::find(params_.begin(), params_.end(), n));
  for (auto &nm : n->outNames)
    names_.erase(nm);
  nodes_.erase(n->self_);
}

void Function::replaceAllUses(Value from, Value to) {
  for (auto &n : nodes_)
    for (auto &in : n->inputs)
      if (in == from)
        in = to;
  for (auto &o : outputs_)
    if (o.value == from)
      o.value = to;
}

std::unordered_map<const Node *, std::vector<Use>>
Function::computeUsers() const {
  std::unordered_map<const Node *, std::vector<Use>> users;
  for (auto &n : nodes_)
    for (unsigned i = 0; i < n->inputs.size(); ++i)
      if (n->inputs[i].node)
        users[n->inputs[i].node].push_back({n.get(), i});
  for (unsigned i = 0; i < outputs_.size(); ++i)
    users[outputs_[i].value.node].push_back({nullptr, i});
  return users;
}

Status Function::topoSort() {
  // Kahn's algorithm, stable with respect to the current order.
  std::unordered_map<const Node *, size_t> pending;
  std::unordered_map<const Node *, std::vector<Node *>> consumers;
  for (auto &n : nodes_) {
    size_t cnt = 0;
    for (auto &in : n->inputs)
      if (in.node) {
        ++cnt;
        consumers[in.node].push_back(n.get());
      }
    pending[n.get()] = cnt;
  }
  std::vector<Node *> order;
  order.reserve(nodes_.size());
  std::vector<Node *> ready;
  for (auto it = nodes_.rbegin(); it != nodes_.rend(); ++it)
    if (pending[it->get()] == 0)
      ready.push_back(it->get());
  // `ready` is a stack seeded in reverse so the first node pops first.
  while (!ready.empty()) {
    Node *n = ready.back();
    ready.pop_back();
    order.push_back(n);
    auto &cs = consumers[n];
    for (auto it = cs.rbegin(); it != cs.rend(); ++it)
      if (--pending[*it] == 0)
        ready.push_back(*it);
  }
  if (order.size() != nodes_.size()) {
    for (auto &n : nodes_)
      if (pending[n.get()] != 0)
        return invalid("graph has a cycle through node ", n->describe());
  }
  std::list<std::unique_ptr<Node>> sorted;
  std::unordered_map<Node *, std::list<std::unique_ptr<Node>>::iterator> pos;
  for (auto it = nodes_.begin(); it != nodes_.end(); ++it)
    pos[it->get()] = it;
  for (Node *n : order)
    sorted.splice(sorted.end(), nodes_, pos[n]);
  nodes_.swap(sorted);
  for (auto it = nodes_.begin(); it != nodes_.end(); ++it)
    (*it)->self_ = it;
  return Status::ok();
}

std::string Function::freshName(const std::string &base) {
  std::string b = base.empty() ? "v" : base;
  if (!nameTaken(b)) {
    names_.insert(b);
    return b;
  }
  for (;;) {
    std::string cand = b + "_" + std::to_string(++nameCounter_);
    if (!nameTaken(cand)) {
      names_.insert(cand);
      return cand;
    }
  }
}

size_t Function::countNonStorage() const {
  size_t c = 0;
  for (auto &n : nodes_)
    if (!isStorage(n->kind))
      ++c;
  return c;
}

Function *Module::getFunction(const std::string &name) const {
  for (auto &f : functions_)
    if (f->name() == name)
      return f.get();
  return nullptr;
}

} // namespace ember

// Graph IR: a Module holds Functions; a Function is a list of Nodes in
// topological order. Every node result is a typed Value (static shape).
// Graph inputs are Placeholder nodes, weights are Constant nodes.
#pragma once

#include "ir/Ops.h"
#include "ir/Tensor.h"
#include "support/Error.h"

#include <list>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace ember {

class Node;
class Function;

struct Attr {
  enum class Kind { Int, Float, String, Ints, Floats, Strings, Tensor, Graph };
  Kind kind = Kind::Int;
  int64_t i = 0;
  double f = 0;
  std::string s;
  std::vector<int64_t> ints;
  std::vector<double> floats;
  std::vector<std::string> strings;
  std::shared_ptr<const ember::Tensor> t;
  // A subgraph (If branches, Loop/Scan bodies). It is closed: values from
  // the enclosing function arrive as explicit trailing operands of the node
  // and trailing parameters of the subgraph (see docs/graph-ir.md).
  std::shared_ptr<Function> g;

  static Attr ofInt(int64_t v) {
    Attr a;
    a.kind = Kind::Int;
    a.i = v;
    return a;
  }
  static Attr ofFloat(double v) {
    Attr a;
    a.kind = Kind::Float;
    a.f = v;
    return a;
  }
  static Attr ofString(std::string v) {
    Attr a;
    a.kind = Kind::String;
    a.s = std::move(v);
    return a;
  }
  static Attr ofInts(std::vector<int64_t> v) {
    Attr a;
    a.kind = Kind::Ints;
    a.ints = std::move(v);
    return a;
  }
  static Attr ofFloats(std::vector<double> v) {
    Attr a;
    a.kind = Kind::Floats;
    a.floats = std::move(v);
    return a;
  }
  static Attr ofStrings(std::vector<std::string> v) {
    Attr a;
    a.kind = Kind::Strings;
    a.strings = std::move(v);
    return a;
  }
  static Attr ofTensor(ember::Tensor v) {
    Attr a;
    a.kind = Kind::Tensor;
    a.t = std::make_shared<ember::Tensor>(std::move(v));
    return a;
  }
  static Attr ofGraph(std::shared_ptr<Function> f) {
    Attr a;
    a.kind = Kind::Graph;
    a.g = std::move(f);
    return a;
  }
  bool operator==(const Attr &o) const;
};

// Sorted by name: printing and hashing are deterministic.
using AttrMap = std::map<std::string, Attr>;

// A result of a node. A null node marks an absent optional operand.
struct Value {
  Node *node = nullptr;
  unsigned idx = 0;
  Value() = default;
  Value(Node *n, unsigned i = 0) : node(n), idx(i) {}
  explicit operator bool() const { return node != nullptr; }
  bool operator==(const Value &o) const {
    return node == o.node && idx == o.idx;
  }
  bool operator!=(const Value &o) const { return !(*this == o); }
  const Type &type() const;
  const std::string &name() const;
};

class Node {
public:
  OpKind kind;
  std::string name;                  // source location (ONNX node name)
  std::vector<Value> inputs;         // operands, in op-table order
  std::vector<Type> types;           // one per result
  std::vector<std::string> outNames; // one per result, unique in the function
  AttrMap attrs;
  std::shared_ptr<const Tensor> payload; // Constant nodes only

  unsigned numResults() const { return unsigned(types.size()); }
  bool hasInput(size_t i) const { return i < inputs.size() && inputs[i].node; }
  // Operand i's tensor when it is a Constant, else null (absent too).
  const Tensor *constantInput(size_t i) const;
  // Operand i as a zero point: 0 when absent, its one value when a
  // one-element constant, else nullopt (a zero point per channel or
  // computed).
  std::optional<int64_t> scalarZeroPoint(size_t i) const;
  Function *parent() const { return parent_; }

  bool hasAttr(const std::string &n) const { return attrs.count(n) != 0; }
  int64_t attrInt(const std::string &n, int64_t def) const;
  double attrFloat(const std::string &n, double def) const;
  std::string attrString(const std::string &n, const std::string &def) const;
  std::vector<int64_t> attrInts(const std::string &n) const;
  std::vector<double> attrFloats(const std::string &n) const;
  const Tensor *attrTensor(const std::string &n) const;
  Function *attrGraph(const std::string &n) const;

  // "'conv1' (Conv)" or "%y (Conv)" when the node has no name: for messages.
  std::string describe() const;

private:
  friend class Function;
  Function *parent_ = nullptr;
  std::list<std::unique_ptr<Node>>::iterator self_;
};

struct Use {
  Node *user;       // null for a function output
  unsigned operand; // operand index, or output index when user is null
};

struct FunctionOutput {
  Value value;
  std::string name;
};

class Function {
public:
  explicit Function(std::string name) : name_(std::move(name)) {}
  Function(const Function &) = delete;
  Function &operator=(const Function &) = delete;

  const std::string &name() const { return name_; }
  std::list<std::unique_ptr<Node>> &nodes() { return nodes_; }
  const std::list<std::unique_ptr<Node>> &nodes() const { return nodes_; }
  const std::vector<Node *> &params() const { return params_; }
  std::vector<FunctionOutput> &outputs() { return outputs_; }
  const std::vector<FunctionOutput> &outputs() const { return outputs_; }

  Node *addPlaceholder(const std::string &name, Type t);
  // `name` is a base: a fresh variant is used when it is taken.
  Node *addConstant(const std::string &name, Tensor t);
  // The same over a payload shared with other nodes (a subgraph's copy of
  // an enclosing scope's constant).
  Node *addConstant(const std::string &name,
                    std::shared_ptr<const Tensor> payload);
  // Creates a node and infers its result types with the op's type rule
  // (ir/TypeRules.h). Inserted before `before` (end if null).
  // numResults < 0 takes the op table's count.
  Expected<Node *> create(OpKind kind, std::vector<Value> inputs,
                          AttrMap attrs = {}, const std::string &nodeName = "",
                          int numResults = -1, Node *before = nullptr,
                          std::vector<std::string> outNames = {});
  // Inserts a node whose types are already set (parser, cloning).
  Node *insertRaw(std::unique_ptr<Node> n, Node *before = nullptr);
  void addOutput(Value v, std::string name) {
    outputs_.push_back({v, std::move(name)});
  }
  // Removes a node; it must have no users.
  void erase(Node *n);
  void replaceAllUses(Value from, Value to);
  std::unordered_map<const Node *, std::vector<Use>> computeUsers() const;
  // Re-establishes topological order (stable); error on a cycle.
  Status topoSort();
  // A value name not used yet in this function, derived from base.
  std::string freshName(const std::string &base);
  bool nameTaken(const std::string &n) const { return names_.count(n) != 0; }
  void reserveName(const std::string &n) { names_.insert(n); }
  size_t countNonStorage() const;

private:
  std::string name_;
  std::list<std::unique_ptr<Node>> nodes_;
  std::vector<Node *> params_;
  std::vector<FunctionOutput> outputs_;
  std::unordered_set<std::string> names_;
  uint64_t nameCounter_ = 0;
};

class Module {
public:
  Function *adopt(std::unique_ptr<Function> f) {
    functions_.push_back(std::move(f));
    return functions_.back().get();
  }
  Function *addFunction(const std::string &name) {
    functions_.push_back(std::make_unique<Function>(name));
    return functions_.back().get();
  }
  std::vector<std::unique_ptr<Function>> &functions() { return functions_; }
  const std::vector<std::unique_ptr<Function>> &functions() const {
    return functions_;
  }
  Function *getFunction(const std::string &name) const;
  Function *main() const {
    return functions_.empty() ? nullptr : functions_[0].get();
  }

private:
  std::vector<std::unique_ptr<Function>> functions_;
};

// Infers and sets n.types from its operands: checks operand counts and
// element kinds against the op table, then runs the op's type rule
// (ir/TypeRules.h) with constant operands' values available.
Status inferNodeTypes(Node &n);

} // namespace ember

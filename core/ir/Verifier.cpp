#include "ir/Verifier.h"

#include <unordered_set>

namespace ember {

Status verifyFunction(const Function &f, bool lowered) {
  std::unordered_set<const Node *> seen;
  std::unordered_set<std::string> names;
  for (auto &np : f.nodes()) {
    const Node &n = *np;
    if (n.parent() != &f)
      return invalid("verifier: node ", n.describe(), " has a wrong parent");
    if (n.outNames.size() != n.types.size())
      return invalid("verifier: node ", n.describe(),
                     " has mismatched result names and types");
    for (auto &nm : n.outNames)
      if (!names.insert(nm).second)
        return invalid("verifier: value name '", nm, "' is defined twice");
    for (size_t i = 0; i < n.inputs.size(); ++i) {
      const Value &v = n.inputs[i];
      if (!v.node)
        continue;
      if (!seen.count(v.node))
        return invalid("verifier: operand #", i, " of ", n.describe(),
                       " is used before it is defined (or comes from "
                       "another function)");
      if (v.idx >= v.node->numResults())
        return invalid("verifier: operand #", i, " of ", n.describe(),
                       " reads result #", v.idx, " of a node with ",
                       v.node->numResults());
    }
    if (n.kind == OpKind::Constant) {
      if (!n.payload)
        return invalid("verifier: constant ", n.describe(), " has no value");
      if (n.payload->type() != n.types[0])
        return invalid("verifier: constant ", n.describe(), " has type ",
                       n.types[0].toString(), " but holds ",
                       n.payload->type().toString());
    } else if (!isStorage(n.kind)) {
      // Types must be what the op's inference says.
      Node copy;
      copy.kind = n.kind;
      copy.name = n.name;
      copy.inputs = n.inputs;
      copy.attrs = n.attrs;
      copy.outNames = n.outNames;
      copy.types.resize(n.types.size());
      Status s = inferNodeTypes(copy);
      if (!s.isOk())
        return s.withContext("verifier");
      for (size_t i = 0; i < n.types.size(); ++i)
        if (copy.types[i].elem() != n.types[i].elem() ||
            copy.types[i].dims() != n.types[i].dims())
          return invalid("verifier: result #", i, " of ", n.describe(),
                         " is declared ", n.types[i].toString(),
                         " but the op gives ", copy.types[i].toString());
      if (lowered && !isPrimitive(n.kind))
        return invalid("verifier: ", n.describe(),
                       " is not a primitive and survived lowering");
      for (auto &kv : n.attrs)
        if (kv.second.kind == Attr::Kind::Graph)
          EMBER_TRY(verifyFunction(*kv.second.g, lowered)
                        .withContext("in subgraph '" + kv.first + "' of " +
                                     n.describe()));
    }
    seen.insert(&n);
  }
  for (auto &o : f.outputs())
    if (!o.value.node || !seen.count(o.value.node))
      return invalid("verifier: output '", o.name, "' is not defined");
  return Status::ok();
}

} // namespace ember

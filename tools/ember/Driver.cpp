#include "Driver.h"

#include "backend/Plugin.h"

#include <cstdio>
#include <random>

namespace ember::cli {

int reportError(const Status &s) {
  std::fprintf(stderr, "error: %s\n", s.message().c_str());
  // A plugin that did not complete in time: the status a hang reports.
  return s.code() == ErrorCode::Timeout ? backend::kPluginHangExit : 1;
}

Command makeCommand(const std::string &name) {
  for (const Subcommand &s : subcommands())
    if (s.name == name)
      return Command("ember " + name, s.usage, s.summary);
  return Command("ember " + name, "[options]", "");
}

void printNotes(const std::vector<std::string> &notes) {
  for (auto &n : notes)
    std::fprintf(stderr, "note: %s\n", n.c_str());
}

Expected<std::vector<Tensor>> bindInputs(const Function &f,
                                         std::map<std::string, Tensor> given,
                                         uint64_t seed) {
  std::vector<Tensor> inputs;
  for (size_t i = 0; i < f.params().size(); ++i) {
    Node *p = f.params()[i];
    auto it = given.find(p->outNames[0]);
    if (it != given.end()) {
      if (it->second.elem() != p->types[0].elem())
        return invalid("input '", it->first, "' is ",
                       it->second.type().toString(), " but the model expects ",
                       p->types[0].toString());
      inputs.push_back(it->second);
      given.erase(it);
    } else {
      inputs.push_back(randomTensor(p->types[0], seed + i));
    }
  }
  if (!given.empty())
    return invalid("--input names '", given.begin()->first,
                   "', which is not an input of the compiled model");
  return inputs;
}

Tensor randomTensor(const Type &t, uint64_t seed) {
  Tensor x(t.withElem(t.elem()));
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> uf(-1.0, 1.0);
  for (int64_t i = 0; i < x.size(); ++i) {
    if (isFloatKind(t.elem()))
      x.setDouble(i, uf(rng));
    else if (t.elem() == ElemKind::Bool)
      x.setInt(i, int64_t(rng() & 1));
    else
      x.setInt(i, int64_t(rng() % 16));
  }
  return x;
}

} // namespace ember::cli

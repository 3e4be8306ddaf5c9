#include "Driver.h"

#include "backend/Plugin.h"
#include "import/TensorIO.h"

#include <cstdio>
#include <random>

namespace ember::cli {

int reportError(const Status &s) {
  std::fprintf(stderr, "error: %s\n", s.message().c_str());
  // A plugin that did not complete in time: the status a hang reports.
  return s.code() == ErrorCode::Timeout ? backend::kPluginHangExit : 1;
}

int usageError(const std::string &msg) {
  std::fprintf(stderr, "error: %s (run 'ember --help')\n", msg.c_str());
  return 1;
}

Args::Args(int argc, char **argv, int first) {
  for (int i = first; i < argc; ++i)
    args_.push_back(argv[i]);
  used_.assign(args_.size(), false);
}

bool Args::flag(const std::string &name) {
  bool found = false;
  for (size_t i = 0; i < args_.size(); ++i)
    if (!used_[i] && args_[i] == name) {
      used_[i] = true;
      found = true;
    }
  return found;
}

std::vector<std::string> Args::values(const std::string &name) {
  std::vector<std::string> out;
  for (size_t i = 0; i < args_.size(); ++i) {
    if (used_[i])
      continue;
    if (args_[i] == name && i + 1 < args_.size()) {
      used_[i] = used_[i + 1] = true;
      out.push_back(args_[i + 1]);
      ++i;
    } else if (args_[i].rfind(name + "=", 0) == 0) {
      used_[i] = true;
      out.push_back(args_[i].substr(name.size() + 1));
    }
  }
  return out;
}

bool Args::value(const std::string &name, std::string &out) {
  auto v = values(name);
  if (v.empty())
    return false;
  out = v.back();
  return true;
}

Status Args::finish(std::vector<std::string> &positional) {
  for (size_t i = 0; i < args_.size(); ++i) {
    if (used_[i])
      continue;
    if (args_[i].size() > 1 && args_[i][0] == '-')
      return invalid("unknown option '", args_[i], "'");
    positional.push_back(args_[i]);
  }
  return Status::ok();
}

Status readShapeOptions(Args &a, ImportOptions &io,
                        std::map<std::string, Tensor> *given) {
  io.shapes.defaults = true;
  for (auto &spec : a.values("--dim"))
    EMBER_TRY(parseDimBinding(spec, io.shapes));
  for (auto &spec : a.values("--input-shape"))
    EMBER_TRY(parseInputShapeBinding(spec, io.shapes));
  if (!given)
    return Status::ok();
  for (auto &spec : a.values("--input")) {
    size_t eq = spec.find('=');
    if (eq == std::string::npos || eq == 0)
      return invalid("--input '", spec, "' must be NAME=FILE");
    std::string name = spec.substr(0, eq);
    EMBER_ASSIGN(Tensor t, readTensorFile(spec.substr(eq + 1)));
    auto have = io.shapes.inputs.find(name);
    if (have != io.shapes.inputs.end() && have->second.dims != t.dims())
      return invalid("--input ", spec, " holds ", t.type().toString(), " but ",
                     have->second.origin, " gives another shape");
    io.shapes.inputs[name] = {t.dims(), "--input " + spec};
    (*given)[name] = std::move(t);
  }
  return Status::ok();
}

void printNotes(const std::vector<std::string> &notes) {
  for (auto &n : notes)
    std::fprintf(stderr, "note: %s\n", n.c_str());
}

Expected<std::string> finishModelArgs(Args &a, const std::string &command,
                                      const std::string &target) {
  std::vector<std::string> pos;
  EMBER_TRY(a.finish(pos));
  if (pos.size() != 1)
    return invalid(command, " needs exactly one MODEL (run 'ember --help')");
  EMBER_TRY(checkTarget(target));
  return pos[0];
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

#include "quant/Calibration.h"

#include "import/OnnxImporter.h"
#include "import/TensorIO.h"
#include "interp/Interpreter.h"
#include "passes/Pass.h"

#include <algorithm>
#include <cmath>
#include <dirent.h>
#include <set>
#include <sys/stat.h>

namespace ember::quant {

Expected<std::vector<InputDecl>> modelInputs(const onnx::ModelProto &m) {
  std::set<std::string> inits;
  for (auto &i : m.graph().initializer())
    inits.insert(i.name());
  std::vector<InputDecl> out;
  for (auto &in : m.graph().input()) {
    if (inits.count(in.name()))
      continue;
    InputDecl d;
    d.name = in.name();
    if (!in.type().has_tensor_type())
      return unsupported("graph input '", in.name(), "' is not a tensor");
    auto &tt = in.type().tensor_type();
    if (!elemKindFromOnnx(tt.elem_type(), d.elem))
      return unsupported("graph input '", in.name(),
                         "' has an element type Ember does not support");
    d.hasShape = tt.has_shape();
    for (auto &dim : tt.shape().dim())
      d.dims.push_back(dim.has_dim_value() ? dim.dim_value() : -1);
    out.push_back(d);
  }
  return out;
}

namespace {

bool isDir(const std::string &p) {
  struct stat st;
  return stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool endsWith(const std::string &s, const std::string &suf) {
  return s.size() >= suf.size() &&
         s.compare(s.size() - suf.size(), suf.size(), suf) == 0;
}

// "a2" < "a10": digit runs compare by value.
bool naturalLess(const std::string &a, const std::string &b) {
  size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    if (isdigit(static_cast<unsigned char>(a[i])) &&
        isdigit(static_cast<unsigned char>(b[j]))) {
      size_t i2 = i, j2 = j;
      while (i2 < a.size() && isdigit(static_cast<unsigned char>(a[i2])))
        ++i2;
      while (j2 < b.size() && isdigit(static_cast<unsigned char>(b[j2])))
        ++j2;
      std::string x = a.substr(i, i2 - i), y = b.substr(j, j2 - j);
      x.erase(0, std::min(x.find_first_not_of('0'), x.size()));
      y.erase(0, std::min(y.find_first_not_of('0'), y.size()));
      if (x.size() != y.size())
        return x.size() < y.size();
      if (x != y)
        return x < y;
      i = i2;
      j = j2;
      continue;
    }
    if (a[i] != b[j])
      return a[i] < b[j];
    ++i;
    ++j;
  }
  return a.size() - i < b.size() - j;
}

Expected<std::vector<std::string>> listDir(const std::string &dir) {
  DIR *d = opendir(dir.c_str());
  if (!d)
    return makeError(ErrorCode::Io, "cannot read calibration folder '", dir,
                     "'");
  std::vector<std::string> out;
  while (dirent *e = readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != "..")
      out.push_back(n);
  }
  closedir(d);
  std::sort(out.begin(), out.end(), naturalLess);
  return out;
}

std::string dimsText(const Dims &d) {
  std::string s = "[";
  for (size_t i = 0; i < d.size(); ++i)
    s += (i ? "," : "") + std::to_string(d[i]);
  return s + "]";
}

Status checkSample(const Tensor &t, const InputDecl &in,
                   const std::string &file) {
  if (t.elem() != in.elem)
    return invalid("calibration sample '", file, "' is ", t.type().toString(),
                   " but input '", in.name, "' is ",
                   Type(in.elem, {}).toString().substr(0, 3), " (", file, ")");
  if (in.hasShape) {
    bool ok = t.rank() == in.dims.size();
    for (size_t i = 0; ok && i < in.dims.size(); ++i)
      ok = in.dims[i] < 0 || in.dims[i] == t.dim(i);
    if (!ok) {
      std::string decl = "[";
      for (size_t i = 0; i < in.dims.size(); ++i)
        decl += (i ? "," : "") + (in.dims[i] < 0 ? std::string("?")
                                                 : std::to_string(in.dims[i]));
      decl += "]";
      return invalid("calibration sample has shape ", dimsText(t.dims()),
                     " but input '", in.name, "' is declared ", decl, " (",
                     file, ")");
    }
  }
  if (isFloatKind(t.elem()))
    for (int64_t i = 0; i < t.size(); ++i) {
      double v = t.getDouble(i);
      if (!std::isfinite(v))
        return invalid("calibration sample holds ",
                       std::isnan(v) ? "NaN" : "an infinity", " at element ", i,
                       " of input '", in.name, "' (", file, ")");
    }
  return Status::ok();
}

} // namespace

Expected<std::vector<Sample>>
loadCalibrationDir(const std::string &dir, const std::vector<InputDecl> &inputs,
                   size_t maxSamples) {
  if (!isDir(dir))
    return makeError(ErrorCode::Io, "calibration folder '", dir,
                     "' does not exist or is not a folder");
  EMBER_ASSIGN(auto names, listDir(dir));
  std::vector<std::string> npys, sets;
  for (auto &n : names) {
    if (endsWith(n, ".npy"))
      npys.push_back(n);
    else if (n.rfind("test_data_set_", 0) == 0 && isDir(dir + "/" + n))
      sets.push_back(n);
  }
  if (npys.empty() && sets.empty())
    return invalid("no calibration samples: expected .npy files or "
                   "test_data_set_N/ folders (",
                   dir, ")");
  if (!npys.empty() && !sets.empty())
    return invalid("the calibration folder mixes .npy files and "
                   "test_data_set_N/ folders; use one form (",
                   dir, ")");
  if (!npys.empty() && inputs.size() != 1)
    return invalid("the model has ", inputs.size(),
                   " inputs, so .npy calibration samples (one input each) "
                   "cannot feed it; use test_data_set_N/input_K.pb folders (",
                   dir, ")");
  std::vector<Sample> out;
  size_t total = npys.empty() ? sets.size() : npys.size();
  size_t n = maxSamples ? std::min(maxSamples, total) : total;
  for (size_t i = 0; i < n; ++i) {
    Sample s;
    if (!npys.empty()) {
      s.name = dir + "/" + npys[i];
      EMBER_ASSIGN(Tensor t, readTensorFile(s.name));
      EMBER_TRY(checkSample(t, inputs[0], s.name));
      s.inputs.push_back(std::move(t));
    } else {
      s.name = dir + "/" + sets[i];
      EMBER_ASSIGN(auto files, listDir(s.name));
      std::vector<std::string> pbs;
      for (auto &f : files)
        if (f.rfind("input_", 0) == 0 && endsWith(f, ".pb"))
          pbs.push_back(f);
      if (pbs.size() != inputs.size())
        return invalid("calibration sample has ", pbs.size(),
                       " input_K.pb files but the model has ", inputs.size(),
                       " inputs (", s.name, ")");
      s.inputs.resize(inputs.size());
      for (size_t k = 0; k < inputs.size(); ++k) {
        std::string f = s.name + "/input_" + std::to_string(k) + ".pb";
        std::string tname;
        auto t = readTensorFile(f, &tname);
        if (!t)
          return t.status();
        if (!tname.empty() && tname != inputs[k].name)
          return invalid("calibration tensor is named '", tname,
                         "' but the model's input ", k, " is '", inputs[k].name,
                         "' (", f, ")");
        EMBER_TRY(checkSample(*t, inputs[k], f));
        s.inputs[k] = std::move(*t);
      }
    }
    if (!out.empty())
      for (size_t k = 0; k < inputs.size(); ++k)
        if (s.inputs[k].dims() != out[0].inputs[k].dims())
          return invalid("calibration samples differ in shape: input '",
                         inputs[k].name, "' is ", dimsText(s.inputs[k].dims()),
                         " here but ", dimsText(out[0].inputs[k].dims()),
                         " in '", out[0].name, "' (", s.name, ")");
    out.push_back(std::move(s));
  }
  return out;
}

std::map<std::string, Dims> sampleShapes(const std::vector<InputDecl> &inputs,
                                         const Sample &s) {
  std::map<std::string, Dims> m;
  for (size_t k = 0; k < inputs.size() && k < s.inputs.size(); ++k)
    m[inputs[k].name] = s.inputs[k].dims();
  return m;
}

Expected<std::unique_ptr<InstrumentedModel>> InstrumentedModel::create(
    const onnx::ModelProto &m, const std::vector<std::string> &observe,
    const std::map<std::string, Dims> &inputShapes, const RunOptions &o) {
  std::unique_ptr<InstrumentedModel> im(new InstrumentedModel());
  onnx::ModelProto c = m;
  auto *g = c.mutable_graph();
  std::set<std::string> outs, ins;
  for (auto &x : g->output())
    outs.insert(x.name());
  EMBER_ASSIGN(auto decls, modelInputs(m));
  for (auto &d : decls) {
    ins.insert(d.name);
    im->inputNames_.push_back(d.name);
  }
  for (auto &t : observe) {
    if (ins.count(t)) {
      im->observedInputs_.push_back(t);
      continue;
    }
    if (outs.insert(t).second)
      g->add_output()->set_name(t);
  }
  std::string bytes;
  if (!c.SerializeToString(&bytes))
    return invalid("the model does not serialize");
  ImportOptions io;
  io.inputShapes = inputShapes;
  EMBER_ASSIGN(im->module_, importOnnxBytes(bytes, ".", io));
  PipelineOptions po;
  EMBER_TRY(runPipeline(*im->module_, po));
  if (o.plugin) {
    backend::ExecutorOptions eo;
    eo.compile.optLevel = 2; // as `ember run` compiles
    eo.compile.numThreads = o.numThreads;
    EMBER_ASSIGN(im->exe_, backend::PartitionedExecutable::create(
                               *im->module_->main(), o.plugin, eo));
  }
  return im;
}

Expected<std::map<std::string, Tensor>>
InstrumentedModel::run(const std::vector<Tensor> &inputs) {
  const Function &f = *module_->main();
  std::vector<Tensor> outs;
  if (exe_) {
    EMBER_ASSIGN(outs, exe_->run(inputs));
  } else {
    EMBER_ASSIGN(outs, interpret(f, inputs));
  }
  std::map<std::string, Tensor> named;
  for (size_t i = 0; i < outs.size() && i < f.outputs().size(); ++i)
    named[f.outputs()[i].name] = std::move(outs[i]);
  for (auto &t : observedInputs_)
    for (size_t k = 0; k < inputNames_.size() && k < inputs.size(); ++k)
      if (inputNames_[k] == t)
        named[t] = inputs[k];
  return named;
}

Expected<Profile> calibrate(const onnx::ModelProto &m,
                            const std::map<std::string, int> &observed,
                            const std::vector<InputDecl> &inputs,
                            const std::vector<Sample> &samples,
                            const RunOptions &o, const ProgressFn &progress) {
  if (samples.empty())
    return invalid("no calibration samples");
  Profile p;
  p.graphHash = graphHash(m);
  p.inputShapes = sampleShapes(inputs, samples[0]);
  std::vector<std::string> names;
  for (auto &kv : observed) {
    names.push_back(kv.first);
    TensorStats st;
    st.channelAxis = kv.second;
    p.tensors[kv.first] = st;
  }
  EMBER_ASSIGN(auto im, InstrumentedModel::create(m, names, p.inputShapes, o));
  for (size_t i = 0; i < samples.size(); ++i) {
    auto outs = im->run(samples[i].inputs);
    if (!outs)
      return outs.status().withContext("calibration sample '" +
                                       samples[i].name + "'");
    for (auto &kv : p.tensors) {
      auto it = outs->find(kv.first);
      if (it == outs->end())
        return makeError(ErrorCode::Internal, "tensor '", kv.first,
                         "' was not computed during calibration");
      const Tensor &t = it->second;
      if (t.elem() != ElemKind::F32)
        return makeError(ErrorCode::Internal, "tensor '", kv.first, "' is ",
                         t.type().toString(), ", not f32");
      const float *x = t.data<float>();
      for (int64_t k = 0; k < t.size(); ++k)
        if (!std::isfinite(x[k]))
          return invalid("tensor '", kv.first, "' holds ",
                         std::isnan(x[k]) ? "NaN" : "an infinity",
                         " on calibration sample '", samples[i].name,
                         "' (the fp32 model overflows on it)");
      kv.second.add(x, t.dims());
    }
    ++p.samples;
    if (progress)
      progress(i + 1, samples.size());
  }
  return p;
}

} // namespace ember::quant

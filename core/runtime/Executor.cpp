#include "runtime/Executor.h"

#include "backend/LayerPath.h"
#include "backend/ProgramProto.h"
#include "interp/Interpreter.h"

#include "ember/backend/v1/profile.pb.h"

#include <algorithm>
#include <deque>
#include <map>
#include <optional>
#include <set>

namespace ember::runtime {

namespace {
using Key = std::pair<const Node *, unsigned>;
using Clock = std::chrono::steady_clock;

// How long a worker waits on its oldest execution before it looks for
// newly ready stages of its device (which it then queues behind).
constexpr uint64_t kPollNs = 1000000;

double counterOf(const backend::v1::ExecutionProfile &p, const char *name,
                 bool *found = nullptr) {
  for (const auto &v : p.counters())
    if (v.name() == name) {
      if (found)
        *found = true;
      return v.value();
    }
  return 0;
}
} // namespace

struct Executor::Request {
  size_t id = 0;
  std::vector<Tensor> inputs;
  std::map<Key, std::shared_ptr<const Tensor>> values;
  std::vector<size_t> pendingDeps; // per stage
  size_t stagesLeft = 0, running = 0;
  bool failed = false, done = false;
  RequestResult result;
};

struct Executor::Compiled {
  backend::Plugin *plugin = nullptr; // null: the interpreter
  backend::Device *device = nullptr;
  backend::Executable exe;
  std::vector<Type> outTypes;
};

// The stages one device (or the host) runs: their ready jobs, oldest
// request first, and the worker thread that runs them.
struct Executor::Lane {
  int device = kHost;
  std::string name;
  unsigned depth = 1; // executions handed to the device at once
  std::set<std::pair<size_t, size_t>> readyKeys; // (request, stage)
  std::map<std::pair<size_t, size_t>, Ticket> ready;
  std::condition_variable cv;
  std::thread thread;
  bool dead = false; // the device stopped answering (a hang)
  std::string deadWhy;
};

namespace {

// An execution handed to a plugin device.
struct Pending {
  Executor::Ticket req;
  size_t stage = 0;
  backend::Event ev;
  std::vector<backend::Buffer> in, out; // imported or allocated
  bool copied = false;                  // allocated: outputs read back
  std::vector<Tensor> outs;
  double startMs = 0;
  Clock::time_point started;
};

} // namespace

Executor::Executor(const Function &f, DeviceSet &d, Placement p)
    : f_(f), devs_(d), placement_(std::move(p)), epoch_(Clock::now()) {}

double Executor::nowMs() const {
  return std::chrono::duration<double, std::milli>(Clock::now() - epoch_)
      .count();
}

Expected<std::unique_ptr<Executor>> Executor::create(const Function &f,
                                                     DeviceSet &devs,
                                                     Placement p,
                                                     const ExecutorOptions &o) {
  std::unique_ptr<Executor> x(new Executor(f, devs, std::move(p)));
  x->opts_ = o;
  if (x->opts_.queueDepth < 1)
    x->opts_.queueDepth = 1;
  auto &devices = devs.devices();
  bool anyHost = false;
  for (const Stage &st : x->placement_.stages)
    anyHost = anyHost || st.device == kHost;
  if (anyHost && o.host) {
    EMBER_ASSIGN(x->hostDevice_, o.host->openDevice(0));
  }
  backend::CompileOptions hostOpts = o.hostCompile;
  hostOpts.vendor.clear();
  // Each plugin's route (LayerPath.h), resolved once: a plugin that takes
  // scheduled programs gets its stages scheduled on the host.
  std::map<backend::Plugin *, std::optional<accel::Target>> routes;
  for (size_t i = 0; i < x->placement_.stages.size(); ++i) {
    const Stage &st = x->placement_.stages[i];
    auto c = std::make_unique<Compiled>();
    for (const Value &v : st.part.outputs)
      c->outTypes.push_back(v.type());
    backend::Plugin *plugin = nullptr;
    backend::Device *dev = nullptr;
    const backend::CompileOptions *opts = nullptr;
    if (st.device != kHost) {
      RuntimeDevice &d = devices[size_t(st.device)];
      plugin = d.plugin.get();
      dev = &d.handle;
      opts = &devs.kinds()[d.kind].compile;
    } else if (o.host) {
      plugin = o.host.get();
      dev = &x->hostDevice_;
      opts = &hostOpts;
    }
    if (plugin) {
      auto route = routes.find(plugin);
      if (route == routes.end()) {
        EMBER_ASSIGN(std::optional<accel::Target> t,
                     backend::hostLayerTarget(*plugin));
        route = routes.emplace(plugin, std::move(t)).first;
      }
      auto exe = backend::compileOnPlugin(*plugin, dev, route->second,
                                          *st.part.graph->main(), *opts);
      // A host plugin that cannot compile a stage (an op it lacks) leaves
      // it to the reference interpreter, which runs everything.
      if (!exe && st.device == kHost &&
          exe.status().code() == ErrorCode::Unsupported) {
        x->compiled_.push_back(std::move(c));
        continue;
      }
      if (!exe)
        return exe.status().withContext(concat(
            "stage ", i, " on ",
            st.device == kHost ? o.hostName : devices[size_t(st.device)].name));
      c->plugin = plugin;
      c->device = dev;
      c->exe = std::move(*exe);
    }
    x->compiled_.push_back(std::move(c));
  }
  for (size_t d = 0; d <= devices.size(); ++d) {
    auto lane = std::make_unique<Lane>();
    if (d < devices.size()) {
      lane->device = int(d);
      lane->name = devices[d].name;
      // One more than it runs at once, so that the next starts as soon as
      // one ends (the device queues it).
      lane->depth = devices[d].traits.concurrency + 1;
    } else {
      lane->name = concat("host (", o.hostName, ")");
    }
    x->lanes_.push_back(std::move(lane));
  }
  for (auto &l : x->lanes_) {
    Lane *lane = l.get();
    Executor *self = x.get();
    lane->thread = std::thread([self, lane] { self->laneLoop(*lane); });
  }
  return x;
}

Executor::~Executor() {
  {
    std::unique_lock<std::mutex> l(mu_);
    doneCv_.wait(l, [this] { return inFlight_ == 0; });
    stopping_ = true;
  }
  for (auto &l : lanes_)
    l->cv.notify_all();
  for (auto &l : lanes_)
    l->thread.join();
}

std::vector<JobRecord> Executor::jobs() const {
  std::lock_guard<std::mutex> l(mu_);
  return jobs_;
}

void Executor::clearJobs() {
  std::lock_guard<std::mutex> l(mu_);
  jobs_.clear();
  nextRequest_ = 0;
}

Expected<std::vector<const Tensor *>>
Executor::inputsOf(const Request &r, const Stage &st) const {
  std::vector<const Tensor *> ins;
  for (const Value &v : st.part.inputs) {
    auto it = r.values.find({v.node, v.idx});
    if (it != r.values.end()) {
      ins.push_back(it->second.get());
      continue;
    }
    const auto &params = f_.params();
    auto p = std::find(params.begin(), params.end(), v.node);
    if (p == params.end())
      return makeError(ErrorCode::Internal, "value %", v.name(),
                       " was not computed before its use");
    ins.push_back(&r.inputs[size_t(p - params.begin())]);
  }
  return ins;
}

// Under mu_.
void Executor::enqueue(const Ticket &r, size_t stage) {
  const Stage &st = placement_.stages[stage];
  Lane &lane =
      *lanes_[st.device == kHost ? lanes_.size() - 1 : size_t(st.device)];
  lane.ready[{r->id, stage}] = r;
  lane.cv.notify_all();
}

Executor::Ticket Executor::submit(std::vector<Tensor> inputs) {
  auto r = std::make_shared<Request>();
  std::unique_lock<std::mutex> l(mu_);
  admitCv_.wait(l, [this] { return inFlight_ < opts_.queueDepth; });
  r->id = nextRequest_++;
  r->result.submitMs = nowMs();
  // The inputs must be the function's.
  const auto &params = f_.params();
  Status bad = Status::ok();
  if (inputs.size() != params.size())
    bad = invalid("request ", r->id, ": expected ", params.size(),
                  " inputs, got ", inputs.size());
  for (size_t i = 0; bad.isOk() && i < inputs.size(); ++i)
    if (inputs[i].type() != params[i]->types[0])
      bad =
          invalid("request ", r->id, ": input ", i, " (%",
                  params[i]->outNames[0], ") is ", inputs[i].type().toString(),
                  ", the model takes ", params[i]->types[0].toString());
  if (!bad.isOk()) {
    r->done = r->failed = true;
    r->result.status = bad;
    r->result.doneMs = nowMs();
    return r;
  }
  r->inputs = std::move(inputs);
  const size_t n = placement_.stages.size();
  r->stagesLeft = n;
  r->pendingDeps.assign(n, 0);
  for (size_t s = 0; s < n; ++s)
    r->pendingDeps[s] = placement_.stages[s].deps.size();
  ++inFlight_;
  for (size_t s = 0; s < n; ++s)
    if (!r->pendingDeps[s])
      enqueue(r, s);
  finishIfDone(r); // a model without stages
  return r;
}

RequestResult Executor::wait(const Ticket &t) {
  std::unique_lock<std::mutex> l(mu_);
  doneCv_.wait(l, [&] { return t->done; });
  return t->result;
}

std::vector<RequestResult>
Executor::runAll(std::vector<std::vector<Tensor>> requests) {
  std::vector<Ticket> tickets;
  for (auto &in : requests)
    tickets.push_back(submit(std::move(in)));
  std::vector<RequestResult> out;
  for (auto &t : tickets)
    out.push_back(wait(t));
  return out;
}

// Under mu_.
void Executor::finishIfDone(const Ticket &r) {
  if (r->done || r->running || (!r->failed && r->stagesLeft))
    return;
  if (!r->failed) {
    for (const FunctionOutput &o : f_.outputs()) {
      auto it = r->values.find({o.value.node, o.value.idx});
      if (it != r->values.end()) {
        r->result.outputs.push_back(*it->second);
        continue;
      }
      if (o.value.node->kind == OpKind::Constant) {
        r->result.outputs.push_back(*o.value.node->payload);
        continue;
      }
      const auto &params = f_.params();
      auto p = std::find(params.begin(), params.end(), o.value.node);
      r->result.outputs.push_back(
          r->inputs[p == params.end() ? 0 : size_t(p - params.begin())]);
    }
  }
  r->values.clear();
  r->done = true;
  r->result.doneMs = nowMs();
  --inFlight_;
  admitCv_.notify_all();
  doneCv_.notify_all();
}

// Under mu_.
void Executor::complete(Lane &lane, const Ticket &r, size_t stage,
                        Expected<std::vector<Tensor>> outs, JobRecord rec) {
  --r->running;
  rec.ok = outs.hasValue();
  jobs_.push_back(std::move(rec));
  const Stage &st = placement_.stages[stage];
  if (!outs) {
    if (!r->failed) {
      r->failed = true;
      r->result.status =
          Status(outs.status().code(),
                 concat("request ", r->id, ": stage ", stage, " on ", lane.name,
                        " failed: ", outs.status().message()));
    }
  } else if (!r->failed) {
    for (size_t k = 0; k < st.part.outputs.size(); ++k) {
      const Value &v = st.part.outputs[k];
      r->values[{v.node, v.idx}] =
          std::make_shared<const Tensor>(std::move((*outs)[k]));
    }
    --r->stagesLeft;
    for (size_t t = 0; t < placement_.stages.size(); ++t) {
      const auto &deps = placement_.stages[t].deps;
      if (std::find(deps.begin(), deps.end(), stage) != deps.end() &&
          --r->pendingDeps[t] == 0)
        enqueue(r, t);
    }
  }
  finishIfDone(r);
}

void Executor::laneLoop(Lane &lane) {
  std::deque<Pending> inflight;
  for (;;) {
    // Hand the device what is ready, up to its depth.
    std::vector<std::pair<Ticket, size_t>> toStart;
    {
      std::unique_lock<std::mutex> l(mu_);
      if (inflight.empty())
        lane.cv.wait(l, [&] { return stopping_ || !lane.ready.empty(); });
      if (stopping_ && inflight.empty() && lane.ready.empty())
        return;
      while (inflight.size() + toStart.size() < lane.depth &&
             !lane.ready.empty()) {
        auto it = lane.ready.begin();
        Ticket r = it->second;
        size_t stage = it->first.second;
        lane.ready.erase(it);
        if (r->failed) // its request failed meanwhile: nothing to run
          continue;
        ++r->running;
        toStart.push_back({r, stage});
      }
    }
    for (auto &job : toStart) {
      // Named, not a structured binding: the lambdas below capture them.
      Ticket r = job.first;
      const size_t stage = job.second;
      const Stage &st = placement_.stages[stage];
      Compiled &c = *compiled_[stage];
      JobRecord rec;
      rec.request = r->id;
      rec.stage = stage;
      rec.device = lane.device;
      rec.startMs = nowMs();
      auto fail = [&](Status s) {
        rec.endMs = nowMs();
        std::lock_guard<std::mutex> l(mu_);
        complete(lane, r, stage, std::move(s), std::move(rec));
      };
      if (lane.dead) {
        fail(makeError(ErrorCode::Backend, lane.deadWhy));
        continue;
      }
      Expected<std::vector<const Tensor *>> ins = inputsOf(*r, st);
      if (!ins) {
        fail(ins.status());
        continue;
      }
      if (!c.plugin) {
        // The interpreter, here and now (it takes tensors).
        std::vector<Tensor> copies;
        for (const Tensor *t : *ins)
          copies.push_back(*t);
        auto outs = interpret(*st.part.graph->main(), copies);
        rec.endMs = nowMs();
        std::lock_guard<std::mutex> l(mu_);
        complete(lane, r, stage, std::move(outs), std::move(rec));
        continue;
      }
      backend::Plugin &p = *c.plugin;
      Pending pd;
      pd.req = r;
      pd.stage = stage;
      pd.startMs = rec.startMs;
      pd.started = Clock::now();
      for (const Type &t : c.outTypes)
        pd.outs.emplace_back(t);
      // Zero-copy where the plugin takes host memory, else copies.
      bool imported = p.api().buffer_import_host != nullptr;
      for (size_t i = 0; imported && i < ins->size() + pd.outs.size(); ++i) {
        const Tensor &t =
            i < ins->size() ? *(*ins)[i] : pd.outs[i - ins->size()];
        auto b =
            t.bytes()
                ? p.importHost(*c.device, const_cast<uint8_t *>(t.raw()),
                               t.bytes())
                : Expected<backend::Buffer>(unsupported("an empty tensor"));
        if (!b) {
          imported = false;
          break;
        }
        (i < ins->size() ? pd.in : pd.out).push_back(std::move(*b));
      }
      Status s = Status::ok();
      if (!imported) {
        pd.in.clear();
        pd.out.clear();
        pd.copied = true;
        for (size_t i = 0; s.isOk() && i < ins->size(); ++i) {
          auto b = p.allocate(*c.device, (*ins)[i]->bytes());
          if (!b) {
            s = b.status();
            break;
          }
          if ((*ins)[i]->bytes())
            s = b->write(0, (*ins)[i]->raw(), (*ins)[i]->bytes());
          pd.in.push_back(std::move(*b));
        }
        for (size_t i = 0; s.isOk() && i < pd.outs.size(); ++i) {
          auto b = p.allocate(*c.device, pd.outs[i].bytes());
          if (!b)
            s = b.status();
          else
            pd.out.push_back(std::move(*b));
        }
      }
      if (s.isOk()) {
        std::vector<backend::Buffer *> in, out;
        for (auto &b : pd.in)
          in.push_back(&b);
        for (auto &b : pd.out)
          out.push_back(&b);
        auto ev = p.execute(*c.device, c.exe, in, out);
        if (ev)
          pd.ev = std::move(*ev);
        else
          s = ev.status();
      }
      if (!s.isOk()) {
        fail(s);
        continue;
      }
      inflight.push_back(std::move(pd));
    }
    if (inflight.empty())
      continue;
    // Wait for the oldest execution, a while at a time (new stages that
    // become ready meanwhile are queued behind it at the next turn).
    Pending &pd = inflight.front();
    Compiled &c = *compiled_[pd.stage];
    backend::Plugin &p = *c.plugin;
    Status w = pd.ev.wait(kPollNs);
    if (w.code() == ErrorCode::Timeout) {
      double limit = backend::callTimeout();
      double waited =
          std::chrono::duration<double>(Clock::now() - pd.started).count();
      if (limit <= 0 || waited < limit)
        continue;
      // Hung: keep what it may still use, and take nothing more to it.
      lane.dead = true;
      lane.deadWhy = concat(p.describe(), ": an execution on ", lane.name,
                            " did not complete within ", limit,
                            " s (the device is no longer used; --timeout "
                            "raises the limit)");
      for (Pending &q : inflight) {
        std::vector<backend::Buffer> bufs;
        for (auto *v : {&q.in, &q.out})
          for (auto &b : *v)
            bufs.push_back(std::move(b));
        p.abandon(std::move(q.ev), std::move(bufs));
        new std::vector<Tensor>(std::move(q.outs)); // it may still write
        JobRecord rec;
        rec.request = q.req->id;
        rec.stage = q.stage;
        rec.device = lane.device;
        rec.startMs = q.startMs;
        rec.endMs = nowMs();
        std::lock_guard<std::mutex> l(mu_);
        complete(lane, q.req, q.stage,
                 makeError(ErrorCode::Timeout, lane.deadWhy), std::move(rec));
      }
      inflight.clear();
      p.markHung();
      continue;
    }
    JobRecord rec;
    rec.request = pd.req->id;
    rec.stage = pd.stage;
    rec.device = lane.device;
    rec.startMs = pd.startMs;
    Expected<std::vector<Tensor>> result = std::move(pd.outs);
    if (!w.isOk()) {
      result = w;
    } else {
      if (pd.copied)
        for (size_t i = 0; i < pd.out.size() && result; ++i)
          if ((*result)[i].bytes()) {
            Status rs =
                pd.out[i].read(0, (*result)[i].raw(), (*result)[i].bytes());
            if (!rs.isOk())
              result = rs;
          }
      auto prof = p.profile(pd.ev);
      if (prof && !prof->empty()) {
        rec.profile = std::move(*prof);
        backend::v1::ExecutionProfile ep;
        if (ep.ParseFromString(rec.profile)) {
          bool found = false;
          rec.cycles = counterOf(ep, "cycles");
          rec.simStart = counterOf(ep, "start_cycle", &found);
          rec.simEnd = counterOf(ep, "end_cycle");
          rec.simulated = found && lane.device != kHost &&
                          devs_.devices()[size_t(lane.device)].traits.simulated;
        }
      }
    }
    rec.endMs = nowMs();
    Ticket req = pd.req;
    size_t stage = pd.stage;
    inflight.pop_front(); // releases its event and buffers
    std::lock_guard<std::mutex> l(mu_);
    complete(lane, req, stage, std::move(result), std::move(rec));
  }
}

} // namespace ember::runtime

// The pass table and the pipeline's runner (Pipeline.h).
#include "ember/accel/Pipeline.h"

#include "PassesInternal.h"
#include "Schedule.h"

#include "ember/accel/Text.h"

namespace ember::accel {

const char *levelName(Level l) {
  switch (l) {
  case Level::Graph:
    return "graph";
  case Level::Layers:
    return "layers";
  case Level::Sched:
    return "sched";
  }
  return "?";
}

const std::vector<Pass> &passes() {
  static const std::vector<Pass> table = {
#define EMBER_ACCEL_PASS(Id, name, in, out, fromText, description)             \
  {name, description, Level::in, Level::out, fromText, run##Id},
#include "Passes.def"
#undef EMBER_ACCEL_PASS
  };
  return table;
}

const Pass *findPass(const std::string &name) {
  for (const Pass &p : passes())
    if (name == p.name)
      return &p;
  return nullptr;
}

std::string passNames() {
  std::string s;
  for (const Pass &p : passes())
    s += (s.empty() ? "" : ", ") + std::string(p.name);
  return s;
}

const Pass *firstPassFrom(Level level) {
  for (const Pass &p : passes())
    if (p.input == level && p.fromText)
      return &p;
  return nullptr;
}

Status passRange(const std::string &first, const std::string &last,
                 std::vector<const Pass *> &out) {
  out.clear();
  const Pass *a = findPass(first);
  const Pass *b = last.empty() ? &passes().back() : findPass(last);
  for (const std::string &n : {first, last})
    if (!n.empty() && !findPass(n))
      return invalid("unknown pass '", n, "' (the passes: ", passNames(), ")");
  if (b < a)
    return invalid("pass '", last, "' runs before '", first,
                   "', where this pipeline starts (its passes: ", first, " to ",
                   passes().back().name, ")");
  for (const Pass *p = a; p <= b; ++p)
    out.push_back(p);
  return Status::ok();
}

Status emitScheduled(const PassContext &ctx, PipelineState &st) {
  if (!st.schedule)
    return Status::ok();
  Status err = emitProgram(ctx.target, st.layers, ctx.options.codegen,
                           *st.schedule, st.program);
  st.schedule.reset();
  return err;
}

Status runPipeline(const Target &t, const LayerOptions &o,
                   const std::vector<const Pass *> &pipeline,
                   PipelineState &st) {
  auto runs = [&](const char *name) {
    for (const Pass *p : pipeline)
      if (std::string(p->name) == name)
        return true;
    return false;
  };
  PassContext ctx{t, o};
  CodegenOptions &co = ctx.options.codegen;
  if (!runs("residency")) {
    co.cascade = co.prefetch = false;
    co.stripes = StripeMode::Off;
  }
  co.sync = runs("sync");
  for (const Pass *p : pipeline) {
    if (st.level != p->input)
      return makeError(ErrorCode::Internal, "internal: pass '", p->name,
                       "' reads ", levelName(p->input), ", the pipeline has ",
                       levelName(st.level));
    EMBER_TRY(p->run(ctx, st));
    st.level = p->output;
  }
  return emitScheduled(ctx, st);
}

std::string printLevel(const Target &t, const PipelineState &st) {
  if (st.level == Level::Layers)
    return printLayers(t, st.layers);
  if (st.level == Level::Sched)
    return printProgram(t, st.program);
  return "";
}

Status parseLevel(const Target &t, Level level, const std::string &text,
                  PipelineState &st) {
  st = PipelineState();
  st.level = level;
  if (level == Level::Layers) {
    st.haveLayers = true;
    return parseLayers(t, text, st.layers);
  }
  if (level == Level::Sched)
    return parseProgram(t, text, st.program);
  return makeError(
      ErrorCode::Internal,
      "internal: the graph's text is the graph IR's (parse it with it)");
}

} // namespace ember::accel

// The NPU compiler layer as a pipeline of passes (docs/npu-sdk.md, "The
// pipeline"): each stage a pass in its own file (core/accel/passes), named in
// one table (core/accel/passes/Passes.def) with what it reads and writes.
// The IR between them is one of three levels, each with a text form:
//   graph   a partition (ember.backend.v1.Graph; its text is the graph IR's,
//           which the caller prints and parses: ember-accel does)
//   layers  the layer program (Text.h, printLayers / parseLayers)
//   sched   the scheduled program (Text.h, printProgram / parseProgram)
// `ember-accel --list-passes` prints the table; `--stop-after=<pass>` prints
// the IR after any pass.
#ifndef EMBER_ACCEL_PIPELINE_H
#define EMBER_ACCEL_PIPELINE_H

#include "ember/accel/Layers.h"
#include "ember/accel/Options.h"
#include "ember/accel/Program.h"
#include "ember/accel/Target.h"
#include "support/Error.h"

#include <memory>
#include <string>
#include <vector>

namespace ember::backend::v1 {
class Graph;
} // namespace ember::backend::v1

namespace ember::accel {

enum class Level { Graph, Layers, Sched };
const char *levelName(Level l); // "graph", "layers", "sched"

// The scheduler's state between tiling and the program's emission
// (internal: core/accel/schedule/Schedule.h).
struct ScheduleState;

// What the passes read and write: the IR at `level`.
struct PipelineState {
  Level level = Level::Graph;
  // Level::Graph: the partition (the caller's; it outlives the pipeline).
  const ember::backend::v1::Graph *graph = nullptr;
  LayerProgram layers; // from Level::Layers on ("build" or parsed)
  bool haveLayers = false;
  // Level::Sched: the program. After `tiling` (and `residency`) the
  // scheduler's state holds it until it is emitted: by the next pass that
  // reads the program, or when the pipeline ends.
  Program program;
  std::shared_ptr<ScheduleState> schedule;
};

// What every pass of one pipeline sees: the target and the layer's options
// as the pipeline has them (runPipeline).
struct PassContext {
  const Target &target;
  LayerOptions options;
};

struct Pass {
  const char *name;
  const char *description;
  Level input, output;
  // Whether a pipeline may start with it on its input level's text (false:
  // it needs what an earlier pass of the same pipeline keeps in memory).
  bool fromText;
  Status (*run)(const PassContext &, PipelineState &);
};

// The passes in pipeline order.
const std::vector<Pass> &passes();
// nullptr when no pass has this name.
const Pass *findPass(const std::string &name);
// "select, build, ..." (for messages).
std::string passNames();
// The first pass that can start from the text of `level`.
const Pass *firstPassFrom(Level level);

// The passes from `first` through `last` ("": the last pass). Ok or an error:
// an unknown name ("unknown pass 'x' (the passes: ...)"), or `last` before
// `first`.
Status passRange(const std::string &first, const std::string &last,
                 std::vector<const Pass *> &out);

// Runs `pipeline` (consecutive passes of the table) on `st`, whose level is
// the first pass's input. The scheduling passes' options follow the passes
// that run: without `residency`, no layer cascading, stripes or weight
// prefetch; without `sync`, no synchronization. So a pipeline stopped after
// a pass computes what the stages up to it compute alone (the tiling of a
// layer does not leave room for a cascade that will not come), and the full
// pipeline computes what generateProgram does. Ok or the first error.
Status runPipeline(const Target &t, const LayerOptions &o,
                   const std::vector<const Pass *> &pipeline,
                   PipelineState &st);

// The text of the IR in `st` (Level::Layers or Level::Sched; the graph's
// text is the caller's), and back. parseLevel: ok or "line N: what".
std::string printLevel(const Target &t, const PipelineState &st);
Status parseLevel(const Target &t, Level level, const std::string &text,
                  PipelineState &st);

} // namespace ember::accel

#endif // EMBER_ACCEL_PIPELINE_H

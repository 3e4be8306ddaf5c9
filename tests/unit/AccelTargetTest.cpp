// Target descriptions of the NPU compiler layer (ember/accel/Target.h): the
// test targets parse and validate; a description that cannot work is refused
// with an error naming the field; and a second, different accelerator (an
// output-stationary 8 x 32 array, one unified SRAM, two DMA engines,
// barriers) plans and schedules a convolution with the layer's code as is.
#include "AccelTestUtil.h"

#include "ember/accel/Program.h"
#include "ember/accel/Sync.h"

#include <gtest/gtest.h>

#include <random>

using namespace ember::accel;

namespace {

// A document the test reads (a failure when it does not parse).
Json parsed(const std::string &text) {
  auto r = ember::parseJson(text);
  EXPECT_TRUE(r.hasValue()) << r.status().message() << ": " << text;
  return r.hasValue() ? *r : Json();
}

// The document of test target `name` with the member at `path` (dot
// separated, [i] for list items) replaced by `value` (JSON text; "" removes
// it).
std::string mutate(const std::string &name, const std::string &path,
                   const std::string &value) {
  Json doc = parsed(readTestTargetText(name));
  Json *at = &doc;
  std::string rest = path;
  while (true) {
    size_t dot = rest.find('.');
    std::string key = rest.substr(0, dot);
    int index = -1;
    size_t br = key.find('[');
    if (br != std::string::npos) {
      index = std::stoi(key.substr(br + 1));
      key = key.substr(0, br);
    }
    auto member = std::find_if(at->members().begin(), at->members().end(),
                               [&](auto &kv) { return kv.first == key; });
    if (member == at->members().end()) {
      ADD_FAILURE() << path << ": no " << key;
      return "";
    }
    const bool last = dot == std::string::npos && index < 0;
    if (last && value.empty()) {
      at->members().erase(member);
      break;
    }
    at = &member->second;
    if (index >= 0)
      at = &at->items()[size_t(index)];
    if (dot == std::string::npos) {
      *at = parsed(value);
      break;
    }
    rest = rest.substr(dot + 1);
  }
  return jsonCanonical(doc);
}

} // namespace

TEST(AccelTarget, TestTargetsParse) {
  for (const char *name : {"scratchpads", "second-npu"}) {
    Target t;
    ASSERT_EQ(parseTarget(readTestTargetText(name), t).message(), "") << name;
    EXPECT_NE(t.name.find(name), std::string::npos);
    EXPECT_EQ(t.hash.size(), 16u);
  }
  const Target &s = testTarget("second-npu");
  EXPECT_EQ(s.array.dataflow, Dataflow::OutputStationary);
  EXPECT_EQ(s.array.rows, 8);
  EXPECT_EQ(s.array.cols, 32);
  EXPECT_EQ(s.memories.size(), 1u);
  for (int c = 0; c < kNumCls; ++c)
    EXPECT_EQ(s.memOf(Cls(c)), 0) << clsName(Cls(c));
  EXPECT_NE(s.engineFor(OpKind::Load, Cls::Act),
            s.engineFor(OpKind::Load, Cls::Wgt));
  EXPECT_EQ(s.sync.kind, SyncKind::Barriers);
  // A reformatted document keeps its hash (it is the canonical text's).
  Target again;
  ASSERT_EQ(parseTarget(jsonCanonical(parsed(readTestTargetText("second-npu"))),
                        again)
                .message(),
            "");
  EXPECT_EQ(again.hash, s.hash);
}

TEST(AccelTarget, RefusesWhatCannotWork) {
  struct Case {
    const char *target, *path, *value, *expect;
  } cases[] = {
      // A memory too small for one tile of a claimed form.
      {"scratchpads", "memories[1].rows", "12", "memories[1].rows: 12 rows"},
      {"second-npu", "memories[0].rows", "64",
       "cannot hold one double-buffered tile"},
      // A field too narrow for a size it declares.
      {"scratchpads", "ops.load.row", "8",
       "ops.load.row: 8 bits cannot address memories[0] 'IN' (1024 rows)"},
      {"scratchpads", "ops.gemm.acc", "6", "ops.gemm.acc: 6 bits"},
      {"second-npu", "ops.load.dram", "20", "ops.load.dram: 20 bits"},
      {"scratchpads", "ops.requant.zp", "4", "ops.requant.zp"},
      {"scratchpads", "ops.setreg.value", "16", "ops.setreg.value"},
      // An operand class no memory holds.
      {"scratchpads", "memories[3].holds", "[]",
       "memories: no memory holds class 'out'"},
      {"scratchpads", "memories[2].holds", "[\"acc\"]",
       "no memory holds class 'param'"},
      {"scratchpads", "memories[2].row_bytes", "16",
       "memories[2].row_bytes: 16 bytes cannot hold a row of acc"},
      // An operation the forms need that no engine runs, or that is missing.
      {"scratchpads", "engines[1].runs", "[\"load\"]",
       "engines: no engine runs 'gemm'"},
      {"scratchpads", "forms[2].window_max", "", "pool needs window_max"},
      {"second-npu", "engines[1].classes", "[\"wgt\"]",
       "engines: no engine runs 'load' of class 'param'"},
      // Registers, synchronization, the array, forms, the document.
      {"scratchpads", "registers.pool_kh", "", "registers.pool_kh: missing"},
      {"scratchpads", "sync.kind", "\"semaphores\"", "sync.kind"},
      {"second-npu", "sync.barriers", "", "sync.barriers: missing"},
      {"scratchpads", "array.rows", "3", "must divide lanes"},
      {"scratchpads", "array.operand_bits.act", "16", "array.operand_bits"},
      {"scratchpads", "array.dataflow", "\"row_stationary\"", "array.dataflow"},
      {"scratchpads", "forms[0].form", "\"lstm\"", "forms[0].form: 'lstm'"},
      // A 16-bit table on a target without 16-bit rows.
      {"scratchpads", "forms[0].form", "\"table16\"",
       "forms: 'table16' looks up 16-bit rows"},
      {"scratchpads", "forms[0].kernel_max", "", "conv needs kernel_max"},
      {"scratchpads", "forms[0].epilogue", "[\"softmax\"]",
       "forms[0].epilogue[0]"},
      {"scratchpads", "dram.alignment", "48", "dram.alignment"},
      {"scratchpads", "dram.bytes", "8589934592", "dram.bytes"},
      {"scratchpads", "lanes", "", "lanes: missing"},
      {"scratchpads", "lanes", "0", "lanes: expected an integer"},
      {"scratchpads", "memories[0].name", "\"W\"", "is named twice"},
      {"scratchpads", "version", "2", "version: 2"},
      {"scratchpads", "ops.gemm.inner", "0", "ops.gemm.inner"},
  };
  for (const Case &c : cases) {
    std::string text = mutate(c.target, c.path, c.value);
    Target t;
    std::string err = parseTarget(text, t).message();
    EXPECT_NE(err.find(c.expect), std::string::npos)
        << c.target << " " << c.path << "=" << c.value << ": got '" << err
        << "'";
  }
  Target t;
  EXPECT_EQ(parseTarget("{\"format\": ", t).message(),
            "not JSON: unexpected end of input (line 1, column 12)");
  EXPECT_NE(parseTarget("[]", t).message().find("JSON object"),
            std::string::npos);
  std::string extra = readTestTargetText("scratchpads");
  extra.insert(extra.find('{') + 1, "\"colour\": 1,");
  EXPECT_NE(parseTarget(extra, t).message().find("colour: unknown field"),
            std::string::npos);
}

// The second accelerator's shape plans and schedules a 3x3 convolution
// (64 -> 96 channels, 28 x 28, bias and requantization, and a fused
// residual add): the tiling fits its one SRAM, loads of activations and
// weights go to their own DMA engines, the array and the output unit run
// theirs, barriers order them, and every access stays in the SRAM and the
// DRAM the program declares.
TEST(AccelTarget, SecondAcceleratorPlansAConvolution) {
  const Target &t = testTarget("second-npu");
  LayerProgram lp;
  auto tensor = [&](const char *name, std::vector<int64_t> dims,
                    NTensor::Kind kind) {
    NTensor x;
    x.name = name;
    x.kind = kind;
    x.dims = dims;
    x.C = dims[1];
    x.P = dims[0] * dims[2] * dims[3];
    x.lanes = t.lanes;
    lp.tensors.push_back(x);
    return int(lp.tensors.size() - 1);
  };
  const int x = tensor("x", {1, 64, 28, 28}, NTensor::Kind::Input);
  const int r = tensor("r", {1, 96, 28, 28}, NTensor::Kind::Input);
  const int y = tensor("y", {1, 96, 28, 28}, NTensor::Kind::Output);
  Layer L;
  L.kind = Layer::Kind::Gemm;
  L.name = "conv";
  L.nodes = {"conv"};
  GemmLayer &g = L.gemm;
  g.in = x, g.out = y, g.C = 64, g.H = 28, g.W = 28, g.K = 96, g.OH = 28,
  g.OW = 28, g.kh = 3, g.kw = 3, g.pt = g.pl = g.pb = g.pr = 1;
  std::mt19937 rng(7);
  g.w.resize(size_t(96 * 64 * 9));
  for (int8_t &v : g.w)
    v = int8_t(rng());
  g.bias.assign(96, 1000);
  g.rq.mult.assign(96, 1 << 30);
  g.rq.shift.assign(96, -8);
  g.add.on = true;
  g.add.other = r;
  L.usefulMacs = uint64_t(28 * 28 * 96 * 64 * 9);
  lp.layers.push_back(L);
  lp.inputs = {x, r};
  lp.outputs = {y};
  Program p;
  ASSERT_EQ(generateProgram(t, lp, CodegenOptions(), p).message(), "");
  ASSERT_EQ(p.layers.size(), 1u);
  EXPECT_FALSE(p.layers[0].tiling.empty());
  EXPECT_GT(p.layers[0].predictedCycles, 0);
  EXPECT_EQ(checkSync(t, p.ops).message(), "");
  const int dma0 = t.engineFor(OpKind::Load, Cls::Act),
            dma1 = t.engineFor(OpKind::Load, Cls::Wgt),
            mac = t.engineFor(OpKind::Gemm),
            outu = t.engineFor(OpKind::Requant);
  std::map<int, size_t> perEngine;
  std::vector<Access> acc;
  for (const Op &op : p.ops) {
    if (op.kind == OpKind::Finish)
      continue;
    ++perEngine[op.engine];
    EXPECT_NE(op.kind, OpKind::Copy); // no copy operation: nothing cascades
    if (op.kind == OpKind::Load) {
      EXPECT_EQ(op.engine,
                op.cls == Cls::Wgt || op.cls == Cls::Param ? dma1 : dma0);
    }
    accesses(t, op, nullptr, acc);
    for (const Access &a : acc) {
      const uint64_t most = a.domain == 0 ? t.memories[0].rows : p.dramBytes;
      EXPECT_LE(a.hi, most) << formatOp(t, op);
    }
    EXPECT_EQ(op.wait >> t.sync.barriers, 0u);
    EXPECT_EQ(op.signal >> t.sync.barriers, 0u);
  }
  EXPECT_GT(perEngine[dma0], 0u);
  EXPECT_GT(perEngine[dma1], 0u);
  EXPECT_GT(perEngine[mac], 0u);
  EXPECT_GT(perEngine[outu], 0u);
  // The text of every operation reads back.
  for (const Op &op : p.ops) {
    Op back;
    ASSERT_EQ(parseOp(t, formatOp(t, op), back).message(), "")
        << formatOp(t, op);
    EXPECT_EQ(formatOp(t, back), formatOp(t, op));
  }
}

// Store's rep, xstep and lanes and the upsample operation are optional: a
// description without them parses as before and refuses them in a program;
// one that declares them prints, parses and bounds them (what a store with
// repetition writes in DRAM, what an upsample reads and writes), and lanes
// needs a bit per group of 8 lanes.
TEST(AccelTarget, OptionalStoreFieldsAndUpsample) {
  const Target &plain = testTarget("scratchpads");
  EXPECT_FALSE(plain.declares(OpKind::Store, "rep"));
  EXPECT_FALSE(plain.has(OpKind::Upsample));
  Op op;
  EXPECT_NE(parseOp(plain,
                    "store out mem=RES row=0 dram=0 ysize=2 xsize=3 "
                    "stride=6 rep=1",
                    op)
                .message()
                .find("the target's store has no field 'rep'"),
            std::string::npos);
  EXPECT_NE(parseOp(plain, "upsample dst=0 src=0", op).message(), "");

  Json doc = parsed(readTestTargetText("scratchpads"));
  auto member = [](Json &j, const std::string &k) -> Json & {
    for (auto &kv : j.members())
      if (kv.first == k)
        return kv.second;
    ADD_FAILURE() << "no " << k;
    return j;
  };
  auto num = [](double v) { return Json::number(v); };
  Json &ops = member(doc, "ops");
  Json &store = member(ops, "store");
  store.set("rep", num(3));
  store.set("xstep", num(1));
  store.set("lanes", num(1));
  Json up = Json::object();
  for (const char *f : {"dst", "src", "w", "h", "oy", "oh"})
    up.set(f, num(12));
  up.set("factor", num(2));
  up.set("mode", num(2));
  up.set("zp", num(8));
  up.set("lut", num(1));
  ops.set("upsample", up);
  member(member(doc, "engines").items()[2], "runs") =
      parsed("[\"requant\", \"vadd\", \"pool\", \"upsample\"]");
  Target t;
  ASSERT_EQ(parseTarget(jsonCanonical(doc), t).message(), "");
  EXPECT_TRUE(t.declares(OpKind::Store, "rep"));
  EXPECT_TRUE(t.has(OpKind::Upsample));
  EXPECT_TRUE(t.lutFlag(OpKind::Upsample));

  // A store of a 2 x 3 block, each row 2 x 2 times (rep 1): DRAM rows up
  // to (2*2 - 1)*12 + (3*2 - 1) + 1 = 42 of 8 bytes.
  const std::string text = "store out mem=RES row=4 dram=64 ysize=2 xsize=3 "
                           "stride=12 rep=1 lanes=1";
  ASSERT_EQ(parseOp(t, text, op).message(), "");
  EXPECT_EQ(op.rep, 1);
  EXPECT_EQ(op.lanes, 1);
  EXPECT_EQ(formatOp(t, op).find(text), 0u) << formatOp(t, op);
  std::vector<Access> acc;
  accesses(t, op, nullptr, acc);
  ASSERT_EQ(acc.size(), 2u);
  EXPECT_EQ(acc[0].hi - acc[0].lo, 6u); // the block's rows, read once
  EXPECT_EQ(acc[1].lo, 64u);
  EXPECT_EQ(acc[1].hi, 64u + 42u * 8u);
  // xstep 1 spreads a line's rows two apart.
  ASSERT_EQ(parseOp(t, text + " xstep=1", op).message(), "");
  acc.clear();
  accesses(t, op, nullptr, acc);
  EXPECT_EQ(acc[1].hi, 64u + (3u * 12u + 5u * 2u + 1u) * 8u);

  // Upsampling a 3 x 5 map by 4 (factor 2): reads its 15 rows, writes 2
  // result lines of 20 rows.
  const std::string uptext =
      "upsample dst=100 src=10 w=5 h=3 oy=4 oh=2 factor=2 mode=1 zp=-3 lut=1";
  ASSERT_EQ(parseOp(t, uptext, op).message(), "");
  EXPECT_EQ(op.kind, OpKind::Upsample);
  EXPECT_EQ(formatOp(t, op).find(uptext), 0u) << formatOp(t, op);
  acc.clear();
  accesses(t, op, nullptr, acc);
  ASSERT_EQ(acc.size(), 2u);
  EXPECT_EQ(acc[0].lo, 10u);
  EXPECT_EQ(acc[0].hi, 25u);
  EXPECT_FALSE(acc[0].write);
  EXPECT_EQ(acc[1].lo, 100u);
  EXPECT_EQ(acc[1].hi, 140u);
  EXPECT_TRUE(acc[1].write);

  // lanes: one bit cannot cover the 2 groups of a 16-lane target.
  member(doc, "lanes") = num(16);
  for (Json &m : member(doc, "memories").items()) {
    Json &rb = member(m, "row_bytes");
    rb = num(rb.num() * 2);
  }
  const std::string err = parseTarget(jsonCanonical(doc), t).message();
  EXPECT_NE(err.find("ops.store.lanes"), std::string::npos) << err;
}

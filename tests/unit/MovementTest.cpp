// Reference kernels of the movement and shape ops and the
// lowerings of the composite ones.
#include "TestUtil.h"

#include "lower/Lowering.h"

#include <limits>

using namespace ember;
using namespace ember::test;

namespace {

std::vector<int64_t> iota(int64_t n) {
  std::vector<int64_t> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i)
    v[size_t(i)] = i;
  return v;
}

Tensor makeKind(ElemKind k, Dims d, std::vector<int64_t> v) {
  return Tensor::fromInts(k, v, std::move(d));
}

// Builds, runs and returns result #0 (fails the test on error).
Tensor runOne(OpKind kind, const std::vector<Tensor> &inputs,
              const std::vector<Tensor> &consts = {}, AttrMap attrs = {},
              int numResults = -1, std::vector<Tensor> *all = nullptr) {
  OneNode t;
  Status s = t.build(kind, inputs, consts, std::move(attrs), numResults);
  EXPECT_TRUE(s.isOk()) << s.message();
  if (!s.isOk())
    return Tensor();
  auto r = t.run();
  EXPECT_TRUE(r.hasValue()) << r.status().message();
  if (!r.hasValue())
    return Tensor();
  if (all)
    *all = *r;
  return (*r)[0];
}

// Build succeeds but running fails; returns the message.
std::string runError(OpKind kind, const std::vector<Tensor> &inputs,
                     const std::vector<Tensor> &consts = {},
                     AttrMap attrs = {}) {
  OneNode t;
  Status s = t.build(kind, inputs, consts, std::move(attrs));
  if (!s.isOk())
    return s.message();
  auto r = t.run();
  EXPECT_FALSE(r.hasValue());
  return r.hasValue() ? "" : r.status().message();
}

} // namespace

TEST(Movement, ReshapeCopiesZeroAndInfersMinusOne) {
  Tensor y = runOne(OpKind::Reshape, {makeF32({2, 3, 4}, {})},
                    {makeI64({3}, {0, -1, 2})});
  EXPECT_EQ(y.type().toString(), "f32[2,6,2]");
}

TEST(Movement, ReshapeAllowZeroKeepsZero) {
  AttrMap a;
  a["allowzero"] = Attr::ofInt(1);
  Tensor y = runOne(OpKind::Reshape, {makeF32({0, 3}, {})},
                    {makeI64({3}, {3, 0, 5})}, a);
  EXPECT_EQ(y.type().toString(), "f32[3,0,5]");
}

TEST(Movement, ReshapeRejectsBadShapes) {
  OneNode t1, t2, t3;
  Status s1 =
      t1.build(OpKind::Reshape, {makeF32({2, 3}, {})}, {makeI64({2}, {4, 2})});
  EXPECT_NE(s1.message().find("cannot reshape"), std::string::npos)
      << s1.message();
  Status s2 = t2.build(OpKind::Reshape, {makeF32({2, 3}, {})},
                       {makeI64({2}, {-1, -1})});
  EXPECT_NE(s2.message().find("more than one -1"), std::string::npos);
  Status s3 =
      t3.build(OpKind::Reshape, {makeF32({2, 3}, {})}, {makeI64({2}, {4, -1})});
  EXPECT_FALSE(s3.isOk());
}

TEST(Movement, FlattenSqueezeUnsqueezeShapes) {
  AttrMap a;
  a["axis"] = Attr::ofInt(-1);
  EXPECT_EQ(runOne(OpKind::Flatten, {makeF32({2, 3, 4}, {})}, {}, a)
                .type()
                .toString(),
            "f32[6,4]");
  EXPECT_EQ(runOne(OpKind::Squeeze, {makeF32({1, 3, 1}, {})}).type().toString(),
            "f32[3]");
  EXPECT_EQ(
      runOne(OpKind::Squeeze, {makeF32({1, 3, 1}, {})}, {makeI64({1}, {-1})})
          .type()
          .toString(),
      "f32[1,3]");
  EXPECT_EQ(
      runOne(OpKind::Unsqueeze, {makeF32({3, 4}, {})}, {makeI64({2}, {3, -4})})
          .type()
          .toString(),
      "f32[1,3,4,1]");
  OneNode bad;
  EXPECT_FALSE(
      bad.build(OpKind::Squeeze, {makeF32({2, 3}, {})}, {makeI64({1}, {0})})
          .isOk());
}

TEST(Movement, TransposeEveryTypeByBytes) {
  AttrMap a;
  a["perm"] = Attr::ofInts({1, 0});
  Tensor x = makeKind(ElemKind::I64, {2, 3},
                      {1, 2, 3, 4, std::numeric_limits<int64_t>::max(), 6});
  Tensor y = runOne(OpKind::Transpose, {x}, {}, a);
  EXPECT_EQ(y.toInts(),
            (std::vector<int64_t>{1, 4, 2, std::numeric_limits<int64_t>::max(),
                                  3, 6}));
  Tensor b = makeKind(ElemKind::Bool, {2, 2}, {1, 0, 0, 1});
  EXPECT_EQ(runOne(OpKind::Transpose, {b}).toInts(),
            (std::vector<int64_t>{1, 0, 0, 1}));
  Tensor h(Type(ElemKind::F16, {1, 2}));
  h.setDouble(0, 1.5);
  h.setDouble(1, -2);
  EXPECT_EQ(runOne(OpKind::Transpose, {h}).toDoubles(),
            (std::vector<double>{1.5, -2}));
}

TEST(Movement, SliceNegativeStepsAndExtremeEnds) {
  const int64_t kMax = std::numeric_limits<int64_t>::max();
  const int64_t kMin = std::numeric_limits<int64_t>::min();
  Tensor x = makeI64({6}, iota(6));
  // Reverse everything: start -1, end INT64_MIN, step -1.
  EXPECT_EQ(runOne(OpKind::Slice, {x},
                   {makeI64({1}, {-1}), makeI64({1}, {kMin}), makeI64({1}, {0}),
                    makeI64({1}, {-1})})
                .toInts(),
            (std::vector<int64_t>{5, 4, 3, 2, 1, 0}));
  // start 1, end INT64_MAX, step 2.
  EXPECT_EQ(runOne(OpKind::Slice, {x},
                   {makeI64({1}, {1}), makeI64({1}, {kMax}), makeI64({1}, {0}),
                    makeI64({1}, {2})})
                .toInts(),
            (std::vector<int64_t>{1, 3, 5}));
  // Step -2 from a start beyond the end clamps to n-1.
  EXPECT_EQ(runOne(OpKind::Slice, {x},
                   {makeI64({1}, {100}), makeI64({1}, {0}), makeI64({1}, {0}),
                    makeI64({1}, {-2})})
                .toInts(),
            (std::vector<int64_t>{5, 3, 1}));
  // Huge step.
  EXPECT_EQ(runOne(OpKind::Slice, {x},
                   {makeI64({1}, {0}), makeI64({1}, {kMax}), makeI64({1}, {0}),
                    makeI64({1}, {kMax})})
                .toInts(),
            (std::vector<int64_t>{0}));
  // Empty result when start >= end.
  EXPECT_EQ(runOne(OpKind::Slice, {x}, {makeI64({1}, {4}), makeI64({1}, {2})})
                .type()
                .toString(),
            "i64[0]");
}

TEST(Movement, Slice2DWithAxes) {
  Tensor x = makeF32({3, 4}, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11});
  Tensor y = runOne(OpKind::Slice, {x},
                    {makeI64({1}, {1}), makeI64({1}, {3}), makeI64({1}, {-1})});
  EXPECT_EQ(y.type().toString(), "f32[3,2]");
  EXPECT_EQ(y.toDoubles(), (std::vector<double>{1, 2, 5, 6, 9, 10}));
}

TEST(Movement, ConcatAndSplit) {
  AttrMap a;
  a["axis"] = Attr::ofInt(1);
  Tensor y = runOne(OpKind::Concat,
                    {makeI64({2, 1}, {1, 2}), makeI64({2, 0}, {}),
                     makeI64({2, 2}, {3, 4, 5, 6})},
                    {}, a);
  EXPECT_EQ(y.toInts(), (std::vector<int64_t>{1, 3, 4, 2, 5, 6}));

  AttrMap s;
  s["num_outputs"] = Attr::ofInt(3);
  std::vector<Tensor> outs;
  runOne(OpKind::Split, {makeI64({7}, iota(7))}, {}, s, 3, &outs);
  ASSERT_EQ(outs.size(), 3u);
  EXPECT_EQ(outs[0].toInts(), (std::vector<int64_t>{0, 1, 2}));
  EXPECT_EQ(outs[2].toInts(), (std::vector<int64_t>{6}));

  outs.clear();
  runOne(OpKind::Split, {makeI64({5}, iota(5))}, {makeI64({2}, {1, 4})}, {}, 2,
         &outs);
  ASSERT_EQ(outs.size(), 2u);
  EXPECT_EQ(outs[1].toInts(), (std::vector<int64_t>{1, 2, 3, 4}));

  OneNode bad;
  EXPECT_FALSE(
      bad.build(OpKind::Split, {makeI64({5}, iota(5))}, {}, {}, 2).isOk());
}

TEST(Movement, PadModes) {
  Tensor x = makeI64({4}, {1, 2, 3, 4});
  auto pad = [&](const char *mode, int64_t b, int64_t e) {
    AttrMap a;
    a["mode"] = Attr::ofString(mode);
    return runOne(OpKind::Pad, {x}, {makeI64({2}, {b, e})}, a).toInts();
  };
  EXPECT_EQ(pad("constant", 2, 1), (std::vector<int64_t>{0, 0, 1, 2, 3, 4, 0}));
  EXPECT_EQ(pad("edge", 2, 1), (std::vector<int64_t>{1, 1, 1, 2, 3, 4, 4}));
  EXPECT_EQ(pad("reflect", 2, 1), (std::vector<int64_t>{3, 2, 1, 2, 3, 4, 3}));
  EXPECT_EQ(pad("wrap", 2, 1), (std::vector<int64_t>{3, 4, 1, 2, 3, 4, 1}));
  // Reflection wider than the input repeats (numpy semantics).
  EXPECT_EQ(pad("reflect", 5, 0),
            (std::vector<int64_t>{2, 3, 4, 3, 2, 1, 2, 3, 4}));
  // Negative pads crop.
  EXPECT_EQ(pad("constant", -1, -2), (std::vector<int64_t>{2}));
}

TEST(Movement, PadConstantValueAndAxes) {
  Tensor x = makeF32({2, 2}, {1, 2, 3, 4});
  Tensor y =
      runOne(OpKind::Pad, {x},
             {makeI64({2}, {1, 0}), makeF32({}, {9}), makeI64({1}, {-1})});
  EXPECT_EQ(y.type().toString(), "f32[2,3]");
  EXPECT_EQ(y.toDoubles(), (std::vector<double>{9, 1, 2, 9, 3, 4}));
}

TEST(Movement, ExpandAndTile) {
  Tensor y = runOne(OpKind::Expand, {makeI64({3, 1}, {1, 2, 3})},
                    {makeI64({3}, {2, 1, 2})});
  EXPECT_EQ(y.type().toString(), "i64[2,3,2]");
  EXPECT_EQ(y.toInts(),
            (std::vector<int64_t>{1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3}));
  Tensor t = runOne(OpKind::Tile, {makeI64({2}, {1, 2})}, {makeI64({1}, {3})});
  EXPECT_EQ(t.toInts(), (std::vector<int64_t>{1, 2, 1, 2, 1, 2}));
}

TEST(Movement, GatherWrapsNegativeAndRejectsOutOfRange) {
  AttrMap a;
  a["axis"] = Attr::ofInt(1);
  Tensor x = makeF32({2, 3}, {0, 1, 2, 3, 4, 5});
  Tensor y = runOne(OpKind::Gather, {x, makeI64({2}, {-1, 0})}, {}, a);
  EXPECT_EQ(y.type().toString(), "f32[2,2]");
  EXPECT_EQ(y.toDoubles(), (std::vector<double>{2, 0, 5, 3}));
  std::string e = runError(OpKind::Gather, {x, makeI64({1}, {3})}, {}, a);
  EXPECT_NE(e.find("out of range"), std::string::npos) << e;
  e = runError(OpKind::Gather, {x, makeI64({1}, {-4})}, {}, a);
  EXPECT_NE(e.find("out of range"), std::string::npos) << e;
}

TEST(Movement, GatherElementsAndND) {
  AttrMap a;
  a["axis"] = Attr::ofInt(1);
  Tensor x = makeF32({2, 2}, {1, 2, 3, 4});
  Tensor ind = makeKind(ElemKind::I32, {2, 2}, {0, 0, 1, -2});
  EXPECT_EQ(runOne(OpKind::GatherElements, {x, ind}, {}, a).toDoubles(),
            (std::vector<double>{1, 1, 4, 3}));
  EXPECT_NE(runError(OpKind::GatherElements,
                     {x, makeKind(ElemKind::I32, {2, 2}, {0, 0, 2, 0})}, {}, a)
                .find("out of range"),
            std::string::npos);

  // batch_dims = 1: per batch, pick a row.
  AttrMap b;
  b["batch_dims"] = Attr::ofInt(1);
  Tensor data = makeI64({2, 2, 2}, iota(8));
  Tensor y = runOne(OpKind::GatherND, {data, makeI64({2, 1}, {1, 0})}, {}, b);
  EXPECT_EQ(y.type().toString(), "i64[2,2]");
  EXPECT_EQ(y.toInts(), (std::vector<int64_t>{2, 3, 4, 5}));
  Tensor z = runOne(OpKind::GatherND, {data, makeI64({1, 3}, {1, -1, 0})});
  EXPECT_EQ(z.toInts(), (std::vector<int64_t>{6}));
}

TEST(Movement, ScatterElementsAndND) {
  AttrMap a;
  a["axis"] = Attr::ofInt(1);
  a["reduction"] = Attr::ofString("add");
  Tensor x = makeF32({1, 3}, {1, 2, 3});
  Tensor y =
      runOne(OpKind::ScatterElements,
             {x, makeI64({1, 2}, {-1, 2}), makeF32({1, 2}, {10, 20})}, {}, a);
  EXPECT_EQ(y.toDoubles(), (std::vector<double>{1, 2, 33}));

  AttrMap m;
  m["reduction"] = Attr::ofString("mul");
  Tensor data = makeI64({2, 2}, {1, 2, 3, 4});
  Tensor z = runOne(
      OpKind::ScatterND,
      {data, makeI64({2, 1}, {1, 1}), makeI64({2, 2}, {2, 2, 3, 3})}, {}, m);
  EXPECT_EQ(z.toInts(), (std::vector<int64_t>{1, 2, 18, 24}));
  EXPECT_NE(runError(OpKind::ScatterND,
                     {data, makeI64({1, 1}, {2}), makeI64({1, 2}, {0, 0})})
                .find("out of range"),
            std::string::npos);
}

TEST(Movement, DepthToSpaceModesAndSpaceToDepthInverse) {
  Tensor x = makeI64({1, 8, 1, 1}, iota(8));
  AttrMap dcr, crd;
  dcr["blocksize"] = Attr::ofInt(2);
  crd["blocksize"] = Attr::ofInt(2);
  crd["mode"] = Attr::ofString("CRD");
  Tensor y = runOne(OpKind::DepthToSpace, {x}, {}, dcr);
  EXPECT_EQ(y.type().toString(), "i64[1,2,2,2]");
  EXPECT_EQ(y.toInts(), (std::vector<int64_t>{0, 2, 4, 6, 1, 3, 5, 7}));
  EXPECT_EQ(runOne(OpKind::DepthToSpace, {x}, {}, crd).toInts(), iota(8));
  Tensor back = runOne(OpKind::SpaceToDepth, {y}, {}, dcr);
  EXPECT_EQ(back.toInts(), iota(8));
}

TEST(Shape, ShapeSizeConstantOfShapeRange) {
  Tensor x = makeF32({2, 3, 4}, {});
  AttrMap a;
  a["start"] = Attr::ofInt(-2);
  EXPECT_EQ(runOne(OpKind::Shape, {x}, {}, a).toInts(),
            (std::vector<int64_t>{3, 4}));
  AttrMap c;
  c["start"] = Attr::ofInt(-10);
  c["end"] = Attr::ofInt(-1);
  EXPECT_EQ(runOne(OpKind::Shape, {x}, {}, c).toInts(),
            (std::vector<int64_t>{2, 3}));
  AttrMap e;
  e["start"] = Attr::ofInt(2);
  e["end"] = Attr::ofInt(1);
  EXPECT_EQ(runOne(OpKind::Shape, {x}, {}, e).type().toString(), "i64[0]");
  EXPECT_EQ(runOne(OpKind::Size, {x}).toInts(), (std::vector<int64_t>{24}));

  AttrMap v;
  v["value"] = Attr::ofTensor(makeKind(ElemKind::I32, {1}, {7}));
  Tensor k = runOne(OpKind::ConstantOfShape, {}, {makeI64({2}, {2, 1})}, v);
  EXPECT_EQ(k.type().toString(), "i32[2,1]");
  EXPECT_EQ(k.toInts(), (std::vector<int64_t>{7, 7}));

  Tensor r = runOne(OpKind::Range, {},
                    {makeKind(ElemKind::I32, {}, {10}),
                     makeKind(ElemKind::I32, {}, {4}),
                     makeKind(ElemKind::I32, {}, {-3})});
  EXPECT_EQ(r.toInts(), (std::vector<int64_t>{10, 7}));
  Tensor f = runOne(OpKind::Range, {},
                    {makeF32({}, {1}), makeF32({}, {2}), makeF32({}, {0.25})});
  EXPECT_EQ(f.toDoubles(), (std::vector<double>{1, 1.25, 1.5, 1.75}));
  OneNode zero;
  EXPECT_FALSE(
      zero.build(OpKind::Range, {},
                 {makeF32({}, {1}), makeF32({}, {2}), makeF32({}, {0})})
          .isOk());
}

TEST(Movement, DropoutIsIdentityWithTrueMask) {
  std::vector<Tensor> outs;
  runOne(OpKind::Dropout, {makeF32({2}, {1, 2})}, {}, {}, 2, &outs);
  ASSERT_EQ(outs.size(), 2u);
  EXPECT_EQ(outs[0].toDoubles(), (std::vector<double>{1, 2}));
  EXPECT_EQ(outs[1].toInts(), (std::vector<int64_t>{1, 1}));
}

// Each composite lowers to primitives computing what its kernel computes.
TEST(Movement, LoweringsMatchKernels) {
  struct Case {
    OpKind kind;
    Tensor x;
    std::vector<Tensor> consts;
    AttrMap attrs;
    int numResults;
  };
  AttrMap d2s, crd, flat;
  d2s["blocksize"] = Attr::ofInt(2);
  crd["blocksize"] = Attr::ofInt(2);
  crd["mode"] = Attr::ofString("CRD");
  flat["axis"] = Attr::ofInt(2);
  std::vector<Case> cases = {
      {OpKind::Flatten, makeI64({2, 3, 2}, iota(12)), {}, flat, -1},
      {OpKind::Squeeze, makeI64({1, 3, 1}, iota(3)), {}, {}, -1},
      {OpKind::Squeeze, makeI64({1, 0, 1}, {}), {makeI64({1}, {0})}, {}, -1},
      {OpKind::Unsqueeze, makeI64({3}, iota(3)), {makeI64({1}, {0})}, {}, -1},
      {OpKind::DepthToSpace, makeI64({1, 8, 2, 3}, iota(48)), {}, d2s, -1},
      {OpKind::DepthToSpace, makeI64({2, 4, 3, 2}, iota(48)), {}, crd, -1},
      {OpKind::SpaceToDepth, makeI64({2, 2, 4, 2}, iota(32)), {}, d2s, -1},
      {OpKind::Dropout, makeI64({2, 2}, iota(4)), {}, {}, 2},
  };
  for (Case &c : cases) {
    OneNode t;
    ASSERT_TRUE(t.build(c.kind, {c.x}, c.consts, c.attrs, c.numResults).isOk())
        << opName(c.kind);
    auto ref = t.run();
    ASSERT_TRUE(ref.hasValue()) << ref.status().message();
    size_t lowered = 0;
    Status s = lowerFunction(t.f, {}, &lowered);
    ASSERT_TRUE(s.isOk()) << opName(c.kind) << ": " << s.message();
    EXPECT_EQ(lowered, 1u);
    for (auto &n : t.f.nodes())
      EXPECT_TRUE(isPrimitive(n->kind) || isStorage(n->kind))
          << opName(n->kind);
    auto got = t.run();
    ASSERT_TRUE(got.hasValue()) << got.status().message();
    ASSERT_EQ(got->size(), ref->size());
    for (size_t i = 0; i < ref->size(); ++i)
      EXPECT_TRUE((*got)[i].bitEqual((*ref)[i])) << opName(c.kind) << " #" << i;
  }
}

TEST(Movement, DropoutInTrainingModeIsNotLowered) {
  OneNode t;
  ASSERT_TRUE(
      t.build(OpKind::Dropout, {makeF32({2}, {1, 2})},
              {makeF32({}, {0.5}), Tensor::fromInts(ElemKind::Bool, {1}, {})})
          .isOk());
  EXPECT_FALSE(lowerFunction(t.f).isOk());
  auto r = t.run();
  EXPECT_FALSE(r.hasValue());
}

TEST(Movement, HugeResultShapesAreErrors) {
  const int64_t kBig = int64_t(1) << 62;
  OneNode tile, pad, cos;
  Status s = tile.build(OpKind::Tile, {makeI64({4}, {1, 2, 3, 4})},
                        {makeI64({1}, {kBig})});
  EXPECT_FALSE(s.isOk());
  s = pad.build(OpKind::Pad, {makeI64({4}, {1, 2, 3, 4})},
                {makeI64({2}, {kBig, kBig})});
  EXPECT_FALSE(s.isOk());
  s = cos.build(OpKind::ConstantOfShape, {},
                {makeI64({3}, {1 << 20, 1 << 20, 1 << 20})});
  EXPECT_NE(s.message().find("too large"), std::string::npos) << s.message();
}

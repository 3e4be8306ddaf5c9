// Binding symbolic input dims (core/import/InputShapes.h): defaults, names,
// conflicts, and messages that name the option the user gave.
#include "import/InputShapes.h"

#include <gtest/gtest.h>

using namespace ember;

namespace {

DeclaredDim fixed(int64_t v) { return {v, ""}; }
DeclaredDim named(const std::string &n) { return {-1, n}; }
DeclaredDim unnamed() { return {-1, ""}; }

DeclaredInput input(const std::string &name, std::vector<DeclaredDim> dims) {
  DeclaredInput in;
  in.name = name;
  in.hasShape = true;
  in.dims = std::move(dims);
  return in;
}

ShapeBindings withDefaults() {
  ShapeBindings b;
  b.defaults = true;
  return b;
}

} // namespace

TEST(InputShapes, BatchAndSequenceDefaultToOneWithANoteEach) {
  std::vector<DeclaredInput> ins = {
      input("ids", {named("batch"), named("max_seq_len")}),
      input("mask", {named("batch"), named("max_seq_len")})};
  auto r = resolveInputShapes(ins, withDefaults());
  ASSERT_TRUE(r) << r.status().message();
  EXPECT_EQ(r->inputs["ids"], (Dims{1, 1}));
  EXPECT_EQ(r->inputs["mask"], (Dims{1, 1}));
  ASSERT_EQ(r->notes.size(), 2u);
  EXPECT_NE(r->notes[0].find("'batch' defaults to 1"), std::string::npos);
  EXPECT_NE(r->notes[0].find("--dim batch=N"), std::string::npos);
  EXPECT_NE(r->notes[1].find("sequence"), std::string::npos);
}

TEST(InputShapes, Paddle2OnnxLeadingDimDefaultsOthersAreErrors) {
  std::vector<DeclaredInput> ins = {
      input("image", {named("p2o.DynamicDimension.0"), fixed(3),
                      named("p2o.DynamicDimension.1"),
                      named("p2o.DynamicDimension.2")})};
  auto r = resolveInputShapes(ins, withDefaults());
  ASSERT_FALSE(r);
  EXPECT_NE(r.status().message().find("--dim p2o.DynamicDimension.1=N"),
            std::string::npos)
      << r.status().message();
  ShapeBindings b = withDefaults();
  ASSERT_TRUE(parseDimBinding("p2o.DynamicDimension.1=320", b).isOk());
  ASSERT_TRUE(parseDimBinding("p2o.DynamicDimension.2=480", b).isOk());
  auto r2 = resolveInputShapes(ins, b);
  ASSERT_TRUE(r2) << r2.status().message();
  EXPECT_EQ(r2->inputs["image"], (Dims{1, 3, 320, 480}));
  ASSERT_EQ(r2->notes.size(), 1u);
  EXPECT_NE(r2->notes[0].find("p2o.DynamicDimension.0"), std::string::npos);
}

TEST(InputShapes, SpatialNamesNeverDefaultEvenAtDimZero) {
  std::vector<DeclaredInput> ins = {input("x", {named("height"), fixed(4)})};
  auto r = resolveInputShapes(ins, withDefaults());
  ASSERT_FALSE(r);
  EXPECT_NE(r.status().message().find("no default"), std::string::npos);
}

TEST(InputShapes, ANameUsedOffDimZeroIsNotBatchLike) {
  std::vector<DeclaredInput> ins = {input("a", {named("n"), fixed(2)}),
                                    input("b", {fixed(2), named("n")})};
  EXPECT_FALSE(resolveInputShapes(ins, withDefaults()));
}

TEST(InputShapes, UnnamedDimZeroDefaultsOthersNeedAShape) {
  std::vector<DeclaredInput> ins = {input("x", {unnamed(), fixed(3)})};
  auto r = resolveInputShapes(ins, withDefaults());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->inputs["x"], (Dims{1, 3}));
  std::vector<DeclaredInput> ins2 = {input("x", {fixed(1), unnamed()})};
  auto r2 = resolveInputShapes(ins2, withDefaults());
  ASSERT_FALSE(r2);
  EXPECT_NE(r2.status().message().find("--input-shape x="), std::string::npos);
}

TEST(InputShapes, WithoutDefaultsEverySymbolicDimMustBeBound) {
  std::vector<DeclaredInput> ins = {input("x", {named("batch"), fixed(3)})};
  EXPECT_FALSE(resolveInputShapes(ins, ShapeBindings{}));
}

TEST(InputShapes, WholeShapesBindNamedDimsOfOtherInputs) {
  std::vector<DeclaredInput> ins = {
      input("ids", {named("batch"), named("seq")}),
      input("mask", {named("batch"), named("seq")})};
  ShapeBindings b = withDefaults();
  b.inputs["ids"] = {{2, 7}, "--input ids=ids.npy"};
  auto r = resolveInputShapes(ins, b);
  ASSERT_TRUE(r) << r.status().message();
  EXPECT_EQ(r->inputs["mask"], (Dims{2, 7}));
  EXPECT_TRUE(r->notes.empty());
}

TEST(InputShapes, MessagesNameTheOptionTheUserGave) {
  std::vector<DeclaredInput> ins = {input("x", {named("batch"), fixed(3)})};
  ShapeBindings b = withDefaults();
  b.inputs["Nope"] = {{1, 3}, "--input Nope=x.npy"};
  auto r = resolveInputShapes(ins, b);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.status().message().rfind("--input Nope=x.npy names 'Nope'", 0),
            0u)
      << r.status().message();
  EXPECT_EQ(r.status().message().find("--input-shape"), std::string::npos);

  ShapeBindings c = withDefaults();
  c.inputs["x"] = {{1, 4}, "--input x=x.npy"};
  auto r2 = resolveInputShapes(ins, c);
  ASSERT_FALSE(r2);
  EXPECT_EQ(r2.status().message().rfind("--input x=x.npy sets dim 1", 0), 0u)
      << r2.status().message();

  ShapeBindings d = withDefaults();
  ASSERT_TRUE(parseDimBinding("batch=4", d).isOk());
  d.inputs["x"] = {{2, 3}, "--input-shape x=2x3"};
  auto r3 = resolveInputShapes(ins, d);
  ASSERT_FALSE(r3);
  EXPECT_NE(r3.status().message().find("--dim batch=4"), std::string::npos);
  EXPECT_NE(r3.status().message().find("--input-shape x=2x3"),
            std::string::npos);

  ShapeBindings e = withDefaults();
  ASSERT_TRUE(parseDimBinding("bacth=4", e).isOk());
  auto r4 = resolveInputShapes(ins, e);
  ASSERT_FALSE(r4);
  EXPECT_NE(r4.status().message().find("named dims: batch"), std::string::npos);
}

TEST(InputShapes, ParseErrorsNameTheArgument) {
  ShapeBindings b;
  Status s = parseDimBinding("batch", b);
  EXPECT_EQ(s.message().rfind("--dim batch:", 0), 0u) << s.message();
  EXPECT_FALSE(parseDimBinding("batch=-1", b).isOk());
  EXPECT_FALSE(parseInputShapeBinding("x=1xax3", b).isOk());
  ASSERT_TRUE(parseInputShapeBinding("x=1x3", b).isOk());
  EXPECT_EQ(b.inputs["x"].dims, (Dims{1, 3}));
  EXPECT_EQ(b.inputs["x"].origin, "--input-shape x=1x3");
}

TEST(InputShapes, ANameSayingBatchIsBatchLikeAnywhere) {
  // An RNN state [layers, batch, hidden] beside the input [batch, seq].
  std::vector<DeclaredInput> ins = {
      input("input", {named("batch"), named("sequence")}),
      input("state", {fixed(2), named("batch"), fixed(128)})};
  auto r = resolveInputShapes(ins, withDefaults());
  ASSERT_TRUE(r) << r.status().message();
  EXPECT_EQ(r->inputs["state"], (Dims{2, 1, 128}));
  EXPECT_EQ(r->defaulted, "batch=1, sequence=1");
  ASSERT_EQ(r->notes.size(), 2u);
  EXPECT_NE(r->notes[0].find("batch-like by its name"), std::string::npos);
}

// A front end spells the ways to bind a dim its own way (the Python
// package's dims= and input_shapes=): every message and note then uses its
// words and none of the command's options.
TEST(InputShapes, MessagesUseTheFrontEndsSpelling) {
  ShapeBindings b = withDefaults();
  b.spelling.dim = "dims={'{}': N}";
  b.spelling.shape = "input_shapes={'{}': (...)}";
  b.spelling.data = "an array for '{}'";
  b.spelling.anyDim = "dims=";
  b.spelling.anyShape = "input_shapes=";
  std::vector<DeclaredInput> ins = {
      input("image", {named("p2o.DynamicDimension.0"), fixed(3),
                      named("p2o.DynamicDimension.1"), unnamed()})};
  auto r = resolveInputShapes(ins, b);
  ASSERT_FALSE(r);
  const std::string &m = r.status().message();
  EXPECT_NE(m.find("bind it with dims={'p2o.DynamicDimension.1': N}"),
            std::string::npos)
      << m;
  EXPECT_NE(m.find("input_shapes={'image': (...)} or the data with an array "
                   "for 'image'"),
            std::string::npos)
      << m;
  EXPECT_EQ(m.find("--"), std::string::npos) << m;
  std::vector<DeclaredInput> batch = {input("x", {named("batch"), fixed(4)})};
  auto ok = resolveInputShapes(batch, b);
  ASSERT_TRUE(ok) << ok.status().message();
  ASSERT_EQ(ok->notes.size(), 1u);
  EXPECT_NE(ok->notes[0].find("set it with dims={'batch': N}"),
            std::string::npos)
      << ok->notes[0];
  Status s =
      withDefaultedDims(invalid("Reshape fails"), ok->defaulted, b.spelling);
  EXPECT_EQ(s.message(), "Reshape fails (with defaulted dims batch=1; bind "
                         "them with dims= or input_shapes=)");
  // The command's spelling by default.
  EXPECT_NE(withDefaultedDims(invalid("x"), "batch=1")
                .message()
                .find("--dim NAME=N or --input-shape"),
            std::string::npos);
}

// allowUnbound: the dims nothing binds stay -1, one line each, instead of
// an error; bound and defaulted ones are resolved as ever, and a conflict
// is still an error.
TEST(InputShapes, UnboundDimsAreLeftForTheRunsWhenAllowed) {
  std::vector<DeclaredInput> ins = {
      input("image", {named("n"), fixed(3), named("h"), named("w")}),
      input("mask", {named("n"), named("h"), unnamed()})};
  ShapeBindings b = withDefaults();
  b.allowUnbound = true;
  ASSERT_TRUE(parseDimBinding("w=64", b).isOk());
  auto r = resolveInputShapes(ins, b);
  ASSERT_TRUE(r) << r.status().message();
  EXPECT_EQ(r->inputs["image"], (Dims{1, 3, -1, 64}));
  EXPECT_EQ(r->inputs["mask"], (Dims{1, -1, -1}));
  ASSERT_EQ(r->unbound.size(), 2u);
  EXPECT_EQ(r->unbound[0], "dim 'h' (input 'image' [n,3,h,w] dim 2)");
  EXPECT_EQ(r->unbound[1], "input 'mask' [n,h,?] dim 2 is unknown and unnamed");
  EXPECT_EQ(r->dims.count("h"), 0u);
  b.inputs["image"] = {{2, 3, 8, 32}, "the run's input 'image'"};
  EXPECT_FALSE(resolveInputShapes(ins, b)); // w is 64, not 32
}

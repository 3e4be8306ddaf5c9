// The static half of capability-driven partitioning (core/backend/
// Partitioner.h): which nodes a CapabilityManifest claims, including the
// dtypes a claim accepts only on index operands (OpCapability.index_dtypes).
#include "backend/Partitioner.h"

#include "ember/backend/v1/capability.pb.h"
#include "ir/Printer.h"

#include <gtest/gtest.h>

using namespace ember;
namespace v1 = ember::backend::v1;

namespace {

std::unique_ptr<Module> parse(const std::string &text) {
  auto m = parseModule(text, "<test>");
  EXPECT_TRUE(m.hasValue()) << m.status().message();
  return m ? std::move(*m) : nullptr;
}

const char *const kGraph = R"(
func @main(%x: i8[2,3,4], %w: i64[2,3,4]) {
  %s = Constant dense<i64[2]: [6, 4]>
  %r = Reshape(%x, %s) : i8[6,4]
  %q = Reshape(%w, %s) : i64[6,4]
  %y = Identity(%s) : i64[2]
  return %r, %q, %y
}
)";

} // namespace

TEST(Partitioner, IndexDtypesOnlyOnIndexOperands) {
  auto m = parse(kGraph);
  ASSERT_TRUE(m);
  auto nodes = backend::computeNodes(*m->main());
  ASSERT_EQ(nodes.size(), 3u);
  v1::CapabilityManifest man;
  v1::OpCapability *r = man.add_ops();
  r->set_op("Reshape");
  r->add_dtypes("i8");
  v1::OpCapability *id = man.add_ops();
  id->set_op("Identity");
  id->add_dtypes("i8");
  id->add_index_dtypes("i64");
  std::string why;
  // Without index_dtypes the i64 shape is outside the claim.
  EXPECT_FALSE(backend::manifestClaims(man, *nodes[0], why));
  EXPECT_NE(why.find("operand 1 is i64"), std::string::npos) << why;
  r->add_index_dtypes("i64");
  why.clear();
  EXPECT_TRUE(backend::manifestClaims(man, *nodes[0], why)) << why;
  // i64 data (operand 0) and i64 results are not claimed by index_dtypes.
  EXPECT_FALSE(backend::manifestClaims(man, *nodes[1], why));
  EXPECT_NE(why.find("operand 0 is i64"), std::string::npos) << why;
  EXPECT_FALSE(backend::manifestClaims(man, *nodes[2], why));
  EXPECT_NE(why.find("operand 0 is i64"), std::string::npos) << why;
  // Listed as dtypes, i64 is claimed everywhere (as before index_dtypes).
  r->add_dtypes("i64");
  why.clear();
  EXPECT_TRUE(backend::manifestClaims(man, *nodes[1], why)) << why;
}

// backend::macsOf: Conv counts a window per result element, ConvTranspose
// the kernel each input element scatters into (Ops.def, column Macs).
TEST(Partitioner, MacsOfConvAndConvTranspose) {
  auto m = parse(R"(
func @main(%x: f32[1,4,5,6], %w: f32[8,2,3,3], %wt: f32[4,3,2,2]) {
  %c = Conv(%x, %w) {group = 2, kernel_shape = [3, 3], pads = [1, 1, 1, 1]} : f32[1,8,5,6]
  %t = ConvTranspose(%x, %wt) {kernel_shape = [2, 2], strides = [2, 2]} : f32[1,3,10,12]
  %g = ConvTranspose(%x, %wt) {group = 2, kernel_shape = [2, 2], strides = [2, 2]} : f32[1,6,10,12]
  return %c, %t, %g
}
)");
  ASSERT_TRUE(m);
  auto nodes = backend::computeNodes(*m->main());
  ASSERT_EQ(nodes.size(), 3u);
  // 240 outputs x (2 channels x 3 x 3).
  EXPECT_EQ(backend::macsOf(*nodes[0]), 240u * 18u);
  // 120 inputs x (3 output channels x 2 x 2): every output of a stride-2,
  // kernel-2 transpose is one product per input channel (360 x 4).
  EXPECT_EQ(backend::macsOf(*nodes[1]), 120u * 12u);
  EXPECT_EQ(backend::macsOf(*nodes[1]), 360u * 4u);
  // Grouped: each input element reaches C_out/group = 3 channels.
  EXPECT_EQ(backend::macsOf(*nodes[2]), 120u * 12u);
}

// Links against the ir layer alone (core/CMakeLists.txt, the ember_ir object
// library: support/ and ir/), so building it fails when ir references a
// symbol of the interpreter or any other layer above it. Running it checks
// that type inference works there: graphs built through Function::create
// get their result types from the ops' type rules, including rules that
// read a constant operand's values (Reshape's shape, ReduceSum's axes) and
// one whose result shape depends on the values (NonZero).
#include "ir/Graph.h"
#include "ir/Printer.h"
#include "ir/Verifier.h"

#include <iostream>

using namespace ember;

static int fail(const std::string &what) {
  std::cerr << "error: " << what << " (ember_ir_link_check)\n";
  return 1;
}

int main() {
  Module m;
  Function *f = m.addFunction("main");
  Node *x = f->addPlaceholder("x", Type(ElemKind::F32, {2, 3, 4}));
  Node *shape =
      f->addConstant("shape", Tensor::fromInts(ElemKind::I64, {4, -1}, {2}));
  auto r = f->create(OpKind::Reshape, {Value(x, 0), Value(shape, 0)});
  if (!r)
    return fail(r.status().message());
  Node *axes =
      f->addConstant("axes", Tensor::fromInts(ElemKind::I64, {1}, {1}));
  auto s = f->create(OpKind::ReduceSum, {Value(*r, 0), Value(axes, 0)},
                     {{"keepdims", Attr::ofInt(0)}});
  if (!s)
    return fail(s.status().message());
  Node *mask = f->addConstant(
      "mask", Tensor::fromInts(ElemKind::Bool, {1, 0, 1, 1}, {4}));
  auto nz = f->create(OpKind::NonZero, {Value(mask, 0)});
  if (!nz)
    return fail(nz.status().message());
  f->addOutput(Value(*s, 0), "y");
  f->addOutput(Value(*nz, 0), "nz");
  if ((*r)->types[0].dims() != Dims{4, 6} || (*s)->types[0].dims() != Dims{4} ||
      (*nz)->types[0].dims() != Dims{1, 3})
    return fail("unexpected result types: " + (*r)->types[0].toString() + ", " +
                (*s)->types[0].toString() + ", " + (*nz)->types[0].toString());
  // A type error names the node.
  auto bad = f->create(OpKind::Add, {Value(x, 0), Value(*r, 0)});
  if (bad ||
      bad.status().message().find("do not broadcast") == std::string::npos)
    return fail("Add of [2,3,4] and [4,6] was not rejected");
  if (Status v = verifyFunction(*f); !v.isOk())
    return fail(v.message());
  printModule(std::cout, m);
  return 0;
}

#include "ir/Ops.h"

namespace ember {

bool opKindFromName(const std::string &name, OpKind &out) {
  for (unsigned i = 0; i < kNumOps; ++i)
    if (name == kOpInfo[i].name) {
      out = OpKind(i);
      return true;
    }
  return false;
}

bool kindInClass(OpTypes t, ElemKind e) {
  switch (t) {
  case T_Any:
  case T_Kernel:
    return true;
  case T_Num:
    return e != ElemKind::Bool;
  case T_Signed:
    return isSignedKind(e) && e != ElemKind::Bool;
  case T_Int:
    return isIntKind(e);
  case T_Float:
    return isComputeFloatKind(e);
  case T_Bool:
    return e == ElemKind::Bool;
  }
  return false;
}

const char *opTypesName(OpTypes t) {
  switch (t) {
  case T_Any:
    return "any kind";
  case T_Num:
    return "numbers, not bool";
  case T_Signed:
    return "signed integers and floats";
  case T_Int:
    return "integers";
  case T_Float:
    return "floats";
  case T_Bool:
    return "bool";
  case T_Kernel:
    return "as its kernel checks";
  }
  return "?";
}

} // namespace ember

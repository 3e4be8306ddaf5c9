#include "ir/Ops.h"

#include <cstring>

namespace ember {

static const OpInfo kOpInfo[] = {
#define EMBER_OP(Name, Class, Props, MinIn, MaxIn, NumOut)                     \
  {#Name, OpClass::Class, Props, MinIn, MaxIn, NumOut},
#include "ir/Ops.def"
};

const OpInfo &opInfo(OpKind k) { return kOpInfo[unsigned(k)]; }

bool opKindFromName(const std::string &name, OpKind &out) {
  for (unsigned i = 0; i < kNumOps; ++i)
    if (name == kOpInfo[i].name) {
      out = OpKind(i);
      return true;
    }
  return false;
}

} // namespace ember

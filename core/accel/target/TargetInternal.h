// What the description's parser (Target.cpp) checks in files of their own.
#ifndef EMBER_ACCEL_TARGET_INTERNAL_H
#define EMBER_ACCEL_TARGET_INTERNAL_H

#include "ember/accel/Target.h"

namespace ember::accel {

// The integer normalization's and softmax's operations a description
// declares (vreduce, rscalar, vrowmul, vrowexp; NormOps.cpp): each row field
// addresses its class's memory, and the registers they read are there.
Status normOpsFit(const Target &t);

} // namespace ember::accel

#endif // EMBER_ACCEL_TARGET_INTERNAL_H

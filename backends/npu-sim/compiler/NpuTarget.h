// The example NPU for the SDK's NPU compiler layer (docs/npu-sdk.md): its
// target description, generated from hw/spec/npu.json and the backend's
// layer forms (target/forms.json) into the build tree and compiled in; the
// vendor's side of a compile (packing the static image, Pack.cpp) and the
// encoding of the layer's operations as this NPU's instructions (Encode.cpp).
#pragma once

#include "ember/accel/Program.h"
#include "ember/accel/Target.h"
#include "ember/npu/Isa.h"

#include <string>
#include <vector>

namespace ember::npusim {

using namespace ember::accel;

// The description, parsed and validated once. A description the layer
// refuses is a build problem; npuTargetError() says why ("" when it is
// fine) and the plugin reports it when it loads.
const Target &npuTarget();
const std::string &npuTargetError();
const char *npuTargetJson();

// One operation as this NPU's instruction, and a whole program's.
npu::Insn encodeOp(const Target &t, const Op &op);
std::vector<npu::Insn> encodeProgram(const Target &t, const Program &p);

// The program in the assembler's syntax (round-trips through `ember asm`),
// with a comment naming the source layer before each instruction group.
std::string programAsm(const Target &t, const Program &p);

// Test hook (backend option fault=deadlock): the first array op also waits
// on the vector engine's channel, which nothing signals before it, so the
// program deadlocks.
void injectDeadlock(const Target &t, Program &p);

// Fills the static image of `p` (scheduled from `lp`): each GEMM layer's
// weight tiles, bias rows and tiles and requantization tables where the
// layer laid them out (Program::tables), in this NPU's arrangement.
void packImage(const Target &t, const LayerProgram &lp, Program &p);

// generateProgram, then packImage: a program ready to run.
std::string compileLayers(const LayerProgram &lp, const CodegenOptions &o,
                          Program &out);

} // namespace ember::npusim

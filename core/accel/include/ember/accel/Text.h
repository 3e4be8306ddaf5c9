// The text forms of the NPU compiler layer (docs/npu-sdk.md, "Text forms"):
// the layer program (selection's output, scheduling's input) and the
// scheduled program (`ember compile --emit=npu-layers`, the input and output
// of each scheduling stage in `ember-accel`). Both print and parse: one
// record a line, `keyword key=value ...`; strings quoted, integer lists
// comma-separated, byte data as x:<hex>. A scheduled program's image (the
// packed constants) is not printed: its layout is (the tables of each
// layer), and packing makes it again.
#ifndef EMBER_ACCEL_TEXT_H
#define EMBER_ACCEL_TEXT_H

#include "ember/accel/Layers.h"
#include "ember/accel/Program.h"
#include "ember/accel/Target.h"

#include <string>

namespace ember::accel {

// `elide`: byte data over 64 bytes prints as <elided N> (for reading; such
// text does not parse back).
std::string printLayers(const Target &t, const LayerProgram &lp,
                        bool elide = false);
// The text as a layer program, or "line N: what" when it cannot be read.
Status parseLayers(const Target &t, const std::string &text, LayerProgram &out);

std::string printProgram(const Target &t, const Program &p);
Status parseProgram(const Target &t, const std::string &text, Program &out);

} // namespace ember::accel

#endif // EMBER_ACCEL_TEXT_H

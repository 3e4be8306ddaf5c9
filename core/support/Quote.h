// The string literal of the project's text forms (the graph IR, the LIR, the
// NPU compiler layer's layer and program text): one way to write it and one
// to read it back.
#pragma once

#include "support/Error.h"

#include <string>

namespace ember {

// "..." with '"' and '\\' escaped by a backslash and every byte below 0x20
// or from 0x7f up as \XX (two hex digits), so a literal is one line of
// printable ASCII whatever its bytes.
std::string quoteString(const std::string &s);

// Reads the literal that opens at text[pos] (a '"'); `pos` ends past its
// closing quote. Errors ("expected a string", "unterminated string": end of
// text or of line first, "bad escape in string") leave `pos` at the fault,
// for the caller to name the line and column.
Expected<std::string> readQuoted(const std::string &text, size_t &pos);

} // namespace ember

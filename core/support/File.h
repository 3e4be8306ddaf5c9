// Reading files: the one way Ember's libraries, tools and tests open a file
// to read it. Errors are values naming the path (ErrorCode::Io): a missing
// file, a directory, a file larger than the caller allows, a short read.
#pragma once

#include "support/Error.h"

#include <cstdint>
#include <string>

namespace ember {

// The whole file, at most maxBytes of it (a larger file is an error, so a
// hostile path cannot make Ember allocate without bound). Reads to the end
// of the file, so files whose size the file system does not know (/proc,
// pipes) read whole too.
Expected<std::string> readFileBytes(const std::string &path,
                                    uint64_t maxBytes = uint64_t(4) << 30);

// The size of a regular file.
Expected<uint64_t> fileSize(const std::string &path);

// `length` bytes of `path` from byte `offset` (an error when the file ends
// before offset + length).
Expected<std::string> readFileRange(const std::string &path, uint64_t offset,
                                    uint64_t length);

} // namespace ember

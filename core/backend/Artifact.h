// The framing of a serialized executable (artifact.proto): "EMBERART", a
// little-endian uint32 header length, an ArtifactHeader, then the plugin's
// payload. Plugins built in-tree use these to write and read artifacts; the
// host uses readArtifactHeader to name the plugin that made an artifact and
// check it before handing it to executable_load.
#pragma once

#include "support/Error.h"

#include "ember/backend/v1/artifact.pb.h"

#include <cstdint>
#include <string>

namespace ember::backend {

constexpr char kArtifactMagic[8] = {'E', 'M', 'B', 'E', 'R', 'A', 'R', 'T'};

// FNV-1a, 64 bit: the payload checksum.
uint64_t fnv1a64(const void *data, size_t size);

// Fills payload_size and payload_checksum of `header` and frames it.
std::string writeArtifact(v1::ArtifactHeader header,
                          const std::string &payload);

struct ParsedArtifact {
  v1::ArtifactHeader header;
  std::string payload;
};
// Checks magic, lengths, schema version and checksum; errors say which.
Expected<ParsedArtifact> readArtifact(const void *data, size_t size);

} // namespace ember::backend

#include "backend/Artifact.h"

#include <cstring>

namespace ember::backend {

uint64_t fnv1a64(const void *data, size_t size) {
  uint64_t h = 1469598103934665603ull;
  auto *p = static_cast<const uint8_t *>(data);
  for (size_t i = 0; i < size; ++i) {
    h ^= p[i];
    h *= 1099511628211ull;
  }
  return h;
}

std::string writeArtifact(v1::ArtifactHeader h, const std::string &payload) {
  h.set_payload_size(payload.size());
  h.set_payload_checksum(fnv1a64(payload.data(), payload.size()));
  std::string header = h.SerializeAsString();
  std::string bytes(kArtifactMagic, sizeof(kArtifactMagic));
  uint32_t len = uint32_t(header.size());
  for (int i = 0; i < 4; ++i)
    bytes.push_back(char((len >> (8 * i)) & 0xff));
  bytes += header;
  bytes += payload;
  return bytes;
}

Expected<ParsedArtifact> readArtifact(const void *data, size_t size) {
  auto *b = static_cast<const uint8_t *>(data);
  if (!data || size < 12 || std::memcmp(b, kArtifactMagic, 8) != 0)
    return invalid("not an Ember artifact (bad magic or shorter than 12 "
                   "bytes)");
  uint32_t len = uint32_t(b[8]) | uint32_t(b[9]) << 8 | uint32_t(b[10]) << 16 |
                 uint32_t(b[11]) << 24;
  if (len > size - 12)
    return invalid("artifact header length ", len, " exceeds the artifact (",
                   size, " bytes)");
  ParsedArtifact a;
  if (!a.header.ParseFromArray(b + 12, int(len)))
    return invalid("corrupt artifact header");
  if (a.header.schema_version() != 1)
    return invalid("artifact header schema version ", a.header.schema_version(),
                   " (this reads version 1)");
  size_t payload = size - 12 - len;
  if (a.header.payload_size() != payload)
    return invalid("artifact payload is ", payload, " bytes, its header says ",
                   a.header.payload_size(), " (truncated?)");
  if (a.header.payload_checksum() != fnv1a64(b + 12 + len, payload))
    return invalid("artifact payload checksum mismatch (corrupt)");
  a.payload.assign(reinterpret_cast<const char *>(b + 12 + len), payload);
  return a;
}

} // namespace ember::backend

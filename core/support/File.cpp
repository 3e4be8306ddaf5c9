#include "support/File.h"

#include <fstream>
#include <sys/stat.h>

namespace ember {

namespace {

// Why `path` cannot be read as a file, or "" when it can be opened.
std::string notAFile(const std::string &path, struct stat &st) {
  if (stat(path.c_str(), &st) != 0)
    return "cannot open '" + path + "'";
  if (S_ISDIR(st.st_mode))
    return "'" + path + "' is a directory";
  return "";
}

} // namespace

Expected<std::string> readFileBytes(const std::string &path,
                                    uint64_t maxBytes) {
  struct stat st;
  std::string why = notAFile(path, st);
  if (!why.empty())
    return makeError(ErrorCode::Io, why);
  if (uint64_t(st.st_size) > maxBytes)
    return makeError(ErrorCode::Io, "'", path, "' is too large");
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return makeError(ErrorCode::Io, "cannot open '", path, "'");
  std::string s;
  s.reserve(size_t(st.st_size));
  char buf[1 << 16];
  while (in) {
    in.read(buf, sizeof buf);
    std::streamsize got = in.gcount();
    if (got <= 0)
      break;
    if (s.size() + uint64_t(got) > maxBytes)
      return makeError(ErrorCode::Io, "'", path, "' is too large");
    s.append(buf, size_t(got));
  }
  if (in.bad())
    return makeError(ErrorCode::Io, "cannot read '", path, "'");
  return s;
}

Expected<uint64_t> fileSize(const std::string &path) {
  struct stat st;
  std::string why = notAFile(path, st);
  if (!why.empty())
    return makeError(ErrorCode::Io, why);
  return uint64_t(st.st_size);
}

Expected<std::string> readFileRange(const std::string &path, uint64_t offset,
                                    uint64_t length) {
  EMBER_ASSIGN(uint64_t size, fileSize(path));
  if (offset > size || size - offset < length)
    return makeError(ErrorCode::Io, "[", offset, ", +", length,
                     ") is beyond the end of '", path, "' (", size, " bytes)");
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return makeError(ErrorCode::Io, "cannot open '", path, "'");
  std::string buf(size_t(length), '\0');
  in.seekg(std::streamoff(offset));
  if (length)
    in.read(&buf[0], std::streamsize(length));
  if (!in)
    return makeError(ErrorCode::Io, "cannot read '", path, "'");
  return buf;
}

} // namespace ember

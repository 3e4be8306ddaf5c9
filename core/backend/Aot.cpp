#include "backend/Aot.h"

#include "backend/Artifact.h"
#include "backend/LayerPath.h"
#include "backend/Partitioner.h"
#include "backend/ProgramProto.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sys/stat.h>

namespace ember::backend {

Expected<std::string> compileAhead(Plugin &p, const Function &f,
                                   const CompileOptions &o) {
  EMBER_ASSIGN(Support s, querySupport(p, f, &o));
  long bad = s.firstUnsupported();
  if (bad >= 0)
    return unsupported(p.describe(), " cannot compile ",
                       computeNodes(f)[size_t(bad)]->describe(),
                       " ahead of time: ", s.reasons[size_t(bad)],
                       " (an artifact has no fallback)");
  // The program compileOnPlugin decides (LayerPath.h): scheduled on the
  // host for a plugin that takes scheduled programs, else the graph.
  EMBER_ASSIGN(Executable exe, compileOnPlugin(p, nullptr, f, o));
  return p.serialize(exe);
}

Status writeFileBytes(const std::string &path, const std::string &bytes) {
  std::ofstream os(path, std::ios::binary);
  os.write(bytes.data(), std::streamsize(bytes.size()));
  if (!os)
    return makeError(ErrorCode::Io, "cannot write '", path, "'");
  return Status::ok();
}

Status writeBundle(const std::string &artifact, const std::string &dir) {
  EMBER_ASSIGN(ParsedArtifact a,
               readArtifact(artifact.data(), artifact.size()));
  if (a.header.files_size() == 0)
    return unsupported("plugin '", a.header.plugin_name(),
                       "' wrote an artifact without bundle files (use "
                       "--emit=artifact)");
  if (mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST)
    return makeError(ErrorCode::Io, "cannot create '", dir,
                     "': ", std::strerror(errno));
  for (auto &f : a.header.files()) {
    const std::string &n = f.name();
    if (n.empty() || n[0] == '.' || n.find('/') != std::string::npos ||
        n.size() > 255)
      return makeError(ErrorCode::Backend, "bundle file name '", n,
                       "' is not a plain file name");
    if (f.offset() > a.payload.size() ||
        f.size() > a.payload.size() - f.offset())
      return makeError(ErrorCode::Backend, "bundle file '", n,
                       "' lies outside the artifact's payload");
    EMBER_TRY(
        writeFileBytes(dir + "/" + n, a.payload.substr(f.offset(), f.size())));
    std::printf("%s/%s %llu bytes\n", dir.c_str(), n.c_str(),
                static_cast<unsigned long long>(f.size()));
  }
  // What it needs on its device, when the plugin says (the contract's last
  // line of `ember compile --emit=bundle`).
  if (a.header.has_footprint()) {
    const auto &fp = a.header.footprint();
    std::printf("bundle: flash_code=%llu flash_weights=%llu ram_arena=%llu "
                "ram_state=%llu\n",
                static_cast<unsigned long long>(fp.flash_code()),
                static_cast<unsigned long long>(fp.flash_weights()),
                static_cast<unsigned long long>(fp.ram_arena()),
                static_cast<unsigned long long>(fp.ram_state()));
  }
  return Status::ok();
}

} // namespace ember::backend

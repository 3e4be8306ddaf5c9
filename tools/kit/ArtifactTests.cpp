// The artifact layer, for plugins with executable_serialize and
// executable_load: the framing and header (plugin name, ABI, I/O
// signature), reload in this process and in a fresh one with the same
// results, and refusal of corrupted, truncated and foreign artifacts.
#include "KitInternal.h"

#include "backend/Artifact.h"
#include "backend/LayerPath.h"
#include "backend/ProgramProto.h"

namespace ember::kit {
namespace {

#define KIT_REQUIRE_ARTIFACTS()                                                \
  do {                                                                         \
    if (!state().probe) {                                                      \
      GTEST_SKIP() << state().noProbe;                                         \
    }                                                                          \
  } while (0)

Expected<std::string> probeArtifact() {
  KitState &s = state();
  EMBER_ASSIGN(backend::Device * d, pluginDevice());
  EMBER_ASSIGN(backend::Executable x,
               compileGraph(*s.plugin, d, s.probe->sample.fn()));
  return s.plugin->serialize(x);
}

void header() {
  KIT_REQUIRE_ARTIFACTS();
  KitState &s = state();
  KIT_ASSIGN(std::string art, probeArtifact());
  KIT_ASSIGN(backend::ParsedArtifact a,
             backend::readArtifact(art.data(), art.size()));
  const v1::ArtifactHeader &h = a.header;
  EXPECT_EQ(h.plugin_name(), s.plugin->name()) << "ArtifactHeader.plugin_name";
  EXPECT_EQ(h.plugin_version(), s.plugin->version())
      << "ArtifactHeader.plugin_version";
  EXPECT_EQ(h.abi_major(), s.plugin->abiMajor()) << "ArtifactHeader.abi_major";
  // The kind Ember sent (LayerPath.h): a scheduled program to a plugin
  // that takes them, else the graph.
  KIT_ASSIGN(std::optional<accel::Target> route,
             backend::hostLayerTarget(*s.plugin));
  EXPECT_EQ(h.program_kind(),
            uint32_t(route ? EMBER_PROGRAM_LAYERS : EMBER_PROGRAM_GRAPH))
      << "ArtifactHeader.program_kind";
  const Function &f = s.probe->sample.fn();
  ASSERT_EQ(size_t(h.inputs_size()), f.params().size()) << "inputs";
  ASSERT_EQ(size_t(h.outputs_size()), f.outputs().size()) << "outputs";
  for (int i = 0; i < h.inputs_size(); ++i) {
    KIT_ASSIGN(Type t, backend::fromProto(h.inputs(i)));
    EXPECT_EQ(t, f.params()[size_t(i)]->types[0]) << "input " << i;
  }
  for (int i = 0; i < h.outputs_size(); ++i) {
    KIT_ASSIGN(Type t, backend::fromProto(h.outputs(i)));
    EXPECT_EQ(t, f.outputs()[size_t(i)].value.type()) << "output " << i;
  }
  if (h.input_names_size()) {
    EXPECT_EQ(size_t(h.input_names_size()), f.params().size());
  }
  if (h.output_names_size()) {
    EXPECT_EQ(size_t(h.output_names_size()), f.outputs().size());
  }
  // Deterministic: serializing again gives the same bytes.
  KIT_ASSIGN(std::string again, probeArtifact());
  KIT_CHECK(again == art) << "two serializations of one program differ";
}

void reloadSameProcess() {
  KIT_REQUIRE_ARTIFACTS();
  KitState &s = state();
  KIT_ASSIGN(std::string art, probeArtifact());
  KIT_ASSIGN(backend::Device * d, pluginDevice());
  KIT_ASSIGN(backend::Executable x, s.plugin->loadArtifact(d, art));
  KIT_ASSIGN(auto got, runExecutable(*s.plugin, *d, x, s.probe->sample.inputs,
                                     outputTypes(s.probe->sample.fn())));
  std::string why =
      compareOutputs(got, s.probe->expected, s.config.rtol, s.config.atol);
  KIT_CHECK(why.empty()) << "after executable_load: " << why;
}

void reloadFreshProcess() {
  KIT_REQUIRE_ARTIFACTS();
  KitState &s = state();
  KIT_ASSIGN(std::string art, probeArtifact());
  ChildRun r = runFresh({{"mode", "artifact"},
                         {"plugin", s.config.pluginPath},
                         {"artifact", "artifact.bin"}},
                        {{"artifact.bin", art}}, s.probe->sample.inputs);
  KIT_REQUIRE(r.ok()) << "loading the artifact in a fresh process: "
                      << r.describe();
  std::string why = compareOutputs(r.outputs, s.probe->expected, s.config.rtol,
                                   s.config.atol);
  KIT_CHECK(why.empty()) << "loaded in a fresh process: " << why;
}

void rejectsCorrupt() {
  KIT_REQUIRE_ARTIFACTS();
  KitState &s = state();
  KIT_ASSIGN(std::string art, probeArtifact());
  KIT_ASSIGN(backend::Device * d, pluginDevice());
  auto hdr = backend::readArtifact(art.data(), art.size());
  KIT_REQUIRE(hdr.hasValue()) << hdr.status().message();
  size_t payloadStart = art.size() - hdr->payload.size();
  std::vector<std::pair<std::string, std::string>> cases;
  std::string magic = art;
  magic[0] ^= 0x20;
  cases.push_back({"a flipped byte in the magic", magic});
  if (!hdr->payload.empty()) {
    std::string flip = art;
    flip[payloadStart + hdr->payload.size() / 2] ^= 0x5a;
    cases.push_back({"a flipped byte in the payload", flip});
    cases.push_back({"the last byte cut off", art.substr(0, art.size() - 1)});
  }
  cases.push_back({"half of it", art.substr(0, art.size() / 2)});
  cases.push_back({"12 bytes", art.substr(0, 12)});
  cases.push_back({"no bytes", std::string()});
  for (auto &[what, bytes] : cases) {
    auto x = s.plugin->loadArtifact(d, bytes);
    KIT_CHECK(!(x.hasValue()))
        << "executable_load accepted an artifact with " << what;
  }
}

void rejectsForeign() {
  KIT_REQUIRE_ARTIFACTS();
  KitState &s = state();
  KIT_ASSIGN(std::string art, probeArtifact());
  KIT_ASSIGN(backend::ParsedArtifact a,
             backend::readArtifact(art.data(), art.size()));
  a.header.set_plugin_name("not-" + s.plugin->name());
  std::string foreign = backend::writeArtifact(a.header, a.payload);
  KIT_ASSIGN(backend::Device * d, pluginDevice());
  auto x = s.plugin->loadArtifact(d, foreign);
  KIT_CHECK(!(x.hasValue()))
      << "executable_load accepted an artifact whose header names plugin '"
      << a.header.plugin_name() << "'";
}

} // namespace

void registerArtifactTests() {
  KitState &s = state();
  const ember_plugin_api &a = s.plugin->api();
  if (!a.executable_serialize || !a.executable_load) {
    addTest("Artifact", "Serialize", [] {
      GTEST_SKIP() << "executable_serialize/executable_load are not "
                      "implemented (NULL)";
    });
    return;
  }
  addTest("Artifact", "Header", header);
  addTest("Artifact", "ReloadSameProcess", reloadSameProcess);
  addTest("Artifact", "ReloadFreshProcess", reloadFreshProcess);
  addTest("Artifact", "RejectsCorrupt", rejectsCorrupt);
  addTest("Artifact", "RejectsForeign", rejectsForeign);
}

} // namespace ember::kit

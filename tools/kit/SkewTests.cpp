// The version skew layer: the plugin in hosts of other ABI versions (each
// in a fresh process: a 1.0 host, a newer-minor host with a larger table,
// a major-2 host it must refuse), and how this host reads the plugin's
// table when the plugin was built against an older or newer minor.
#include "KitInternal.h"

#include "backend/ProgramProto.h"

#include "ember/backend/v1/runtime.pb.h"

namespace ember::kit {
namespace {

ChildRun loadAs(unsigned major, unsigned minor, size_t tableSize) {
  KitState &s = state();
  std::map<std::string, std::string> req = {
      {"mode", "load"},
      {"plugin", s.config.pluginPath},
      {"host_abi_major", std::to_string(major)},
      {"host_abi_minor", std::to_string(minor)},
      {"host_table_size", std::to_string(tableSize)},
      {"capabilities", "1"}};
  std::map<std::string, std::string> files;
  std::vector<Tensor> inputs;
  if (s.probe) {
    auto g = backend::serializeGraph(s.probe->sample.fn());
    if (g) {
      files["program.bin"] = *g;
      req["program"] = "program.bin";
      inputs = s.probe->sample.inputs;
    }
  }
  return runFresh(req, files, inputs);
}

void expectRuns(unsigned major, unsigned minor, size_t tableSize) {
  ChildRun r = loadAs(major, minor, tableSize);
  KIT_REQUIRE(r.ok()) << "in a host presenting ABI " << major << "." << minor
                      << " (host table of " << tableSize
                      << " bytes): " << r.describe();
  EXPECT_EQ(r.reply["capabilities"], "ok") << r.reply["capabilities_error"];
  KitState &s = state();
  if (!s.probe) {
    note("loaded; no program to run (" + s.noProbe + ")");
    return;
  }
  std::string why = compareOutputs(r.outputs, s.probe->expected, s.config.rtol,
                                   s.config.atol);
  KIT_CHECK(why.empty()) << s.probe->label << " in a host presenting ABI "
                         << major << "." << minor << ": " << why;
}

void pluginTable() {
  KitState &s = state();
  backend::Plugin &p = *s.plugin;
  size_t size = p.api().struct_size;
  note(concat("plugin ABI ", p.abiMajor(), ".", p.abiMinor(), " (table ", size,
              " bytes) in host ABI ", EMBER_ABI_VERSION_MAJOR, ".",
              EMBER_ABI_VERSION_MINOR, " (table ", sizeof(ember_plugin_api),
              " bytes)"));
  if (!EMBER_HAS_FIELD(ember_plugin_api, &p.api(), executable_signature)) {
    // An older plugin: the 1.1 field is absent and reads as NULL.
    EXPECT_EQ(p.api().executable_signature, nullptr);
    backend::Executable none;
    Status st = p.signature(none).status();
    EXPECT_EQ(st.code(), ErrorCode::Unsupported) << st.message();
    note("older plugin: executable_signature (ABI 1.1) is absent and reads "
         "as NULL");
  }
  if (!EMBER_HAS_FIELD(ember_plugin_api, &p.api(), buffer_import_host)) {
    // Older than 1.2: the host copies inputs and outputs.
    EXPECT_EQ(p.api().buffer_import_host, nullptr);
    note("older plugin: buffer_import_host (ABI 1.2) is absent and reads as "
         "NULL; the host copies");
  }
  if (!EMBER_HAS_FIELD(ember_plugin_api, &p.api(), estimate_cost)) {
    // Older than 1.4: the runtime's questions are the host's to answer.
    EXPECT_EQ(p.api().device_describe, nullptr);
    EXPECT_EQ(p.api().estimate_cost, nullptr);
    Status st = p.describeDevice(0, "").status();
    EXPECT_EQ(st.code(), ErrorCode::Unsupported) << st.message();
    note("older plugin: device_describe and estimate_cost (ABI 1.4) are "
         "absent and read as NULL; the host describes and estimates");
  }
  if (p.abiMinor() > EMBER_ABI_VERSION_MINOR)
    note(concat("newer plugin: this host uses the first ",
                sizeof(ember_plugin_api), " bytes of its table"));
}

} // namespace

void registerSkewTests() {
  addTest("Skew", "HostAbi1_0",
          [] { expectRuns(1, 0, sizeof(ember_host_api)); });
  addTest("Skew", "HostNewerMinor",
          [] { expectRuns(1, 9, sizeof(ember_host_api) + 48); });
  addTest("Skew", "HostOtherMajor", [] {
    ChildRun r = loadAs(2, 0, sizeof(ember_host_api));
    KIT_REQUIRE(r.signal == 0 && r.exitStatus != 70) << r.describe();
    KIT_CHECK(!(r.ok())) << "the plugin accepted a host of ABI 2.0; a plugin "
                            "must refuse a host of another major version";
    if (!r.ok())
      note("refused: " + r.reply["error"]);
  });
  addTest("Skew", "PluginTable", pluginTable);
}

} // namespace ember::kit

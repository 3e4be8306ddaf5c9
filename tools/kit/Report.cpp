// Results: a gtest listener that records each test (and streams progress
// to ember-kit's supervisor), and the JSON and JUnit XML reports, stamped
// with the plugin's name, version and ABI version and the host's.
#include "KitInternal.h"
#include "support/Json.h"
#include "support/Xml.h"

#include <chrono>
#include <cstdio>
#include <fstream>
#include <unistd.h>

#ifndef EMBER_VERSION
#define EMBER_VERSION "0.0.0"
#endif

namespace ember::kit {

int gProgressFd = -1;

std::string layerOf(const std::string &testName) {
  std::string suite = testName.substr(0, testName.find('.'));
  std::string l;
  for (char c : suite)
    l += char(std::tolower(static_cast<unsigned char>(c)));
  return l;
}

RunStamp currentStamp() {
  KitState &s = state();
  RunStamp st;
  auto &f = st.fields;
  f["plugin_path"] = s.config.pluginPath;
  f["host_name"] = "ember";
  f["host_version"] = EMBER_VERSION;
  f["host_abi"] = concat(EMBER_ABI_VERSION_MAJOR, ".", EMBER_ABI_VERSION_MINOR);
  if (s.plugin) {
    f["plugin_name"] = s.plugin->name();
    f["plugin_version"] = s.plugin->version();
    f["plugin_abi"] = concat(s.plugin->abiMajor(), ".", s.plugin->abiMinor());
    std::string missing;
    for (const char *fn :
         {"plugin_init", "plugin_shutdown", "query_support", "device_count",
          "device_open", "device_close", "buffer_allocate", "buffer_release",
          "buffer_write", "buffer_read", "executable_compile",
          "executable_serialize", "executable_load", "executable_release",
          "execute", "event_wait", "event_release", "executable_signature"})
      if (!implemented(*s.plugin, fn))
        missing += std::string(missing.empty() ? "" : ",") + fn;
    f["unimplemented"] = missing;
  } else {
    f["load_error"] = s.loadError;
  }
  f["reference"] = s.referenceName;
  if (s.haveManifest)
    f["manifest_ops"] = std::to_string(s.manifest.ops_size());
  f["rtol"] = concat(s.config.rtol);
  f["atol"] = concat(s.config.atol);
  f["seed"] = std::to_string(s.config.seed);
  std::string layers;
  for (auto &l : layerNames())
    if (s.config.layers.empty() || s.config.layers.count(l))
      layers += std::string(layers.empty() ? "" : ",") + l;
  f["layers"] = layers;
  return st;
}

namespace {

std::string xml(const std::string &s) { return ember::xmlEscape(s); }

struct Counts {
  size_t passed = 0, failed = 0, skipped = 0, notrun = 0;
  void add(const std::string &status) {
    if (status == "passed")
      ++passed;
    else if (status == "skipped")
      ++skipped;
    else if (status == "notrun")
      ++notrun;
    else
      ++failed;
  }
  size_t total() const { return passed + failed + skipped + notrun; }
  std::string json() const {
    return concat("{\"passed\": ", passed, ", \"failed\": ", failed,
                  ", \"skipped\": ", skipped, ", \"notrun\": ", notrun,
                  ", \"total\": ", total(), "}");
  }
};

std::string field(const RunStamp &s, const char *k) {
  auto it = s.fields.find(k);
  return it == s.fields.end() ? std::string() : it->second;
}

// "1.1" -> major, minor as JSON numbers.
std::string abiJson(const std::string &v) {
  size_t dot = v.find('.');
  if (v.empty() || dot == std::string::npos)
    return "null";
  return concat("{\"major\": ", std::stoul(v.substr(0, dot)),
                ", \"minor\": ", std::stoul(v.substr(dot + 1)), "}");
}

std::string listJson(const std::string &commaList) {
  std::string r = "[";
  size_t start = 0;
  bool first = true;
  while (start < commaList.size()) {
    size_t end = commaList.find(',', start);
    if (end == std::string::npos)
      end = commaList.size();
    r += (first ? "" : ", ") + jsonQuote(commaList.substr(start, end - start));
    first = false;
    start = end + 1;
  }
  return r + "]";
}

} // namespace

Status writeJsonReport(const std::string &path, const RunStamp &st,
                       const std::vector<TestRecord> &tests) {
  Counts all;
  std::map<std::string, Counts> layers;
  for (auto &l : layerNames())
    layers[l];
  for (auto &t : tests) {
    all.add(t.status);
    layers[layerOf(t.name)].add(t.status);
  }
  std::ofstream o(path);
  if (!o)
    return makeError(ErrorCode::Io, "cannot write ", path);
  o << "{\n  \"kit\": \"ember-kit\",\n  \"report_version\": 1,\n";
  o << "  \"plugin\": {\"path\": " << jsonQuote(field(st, "plugin_path"))
    << ", \"name\": " << jsonQuote(field(st, "plugin_name"))
    << ", \"version\": " << jsonQuote(field(st, "plugin_version"))
    << ", \"abi\": " << abiJson(field(st, "plugin_abi"))
    << ", \"abi_version\": " << jsonQuote(field(st, "plugin_abi"))
    << ", \"unimplemented\": " << listJson(field(st, "unimplemented"));
  if (!field(st, "load_error").empty())
    o << ", \"load_error\": " << jsonQuote(field(st, "load_error"));
  o << "},\n";
  o << "  \"host\": {\"name\": " << jsonQuote(field(st, "host_name"))
    << ", \"version\": " << jsonQuote(field(st, "host_version"))
    << ", \"abi\": " << abiJson(field(st, "host_abi"))
    << ", \"abi_version\": " << jsonQuote(field(st, "host_abi")) << "},\n";
  o << "  \"reference\": " << jsonQuote(field(st, "reference")) << ",\n";
  o << "  \"config\": {\"rtol\": " << jsonQuote(field(st, "rtol"))
    << ", \"atol\": " << jsonQuote(field(st, "atol"))
    << ", \"seed\": " << jsonQuote(field(st, "seed"))
    << ", \"layers\": " << listJson(field(st, "layers")) << "},\n";
  o << "  \"summary\": " << all.json() << ",\n  \"layers\": {";
  bool first = true;
  for (auto &[name, c] : layers) {
    o << (first ? "\n" : ",\n") << "    " << jsonQuote(name) << ": "
      << c.json();
    first = false;
  }
  o << "\n  },\n  \"tests\": [";
  first = true;
  for (auto &t : tests) {
    o << (first ? "\n" : ",\n") << "    {\"name\": " << jsonQuote(t.name)
      << ", \"layer\": " << jsonQuote(layerOf(t.name))
      << ", \"status\": " << jsonQuote(t.status)
      << ", \"seconds\": " << concat(t.seconds)
      << ", \"message\": " << jsonQuote(t.message) << "}";
    first = false;
  }
  o << "\n  ]\n}\n";
  return o ? Status::ok() : makeError(ErrorCode::Io, "cannot write ", path);
}

Status writeJUnitReport(const std::string &path, const RunStamp &st,
                        const std::vector<TestRecord> &tests) {
  std::map<std::string, std::vector<const TestRecord *>> suites;
  std::vector<std::string> order;
  Counts all;
  for (auto &t : tests) {
    std::string suite = t.name.substr(0, t.name.find('.'));
    if (!suites.count(suite))
      order.push_back(suite);
    suites[suite].push_back(&t);
    all.add(t.status);
  }
  std::ofstream o(path);
  if (!o)
    return makeError(ErrorCode::Io, "cannot write ", path);
  double total = 0;
  for (auto &t : tests)
    total += t.seconds;
  o << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    << "<testsuites name=\"ember-kit\" tests=\"" << all.total()
    << "\" failures=\"" << all.failed << "\" disabled=\"0\" errors=\"0\" "
    << "skipped=\"" << all.skipped + all.notrun << "\" time=\"" << total
    << "\">\n  <properties>\n";
  for (auto &[k, v] : st.fields)
    o << "    <property name=\"" << xml(k) << "\" value=\"" << xml(v)
      << "\"/>\n";
  o << "  </properties>\n";
  for (auto &suite : order) {
    Counts c;
    double secs = 0;
    for (auto *t : suites[suite]) {
      c.add(t->status);
      secs += t->seconds;
    }
    o << "  <testsuite name=\"" << xml(suite) << "\" tests=\"" << c.total()
      << "\" failures=\"" << c.failed << "\" disabled=\"0\" errors=\"0\" "
      << "skipped=\"" << c.skipped + c.notrun << "\" time=\"" << secs
      << "\">\n";
    for (auto *t : suites[suite]) {
      std::string name = t->name.substr(t->name.find('.') + 1);
      o << "    <testcase name=\"" << xml(name) << "\" classname=\""
        << xml(suite) << "\" time=\"" << t->seconds << "\" status=\""
        << (t->status == "notrun" ? "notrun" : "run") << "\"";
      if (t->status == "passed") {
        o << "/>\n";
        continue;
      }
      o << ">\n";
      if (t->status == "failed")
        o << "      <failure message=\"" << xml(t->message)
          << "\" type=\"\"/>\n";
      else
        o << "      <skipped message=\"" << xml(t->message) << "\"/>\n";
      o << "    </testcase>\n";
    }
    o << "  </testsuite>\n";
  }
  o << "</testsuites>\n";
  return o ? Status::ok() : makeError(ErrorCode::Io, "cannot write ", path);
}

namespace {

std::string oneLine(const std::string &s) {
  std::string r;
  for (char c : s) {
    if (c == '\n')
      r += "\\n";
    else if (c == '\\')
      r += "\\\\";
    else if (c == '\t')
      r += ' ';
    else
      r += c;
  }
  return r;
}

class Recorder : public testing::EmptyTestEventListener {
public:
  Recorder(int fd, std::string json) : fd_(fd), json_(std::move(json)) {}

  void OnTestProgramStart(const testing::UnitTest &u) override {
    for (auto &[k, v] : currentStamp().fields)
      emit("stamp\t" + k + "\t" + oneLine(v));
    for (int i = 0; i < u.total_test_suite_count(); ++i) {
      const testing::TestSuite *s = u.GetTestSuite(i);
      for (int j = 0; j < s->total_test_count(); ++j) {
        const testing::TestInfo *t = s->GetTestInfo(j);
        if (t->should_run())
          emit(std::string("plan\t") + s->name() + "." + t->name());
      }
    }
  }
  void OnTestStart(const testing::TestInfo &t) override {
    state().notes.clear();
    emit(std::string("start\t") + t.test_suite_name() + "." + t.name());
  }
  void OnTestEnd(const testing::TestInfo &t) override {
    const testing::TestResult &r = *t.result();
    TestRecord rec;
    rec.name = std::string(t.test_suite_name()) + "." + t.name();
    rec.status = r.Failed() ? "failed" : r.Skipped() ? "skipped" : "passed";
    rec.seconds = double(r.elapsed_time()) / 1000.0;
    for (int i = 0; i < r.total_part_count(); ++i) {
      const testing::TestPartResult &p = r.GetTestPartResult(i);
      std::string m = p.message();
      if (m.rfind("Skipped\n", 0) == 0)
        m = m.substr(8);
      if (m.rfind("Failed\n", 0) == 0)
        m = m.substr(7);
      if (m.empty())
        continue;
      if (!rec.message.empty())
        rec.message += "\n";
      rec.message += m;
    }
    if (rec.status == "passed")
      rec.message = state().notes;
    emit("end\t" + rec.name + "\t" + rec.status + "\t" + concat(rec.seconds) +
         "\t" + oneLine(rec.message));
    records_.push_back(std::move(rec));
  }
  void OnTestProgramEnd(const testing::UnitTest &) override {
    if (!json_.empty()) {
      Status s = writeJsonReport(json_, currentStamp(), records_);
      if (!s.isOk())
        std::fprintf(stderr, "error: %s\n", s.message().c_str());
    }
    // Release handles and shut the plugin down while everything is alive.
    KitState &st = state();
    st.probe.reset();
    st.device = backend::Device();
    st.refDevice = backend::Device();
    st.reference.reset();
    st.plugin.reset();
  }

private:
  void emit(const std::string &line) {
    if (fd_ < 0)
      return;
    std::string l = line + "\n";
    const char *p = l.data();
    size_t n = l.size();
    while (n) {
      ssize_t w = ::write(fd_, p, n);
      if (w <= 0)
        return;
      p += w;
      n -= size_t(w);
    }
  }
  int fd_;
  std::string json_;
  std::vector<TestRecord> records_;
};

} // namespace

void installRecorder(int progressFd, const std::string &jsonPath) {
  testing::UnitTest::GetInstance()->listeners().Append(
      new Recorder(progressFd, jsonPath));
}

} // namespace ember::kit

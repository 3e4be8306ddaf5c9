// `ember-kit`: argument parsing and the supervisor. The tests run in a
// worker process (this executable again, with --kit-worker) that streams
// its progress through a pipe; when the plugin crashes, the supervisor
// fails the test that was running with the crash report and restarts the
// worker on the remaining tests. It writes the JSON and JUnit reports.
#include "KitInternal.h"

#include "ember/CommandLine.h"
#include "support/File.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <climits>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <iomanip>
#include <optional>
#include <poll.h>
#include <sstream>
#include <sys/wait.h>
#include <unistd.h>

namespace ember::kit {
namespace {

// After this many crashes or hangs that ended a worker, the remaining tests
// are not run.
const int kMaxCrashes = 5;

struct Options {
  KitConfig config;
  std::string junit;
  bool noFork = false, verbose = false;
  int workerFd = -1;
  std::string excludeFile;
  // Hangs of earlier workers, for a restarted one (--kit-hangs=N,
  // --kit-longest=SEC, --kit-first-hang=TEXT).
  int hangs = 0;
  double longest = 0;
  std::string firstHang;
  std::vector<std::string> kitArgs;   // passed on to the worker
  std::vector<std::string> gtestArgs; // passed on to gtest
};

bool startsWith(const std::string &s, const char *p) {
  return s.rfind(p, 0) == 0;
}

std::string formatReal(double v) {
  std::ostringstream os;
  os << std::setprecision(17) << v;
  return os.str();
}

// Parses ember-kit's arguments through the option layer of Ember's tools
// (tools/cmdline: one parser, one --help, one error form). Returns nothing
// when the kit should run, else the exit status: 0 after --help, 2 after a
// usage error (printed).
std::optional<int> parse(int argc, char **argv, Options &o) {
  using namespace ember::cmdline;
  Command cmd(
      "ember-kit", "--plugin=PATH.so [options] [--gtest_* flags]",
      "Runs the Ember backend conformance kit on a plugin, layer by layer "
      "(share/doc/ember/kit.md, tools/kit/README.md in the sources).");
  KitConfig &c = o.config;
  std::string target, layers;
  double timeout = c.timeoutSec;
  cmd.add({"--plugin"}, "PATH.so", "The plugin under test.",
          text(c.pluginPath));
  cmd.add({"--target"}, "plugin:PATH.so", "The same, as ember names it.",
          [&target](const std::string &v) -> std::string {
            if (!startsWith(v, "plugin:") || v.size() == 7)
              return "expected plugin:PATH.so";
            target = v.substr(7);
            return "";
          });
  cmd.add({"--reference"}, "PATH.so",
          "The oracle. Default: lib/ember/libember_interp.so beside bin/, "
          "else the in-process interpreter.",
          text(c.referencePath));
  cmd.add({"--layers"}, "L,...",
          "Only these of abi, api, capability, lir, artifact, skew. "
          "Default: all.",
          [&c](const std::string &v) -> std::string {
            std::set<std::string> picked;
            size_t start = 0;
            while (start <= v.size()) {
              size_t end = std::min(v.find(',', start), v.size());
              std::string l = v.substr(start, end - start);
              if (std::find(layerNames().begin(), layerNames().end(), l) ==
                  layerNames().end())
                return "unknown layer '" + l +
                       "' (expected abi, api, capability, lir, artifact or "
                       "skew)";
              picked.insert(l);
              start = end + 1;
            }
            c.layers = picked;
            return "";
          });
  cmd.add({"--op-library"}, "PATH.so",
          "An op library whose custom ops the plugin claims or runs "
          "(docs/custom-ops.md); repeatable. The capability layer checks "
          "each op's reference kernel and runs the claimed ones.",
          [&c](const std::string &v) -> std::string {
            c.opLibraries.push_back(v);
            return "";
          })
      .setRepeatable();
  cmd.add({"--json"}, "FILE", "A JSON report.", text(c.jsonPath));
  cmd.add({"--junit"}, "FILE", "A JUnit XML report.", text(o.junit));
  cmd.add({"--rtol"}, "R",
          "Relative float tolerance. Default: 0.0001 (wider for f16, bf16 "
          "and long sums).",
          realIn(c.rtol, 0, 1e6));
  cmd.add({"--atol"}, "A", "Absolute float tolerance. Default: 1e-05.",
          realIn(c.atol, 0, 1e18));
  cmd.add({"--timeout"}, "SEC",
          "How long an execution or a call may take, in seconds, 1 to "
          "86400 (a fraction counts as a whole second). Default: 60; after "
          "a hang the kit waits less.",
          realIn(timeout, 1, 86400));
  cmd.add({"--cases"}, "N",
          "Cases per claim (op, dtype), 1 to 10000. Default: 6.",
          uintIn(c.casesPerClaim, 1, 10000));
  cmd.add({"--seed"}, "N", "Seed of the cases and inputs. Default: 1.",
          uintIn(c.seed, 0, UINT32_MAX));
  cmd.add({"--verbose"}, "", "gtest's output and what each passing test found.",
          set(o.verbose));
  cmd.add({"--no-fork"}, "", "Runs in this process (no crash recovery).",
          set(o.noFork));
  // The supervisor's arguments to a worker (this executable again).
  cmd.add({"--kit-worker"}, "FD", "", uintIn(o.workerFd, 0, 1 << 20))
      .setHidden();
  cmd.add({"--kit-exclude"}, "FILE", "", text(o.excludeFile)).setHidden();
  cmd.add({"--kit-hangs"}, "N", "", uintIn(o.hangs, 0, 1 << 20)).setHidden();
  cmd.add({"--kit-longest"}, "SEC", "", realIn(o.longest, 0, 1e9)).setHidden();
  cmd.add({"--kit-first-hang"}, "TEXT", "", text(o.firstHang, true))
      .setHidden();
  cmd.epilog("Flags starting with --gtest_ go to GoogleTest "
             "(--gtest_filter=Capability.MatMul*).\n"
             "Exit status: 0 nothing failed, 1 failures, 2 usage error, 70 "
             "the plugin crashed, 124 the plugin hung.");
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    (startsWith(a, "--gtest_") ? o.gtestArgs : args).push_back(a);
  }
  if (auto rc = cmd.parse(args))
    return *rc ? 2 : 0;
  if (!target.empty())
    c.pluginPath = target;
  if (c.pluginPath.empty()) {
    cmd.usageError("--plugin=PATH.so is required");
    return 2;
  }
  if (c.pluginPath.find('/') == std::string::npos)
    c.pluginPath = "./" + c.pluginPath;
  c.timeoutSec = int(std::ceil(timeout));
  // What a worker needs again (the reports, --no-fork and the kit-*
  // arguments are the supervisor's).
  o.kitArgs.push_back("--plugin=" + c.pluginPath);
  if (!c.referencePath.empty())
    o.kitArgs.push_back("--reference=" + c.referencePath);
  if (!c.layers.empty()) {
    std::string l;
    for (const std::string &x : c.layers)
      l += (l.empty() ? "" : ",") + x;
    o.kitArgs.push_back("--layers=" + l);
  }
  for (const std::string &l : c.opLibraries)
    o.kitArgs.push_back("--op-library=" + l);
  o.kitArgs.push_back("--rtol=" + formatReal(c.rtol));
  o.kitArgs.push_back("--atol=" + formatReal(c.atol));
  o.kitArgs.push_back("--timeout=" + std::to_string(c.timeoutSec));
  o.kitArgs.push_back("--cases=" + std::to_string(c.casesPerClaim));
  o.kitArgs.push_back("--seed=" + std::to_string(c.seed));
  if (o.verbose)
    o.kitArgs.push_back("--verbose");
  return std::nullopt;
}

// Prints failures only (the supervisor prints the summary): the test's
// name and what it found, not where in the kit's sources the check is.
class FailurePrinter : public testing::EmptyTestEventListener {
  void OnTestEnd(const testing::TestInfo &t) override {
    const testing::TestResult &r = *t.result();
    if (!r.Failed())
      return;
    std::printf("[  FAILED  ] %s.%s\n", t.test_suite_name(), t.name());
    for (int i = 0; i < r.total_part_count(); ++i) {
      const testing::TestPartResult &p = r.GetTestPartResult(i);
      if (p.failed())
        std::printf("  %s\n", p.message());
    }
    std::fflush(stdout);
  }
};

// Runs gtest in this process.
int runTests(char *argv0, Options &o, bool brief) {
  std::vector<std::string> args = {argv0};
  o.config.verbose = o.verbose;
  for (auto &g : o.gtestArgs)
    args.push_back(g);
  if (o.noFork && !o.junit.empty())
    args.push_back("--gtest_output=xml:" + o.junit);
  std::vector<char *> av;
  for (auto &a : args)
    av.push_back(const_cast<char *>(a.c_str()));
  av.push_back(nullptr);
  int ac = int(args.size());
  testing::InitGoogleTest(&ac, av.data());
  // A C++ exception thrown out of the plugin is a crash at the C ABI, as
  // in any host: terminate() and the crash report, not gtest's catch.
  GTEST_FLAG_SET(catch_exceptions, false);
  if (brief && !o.verbose) {
    auto &ls = testing::UnitTest::GetInstance()->listeners();
    delete ls.Release(ls.default_result_printer());
    ls.Append(new FailurePrinter);
  }
  // Hangs so far decide how long this worker waits (waitSeconds()); any
  // plugin call gets as long before the host's watchdog reports it.
  KitState &s = state();
  s.hangs = o.hangs;
  s.firstHang = o.firstHang;
  s.longestExecution = o.longest;
  s.waitSec = o.hangs ? std::max(1.0, 4 * o.longest) : 0;
  s.config.timeoutSec = o.config.timeoutSec;
  backend::setCallTimeout(waitSeconds());
  registerKitTests(o.config);
  return RUN_ALL_TESTS();
}

std::string selfExe() {
  char buf[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  return n > 0 ? std::string(buf, size_t(n)) : std::string();
}

std::string unescapeLine(const std::string &s) {
  std::string r;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size()) {
      r += s[i + 1] == 'n' ? '\n' : s[i + 1];
      ++i;
    } else {
      r += s[i];
    }
  }
  return r;
}

std::vector<std::string> splitTabs(const std::string &s, size_t maxParts) {
  std::vector<std::string> v;
  size_t start = 0;
  while (v.size() + 1 < maxParts) {
    size_t t = s.find('\t', start);
    if (t == std::string::npos)
      break;
    v.push_back(s.substr(start, t - start));
    start = t + 1;
  }
  v.push_back(s.substr(start));
  return v;
}

class Supervisor {
public:
  Supervisor(Options &o, std::string argv0) : o_(o), argv0_(std::move(argv0)) {}

  int run() {
    int crashes = 0;
    for (;;) {
      Outcome r = runWorker();
      if (r.current.empty() && !r.abnormal)
        break;
      std::string report = crashReport(r);
      if (r.hang)
        noteHang(r.current.empty() ? std::string("loading") : r.current);
      if (!r.current.empty()) {
        ++crashes;
        crashed_ = crashed_ || r.crash;
        record(r.current, "failed", report, r.seconds);
        std::fprintf(stderr, "ember-kit: %s: %s\n", r.current.c_str(),
                     report.c_str());
        if (crashes >= kMaxCrashes) {
          for (auto &t : plan_)
            if (!done_.count(t))
              record(t, "notrun",
                     concat("not run: the plugin crashed or hung ", crashes,
                            " times"),
                     0);
          break;
        }
        continue;
      }
      // Ended abnormally between tests: while loading (before any test)
      // or while shutting down.
      crashed_ = crashed_ || r.crash;
      if (plan_.empty())
        record("Abi.Load", "failed",
               concat("the plugin crashed while loading: ", report), 0);
      else
        record("Abi.Shutdown", "failed",
               concat("the worker ended abnormally after its tests: ", report),
               0);
      break;
    }
    return finish();
  }

private:
  struct Outcome {
    std::string current; // the test running when the worker ended
    double seconds = 0;
    bool abnormal = false, crash = false, hang = false;
    int status = 0;
    std::string stderrTail;
  };

  void record(const std::string &name, const std::string &status,
              const std::string &msg, double secs) {
    if (!done_.count(name) && !planned_.count(name)) {
      plan_.push_back(name);
      planned_.insert(name);
    }
    done_[name] = TestRecord{name, status, msg, secs};
  }

  std::string crashReport(const Outcome &r) {
    // The host's own report ("plugin 'x' (path) crashed with SIGSEGV in
    // executable_compile"), else the last error line, else the status.
    std::string best, lastError;
    size_t pos = 0;
    const std::string &t = r.stderrTail;
    while (pos < t.size()) {
      size_t end = t.find('\n', pos);
      if (end == std::string::npos)
        end = t.size();
      std::string line = t.substr(pos, end - pos);
      if (line.find(" crashed with ") != std::string::npos ||
          line.find(" did not return from ") != std::string::npos)
        best = line;
      else if (startsWith(line, "error: "))
        lastError = line;
      pos = end + 1;
    }
    if (best.empty())
      best = lastError;
    if (!best.empty() && r.status != -2)
      return startsWith(best, "error: ") ? best.substr(7) : best;
    if (r.status == -2)
      return concat("timed out after ", testTimeout(), " s (killed)");
    if (r.status < 0)
      return concat("the worker was killed by signal ", -r.status);
    return concat("the worker exited with status ", r.status);
  }

  int testTimeout() const { return std::max(120, 4 * o_.config.timeoutSec); }

  Outcome runWorker() {
    Outcome out;
    char tmpl[] = "/tmp/ember-kit-exclude-XXXXXX";
    int xfd = mkstemp(tmpl);
    std::string excl = tmpl;
    {
      std::string s;
      for (auto &[name, rec] : done_)
        s += name + "\n";
      if (xfd >= 0) {
        ssize_t w = ::write(xfd, s.data(), s.size());
        (void)w;
        close(xfd);
      }
    }
    int prog[2], err[2];
    if (pipe(prog) != 0 || pipe(err) != 0) {
      out.abnormal = true;
      out.status = 1;
      return out;
    }
    fcntl(prog[0], F_SETFD, FD_CLOEXEC);
    fcntl(err[0], F_SETFD, FD_CLOEXEC);
    std::string exe = selfExe();
    std::vector<std::string> args = {argv0_};
    for (auto &a : o_.kitArgs)
      args.push_back(a);
    for (auto &a : o_.gtestArgs)
      args.push_back(a);
    args.push_back("--kit-worker=" + std::to_string(prog[1]));
    args.push_back("--kit-exclude=" + excl);
    if (hangs_) {
      args.push_back("--kit-hangs=" + std::to_string(hangs_));
      args.push_back(concat("--kit-longest=", longest_));
      args.push_back("--kit-first-hang=" + firstHang_);
    }
    std::vector<char *> av;
    for (auto &a : args)
      av.push_back(const_cast<char *>(a.c_str()));
    av.push_back(nullptr);
    std::fflush(stdout);
    std::fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
      dup2(err[1], 2);
      close(err[1]);
      close(prog[0]);
      close(err[0]);
      execv(exe.c_str(), av.data());
      _exit(127);
    }
    close(prog[1]);
    close(err[1]);
    std::string progBuf;
    bool progOpen = true, errOpen = true, killed = false;
    auto started = std::chrono::steady_clock::now();
    while (progOpen || errOpen) {
      pollfd fds[2] = {{progOpen ? prog[0] : -1, POLLIN, 0},
                       {errOpen ? err[0] : -1, POLLIN, 0}};
      poll(fds, 2, 200);
      char buf[8192];
      if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
        ssize_t r = read(prog[0], buf, sizeof buf);
        if (r <= 0) {
          progOpen = false;
        } else {
          progBuf.append(buf, size_t(r));
          size_t nl;
          while ((nl = progBuf.find('\n')) != std::string::npos) {
            onLine(progBuf.substr(0, nl), out, started);
            progBuf.erase(0, nl + 1);
          }
        }
      }
      if (fds[1].revents & (POLLIN | POLLHUP | POLLERR)) {
        ssize_t r = read(err[0], buf, sizeof buf);
        if (r <= 0) {
          errOpen = false;
        } else {
          ssize_t w = ::write(2, buf, size_t(r));
          (void)w;
          out.stderrTail.append(buf, size_t(r));
          if (out.stderrTail.size() > 16384)
            out.stderrTail.erase(0, out.stderrTail.size() - 16384);
        }
      }
      if (!killed && !out.current.empty() &&
          std::chrono::steady_clock::now() - started >
              std::chrono::seconds(testTimeout())) {
        kill(pid, SIGKILL);
        killed = true;
      }
    }
    close(prog[0]);
    close(err[0]);
    unlink(excl.c_str());
    int st = 0;
    waitpid(pid, &st, 0);
    out.seconds = std::chrono::duration<double>(
                      std::chrono::steady_clock::now() - started)
                      .count();
    if (killed) {
      out.status = -2;
      out.abnormal = true;
    } else if (WIFSIGNALED(st)) {
      out.status = -WTERMSIG(st);
      out.abnormal = out.crash = true;
    } else {
      out.status = WEXITSTATUS(st);
      out.abnormal = out.status != 0 && out.status != 1;
      out.crash = out.status == backend::kPluginCrashExit;
      out.hang = out.status == backend::kPluginHangExit;
    }
    out.hang = out.hang || killed;
    if (!out.current.empty() && !out.abnormal) {
      // Ended normally mid-test (exit() inside the plugin?).
      out.abnormal = true;
    }
    return out;
  }

  void onLine(const std::string &line, Outcome &out,
              std::chrono::steady_clock::time_point &started) {
    auto f = splitTabs(line, 5);
    if (f[0] == "stamp" && f.size() >= 3) {
      stamp_.fields[f[1]] = unescapeLine(f[2]);
    } else if (f[0] == "plan" && f.size() >= 2) {
      if (planned_.insert(f[1]).second)
        plan_.push_back(f[1]);
    } else if (f[0] == "start" && f.size() >= 2) {
      out.current = f[1];
      started = std::chrono::steady_clock::now();
    } else if (f[0] == "end" && f.size() >= 5) {
      record(f[1], f[2], unescapeLine(f[4]), std::atof(f[3].c_str()));
      out.current.clear();
    } else if (f[0] == "hang" && f.size() >= 3) {
      noteHang(f[2]);
    } else if (f[0] == "longest" && f.size() >= 2) {
      longest_ = std::max(longest_, std::atof(f[1].c_str()));
    }
  }

  int finish() {
    std::vector<TestRecord> tests;
    for (auto &name : plan_) {
      auto it = done_.find(name);
      if (it != done_.end())
        tests.push_back(it->second);
      else
        tests.push_back(TestRecord{name, "notrun", "not run", 0});
    }
    if (stamp_.fields.empty())
      stamp_.fields["plugin_path"] = o_.config.pluginPath;
    int rc = 0;
    if (!o_.config.jsonPath.empty()) {
      Status s = writeJsonReport(o_.config.jsonPath, stamp_, tests);
      if (!s.isOk()) {
        std::fprintf(stderr, "error: %s\n", s.message().c_str());
        rc = 1;
      }
    }
    if (!o_.junit.empty()) {
      Status s = writeJUnitReport(o_.junit, stamp_, tests);
      if (!s.isOk()) {
        std::fprintf(stderr, "error: %s\n", s.message().c_str());
        rc = 1;
      }
    }
    std::map<std::string, std::array<size_t, 4>> per;
    std::array<size_t, 4> all{};
    auto idx = [](const std::string &s) {
      return s == "passed" ? 0 : s == "failed" ? 1 : s == "skipped" ? 2 : 3;
    };
    for (auto &t : tests) {
      per[layerOf(t.name)][size_t(idx(t.status))]++;
      all[size_t(idx(t.status))]++;
    }
    auto f = [&](const char *k) {
      auto it = stamp_.fields.find(k);
      return it == stamp_.fields.end() ? std::string("?") : it->second;
    };
    if (stamp_.fields.count("plugin_name"))
      std::printf("\nember-kit: plugin '%s' %s (ABI %s) at %s, host ABI %s, "
                  "reference %s\n",
                  f("plugin_name").c_str(), f("plugin_version").c_str(),
                  f("plugin_abi").c_str(), o_.config.pluginPath.c_str(),
                  f("host_abi").c_str(), f("reference").c_str());
    else
      std::printf("\nember-kit: the plugin at %s did not load (host ABI %s)\n",
                  o_.config.pluginPath.c_str(), f("host_abi").c_str());
    for (auto &l : layerNames())
      if (per.count(l))
        std::printf("  %-10s %4zu passed, %3zu failed, %4zu skipped, %3zu "
                    "not run\n",
                    l.c_str(), per[l][0], per[l][1], per[l][2], per[l][3]);
    for (auto &[l, c] : per)
      if (std::find(layerNames().begin(), layerNames().end(), l) ==
          layerNames().end())
        std::printf("  %-10s %4zu passed, %3zu failed, %4zu skipped, %3zu "
                    "not run\n",
                    l.c_str(), c[0], c[1], c[2], c[3]);
    for (auto &t : tests)
      if (t.status == "failed") {
        std::string m;
        for (char c : t.message)
          m += c == '\n' ? std::string(" / ") : std::string(1, c);
        if (m.size() > 400)
          m = m.substr(0, 400) + " ...";
        std::printf("FAILED %s: %s\n", t.name.c_str(), m.c_str());
      }
    std::printf("total: %zu passed, %zu failed, %zu skipped, %zu not run\n",
                all[0], all[1], all[2], all[3]);
    std::fflush(stdout);
    if (crashed_)
      return backend::kPluginCrashExit;
    if (hangs_)
      return backend::kPluginHangExit;
    if (all[1] || all[3])
      return 1;
    return rc;
  }

  // A hang (a worker's report, or one the watchdog ended): later workers
  // wait less (waitSeconds()).
  void noteHang(const std::string &what) {
    if (hangs_++ == 0)
      firstHang_ = what;
  }

  Options &o_;
  std::string argv0_;
  std::vector<std::string> plan_;
  std::set<std::string> planned_;
  std::map<std::string, TestRecord> done_;
  RunStamp stamp_;
  bool crashed_ = false;
  int hangs_ = 0;
  double longest_ = 0;
  std::string firstHang_;
};

} // namespace

int runKit(int argc, char **argv) {
  if (const char *req = helperRequest())
    return helperMain(req);
  Options o;
  if (auto rc = parse(argc, argv, o))
    return *rc;
  if (o.workerFd >= 0) {
    fcntl(o.workerFd, F_SETFD, FD_CLOEXEC);
    gProgressFd = o.workerFd;
    if (!o.excludeFile.empty()) {
      auto text = readFileBytes(o.excludeFile);
      if (!text) {
        std::fprintf(stderr, "error: %s (ember-kit worker)\n",
                     text.status().message().c_str());
        return 1;
      }
      std::istringstream in(*text);
      std::string line;
      while (std::getline(in, line))
        if (!line.empty())
          o.config.exclude.insert(line);
    }
    o.config.jsonPath.clear();
    return runTests(argv[0], o, true);
  }
  if (o.noFork) {
    int r = runTests(argv[0], o, false);
    return r ? 1 : 0;
  }
  signal(SIGPIPE, SIG_IGN);
  return Supervisor(o, argv[0]).run();
}

} // namespace ember::kit

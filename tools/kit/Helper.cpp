// Checks that need a fresh process (the plugin's entry and plugin_init run
// once per process): the current executable is started again with
// EMBER_KIT_HELPER naming a request file in a temporary folder; the child
// loads the plugin as asked, runs, and writes a reply and its outputs
// beside the request. Exit status 0 ok, 1 an error (in the reply), 70 the
// plugin crashed (the host's crash report).
#include "KitInternal.h"

#include "backend/Artifact.h"
#include "backend/ProgramProto.h"
#include "import/TensorIO.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <fstream>
#include <sstream>
#include <sys/stat.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

extern char **environ;

namespace ember::kit {

namespace {

const char *const kHelperEnv = "EMBER_KIT_HELPER";

std::string escape(const std::string &s) {
  std::string r;
  for (char c : s) {
    if (c == '\n')
      r += "\\n";
    else if (c == '\\')
      r += "\\\\";
    else
      r += c;
  }
  return r;
}

std::string unescape(const std::string &s) {
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

bool writeFile(const std::string &path, const std::string &bytes) {
  std::ofstream f(path, std::ios::binary);
  f.write(bytes.data(), std::streamsize(bytes.size()));
  return bool(f);
}

// The file's bytes; "" when it cannot be read (a reply the helper did not
// write is an empty one).
std::string readFile(const std::string &path) {
  auto bytes = readFileBytes(path);
  return bytes ? std::move(*bytes) : std::string();
}

void writeMap(const std::string &path,
              const std::map<std::string, std::string> &m) {
  std::string s;
  for (auto &[k, v] : m)
    s += k + "=" + escape(v) + "\n";
  writeFile(path, s);
}

std::map<std::string, std::string> readMap(const std::string &path) {
  std::map<std::string, std::string> m;
  std::istringstream in(readFile(path));
  std::string line;
  while (std::getline(in, line)) {
    size_t eq = line.find('=');
    if (eq != std::string::npos)
      m[line.substr(0, eq)] = unescape(line.substr(eq + 1));
  }
  return m;
}

void removeDir(const std::string &dir) {
  if (DIR *d = opendir(dir.c_str())) {
    while (dirent *e = readdir(d))
      if (e->d_name[0] != '.')
        unlink((dir + "/" + e->d_name).c_str());
    closedir(d);
  }
  rmdir(dir.c_str());
}

std::string selfExe() {
  char buf[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  return n > 0 ? std::string(buf, size_t(n)) : std::string();
}

} // namespace

std::string ChildRun::describe() const {
  std::string why;
  if (signal)
    why = concat("the process was killed by signal ", signal);
  else if (exitStatus == backend::kPluginCrashExit)
    why = "the plugin crashed (exit status 70)";
  else if (exitStatus == backend::kPluginHangExit)
    why = "the plugin hung (exit status 124)";
  else if (exitStatus < 0)
    why = "the process did not finish in time";
  else if (auto it = reply.find("error"); it != reply.end())
    why = it->second;
  else
    why = concat("exit status ", exitStatus);
  std::string out = output;
  while (!out.empty() && out.back() == '\n')
    out.pop_back();
  if (!out.empty() && out.find(why) == std::string::npos)
    why += "; stderr: " + (out.size() > 2000 ? out.substr(0, 2000) : out);
  return why;
}

const char *helperRequest() { return std::getenv(kHelperEnv); }

ChildRun runFresh(const std::map<std::string, std::string> &request,
                  const std::map<std::string, std::string> &files,
                  const std::vector<Tensor> &inputs) {
  ChildRun r;
  char tmpl[] = "/tmp/ember-kit-XXXXXX";
  if (!mkdtemp(tmpl)) {
    r.output = "cannot create a temporary folder";
    return r;
  }
  std::string dir = tmpl;
  auto req = request;
  req["inputs"] = std::to_string(inputs.size());
  req["timeout"] = concat(waitSeconds());
  for (auto &[name, bytes] : files)
    writeFile(dir + "/" + name, bytes);
  for (size_t i = 0; i < inputs.size(); ++i)
    (void)writeTensorFile(inputs[i], dir + "/in_" + std::to_string(i) + ".pb");
  writeMap(dir + "/request.txt", req);

  std::string exe = selfExe(), reqPath = dir + "/request.txt";
  std::string errPath = dir + "/stderr.txt";
  // Everything the child needs is prepared before fork(): between fork and
  // exec only async-signal-safe calls.
  std::vector<std::string> envStore;
  for (char **e = environ; *e; ++e)
    if (std::strncmp(*e, kHelperEnv, std::strlen(kHelperEnv)) != 0)
      envStore.push_back(*e);
  envStore.push_back(std::string(kHelperEnv) + "=" + reqPath);
  std::vector<char *> envp;
  for (auto &e : envStore)
    envp.push_back(const_cast<char *>(e.c_str()));
  envp.push_back(nullptr);
  // The same arguments as this process: a vendor's main() that checks its
  // arguments before registerKitTests() gets there again.
  std::vector<std::string> args;
  {
    std::string cmdline = readFile("/proc/self/cmdline");
    size_t start = 0;
    while (start < cmdline.size()) {
      size_t end = cmdline.find('\0', start);
      if (end == std::string::npos)
        end = cmdline.size();
      args.push_back(cmdline.substr(start, end - start));
      start = end + 1;
    }
    if (args.empty())
      args.push_back(exe);
  }
  std::vector<char *> argv;
  for (auto &a : args)
    argv.push_back(const_cast<char *>(a.c_str()));
  argv.push_back(nullptr);
  std::fflush(stdout);
  std::fflush(stderr);
  pid_t pid = fork();
  if (pid == 0) {
    int fd = open(errPath.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0)
      dup2(fd, 2);
    int nul = open("/dev/null", O_RDWR);
    if (nul >= 0)
      dup2(nul, 1);
    execve(exe.c_str(), argv.data(), envp.data());
    _exit(127);
  }
  if (pid < 0) {
    r.output = "fork failed";
    removeDir(dir);
    return r;
  }
  auto deadline =
      std::chrono::steady_clock::now() +
      std::chrono::milliseconds(int64_t(waitSeconds() * 2000) + 10000);
  int status = 0;
  for (;;) {
    pid_t w = waitpid(pid, &status, WNOHANG);
    if (w == pid)
      break;
    if (w < 0 && errno != EINTR)
      break;
    if (std::chrono::steady_clock::now() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      status = -1;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (status != -1) {
    if (WIFEXITED(status))
      r.exitStatus = WEXITSTATUS(status);
    else if (WIFSIGNALED(status))
      r.signal = WTERMSIG(status);
  }
  r.output = readFile(errPath);
  r.reply = readMap(dir + "/reply.txt");
  if (status == -1 || r.exitStatus == backend::kPluginHangExit ||
      r.reply.count("hung"))
    recordHang(concat(runningTestName(), " (in a fresh process)"));
  for (size_t i = 0;; ++i) {
    std::string p = dir + "/out_" + std::to_string(i) + ".pb";
    struct stat st;
    if (stat(p.c_str(), &st) != 0)
      break;
    auto t = readTensorFile(p);
    if (!t)
      break;
    r.outputs.push_back(std::move(*t));
  }
  removeDir(dir);
  return r;
}

namespace {

Status runRequest(const std::map<std::string, std::string> &req,
                  const std::string &dir,
                  std::map<std::string, std::string> &reply) {
  auto get = [&](const char *k) {
    auto it = req.find(k);
    return it == req.end() ? std::string() : it->second;
  };
  backend::LoadOptions o;
  if (!get("host_abi_major").empty()) {
    o.hostAbiMajor = uint16_t(std::stoul(get("host_abi_major")));
    o.hostAbiMinor = uint16_t(std::stoul(get("host_abi_minor")));
  }
  if (!get("host_table_size").empty())
    o.hostTableSize = size_t(std::stoull(get("host_table_size")));
  // The parent's wait (its timeout, or less after a hang); a call that
  // does not return is reported by the watchdog (exit status 124).
  state().waitSec =
      get("timeout").empty() ? 60 : std::max(0.5, std::stod(get("timeout")));
  backend::setCallTimeout(state().waitSec);
  EMBER_ASSIGN(auto p, backend::Plugin::load(get("plugin"), o));
  reply["name"] = p->name();
  reply["version"] = p->version();
  reply["abi"] = concat(p->abiMajor(), ".", p->abiMinor());
  if (get("capabilities") == "1") {
    auto m = p->capabilities();
    if (m)
      reply["capabilities"] = "ok";
    else
      reply["capabilities_error"] = m.status().message();
  }
  std::vector<Tensor> inputs;
  size_t n = get("inputs").empty() ? 0 : std::stoul(get("inputs"));
  for (size_t i = 0; i < n; ++i) {
    EMBER_ASSIGN(Tensor t,
                 readTensorFile(dir + "/in_" + std::to_string(i) + ".pb"));
    inputs.push_back(std::move(t));
  }
  std::vector<Tensor> outs;
  if (get("mode") == "load" && !get("program").empty()) {
    std::string bytes = readFile(dir + "/" + get("program"));
    EMBER_ASSIGN(auto m, backend::deserializeGraph(bytes.data(), bytes.size()));
    EMBER_ASSIGN(backend::Device d, p->openDevice(0));
    // As Ember compiles it (LayerPath.h): the graph, or scheduled on the
    // host for a plugin that takes scheduled programs.
    EMBER_ASSIGN(backend::Executable x,
                 backend::compileOnPlugin(*p, &d, *m->main(),
                                          backend::CompileOptions()));
    EMBER_ASSIGN(outs,
                 runExecutable(*p, d, x, inputs, outputTypes(*m->main())));
  } else if (get("mode") == "artifact") {
    std::string art = readFile(dir + "/" + get("artifact"));
    EMBER_ASSIGN(backend::Device d, p->openDevice(0));
    EMBER_ASSIGN(backend::Executable x, p->loadArtifact(&d, art));
    std::vector<Type> types;
    if (p->api().executable_signature) {
      EMBER_ASSIGN(backend::Plugin::Signature sig, p->signature(x));
      types = sig.outputs;
    } else {
      EMBER_ASSIGN(backend::ParsedArtifact a,
                   backend::readArtifact(art.data(), art.size()));
      for (auto &t : a.header.outputs()) {
        EMBER_ASSIGN(Type ty, backend::fromProto(t));
        types.push_back(ty);
      }
    }
    EMBER_ASSIGN(outs, runExecutable(*p, d, x, inputs, types));
  }
  for (size_t i = 0; i < outs.size(); ++i)
    EMBER_TRY(
        writeTensorFile(outs[i], dir + "/out_" + std::to_string(i) + ".pb"));
  return Status::ok();
}

} // namespace

int helperMain(const char *requestFile) {
  std::string path = requestFile;
  unsetenv(kHelperEnv);
  std::string dir = path.substr(0, path.rfind('/'));
  auto req = readMap(path);
  std::map<std::string, std::string> reply;
  Status s = runRequest(req, dir, reply);
  if (s.isOk())
    reply["ok"] = "1";
  else
    reply["error"] = s.message();
  if (s.code() == ErrorCode::Timeout)
    reply["hung"] = "1";
  writeMap(dir + "/reply.txt", reply);
  if (!s.isOk())
    std::fprintf(stderr, "error: %s\n", s.message().c_str());
  if (backend::anyPluginHung() || s.code() == ErrorCode::Timeout) {
    // An execution is stuck: leave without running destructors.
    std::fflush(stderr);
    _exit(1);
  }
  return s.isOk() ? 0 : 1;
}

} // namespace ember::kit

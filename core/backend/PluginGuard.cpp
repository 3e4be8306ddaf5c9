// Crash and hang reports for plugin calls. Every call into a plugin runs
// under a PluginCallGuard, which marks the calling thread (for the fatal
// signal handler) and publishes the call and its deadline (for the hang
// watchdog). A crash on a thread the plugin started itself is found by the
// plugin's code on the crashing stack and reported like one on the
// caller's thread, naming the execution or call in flight:
//   error: plugin 'acme' (./libacme.so) crashed with SIGSEGV in execute,
//   on a plugin thread (a null pointer access, address 0x0; at
//   libacme.so+0x1f2a)
// A call that outlives its budget is reported by the watchdog thread:
//   error: plugin 'acme' (./libacme.so) did not return from
//   executable_compile within 60 s (...)
// Both exit the process (kPluginCrashExit, kPluginHangExit): neither a
// crashed nor a stuck plugin can be recovered in-process. Everything the
// signal handler reads is in static storage, written before it is used.
#include "backend/PluginGuard.h"

#include "backend/Plugin.h"

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstring>
#include <dlfcn.h>
#include <execinfo.h>
#include <link.h>
#include <mutex>
#include <pthread.h>
#include <sys/syscall.h>
#include <thread>
#include <ucontext.h>
#include <unistd.h>

namespace ember::backend {

namespace guard {
namespace {

// ---- plugins, by code address ----------------------------------------------
constexpr int kMaxSlots = 64;
PluginSlot gSlots[kMaxSlots];
std::atomic<int> gNumSlots{0};

PluginSlot *slotOf(uintptr_t addr) {
  int n = std::min(gNumSlots.load(std::memory_order_acquire), kMaxSlots);
  for (int i = 0; i < n; ++i) {
    PluginSlot &s = gSlots[i];
    int r = s.numRanges.load(std::memory_order_acquire);
    for (int k = 0; k < r; ++k)
      if (addr >= s.lo[k] && addr < s.hi[k])
        return &s;
  }
  return nullptr;
}

struct PhdrQuery {
  PluginSlot *slot;
  uintptr_t base;
  const char *name;
};

int collectCode(dl_phdr_info *info, size_t, void *data) {
  auto *q = static_cast<PhdrQuery *>(data);
  if (info->dlpi_addr != q->base || !info->dlpi_name ||
      std::strcmp(info->dlpi_name, q->name) != 0)
    return 0;
  int n = 0;
  for (int i = 0; i < info->dlpi_phnum && n < PluginSlot::kMaxRanges; ++i) {
    const auto &ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_LOAD || !(ph.p_flags & PF_X))
      continue;
    q->slot->lo[n] = info->dlpi_addr + ph.p_vaddr;
    q->slot->hi[n] = info->dlpi_addr + ph.p_vaddr + ph.p_memsz;
    ++n;
  }
  q->slot->numRanges.store(n, std::memory_order_release);
  return 1;
}

void copyString(char *dst, size_t cap, const std::string &s) {
  size_t n = std::min(s.size(), cap - 1);
  std::memcpy(dst, s.data(), n);
  dst[n] = 0;
}

// ---- guarded calls, per thread ----------------------------------------------
// What the watchdog sees of each thread inside a plugin call.
struct ThreadRecord {
  std::atomic<bool> inUse{false};
  std::atomic<PluginSlot *> slot{nullptr};
  std::atomic<const char *> call{nullptr};
  std::atomic<int64_t> deadlineNs{0}; // monotonic; 0: none
  std::atomic<int64_t> budgetNs{0};
  // HostWorkGuard: Ember's own work for the plugin (`call` says what),
  // `where` its place; false: a call into the plugin.
  std::atomic<bool> host{false};
  char where[256] = {};
};
constexpr int kMaxThreads = 256;
ThreadRecord gThreads[kMaxThreads];

struct RecordHolder {
  ThreadRecord *rec = nullptr;
  ~RecordHolder() {
    if (rec) {
      rec->deadlineNs.store(0);
      rec->inUse.store(false);
    }
  }
};
thread_local RecordHolder tRecord;
thread_local const Plugin *tCurrentPlugin = nullptr;
thread_local const char *tCurrentCall = nullptr;
thread_local PluginSlot *tCurrentSlot = nullptr;
thread_local const char *tLoadingPath = nullptr;

ThreadRecord *threadRecord() {
  if (!tRecord.rec)
    for (auto &r : gThreads) {
      bool expected = false;
      if (r.inUse.compare_exchange_strong(expected, true)) {
        tRecord.rec = &r;
        break;
      }
    }
  return tRecord.rec;
}

int64_t monotonicNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::atomic<int64_t> gTimeoutNs{0};
std::atomic<bool> gWatchdogRunning{false};
std::atomic<pid_t> gWatchdogTid{0};
std::mutex gWatchdogMu;

std::atomic<int> gReportFd{-1};
char gReportPrefix[64] = {};

// ---- async-signal-safe text -------------------------------------------------
class Line {
public:
  void str(const char *s) {
    while (s && *s && n_ + 1 < sizeof(buf_))
      buf_[n_++] = *s++;
  }
  void hex(uintptr_t v) {
    char tmp[2 + 16];
    int k = 0;
    do {
      tmp[k++] = "0123456789abcdef"[v & 15];
      v >>= 4;
    } while (v);
    str("0x");
    while (k)
      chr(tmp[--k]);
  }
  void dec(int64_t v) {
    char tmp[24];
    int k = 0;
    if (v < 0) {
      chr('-');
      v = -v;
    }
    do {
      tmp[k++] = char('0' + v % 10);
      v /= 10;
    } while (v);
    while (k)
      chr(tmp[--k]);
  }
  void chr(char c) {
    if (n_ + 1 < sizeof(buf_))
      buf_[n_++] = c;
  }
  // Writes "error: <line>\n" to stderr and "<prefix><line>\n" to the
  // report fd.
  void emit() {
    buf_[n_] = 0;
    writeAll(2, "error: ");
    writeAll(2, buf_);
    writeAll(2, "\n");
    int fd = gReportFd.load();
    if (fd >= 0) {
      writeAll(fd, gReportPrefix);
      writeAll(fd, buf_);
      writeAll(fd, "\n");
    }
  }

private:
  static void writeAll(int fd, const char *s) {
    size_t len = std::strlen(s);
    while (len) {
      ssize_t w = ::write(fd, s, len);
      if (w <= 0)
        return;
      s += w;
      len -= size_t(w);
    }
  }
  char buf_[2048];
  size_t n_ = 0;
};

void describePlugin(Line &l, const char *name, const char *path) {
  if (name && *name) {
    l.str("plugin '");
    l.str(name);
    l.str("' (");
    l.str(path);
    l.str(")");
  } else {
    l.str("plugin ");
    l.str(path);
  }
}

const char *baseName(const char *path) {
  const char *b = path;
  for (const char *p = path; *p; ++p)
    if (*p == '/')
      b = p + 1;
  return b;
}

// ---- the hang watchdog ------------------------------------------------------
[[noreturn]] void reportHang(ThreadRecord &r) {
  Line l;
  PluginSlot *s = r.slot.load();
  if (r.host.load()) {
    const char *what = r.call.load();
    l.str(what ? what : "Ember's work");
    l.str(" for ");
    describePlugin(l, s ? s->name : nullptr, s ? s->path : "(unknown)");
    l.str(" did not finish within ");
    l.dec((r.budgetNs.load() + 999999999) / 1000000000);
    l.str(" s (");
    l.str(r.where);
    l.str("; --timeout=SEC sets the limit)");
    l.emit();
    _exit(kPluginHangExit);
  }
  describePlugin(l, s ? s->name : nullptr, s ? s->path : "(unknown)");
  const char *call = r.call.load();
  l.str(" did not return from ");
  l.str(call ? call : "a call");
  l.str(" within ");
  l.dec((r.budgetNs.load() + 999999999) / 1000000000);
  l.str(" s");
  if (call && std::strcmp(call, "event_wait") == 0)
    l.str(" (event_wait must return EMBER_STATUS_TIMEOUT when its timeout "
          "expires; a hung execution)");
  else
    l.str(" (a hung call; --timeout=SEC sets the limit)");
  l.emit();
  _exit(kPluginHangExit);
}

void watchdogMain() {
  gWatchdogTid.store(pid_t(syscall(SYS_gettid)));
  for (;;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    int64_t now = monotonicNs();
    for (auto &r : gThreads) {
      if (!r.inUse.load(std::memory_order_relaxed))
        continue;
      int64_t d = r.deadlineNs.load();
      if (d && now > d)
        reportHang(r);
    }
  }
}

void afterForkInChild() {
  // Threads do not survive fork(): the watchdog starts again on demand, and
  // records of the other threads are stale. The mutex may have been held
  // by a thread that is gone.
  new (&gWatchdogMu) std::mutex();
  gWatchdogRunning.store(false);
  gWatchdogTid.store(0);
  for (auto &r : gThreads)
    if (&r != tRecord.rec) {
      r.deadlineNs.store(0);
      r.inUse.store(false);
    }
  for (auto &s : gSlots) {
    s.pendingExecutions.store(0);
    s.activeCall.store(nullptr);
  }
}

void ensureWatchdog() {
  if (gWatchdogRunning.load(std::memory_order_acquire))
    return;
  std::lock_guard<std::mutex> l(gWatchdogMu);
  if (gWatchdogRunning.load())
    return;
  try {
    std::thread(watchdogMain).detach();
    gWatchdogRunning.store(true, std::memory_order_release);
  } catch (...) {
    // No thread: hangs go unreported, calls still work.
  }
}

// ---- the fatal-signal handler -----------------------------------------------
const char *signalName(int sig) {
  switch (sig) {
  case SIGSEGV:
    return "SIGSEGV";
  case SIGBUS:
    return "SIGBUS";
  case SIGILL:
    return "SIGILL";
  case SIGFPE:
    return "SIGFPE";
  case SIGABRT:
    return "SIGABRT";
  }
  return "a fatal signal";
}

uintptr_t pcOf(void *uctx) {
  if (!uctx)
    return 0;
  auto *uc = static_cast<ucontext_t *>(uctx);
#if defined(__x86_64__)
  return uintptr_t(uc->uc_mcontext.gregs[REG_RIP]);
#elif defined(__aarch64__)
  return uintptr_t(uc->uc_mcontext.pc);
#else
  (void)uc;
  return 0;
#endif
}

struct sigaction gPrevious[32];
char gAltStack[64 * 1024];

bool isHostThread() {
  pid_t tid = pid_t(syscall(SYS_gettid));
  return tid == getpid() || tid == gWatchdogTid.load();
}

// The plugin a crash on an unguarded, non-host thread belongs to when its
// code is not on the stack: the only one with an execution in flight, else
// the only one loaded.
PluginSlot *soleCandidate() {
  int n = std::min(gNumSlots.load(), kMaxSlots);
  PluginSlot *busy = nullptr;
  int numBusy = 0;
  for (int i = 0; i < n; ++i)
    if (gSlots[i].pendingExecutions.load() > 0) {
      busy = &gSlots[i];
      ++numBusy;
    }
  if (numBusy == 1)
    return busy;
  return n == 1 ? &gSlots[0] : nullptr;
}

void onFatalSignal(int sig, siginfo_t *info, void *uctx) {
  // A handler that gets stuck must not hang the process.
  alarm(5);
  const Plugin *p = tCurrentPlugin;
  uintptr_t pc = pcOf(uctx);
  void *frames[64];
  int numFrames = -1;
  // The innermost plugin frame: where in the plugin it happened.
  auto pluginFrame = [&](PluginSlot *want, PluginSlot **found) -> uintptr_t {
    if (PluginSlot *s = slotOf(pc); s && (!want || s == want)) {
      *found = s;
      return pc;
    }
    if (numFrames < 0)
      numFrames = backtrace(frames, 64);
    for (int i = 0; i < numFrames; ++i) {
      PluginSlot *s = slotOf(uintptr_t(frames[i]));
      if (s && (!want || s == want)) {
        *found = s;
        return uintptr_t(frames[i]);
      }
    }
    return 0;
  };

  Line l;
  PluginSlot *slot = nullptr;
  uintptr_t where = 0;
  bool ownThread = false;
  const char *call = nullptr;
  if (PluginSlot *lib = slotOf(pc); lib && lib->opLibrary.load()) {
    // An op library's kernel or function, whoever called it (the
    // interpreter, a plugin's code).
    l.str(lib->name);
    l.str(" (");
    l.str(lib->path);
    l.str(") crashed with ");
    l.str(signalName(sig));
    if (p) {
      l.str(", called from ");
      describePlugin(l, p->name().c_str(), p->path().c_str());
    }
    l.str(" (at ");
    l.str(baseName(lib->path));
    l.str("+");
    l.hex(pc - lib->loadBase);
    l.str(")");
    l.emit();
    _exit(kPluginCrashExit);
  }
  if (p) {
    slot = tCurrentSlot;
    PluginSlot *found = nullptr;
    where = slot ? pluginFrame(slot, &found) : 0;
    describePlugin(l, p->name().c_str(), p->path().c_str());
    call = tCurrentCall ? tCurrentCall : "a call";
  } else if (tLoadingPath) {
    l.str("plugin ");
    l.str(tLoadingPath);
    l.str(" crashed with ");
    l.str(signalName(sig));
    l.str(" while loading (in its static constructors, during dlopen)");
    l.emit();
    _exit(kPluginCrashExit);
  } else {
    where = pluginFrame(nullptr, &slot);
    if (!slot && !isHostThread())
      slot = soleCandidate();
    if (!slot) {
      // Not a plugin's: restore whatever was there before and let it run.
      alarm(0);
      sigaction(sig, &gPrevious[sig], nullptr);
      raise(sig);
      return;
    }
    ownThread = !isHostThread();
    describePlugin(l, slot->name, slot->path);
    if (slot->pendingExecutions.load() > 0)
      call = "execute";
    else
      call = slot->activeCall.load();
  }
  l.str(" crashed with ");
  l.str(signalName(sig));
  if (call) {
    l.str(" in ");
    l.str(call);
  }
  if (ownThread)
    l.str(call ? ", on a plugin thread"
               : " on a plugin thread, outside any "
                 "call");
  else if (!p)
    l.str(call ? "" : " outside any call");
  l.str(" (");
  if ((sig == SIGSEGV || sig == SIGBUS) && info) {
    auto addr = uintptr_t(info->si_addr);
    l.str(addr < 4096 ? "a null pointer access, address " : "address ");
    l.hex(addr);
  } else if (sig == SIGABRT) {
    l.str("abort(): a failed assertion or an uncaught C++ exception");
  } else if (sig == SIGFPE) {
    l.str("an arithmetic fault, e.g. an integer division by zero");
  } else if (sig == SIGILL) {
    l.str("an illegal instruction");
  } else {
    l.str("signal ");
    l.dec(sig);
  }
  if (where && slot) {
    l.str("; at ");
    l.str(baseName(slot->path));
    l.str("+");
    l.hex(where - slot->loadBase);
  }
  l.str(")");
  l.emit();
  _exit(kPluginCrashExit);
}

} // namespace

PluginSlot *registerPlugin(void *dlHandle, const std::string &path) {
  int i = gNumSlots.load();
  do {
    if (i >= kMaxSlots)
      return nullptr;
  } while (!gNumSlots.compare_exchange_weak(i, i + 1));
  PluginSlot &s = gSlots[i];
  copyString(s.path, sizeof(s.path), path);
  link_map *lm = nullptr;
  if (dlHandle && dlinfo(dlHandle, RTLD_DI_LINKMAP, &lm) == 0 && lm &&
      lm->l_name) {
    s.loadBase = lm->l_addr;
    PhdrQuery q{&s, lm->l_addr, lm->l_name};
    dl_iterate_phdr(collectCode, &q);
  }
  return &s;
}

void nameSlot(PluginSlot *slot, const std::string &name) {
  if (slot)
    copyString(slot->name, sizeof(slot->name), name);
}

void installCrashHandlers() {
  static std::once_flag once;
  std::call_once(once, [] {
    // An alternate stack, so that a stack overflow in a plugin (on this
    // thread) still gets its report.
    stack_t ss{};
    ss.ss_sp = gAltStack;
    ss.ss_size = sizeof(gAltStack);
    sigaltstack(&ss, nullptr);
    // backtrace() loads its unwinder on first use: not in a handler.
    void *warm[2];
    (void)backtrace(warm, 2);
    pthread_atfork(nullptr, nullptr, afterForkInChild);
    for (int sig : {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT}) {
      struct sigaction sa {};
      sa.sa_sigaction = onFatalSignal;
      sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
      sigemptyset(&sa.sa_mask);
      sigaction(sig, &sa, &gPrevious[sig]);
    }
  });
}

// While `path` is being dlopen()ed on this thread (its static
// constructors run).
LoadingScope::LoadingScope(const char *path) { tLoadingPath = path; }
LoadingScope::~LoadingScope() { tLoadingPath = nullptr; }

} // namespace guard

// ---- public: limits and reports ---------------------------------------------
void setCallTimeout(double seconds) {
  guard::gTimeoutNs.store(seconds > 0 ? int64_t(seconds * 1e9) : 0);
}

double callTimeout() { return double(guard::gTimeoutNs.load()) / 1e9; }

void setFailureReportFd(int fd, const char *prefix) {
  guard::copyString(guard::gReportPrefix, sizeof(guard::gReportPrefix),
                    prefix ? prefix : "");
  guard::gReportFd.store(fd);
}

// ---- the guard --------------------------------------------------------------
PluginCallGuard::PluginCallGuard(const Plugin &p, const char *call,
                                 double budgetSec)
    : prevCall(guard::tCurrentCall), prevPlugin(guard::tCurrentPlugin),
      prevDeadline(0), prevBudget(0) {
  guard::tCurrentPlugin = &p;
  guard::tCurrentCall = call;
  guard::tCurrentSlot = p.slot_;
  if (p.slot_)
    p.slot_->activeCall.store(call, std::memory_order_relaxed);
  int64_t budget =
      budgetSec < 0 ? guard::gTimeoutNs.load() : int64_t(budgetSec * 1e9);
  guard::ThreadRecord *r = guard::threadRecord();
  if (!r)
    return;
  prevDeadline = r->deadlineNs.load(std::memory_order_relaxed);
  prevBudget = r->budgetNs.load(std::memory_order_relaxed);
  prevHost = r->host.load();
  prevSlot = r->slot.load(std::memory_order_relaxed);
  prevWhat = r->call.load(std::memory_order_relaxed);
  if (budget <= 0) {
    r->deadlineNs.store(0);
    return;
  }
  guard::ensureWatchdog();
  r->deadlineNs.store(0); // while the record changes
  r->host.store(false);
  r->slot.store(p.slot_, std::memory_order_relaxed);
  r->call.store(call, std::memory_order_relaxed);
  r->budgetNs.store(budget, std::memory_order_relaxed);
  r->deadlineNs.store(guard::monotonicNs() + budget);
}

PluginCallGuard::~PluginCallGuard() {
  const Plugin *p = guard::tCurrentPlugin;
  if (p && p->slot_)
    p->slot_->activeCall.store(prevPlugin == p ? prevCall : nullptr,
                               std::memory_order_relaxed);
  guard::tCurrentPlugin = prevPlugin;
  guard::tCurrentCall = prevCall;
  guard::tCurrentSlot = prevPlugin ? prevPlugin->slot_ : nullptr;
  if (guard::ThreadRecord *r = guard::tRecord.rec) {
    // The outer call (if any) goes on with its own deadline; Ember's work
    // for a plugin (HostWorkGuard) too.
    r->deadlineNs.store(0);
    if (prevPlugin) {
      r->slot.store(prevPlugin->slot_, std::memory_order_relaxed);
      r->call.store(prevCall, std::memory_order_relaxed);
      r->budgetNs.store(prevBudget, std::memory_order_relaxed);
      r->deadlineNs.store(prevDeadline);
    } else if (prevHost && prevDeadline) {
      r->slot.store(prevSlot, std::memory_order_relaxed);
      r->call.store(prevWhat, std::memory_order_relaxed);
      r->budgetNs.store(prevBudget, std::memory_order_relaxed);
      r->host.store(true);
      r->deadlineNs.store(prevDeadline);
    }
  }
}

HostWorkGuard::HostWorkGuard(const Plugin &p, const char *what,
                             const std::string &where) {
  const int64_t budget = guard::gTimeoutNs.load();
  guard::ThreadRecord *r = guard::threadRecord();
  if (!r || budget <= 0 || r->deadlineNs.load())
    return; // no limit, or inside a call that has its own
  guard::ensureWatchdog();
  guard::copyString(r->where, sizeof(r->where), where);
  r->slot.store(p.slot_, std::memory_order_relaxed);
  r->call.store(what, std::memory_order_relaxed);
  r->budgetNs.store(budget, std::memory_order_relaxed);
  r->host.store(true);
  r->deadlineNs.store(guard::monotonicNs() + budget);
  armed = true;
}

HostWorkGuard::~HostWorkGuard() {
  if (guard::ThreadRecord *r = guard::tRecord.rec; r && armed) {
    r->deadlineNs.store(0);
    r->host.store(false);
  }
}

} // namespace ember::backend

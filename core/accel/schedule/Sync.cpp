// Dependency insertion from operation accesses (Sync.h).
#include "ember/accel/Sync.h"

#include <algorithm>
#include <array>
#include <iterator>
#include <map>

namespace ember::accel {

namespace {

constexpr int kMaxEngines = 16;

// Per engine, the last instruction that wrote and the last that read each
// span of one domain. Each (engine, write or read) keeps its own map of
// disjoint spans, and an update assigns its whole range to one span, so a
// map holds only the pieces later updates left visible, not every boundary
// every engine ever made. Instructions are walked in program order, so a
// span's index only grows: the latest conflicting instruction in a range is
// the largest index of the spans that overlap it.
class AccessMap {
public:
  // Latest conflicting instruction per engine other than `self`. An empty
  // range reads nothing.
  void query(uint64_t lo, uint64_t hi, int self, bool write, int engines,
             std::array<int64_t, kMaxEngines> &needs) const {
    if (lo >= hi)
      return;
    for (int x = 0; x < engines; ++x) {
      if (x == self)
        continue;
      int64_t &n = needs[size_t(x)];
      n = std::max(n, latest(last_[size_t(x)][1], lo, hi));
      if (write)
        n = std::max(n, latest(last_[size_t(x)][0], lo, hi));
    }
  }
  void update(uint64_t lo, uint64_t hi, int engine, bool write, int64_t idx) {
    if (lo >= hi)
      return;
    Spans &m = last_[size_t(engine)][write ? 1 : 0];
    auto it = m.lower_bound(lo);
    if (it != m.begin()) { // a span from before lo: keep its part before lo
      auto before = std::prev(it);
      if (before->second.end > lo) {
        Span right = before->second;
        before->second.end = lo;
        if (right.end > hi) // it also runs past hi
          m.emplace(hi, right);
      }
    }
    while (it != m.end() && it->first < hi) {
      if (it->second.end > hi) { // keep its part from hi on
        Span right = it->second;
        it = m.erase(it);
        m.emplace(hi, right);
        break;
      }
      it = m.erase(it);
    }
    m.emplace(lo, Span{hi, idx});
  }

private:
  struct Span {
    uint64_t end;
    int64_t idx;
  };
  using Spans = std::map<uint64_t, Span>;
  static int64_t latest(const Spans &m, uint64_t lo, uint64_t hi) {
    int64_t most = -1;
    auto it = m.upper_bound(lo);
    if (it != m.begin() && std::prev(it)->second.end > lo)
      most = std::prev(it)->second.idx;
    for (; it != m.end() && it->first < hi; ++it)
      most = std::max(most, it->second.idx);
    return most;
  }
  std::array<std::array<Spans, 2>, kMaxEngines> last_; // [engine][write]
};

} // namespace

int syncBit(const Target &t, int src, int dst) {
  const int n = int(t.engines.size());
  if (src == dst || src < 0 || dst < 0 || src >= n || dst >= n)
    return -1;
  int b = t.sync.kind == SyncKind::Tokens
              ? src * n + dst
              : src * (n - 1) + (dst < src ? dst : dst - 1);
  const int most = t.sync.kind == SyncKind::Tokens ? 32 : int(t.sync.barriers);
  return b < std::min(32, most) ? b : -1;
}

std::string syncBitName(const Target &t, int bit) {
  if (t.sync.kind == SyncKind::Barriers)
    return "b" + std::to_string(bit);
  return t.channelName(bit);
}

namespace {

// Dependencies an operation must wait for beyond its accesses: per
// operation, the latest operation of each engine (-1: none).
using Forced = std::map<size_t, std::array<int64_t, kMaxEngines>>;

// One walk in program order: the edges of every operation's accesses and
// of `forced`, paired on their channels within the depth in program order.
Status walkSync(const Target &t, std::vector<Op> &prog, const Forced &forced,
                size_t &edges) {
  const int ne = int(t.engines.size());
  std::vector<AccessMap> maps(t.memories.size() + 1);
  int64_t sat[kMaxEngines][kMaxEngines];
  for (auto &row : sat)
    for (int64_t &v : row)
      v = -1;
  std::vector<int32_t> regs(t.regCount, 0);
  std::vector<Access> ranges;
  edges = 0;
  // Per engine: its operations' positions. Per channel: the positions of
  // the waits so far. Edges on a channel never cross (producers and
  // consumers both increase), so the signals outstanding right after a new
  // producer at p are the earlier edges whose wait comes after p: when that
  // reaches the channel's depth, the producer moves to a later operation of
  // its engine, past enough of those waits (a stronger dependency, still
  // before the consumer in program order).
  std::array<std::vector<int64_t>, kMaxEngines> onEngine;
  std::array<std::vector<int64_t>, 32> waits;
  std::array<std::pair<int64_t, int64_t>, 32> lastEdge{};
  const size_t depth = t.sync.depth;
  for (size_t i = 0; i < prog.size(); ++i) {
    Op &in = prog[i];
    in.wait = 0;
    in.signal = 0;
    if (in.kind == OpKind::SetReg) {
      if (in.reg >= 0 && uint64_t(in.reg) < regs.size())
        regs[size_t(in.reg)] = int32_t(in.value);
      continue;
    }
    if (in.kind == OpKind::Finish)
      continue; // drains every engine
    const int y = in.engine;
    if (y < 0 || y >= ne)
      return invalid("operation ", i, ": ", opKindName(in.kind),
                     " runs on no engine of the target");
    accesses(t, in, regs.data(), ranges);
    std::array<int64_t, kMaxEngines> needs;
    needs.fill(-1);
    for (const Access &r : ranges)
      maps[size_t(r.domain)].query(r.lo, r.hi, y, r.write, ne, needs);
    auto f = forced.find(i);
    if (f != forced.end())
      for (int x = 0; x < ne; ++x)
        needs[size_t(x)] = std::max(needs[size_t(x)], f->second[size_t(x)]);
    for (int x = 0; x < ne; ++x) {
      if (x == y || needs[size_t(x)] <= sat[x][y])
        continue;
      int64_t a = needs[size_t(x)];
      const int ch = syncBit(t, x, y);
      if (ch < 0)
        return unsupported("operation ", i, ": no channel from ",
                           t.engines[size_t(x)].name, " to ",
                           t.engines[size_t(y)].name);
      const uint32_t bit = 1u << ch;
      std::vector<int64_t> &w = waits[size_t(ch)];
      size_t after = size_t(w.end() - std::upper_bound(w.begin(), w.end(), a));
      if (after >= depth) {
        // Too many in flight. First choice: the previous edge's consumer
        // (an earlier operation of this engine) waits for `a` instead,
        // which covers this one too.
        std::pair<int64_t, int64_t> &last = lastEdge[size_t(ch)];
        if (last.second > a) {
          prog[size_t(last.first)].signal &= ~bit;
          prog[size_t(a)].signal |= bit;
          last.first = a;
          sat[x][y] = a;
          continue;
        }
        // Else the producer moves to a later operation of its engine,
        // past enough of the outstanding waits.
        int64_t past = w[w.size() - depth];
        const std::vector<int64_t> &xs = onEngine[size_t(x)];
        auto it = std::upper_bound(xs.begin(), xs.end(), past);
        if (it == xs.end())
          return unsupported("operation ", i, ": the ", syncBitName(t, ch),
                             " channel (depth ", depth,
                             ") cannot hold the signals this program needs");
        a = *it;
      }
      prog[size_t(a)].signal |= bit;
      in.wait |= bit;
      w.push_back(int64_t(i));
      lastEdge[size_t(ch)] = {a, int64_t(i)};
      sat[x][y] = a;
      ++edges;
    }
    onEngine[size_t(y)].push_back(int64_t(i));
    for (const Access &r : ranges)
      maps[size_t(r.domain)].update(r.lo, r.hi, y, r.write, int64_t(i));
  }
  return Status::ok();
}

// Barriers under concurrency. A counting barrier does not hold back its
// signaller, so a producer may run ahead of its consumer by as many
// signals as nothing orders: the program must itself order the k-th signal
// of every barrier after its (k - depth)-th wait. With each operation's
// vector clock (the latest operation of every engine known to be done when
// it starts, through its engine's order and the signals it waits for; a
// barrier's k-th wait takes its k-th signal, both in program order), every
// signal that is not so ordered is a violation: its operation is made to
// wait for that wait (added to `forced`). Returns the violations found (an
// error for a wait with nothing signalled or a signal past the depth that
// no wait can order); `first` gets the first violation's description.
Expected<int64_t> unorderedSignals(const Target &t, const std::vector<Op> &prog,
                                   Forced &forced, std::string *first) {
  const int ne = int(t.engines.size());
  using Clock = std::array<int64_t, kMaxEngines>;
  Clock none;
  none.fill(-1);
  std::vector<Clock> start(prog.size(), none);
  std::array<Clock, kMaxEngines> engineDone;
  engineDone.fill(none);
  std::array<std::vector<size_t>, 32> sigs, waitOps;
  std::array<size_t, 32> taken{};
  int64_t found = 0;
  for (size_t i = 0; i < prog.size(); ++i) {
    const Op &in = prog[i];
    if (!in.wait && !in.signal &&
        (in.kind == OpKind::SetReg || in.kind == OpKind::Finish))
      continue;
    const int y = in.engine;
    if (y < 0 || y >= ne)
      continue;
    Clock c = engineDone[size_t(y)];
    for (int b = 0; b < 32; ++b)
      if ((in.wait >> b) & 1u) {
        const size_t k = taken[size_t(b)]++;
        if (k >= sigs[size_t(b)].size())
          return invalid("operation ", i, ": waits on ", syncBitName(t, b),
                         " with nothing signalled before it");
        const size_t a = sigs[size_t(b)][k];
        const Clock &ca = start[a];
        for (int e = 0; e < ne; ++e)
          c[size_t(e)] = std::max(c[size_t(e)], ca[size_t(e)]);
        const int ea = prog[a].engine;
        c[size_t(ea)] = std::max(c[size_t(ea)], int64_t(a));
        waitOps[size_t(b)].push_back(i);
      }
    start[i] = c;
    for (int b = 0; b < 32; ++b)
      if ((in.signal >> b) & 1u) {
        const size_t k = sigs[size_t(b)].size();
        sigs[size_t(b)].push_back(i);
        if (k < t.sync.depth)
          continue;
        // Its (k - depth)-th wait, on the consumer's engine.
        const std::vector<size_t> &ws = waitOps[size_t(b)];
        if (k - t.sync.depth >= ws.size())
          return invalid("operation ", i, ": signals ", syncBitName(t, b),
                         " beyond its depth ", t.sync.depth);
        const size_t w = ws[k - t.sync.depth];
        const int cy = prog[w].engine;
        if (c[size_t(cy)] >= int64_t(w))
          continue;
        if (found == 0 && first)
          *first = "operation " + std::to_string(i) + ": may signal " +
                   syncBitName(t, b) + " beyond its depth " +
                   std::to_string(t.sync.depth) + " (nothing orders it after " +
                   "operation " + std::to_string(w) + ", which takes the " +
                   "signal " + std::to_string(t.sync.depth) + " before it)";
        auto it = forced.emplace(i, none).first;
        it->second[size_t(cy)] = std::max(it->second[size_t(cy)], int64_t(w));
        ++found;
      }
    c[size_t(y)] = int64_t(i);
    engineDone[size_t(y)] = c;
  }
  return found;
}

} // namespace

Status assignSync(const Target &t, std::vector<Op> &prog, SyncStats *stats) {
  if (int(t.engines.size()) > kMaxEngines)
    return unsupported("more than ", kMaxEngines, " engines");
  Forced forced;
  size_t edges = 0;
  for (;;) {
    EMBER_TRY(walkSync(t, prog, forced, edges));
    if (t.sync.kind != SyncKind::Barriers)
      break;
    // Each round only adds dependencies (a program-order walk that already
    // holds in program order), so the rounds end.
    EMBER_ASSIGN(const int64_t n, unorderedSignals(t, prog, forced, nullptr));
    if (n == 0)
      break;
  }
  if (stats)
    stats->edges = edges;
  EMBER_TRY(checkSync(t, prog));
  if (stats) {
    std::array<int, 32> count{};
    size_t most = 0;
    for (const Op &in : prog)
      for (int c = 0; c < 32; ++c) {
        if ((in.wait >> c) & 1u)
          --count[size_t(c)];
        if ((in.signal >> c) & 1u)
          most = std::max(most, size_t(++count[size_t(c)]));
      }
    stats->maxDepth = most;
  }
  return Status::ok();
}

Status checkSync(const Target &t, const std::vector<Op> &prog) {
  std::array<uint64_t, 32> count{};
  for (size_t i = 0; i < prog.size(); ++i) {
    const Op &in = prog[i];
    for (int c = 0; c < 32; ++c)
      if ((in.wait >> c) & 1u) {
        if (count[size_t(c)] == 0)
          return invalid("operation ", i, ": waits on ", syncBitName(t, c),
                         " with nothing signalled before it");
        --count[size_t(c)];
      }
    for (int c = 0; c < 32; ++c)
      if ((in.signal >> c) & 1u) {
        if (count[size_t(c)] == t.sync.depth)
          return invalid("operation ", i, ": signals ", syncBitName(t, c),
                         " beyond its depth ", t.sync.depth);
        ++count[size_t(c)];
      }
  }
  if (t.sync.kind == SyncKind::Barriers) {
    Forced unused;
    std::string first;
    EMBER_ASSIGN(const int64_t n, unorderedSignals(t, prog, unused, &first));
    if (n != 0)
      return invalid(first);
  }
  return Status::ok();
}

bool touchesRows(const Target &t, const Op &in, int mem, uint64_t lo,
                 uint64_t hi) {
  if (in.kind == OpKind::Pool && mem == t.memOf(Cls::Out))
    return true;
  std::vector<Access> fp;
  accesses(t, in, nullptr, fp);
  for (const Access &r : fp)
    if (r.domain == mem && r.lo < hi && lo < r.hi)
      return true;
  return false;
}

void accessedRanges(const Target &t, const Op &in, const int32_t *regs, int mem,
                    std::vector<std::pair<uint64_t, uint64_t>> &out) {
  std::vector<Access> fp;
  accesses(t, in, regs, fp);
  for (const Access &r : fp)
    if (r.domain == mem && r.lo < r.hi)
      out.push_back({r.lo, r.hi});
}

} // namespace ember::accel

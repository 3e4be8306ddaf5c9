//===- RetireLog.h - Retirement records of the SystemC model ---*- C++ -*-===//
//
// What a core of the SystemC model reports to a retirement callback (driver.h,
// "Co-simulation"): the writes and counter contributions each instruction made
// until it retires, then one record. Writes are recorded at the TLM targets'
// boundary (every scratchpad and DRAM write of the model passes there), so the
// record holds exactly the bytes the instruction wrote.
//
//===----------------------------------------------------------------------===//
#ifndef EMBER_NPU_SYSTEMC_RETIRELOG_H
#define EMBER_NPU_SYSTEMC_RETIRELOG_H

#include "ember/npu/Isa.h"
#include "ember/npu/driver.h"

#include <cstring>
#include <unordered_map>
#include <vector>

namespace ember::npu {

class RetireLog {
public:
  ember_npu_retire_fn fn = nullptr;
  void *user = nullptr;
  struct Pending {
    std::vector<ember_npu_write_t> writes; // data: offsets into `bytes`
    std::vector<uint8_t> bytes;
    uint64_t macs = 0, loadBytes = 0, storeBytes = 0;
  };
  bool on() const { return fn != nullptr; }
  void clear() { pending_.clear(); }
  Pending &of(uint32_t index) { return pending_[index]; }
  /// Records a write of `n` bytes at `addr` of `space`; with a byte-enable
  /// pattern (TLM's: repeated every `beLen` bytes) only the enabled bytes.
  void write(uint32_t index, int space, uint64_t addr, const uint8_t *data,
             size_t n, const uint8_t *be = nullptr, unsigned beLen = 0,
             uint8_t enabled = 0xff) {
    Pending &t = pending_[index];
    for (size_t i = 0; i < n;) {
      if (be && be[i % beLen] != enabled) {
        ++i;
        continue;
      }
      size_t j = i;
      while (j < n && (!be || be[j % beLen] == enabled))
        ++j;
      t.writes.push_back({static_cast<uint32_t>(space),
                          static_cast<uint32_t>(j - i), addr + i,
                          reinterpret_cast<const uint8_t *>(t.bytes.size())});
      t.bytes.insert(t.bytes.end(), data + i, data + j);
      i = j;
    }
  }
  /// Reports instruction `index`'s retirement at `cycle`; false when the
  /// callback asks to stop the run.
  bool retire(uint32_t index, Engine e, uint64_t cycle) {
    Pending t = std::move(pending_[index]);
    pending_.erase(index);
    for (ember_npu_write_t &w : t.writes)
      w.data = t.bytes.data() + reinterpret_cast<size_t>(w.data);
    ember_npu_retire_t r;
    std::memset(&r, 0, sizeof r);
    r.struct_size = sizeof r;
    r.engine = static_cast<uint32_t>(e);
    r.index = index;
    r.cycle = cycle;
    r.macs = t.macs;
    r.load_bytes = t.loadBytes;
    r.store_bytes = t.storeBytes;
    r.spaces = EMBER_NPU_SPACES_ALL;
    r.num_writes = static_cast<uint32_t>(t.writes.size());
    r.writes = t.writes.data();
    return fn(user, &r) == 0;
  }

private:
  std::unordered_map<uint32_t, Pending> pending_;
};

} // namespace ember::npu

#endif // EMBER_NPU_SYSTEMC_RETIRELOG_H

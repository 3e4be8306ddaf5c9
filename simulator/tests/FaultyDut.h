// A DUT with a planted bug, as a vendor's executor (driver.h,
// ember_npu_executor_ops_t): the golden model, whose first instruction at
// or after index N that writes something (a late, region-wide record
// aside) reports one byte of its first write flipped by 0x40 (options
// "fN"), that write dropped ("dN") or one MAC too many ("cN"), once per
// run. Used in-process by CosimTest.cpp (through
// ember_npu_device_create_external) and as a library by
// tests/npu/FaultyExecutor.cpp (`ember cosim MODEL --dut
// libnpu_faulty_executor.so --dut-options f450`).
#pragma once

#include "ember/npu/driver.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace ember::npu::faulty {

struct Faulty {
  char mode = 'f';
  uint64_t from = 0;
  bool done = false;
  ember_npu_device_t *inner = nullptr;
  ember_npu_retire_fn fn = nullptr;
  void *user = nullptr;
};

inline int forward(void *u, const ember_npu_retire_t *r) {
  Faulty &f = *static_cast<Faulty *>(u);
  if (f.done || r->index < f.from || !r->num_writes ||
      (r->flags & EMBER_NPU_RETIRE_LATE))
    return f.fn ? f.fn(f.user, r) : 0;
  f.done = true;
  ember_npu_retire_t copy = *r;
  std::vector<ember_npu_write_t> w(r->writes, r->writes + r->num_writes);
  std::vector<uint8_t> first(w[0].data, w[0].data + w[0].bytes);
  if (f.mode == 'f') {
    first[0] ^= 0x40;
    w[0].data = first.data();
  } else if (f.mode == 'd') {
    w.erase(w.begin());
  } else {
    copy.macs += 1;
  }
  copy.writes = w.data();
  copy.num_writes = static_cast<uint32_t>(w.size());
  copy.flags &= ~EMBER_NPU_RETIRE_SUPERSET;
  return f.fn ? f.fn(f.user, &copy) : 0;
}

inline int create(const ember_npu_config_t *cfg, const char *options,
                  void **ctx, char *err, size_t n) {
  if (!options || !std::strchr("fdc", options[0]) || !options[0] ||
      !options[1]) {
    std::snprintf(err, n, "expected options fN, dN or cN (got '%s')",
                  options ? options : "");
    return 1;
  }
  auto *f = new Faulty();
  f->mode = options[0];
  f->from = std::strtoull(options + 1, nullptr, 10);
  ember_npu_config_t c = *cfg;
  c.executor = EMBER_NPU_EXECUTOR_GOLDEN;
  if (ember_npu_device_create(&c, &f->inner) != EMBER_NPU_STATUS_OK) {
    std::snprintf(err, n, "cannot create the golden model");
    delete f;
    return 1;
  }
  *ctx = f;
  return 0;
}

inline void destroy(void *ctx) {
  auto *f = static_cast<Faulty *>(ctx);
  ember_npu_device_destroy(f->inner);
  delete f;
}

inline int run(void *ctx, const void *insns, size_t count, uint8_t *dram,
               uint64_t bytes, ember_npu_counters_t *counters,
               ember_npu_retire_fn fn, void *user, char *err, size_t n) {
  auto *f = static_cast<Faulty *>(ctx);
  f->fn = fn;
  f->user = user;
  f->done = false;
  ember_npu_dram_write(f->inner, 0, dram, bytes);
  ember_npu_program_load(f->inner, insns, count);
  ember_npu_set_retire_callback(f->inner, forward, f);
  ember_npu_status_t st = ember_npu_run(f->inner);
  ember_npu_set_retire_callback(f->inner, nullptr, nullptr);
  ember_npu_dram_read(f->inner, 0, dram, bytes);
  ember_npu_counters_read(f->inner, counters);
  if (st != EMBER_NPU_STATUS_OK) {
    std::snprintf(err, n, "%s", ember_npu_device_last_error(f->inner));
    return 1;
  }
  return 0;
}

// The executor's function table.
inline const ember_npu_executor_ops_t *ops() {
  static const ember_npu_executor_ops_t table = [] {
    ember_npu_executor_ops_t o;
    std::memset(&o, 0, sizeof o);
    o.struct_size = sizeof o;
    o.abi_version = EMBER_NPU_EXECUTOR_ABI_VERSION;
    o.name = "faulty-golden";
    o.create = create;
    o.destroy = destroy;
    o.run = run;
    return o;
  }();
  return &table;
}

} // namespace ember::npu::faulty

/*===- driver.h - Ember NPU device interface (C ABI) ----------------------===*
 *
 * One interface implemented by every executor of NPU programs: the golden
 * model, the SystemC model and the Verilator RTL. Tests and tools are written
 * against it only, so the same test runs on any executor.
 *
 * Ownership: ember_npu_device_create returns a device owned by the caller and
 * released with ember_npu_device_destroy. Buffers passed in are copied; nothing
 * passed in is retained. Errors: functions return an ember_npu_status_t;
 * ember_npu_device_last_error returns a message that stays valid until the next
 * call on the same device. The SystemC executor has one simulation kernel per
 * process: create at most one SystemC device at a time (creating a second fails
 * with EMBER_NPU_STATUS_BUSY). RTL devices are independent (any number, one
 * thread each); a build without Verilator returns EMBER_NPU_STATUS_UNSUPPORTED.
 *
 * Structs start with struct_size; fields are only ever appended, and a caller
 * compiled against an older, shorter struct still works (the fields it does not
 * have read as zero).
 *===----------------------------------------------------------------------===*/
#ifndef EMBER_NPU_DRIVER_H
#define EMBER_NPU_DRIVER_H

#include "ember/npu/NpuSpec.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum ember_npu_status {
  EMBER_NPU_STATUS_OK = 0,
  EMBER_NPU_STATUS_INVALID_ARGUMENT = 1,
  EMBER_NPU_STATUS_BAD_PROGRAM =
      2, /* decode/validation error before execution */
  EMBER_NPU_STATUS_EXEC_ERROR =
      3, /* runtime error: token underflow, deadlock, bad pool geometry */
  EMBER_NPU_STATUS_BUSY = 4,
  EMBER_NPU_STATUS_UNSUPPORTED = 5
} ember_npu_status_t;

typedef enum ember_npu_executor {
  EMBER_NPU_EXECUTOR_GOLDEN = 0,  /* instruction at a time, no timing */
  EMBER_NPU_EXECUTOR_SYSTEMC = 1, /* TLM-2.0, approximately timed */
  EMBER_NPU_EXECUTOR_RTL = 2      /* hw/rtl under Verilator, cycle by cycle */
} ember_npu_executor_t;

typedef struct ember_npu_config {
  uint32_t struct_size;          /* sizeof(ember_npu_config_t) */
  uint32_t executor;             /* ember_npu_executor_t */
  uint64_t dram_bytes;           /* 0 = spec default */
  uint32_t dram_bytes_per_cycle; /* 0 = spec default */
  uint32_t
      dram_latency_cycles;   /* 0 = spec default; set dram_zero_latency for 0 */
  uint32_t dram_burst_bytes; /* 0 = spec default */
  uint32_t dram_zero_latency; /* nonzero: latency 0 */
  const char *trace_path; /* SystemC: Chrome trace JSON written after each run,
                             or NULL */
  /* Appended for the RTL executor (the others ignore them): */
  const char *
      waveform_path; /* FST waveform of each run (rewritten per run), or NULL */
  uint64_t watchdog_cycles; /* cycles without progress before a run fails; 0 =
                               default */
} ember_npu_config_t;

typedef struct ember_npu_counters {
  uint32_t struct_size; /* set by the caller to sizeof(ember_npu_counters_t) */
  uint32_t reserved;
#define EMBER_NPU_X(name) uint64_t name;
  EMBER_NPU_COUNTER_LIST(EMBER_NPU_X)
#undef EMBER_NPU_X
} ember_npu_counters_t;

/* What an executor is and supports; tests decide from this, not from executor
 * names. */
typedef struct ember_npu_device_info {
  uint32_t
      struct_size;   /* set by the caller to sizeof(ember_npu_device_info_t) */
  uint32_t executor; /* ember_npu_executor_t */
  const char *name;  /* "golden", "systemc", "rtl" (static storage) */
  uint32_t dim;      /* systolic array dimension */
  uint32_t timed;    /* nonzero: cycles, busy/stall and overlap counters are
                        meaningful */
  uint32_t
      concurrent; /* nonzero: engines run concurrently (tokens order them) */
  uint32_t reserved;
  uint64_t dram_bytes;
  uint32_t mem_rows[EMBER_NPU_NUM_MEMS]; /* rows of each scratchpad,
                                            EMBER_NPU_MEM_* order */
} ember_npu_device_info_t;

typedef struct ember_npu_device ember_npu_device_t;

void ember_npu_config_init(ember_npu_config_t *config);
ember_npu_status_t ember_npu_device_create(const ember_npu_config_t *config,
                                           ember_npu_device_t **out_device);
void ember_npu_device_destroy(ember_npu_device_t *device);
const char *ember_npu_device_last_error(const ember_npu_device_t *device);
ember_npu_status_t ember_npu_device_query(const ember_npu_device_t *device,
                                          ember_npu_device_info_t *out_info);

ember_npu_status_t ember_npu_dram_write(ember_npu_device_t *device,
                                        uint64_t addr, const void *data,
                                        size_t bytes);
ember_npu_status_t ember_npu_dram_read(ember_npu_device_t *device,
                                       uint64_t addr, void *data, size_t bytes);
/* Debug access to a scratchpad (EMBER_NPU_MEM_*), row granularity. */
ember_npu_status_t ember_npu_sram_read(ember_npu_device_t *device, uint32_t mem,
                                       uint32_t row, void *data, uint32_t rows);

/* Copies `count` 16-byte instructions; validated when run. */
ember_npu_status_t ember_npu_program_load(ember_npu_device_t *device,
                                          const void *insns, size_t count);
/* Runs the loaded program to FINISH. SRAM, registers and tokens are reset
 * first; DRAM is kept. */
ember_npu_status_t ember_npu_run(ember_npu_device_t *device);
ember_npu_status_t ember_npu_counters_read(const ember_npu_device_t *device,
                                           ember_npu_counters_t *out_counters);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* EMBER_NPU_DRIVER_H */

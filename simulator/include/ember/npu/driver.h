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
 * with EMBER_NPU_STATUS_BUSY, as does creating one from a second copy of this
 * driver, e.g. another array size's plugin, once the first has elaborated).
 * RTL devices are independent (any number, one thread each); a build without
 * Verilator returns EMBER_NPU_STATUS_UNSUPPORTED.
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
  /* Appended for multi-core platforms (SystemC only; see "Platforms" below):
   */
  uint32_t cores; /* 0: one core, run with ember_npu_run. 1 to
                     EMBER_NPU_PLATFORM_CORES: a platform of that many cores,
                     each with a window of dram_bytes (0 =
                     EMBER_NPU_PLATFORM_CORE_DRAM_BYTES) of one DRAM */
  uint32_t
      shared_dram_bytes_per_cycle; /* the platform's DRAM channel, which
                                      its cores share; 0 =
                                      EMBER_NPU_PLATFORM_DRAM_BYTES_PER_CYCLE
                                    */
  /* Appended for co-simulation and regressions (SystemC and RTL runs; see
   * "Stalls" below): */
  uint64_t stall_cycles; /* a run fails when no instruction retires for this
                            many cycles before FINISH; 0 = the bound derived
                            from the program and the DRAM timing
                            (EMBER_NPU_STALL_DERIVED), UINT64_MAX = off */
  const char *options;   /* options of the built-in executor, or NULL:
                            "fault=stall-ENGINE@I" plants a stall (ENGINE:
                            load, gemm, vector or store) at the engine's
                            first instruction from index I on, to exercise
                            a verification flow; a bad string
                            fails ember_npu_device_create with
                            INVALID_ARGUMENT (ember_npu_last_load_error()
                            says why) */
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
  /* Appended for platforms: */
  uint32_t cores; /* 0: a single-core device */
  uint32_t shared_dram_bytes_per_cycle;
  uint64_t core_dram_bytes; /* each core's window (core c's starts at
                               c * core_dram_bytes) */
  uint64_t clock_hz;        /* the clock cycles are counted at */
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

/* ---- Platforms (config.cores >= 1; the SystemC executor) --------------------
 * Several cores on one DRAM: core c sees its window [c * core_dram_bytes,
 * (c + 1) * core_dram_bytes) of the device's DRAM as addresses from 0, and the
 * DRAM bursts of every core also book the shared channel, so cores running at
 * the same time contend for its bandwidth. Programs run as jobs: each core
 * runs its jobs one after another in the order they were submitted, the
 * cores at the same time (one simulation: a job starts at the simulated time
 * its core takes it up, so jobs on different cores overlap in simulated time
 * as they would on the chip). A job's writes copy host memory into the
 * core's window when it starts, its reads copy the window out when it ends
 * (only when it succeeded); both are free in simulated time. Every function
 * here may be called from any thread; ember_npu_dram_write/read must not
 * touch a window while a job runs there. ember_npu_run on a platform runs
 * the loaded program on core 0. */

/* A copy between host memory and a core's window, at `addr` in the window.
 * A write with a nonzero `key` names its contents (a program's weights): it
 * is skipped when the window still holds what the last write of that key
 * put there, that is when no job with another keyed write ran on the core
 * since and no job failed there. */
typedef struct ember_npu_copy {
  uint64_t addr;
  void *host; /* read by a write, written by a read */
  uint64_t bytes;
  uint64_t key;
} ember_npu_copy_t;

typedef struct ember_npu_job_desc {
  uint32_t struct_size; /* sizeof(ember_npu_job_desc_t) */
  uint32_t core;
  const void *insns; /* `count` 16-byte instructions (copied) */
  size_t count;
  /* Host pointers stay borrowed until the job completed. */
  const ember_npu_copy_t *writes; /* applied in order when it starts */
  size_t num_writes;
  const ember_npu_copy_t *reads; /* applied when it ends successfully */
  size_t num_reads;
  const char *trace_path; /* a Chrome trace of the job (as config.trace_path
                             writes one per run), or NULL */
} ember_npu_job_desc_t;

typedef struct ember_npu_job_info {
  uint32_t struct_size; /* set by the caller to sizeof(ember_npu_job_info_t) */
  uint32_t core;
  uint64_t start_cycle; /* on the platform's clock (shared by its cores) */
  uint64_t end_cycle;
  ember_npu_counters_t counters; /* of this job alone (set its struct_size) */
} ember_npu_job_info_t;

typedef struct ember_npu_job ember_npu_job_t;

/* Queues a job on a core; returns at once. The program is validated when the
 * job is taken up (a bad one fails the job with BAD_PROGRAM). */
ember_npu_status_t ember_npu_job_submit(ember_npu_device_t *device,
                                        const ember_npu_job_desc_t *desc,
                                        ember_npu_job_t **out_job);
/* Queues `count` jobs at once: the platform takes none of them up before all
 * are queued (jobs on different cores then start at the same cycle when
 * their cores are idle). On an error nothing is queued. */
ember_npu_status_t ember_npu_job_submit_all(ember_npu_device_t *device,
                                            const ember_npu_job_desc_t *descs,
                                            size_t count,
                                            ember_npu_job_t **out_jobs);
/* Waits up to timeout_ns (UINT64_MAX: forever): OK when the job succeeded,
 * BUSY when it is not done yet, BAD_PROGRAM or EXEC_ERROR when it failed
 * (ember_npu_job_error says why). */
ember_npu_status_t ember_npu_job_wait(ember_npu_job_t *job,
                                      uint64_t timeout_ns);
/* The failure's message ("" while pending or after success); valid until the
 * job is released. */
const char *ember_npu_job_error(const ember_npu_job_t *job);
/* Timing and counters of a completed job. */
ember_npu_status_t ember_npu_job_info(const ember_npu_job_t *job,
                                      ember_npu_job_info_t *out_info);
/* Releases a job, waiting for it first if it is still queued or running. */
void ember_npu_job_release(ember_npu_job_t *job);

/*===----------------------------------------------------------------------===*
 * Co-simulation: retirement records and executors of one's own.
 *
 * A retirement record is what an executor reports as each instruction of a
 * run retires (for LOAD, VECTOR and STORE: the cycle it gives its tokens; for
 * GEMM: its retire stage; FENCE and FINISH: their acceptance): its index, its
 * engine, the cycle, its own counter contributions and every write it made,
 * in the order they happened (a later write of a byte wins). Two executors
 * agree on a race-free program when their records agree instruction by
 * instruction, whatever order the engines retire in: that is what `ember
 * cosim` and the npu-sim backend's checked RTL runs compare
 * (docs/npu-rtl.md, "Verification flow").
 *
 * Any executor can sit behind this interface: besides the built-in ones, a
 * vendor's model (a Verilator build of their own RTL, say) implements
 * ember_npu_executor_ops_t and becomes a device through
 * ember_npu_device_create_external, or ships as a shared library exporting
 * EMBER_NPU_EXECUTOR_ENTRY_SYMBOL (`ember cosim --dut lib.so`). The driver
 * keeps DRAM, validates programs and dispatches; the executor runs them.
 *===----------------------------------------------------------------------===*/

/* Address spaces of a write: the scratchpads (EMBER_NPU_MEM_*), DRAM and the
 * VECTOR engine's output tables (bytes [0, 256): the 8-bit table; [256, 1282):
 * the 16-bit table's 513 int16 entries, little-endian). Addresses are byte
 * addresses inside the space (scratchpad row r starts at r x its row bytes;
 * the upper plane of a 16-bit row is the row half the memory further). */
#define EMBER_NPU_SPACE_DRAM EMBER_NPU_NUM_MEMS
#define EMBER_NPU_SPACE_LUT (EMBER_NPU_NUM_MEMS + 1)
#define EMBER_NPU_LUT16_OFFSET 256
#define EMBER_NPU_NUM_SPACES (EMBER_NPU_NUM_MEMS + 2)
/* Every space an executor may report (the `spaces` mask of a record). */
#define EMBER_NPU_SPACES_ALL ((1u << EMBER_NPU_NUM_SPACES) - 1u)

typedef struct ember_npu_write {
  uint32_t space; /* EMBER_NPU_MEM_* or EMBER_NPU_SPACE_* */
  uint32_t bytes;
  uint64_t addr;
  const uint8_t *data; /* `bytes` bytes */
} ember_npu_write_t;

/* Record flags. LATE: writes made after the instruction had retired (a
 * record of its own, after the instruction's first). SUPERSET: `writes` may
 * also list bytes the instruction did not write, with their values after it
 * (a reference model that reports regions rather than write events). */
#define EMBER_NPU_RETIRE_LATE 1u
#define EMBER_NPU_RETIRE_SUPERSET 2u

typedef struct ember_npu_retire {
  uint32_t
      struct_size; /* sizeof(ember_npu_retire_t) as the executor knows it */
  uint32_t engine; /* EMBER_NPU_ENGINE_*, or EMBER_NPU_NUM_ENGINES (fetch:
                      FENCE, FINISH) */
  uint64_t index;  /* the instruction's position in the program */
  uint64_t cycle;  /* when it retired (untimed executors: 0) */
  uint64_t macs;   /* its own contributions to these counters */
  uint64_t load_bytes;
  uint64_t store_bytes;
  uint32_t spaces; /* bit s: `writes` lists every write to space s (the
                      spaces the executor traces) */
  uint32_t flags;  /* EMBER_NPU_RETIRE_* */
  uint32_t num_writes;
  uint32_t reserved;
  const ember_npu_write_t *writes;
} ember_npu_retire_t;

/* Called at each retirement; the record and its data are valid during the
 * call only. A nonzero return stops the run: ember_npu_run then returns
 * EMBER_NPU_STATUS_EXEC_ERROR, "instruction <i>: stopped by the retirement
 * callback". */
typedef int (*ember_npu_retire_fn)(void *user,
                                   const ember_npu_retire_t *record);

/* Every later ember_npu_run of `device` reports retirements to `fn` (NULL:
 * off, the default; tracing costs time, most on the RTL). */
ember_npu_status_t ember_npu_set_retire_callback(ember_npu_device_t *device,
                                                 ember_npu_retire_fn fn,
                                                 void *user);

/* The next runs write a waveform of cycles [first_cycle, last_cycle] only to
 * `path` (NULL: none). RTL: an FST file; SystemC: a Chrome trace of the
 * instructions that overlap the window. EMBER_NPU_STATUS_UNSUPPORTED from an
 * executor without waveforms. */
ember_npu_status_t ember_npu_set_waveform_window(ember_npu_device_t *device,
                                                 const char *path,
                                                 uint64_t first_cycle,
                                                 uint64_t last_cycle);

/* ---- Stalls -----------------------------------------------------------------
 * A DUT that stops retiring (an engine stuck in a state it never leaves) would
 * run forever. The SystemC and RTL executors stop a run when no instruction
 * has retired for config.stall_cycles cycles before FINISH and fail it with
 * "instruction <i>: stall: ..." (i: the oldest instruction not retired), and
 * ember_npu_stop_state tells where every engine stood. The default limit is
 * derived from the program and the DRAM timing: with every older instruction
 * retired, an instruction of a race-free program that the golden model
 * completes has its tokens and its signal space, so it retires within its own
 * worst-case latency (its rows, each DRAM burst behind a full request queue of
 * the other DMA engine's bursts plus the latency); no correct run goes longer
 * without a retirement than the largest such latency in the program
 * (docs/npu-rtl.md, "Stall watchdog"). */
#define EMBER_NPU_STALL_DERIVED 0
#define EMBER_NPU_STALL_OFF UINT64_MAX

/* What an engine was doing when a run stopped. */
#define EMBER_NPU_PHASE_IDLE                                                   \
  0                             /* holds no instruction (may have queued ones) \
                                 */
#define EMBER_NPU_PHASE_TOKEN 1 /* waits for a token on `channel` */
#define EMBER_NPU_PHASE_EXEC 2  /* executing */
#define EMBER_NPU_PHASE_SPACE 3 /* finished; waits for space on `channel` */
#define EMBER_NPU_PHASE_SHADOW 4  /* GEMM: waits for the shadow weights */
#define EMBER_NPU_PHASE_PRELOAD 5 /* GEMM: preloads its weight tile */
#define EMBER_NPU_PHASE_STREAM 6  /* GEMM: streams its rows into the array */
#define EMBER_NPU_PHASE_DRAIN                                                  \
  7 /* GEMM: its results are on their way to ACC                               \
     */
#define EMBER_NPU_NO_INSN UINT64_MAX

typedef struct ember_npu_engine_state {
  uint32_t phase;     /* EMBER_NPU_PHASE_* */
  uint32_t channel;   /* TOKEN, SPACE: the channel (src * 4 + dst) */
  uint64_t index;     /* the instruction it holds (GEMM: its oldest in flight;
                         IDLE: its queue's head), or EMBER_NPU_NO_INSN */
  uint32_t queued;    /* instructions in its queue */
  uint32_t in_flight; /* GEMM: instructions between token take and retire */
} ember_npu_engine_state_t;

typedef struct ember_npu_stop_state {
  uint32_t
      struct_size;  /* set by the caller to sizeof(ember_npu_stop_state_t) */
  uint32_t stalled; /* nonzero: the run was stopped by the stall limit */
  uint64_t cycle;   /* the cycle the run stopped in */
  uint64_t last_retire_cycle; /* the last cycle an instruction retired in */
  uint64_t stall_cycles;      /* the limit that applied (EMBER_NPU_STALL_OFF:
                                 none) */
  uint64_t fetched;           /* instructions fetched */
  ember_npu_engine_state_t engines[EMBER_NPU_NUM_ENGINES];
  uint32_t tokens[EMBER_NPU_NUM_ENGINES *
                  EMBER_NPU_NUM_ENGINES]; /* tokens held by each channel */
  uint64_t load_pending_bytes; /* DRAM bytes LOAD requested, not yet arrived */
  uint32_t dram_queue;         /* DRAM requests waiting for the channel */
  uint32_t dram_reads;  /* read bursts on the channel or not yet delivered */
  uint32_t dram_writes; /* write bursts on the channel or not yet answered */
  uint32_t reserved;
  uint64_t last_beat_cycle; /* the last data beat on the memory port
                               (EMBER_NPU_NO_INSN: none) */
} ember_npu_stop_state_t;

/* Where the last run of `device` stopped. EMBER_NPU_STATUS_UNSUPPORTED for
 * an executor that does not report it (the golden model: it cannot stall). */
ember_npu_status_t ember_npu_stop_state(const ember_npu_device_t *device,
                                        ember_npu_stop_state_t *out_state);

/* An executor of one's own. Every function returns 0 on success, else writes
 * a one-line message into err (err_size bytes, NUL-terminated) and returns
 * nonzero. Optional functions may be NULL. */
#define EMBER_NPU_EXECUTOR_ABI_VERSION 1
#define EMBER_NPU_EXECUTOR_EXTERNAL 3 /* ember_npu_device_info_t.executor */
typedef struct ember_npu_executor_ops {
  uint32_t struct_size; /* sizeof(ember_npu_executor_ops_t) */
  uint32_t abi_version; /* EMBER_NPU_EXECUTOR_ABI_VERSION */
  const char *name;     /* what device queries and reports call it */
  uint32_t timed;       /* as in ember_npu_device_info_t */
  uint32_t concurrent;
  /* A new instance for `config` (DRAM timing; dram_bytes is the driver's) and
   * the option string given to the device (may be empty). */
  int (*create)(const ember_npu_config_t *config, const char *options,
                void **out_ctx, char *err, size_t err_size);
  void (*destroy)(void *ctx);
  /* Runs `count` 16-byte instructions (decoded and validated by the driver)
   * against `dram` (the device's DRAM, read and written in place), after
   * resetting scratchpads, registers and tokens. Fills `counters` (its
   * struct_size is set), calls `fn` (when not NULL) at each retirement and
   * stops when it returns nonzero. A failing program returns nonzero with
   * "instruction <i>: <cause>" in err. */
  int (*run)(void *ctx, const void *insns, size_t count, uint8_t *dram,
             uint64_t dram_bytes, ember_npu_counters_t *counters,
             ember_npu_retire_fn fn, void *user, char *err, size_t err_size);
  /* Optional: scratchpad rows after a run (ember_npu_sram_read). */
  int (*sram_read)(void *ctx, uint32_t mem, uint32_t row, void *data,
                   uint32_t rows);
  /* Optional: as ember_npu_set_waveform_window. */
  int (*set_waveform_window)(void *ctx, const char *path, uint64_t first_cycle,
                             uint64_t last_cycle, char *err, size_t err_size);
  /* Appended, optional: as ember_npu_stop_state (a run that honours
   * config->stall_cycles fails with "instruction <i>: stall: ..."). */
  int (*stop_state)(void *ctx, ember_npu_stop_state_t *out_state);
} ember_npu_executor_ops_t;

/* A device running on `ops` (which must outlive it); config->executor is
 * ignored. */
ember_npu_status_t ember_npu_device_create_external(
    const ember_npu_config_t *config, const ember_npu_executor_ops_t *ops,
    const char *options, ember_npu_device_t **out_device);

/* A shared library executor exports this symbol, a function returning its
 * ops table. */
#define EMBER_NPU_EXECUTOR_ENTRY_SYMBOL "ember_npu_executor_entry"
typedef const ember_npu_executor_ops_t *(*ember_npu_executor_entry_fn)(void);

/* Loads `path` (kept loaded for the process) and creates a device on the
 * executor it exports. EMBER_NPU_STATUS_INVALID_ARGUMENT when the library or
 * its symbol cannot be loaded or its table is of another ABI version;
 * ember_npu_last_load_error() says why. */
ember_npu_status_t
ember_npu_device_open_library(const ember_npu_config_t *config,
                              const char *path, const char *options,
                              ember_npu_device_t **out_device);
const char *ember_npu_last_load_error(void);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* EMBER_NPU_DRIVER_H */

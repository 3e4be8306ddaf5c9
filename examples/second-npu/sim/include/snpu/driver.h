/* The second NPU's device interface (C99): what its simulator implements and
 * what a driver of real silicon would. A device has DRAM, one loaded program
 * (128-bit words, Isa.h) and counters; snpu_run executes the program to its
 * END and returns a status, with snpu_last_error naming the instruction and
 * the cause of a failure (an address out of bounds, a barrier wait that can
 * never be met, a malformed word). Runs never crash or hang on any program. */
#ifndef SNPU_DRIVER_H
#define SNPU_DRIVER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
  SNPU_OK = 0,
  SNPU_INVALID_ARGUMENT = 1, /* a NULL pointer, a bad configuration */
  SNPU_OUT_OF_BOUNDS = 2,    /* a DRAM or SRAM address beyond the memory */
  SNPU_BAD_PROGRAM = 3,      /* a word that is no instruction, no END */
  SNPU_DEADLOCK = 4,         /* a barrier wait that can never be met */
  SNPU_BARRIER_OVERFLOW = 5  /* a signal beyond a barrier's counter */
} snpu_status;

typedef struct {
  uint32_t struct_size;
  uint64_t dram_bytes;           /* default 256 MiB */
  uint32_t dram_bytes_per_cycle; /* the shared DRAM port; default 32 */
  uint32_t dram_latency;         /* cycles from request to data; default 100 */
} snpu_config;

typedef struct {
  uint32_t struct_size;
  uint64_t cycles; /* first start to last end */
  uint64_t insns;
  uint64_t array_macs; /* 8 x 32 per array cycle */
  uint64_t load_bytes, store_bytes;
  uint64_t busy[4];    /* per queue: cycles executing */
  uint64_t stall[4];   /* per queue: cycles waiting on a barrier */
  uint64_t port_stall; /* cycles instructions were delayed by SRAM ports */
  uint64_t dram_stall; /* cycles transfers waited for the DRAM port */
  uint64_t overlap;    /* cycles a DMA engine and the array both ran */
} snpu_counters;

/* When each instruction ran (after a successful run). */
typedef struct {
  uint64_t start, end;
} snpu_span;

typedef struct snpu_device snpu_device;

void snpu_config_init(snpu_config *cfg);
snpu_status snpu_device_create(const snpu_config *cfg, snpu_device **out);
void snpu_device_destroy(snpu_device *dev);
snpu_status snpu_dram_write(snpu_device *dev, uint64_t addr, const void *src,
                            size_t bytes);
snpu_status snpu_dram_read(snpu_device *dev, uint64_t addr, void *dst,
                           size_t bytes);
/* `count` words of 16 bytes (little-endian low then high 64 bits). Decoded
 * and checked here: a malformed word fails the load, naming its index. */
snpu_status snpu_program_load(snpu_device *dev, const void *words,
                              size_t count);
snpu_status snpu_run(snpu_device *dev);
const char *snpu_last_error(const snpu_device *dev);
snpu_status snpu_counters_read(const snpu_device *dev, snpu_counters *out);
/* Spans of the last run's instructions, `count` at most; returns how many. */
size_t snpu_spans_read(const snpu_device *dev, snpu_span *out, size_t count);

#ifdef __cplusplus
}
#endif

#endif /* SNPU_DRIVER_H */

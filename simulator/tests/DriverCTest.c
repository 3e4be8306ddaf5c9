/* DriverCTest.c - driver.h is a C ABI: compile as C99 and run a program through
 * it from C. */
#include "ember/npu/driver.h"

#include <stdio.h>
#include <string.h>

/* Little-endian instruction bytes: bit b is bit b % 8 of byte b / 8. */
static void setField(uint8_t *insn, unsigned lsb, unsigned width,
                     uint64_t value) {
  for (unsigned i = 0; i < width; ++i) {
    unsigned bit = lsb + i;
    insn[bit / 8] = (uint8_t)((insn[bit / 8] & ~(1u << (bit % 8))) |
                              (((value >> i) & 1u) << (bit % 8)));
  }
}

int main(void) {
  ember_npu_config_t config;
  ember_npu_config_init(&config);
  config.dram_bytes = 4096;
  ember_npu_device_t *device = NULL;
  if (ember_npu_device_create(&config, &device) != EMBER_NPU_STATUS_OK)
    return 1;
  ember_npu_device_info_t info;
  info.struct_size = sizeof info;
  if (ember_npu_device_query(device, &info) != EMBER_NPU_STATUS_OK ||
      info.dim != EMBER_NPU_DIM)
    return 2;
  /* load ysize=1 xsize=1 signal=LOAD->STORE; store dram=64 ysize=1 xsize=1
     wait=LOAD->STORE; finish - encoded with the generated field positions. */
  uint8_t program[3][EMBER_NPU_INSN_BYTES];
  memset(program, 0, sizeof program);
  uint32_t loadToStore = 1u << EMBER_NPU_TOKEN_CHANNEL(EMBER_NPU_ENGINE_LOAD,
                                                       EMBER_NPU_ENGINE_STORE);
  setField(program[0], EMBER_NPU_F_OPCODE_LSB, EMBER_NPU_F_OPCODE_WIDTH,
           EMBER_NPU_OP_LOAD);
  setField(program[0], EMBER_NPU_F_SIGNAL_LSB, EMBER_NPU_F_SIGNAL_WIDTH,
           loadToStore);
  setField(program[0], EMBER_NPU_F_LOAD_YSIZE_LSB, EMBER_NPU_F_LOAD_YSIZE_WIDTH,
           1);
  setField(program[0], EMBER_NPU_F_LOAD_XSIZE_LSB, EMBER_NPU_F_LOAD_XSIZE_WIDTH,
           1);
  setField(program[1], EMBER_NPU_F_OPCODE_LSB, EMBER_NPU_F_OPCODE_WIDTH,
           EMBER_NPU_OP_STORE);
  setField(program[1], EMBER_NPU_F_WAIT_LSB, EMBER_NPU_F_WAIT_WIDTH,
           loadToStore);
  setField(program[1], EMBER_NPU_F_STORE_DRAM_LSB, EMBER_NPU_F_STORE_DRAM_WIDTH,
           64);
  setField(program[1], EMBER_NPU_F_STORE_YSIZE_LSB,
           EMBER_NPU_F_STORE_YSIZE_WIDTH, 1);
  setField(program[1], EMBER_NPU_F_STORE_XSIZE_LSB,
           EMBER_NPU_F_STORE_XSIZE_WIDTH, 1);
  setField(program[2], EMBER_NPU_F_OPCODE_LSB, EMBER_NPU_F_OPCODE_WIDTH,
           EMBER_NPU_OP_FINISH);
  uint8_t row[EMBER_NPU_ACT_ROW_BYTES];
  for (int i = 0; i < EMBER_NPU_ACT_ROW_BYTES; ++i)
    row[i] = (uint8_t)(i + 1);
  ember_npu_dram_write(device, 0, row, sizeof row);
  ember_npu_program_load(device, program, 3);
  if (ember_npu_run(device) != EMBER_NPU_STATUS_OK) {
    fprintf(stderr, "%s\n", ember_npu_device_last_error(device));
    return 3;
  }
  uint8_t back[EMBER_NPU_ACT_ROW_BYTES];
  ember_npu_dram_read(device, 64, back, sizeof back);
  ember_npu_counters_t counters;
  counters.struct_size = sizeof counters;
  ember_npu_counters_read(device, &counters);
  ember_npu_device_destroy(device);
  if (memcmp(row, back, sizeof row) != 0 || counters.insns != 3 ||
      counters.cycles == 0 || counters.load_bytes != sizeof row)
    return 4;
  puts("ok");
  return 0;
}

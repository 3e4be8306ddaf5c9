# tiny_gemm.nasm - the smallest complete NPU program, written by hand (DIM 16 byte offsets).
#   C[16x16] = requantize(A[16x16] x B[16x16])
# DRAM layout:
#   0     A, row m = A[m][0..15]            (16 rows of 16 int8)
#   256   B as one transposed tile, row j = B[0..15][j]
#   512   requantize parameters: 16 int32 multipliers, then 16 int32 shifts
#   1024  C, row m = C[m][0..15] (written)
# Run: ember sim examples/npu/tiny_gemm.nasm --load data.bin@0 --dump 1024:256:c.bin
load mem=ACT sram=0 dram=0 ysize=1 xsize=16 stride=16
load mem=WGT sram=0 dram=256 ysize=1 xsize=16 stride=16
# The last load signals both consumers; LOAD runs in order, so the earlier loads are done too.
load mem=ACC sram=2046 dram=512 ysize=1 xsize=2 stride=2 signal=LOAD->GEMM,LOAD->VECTOR
gemm reset=1 acc=0 act=0 wgt=0 inner=16 outer=1 wait=LOAD->GEMM signal=GEMM->VECTOR
requant dst=0 src=0 rows=16 param=2046 zp=0 min=-128 max=127 wait=LOAD->VECTOR,GEMM->VECTOR signal=VECTOR->STORE
store mem=OUT sram=0 dram=1024 ysize=1 xsize=16 stride=16 wait=VECTOR->STORE
finish

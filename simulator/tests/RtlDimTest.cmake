# Builds the NPU for another array size in a sub-build (-DEMBER_NPU_DIM=N) and runs the RTL
# co-simulation there: the 559 golden-vs-RTL programs and the kernels (npu.RtlEquivalenceTest)
# and the RTL-vs-SystemC cycle agreement (npu.RtlCycleTest).
# -DSRC=<source dir> -DBIN=<sub-build dir> -DDIM=<8|32> -DGEN=<generator>
execute_process(COMMAND ${CMAKE_COMMAND} -S ${SRC} -B ${BIN} -G ${GEN}
                        -DCMAKE_BUILD_TYPE=Release -DEMBER_BUILD_TESTS=ON
                        -DEMBER_NPU_DIM=${DIM} -DEMBER_NPU_RTL=ON -DEMBER_NPU_RTL_TRACE=OFF
                        -DEMBER_NPU_RTL_OPT_FAST=-O1
                RESULT_VARIABLE rc OUTPUT_QUIET)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "configuring the DIM ${DIM} sub-build failed")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} --build ${BIN} -j 2
                        --target npu_RtlEquivalenceTest npu_RtlCycleTest
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "building the DIM ${DIM} RTL tests failed:\n${out}")
endif()
foreach(t npu_RtlEquivalenceTest npu_RtlCycleTest)
  execute_process(COMMAND ${BIN}/bin/${t} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  string(REGEX MATCHALL "(compute-only|kernels:)[^\n]*" summary "${out}")
  message("DIM ${DIM} ${t}: ${summary}")
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "DIM ${DIM} ${t} failed:\n${out}")
  endif()
endforeach()

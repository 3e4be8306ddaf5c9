# Builds the NPU for another array size in a sub-build (-DEMBER_NPU_DIM=N) and runs the
# co-simulation there: golden vs SystemC (npu.EquivalenceTest), the golden model against its
# references (npu.OutputPathTest), the directed and random golden-vs-RTL programs and the kernels
# (npu.RtlEquivalenceTest), the RTL-vs-SystemC cycle agreement (npu.RtlCycleTest), the 16x8
# array ops against their int8 ops (npu.RtlGemm16Test), the 16-bit
# forms against the 16x8 definition (tests/npu/hw_semantics16.py, given -DPYTHON) and, given the
# main build's ember (-DEMBER, -DPYTHON), the instructions against the interpreter
# (tests/npu/hw_semantics.py) and the compiled upsampling, transposed convolution, column-band,
# strided or banded pool, padded-convolution, pixel, integer LSTM and 16x8 layers' cycles
# (tests/npu/resize_cycles.sh) on the RTL.
# -DSRC=<source dir> -DBIN=<sub-build dir> -DDIM=<8|32> -DGEN=<generator> [-DEMBER= -DPYTHON=]
execute_process(COMMAND ${CMAKE_COMMAND} -S ${SRC} -B ${BIN} -G ${GEN}
                        -DCMAKE_BUILD_TYPE=Release -DEMBER_BUILD_TESTS=ON
                        -DEMBER_NPU_DIM=${DIM} -DEMBER_NPU_RTL=ON -DEMBER_NPU_RTL_TRACE=OFF
                        -DEMBER_NPU_RTL_OPT_FAST=-O1
                RESULT_VARIABLE rc OUTPUT_QUIET)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "configuring the DIM ${DIM} sub-build failed")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} --build ${BIN} -j 2
                        --target npu_RtlEquivalenceTest npu_RtlCycleTest npu_RtlGemm16Test
                                 npu_EquivalenceTest npu_OutputPathTest ember-npu
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "building the DIM ${DIM} RTL tests failed:\n${out}")
endif()
foreach(t npu_EquivalenceTest npu_OutputPathTest npu_RtlEquivalenceTest npu_RtlCycleTest
          npu_RtlGemm16Test)
  execute_process(COMMAND ${BIN}/bin/${t} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  string(REGEX MATCHALL "(compute-only|kernels:|PASSED)[^\n]*" summary "${out}")
  message("DIM ${DIM} ${t}: ${summary}")
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "DIM ${DIM} ${t} failed:\n${out}")
  endif()
endforeach()
if(PYTHON)
  # Spec version 3's 16-bit forms against the 16x8 definition, on the RTL.
  execute_process(COMMAND ${PYTHON} ${SRC}/tests/npu/hw_semantics16.py
                          --npu ${BIN}/bin/ember-npu --dim ${DIM} --executor rtl
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  string(REGEX MATCH "[0-9]+ cases, [0-9]+ failed" summary "${out}")
  message("DIM ${DIM} hw_semantics16.py (rtl): ${summary}")
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "DIM ${DIM} hw_semantics16.py failed:\n${out}")
  endif()
endif()
if(EMBER AND PYTHON)
  # The compiled upsampling layers at this DIM (the sub-build's plugin, the
  # main build's ember): SystemC and RTL retire every instruction in the same
  # cycle (tests/npu/resize_cycles.sh).
  execute_process(COMMAND ${CMAKE_COMMAND} --build ${BIN} -j 2 --target ember_npu_sim
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "building the DIM ${DIM} plugin failed:\n${out}")
  endif()
  # Each group of generated layers (tests/npu/resize_cycles.sh): the
  # upsampling layers, the transposed convolutions' phase layers (STOREs with
  # an x step), the convolutions in column bands, the pools with strides of
  # their own per axis or in column bands, the convolutions padded beyond
  # the loads' fields, the Concats and Slices of pixels, the integer LSTMs
  # and GRUs (16-bit tables as layers), the rank-3 sequences, and the first 40 of the 136 generated 16x8
  # layers (npu-wide16-cycles-rtl runs them all at DIM 16).
  foreach(group resize convt bands pools2 pads pixels lstm gru sequence 16x8-quick)
    execute_process(COMMAND bash ${SRC}/tests/npu/resize_cycles.sh ${EMBER}
                            ${BIN}/bin/ember-npu ${PYTHON} ${BIN}/${group}-cycles
                            plugin:${BIN}/lib/ember/libember_npu_sim.so ${group}
                    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
    string(REGEX MATCH "[0-9]+ [^\n]*programs[^\n]*|skipped[^\n]*" summary "${out}")
    message("DIM ${DIM} resize_cycles.sh ${group}: ${summary}")
    if(NOT rc EQUAL 0 AND NOT rc EQUAL 77)
      message(FATAL_ERROR "DIM ${DIM} resize_cycles.sh ${group} failed:\n${out}")
    endif()
  endforeach()
  execute_process(COMMAND ${PYTHON} ${SRC}/tests/npu/hw_semantics.py --ember ${EMBER}
                          --npu ${BIN}/bin/ember-npu --dim ${DIM} --executor rtl
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  string(REGEX MATCH "[0-9]+ cases, [0-9]+ failed" summary "${out}")
  message("DIM ${DIM} hw_semantics.py (rtl): ${summary}")
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "DIM ${DIM} hw_semantics.py failed:\n${out}")
  endif()
endif()

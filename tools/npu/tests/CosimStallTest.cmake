# A DUT that stops retiring, caught by `ember cosim` (docs/npu-rtl.md, "Stall watchdog"): the
# GEMM kernel on the RTL (the SystemC model in a build without the RTL) with a stall planted
# in one engine (--dut-options fault=stall-ENGINE@I) must end, exit 1 and report the
# instruction and engine that did not retire, where the REF retired it, what every engine
# waits on (tokens, DMA) and the waveform window, in seconds (the ctest timeout guards it).
# Arguments: -DTOOL=ember (or ember-npu: `cosim` is the same code) -DNPU=ember-npu
# -DHAVE_RTL=ON|OFF -DWORK=dir.
file(REMOVE_RECURSE ${WORK})
file(MAKE_DIRECTORY ${WORK})
execute_process(COMMAND ${NPU} kernel gemm -o ${WORK}/g RESULT_VARIABLE rc OUTPUT_QUIET)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "ember-npu kernel gemm failed")
endif()
if(HAVE_RTL)
  set(dut rtl)
  set(ext fst)
else()
  set(dut systemc)
  set(ext json)
endif()

function(expect out pattern what)
  if(NOT out MATCHES "${pattern}")
    message(FATAL_ERROR "${what}: no match for '${pattern}' in:\n${out}")
  endif()
endfunction()

# engine: the planted stall's engine; at: its instruction; phase: what the engine's line says.
function(stall_case engine at phase)
  string(TIMESTAMP t0 "%s")
  execute_process(
    COMMAND ${TOOL} cosim ${WORK}/g.nasm --load ${WORK}/g.dram@0 --dram-bytes 1048576
            --ref golden --dut ${dut} --dut-options fault=stall-${engine}@${at}
            --waveform ${WORK}/stall-${engine}.${ext}
    WORKING_DIRECTORY ${WORK} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err
    TIMEOUT 240)
  string(TIMESTAMP t1 "%s")
  math(EXPR secs "${t1} - ${t0}")
  message("${engine} stall on ${dut}: ${secs} s\n${out}${err}")
  if(NOT rc EQUAL 1)
    message(FATAL_ERROR "${engine}: exit ${rc}, expected 1 (a divergence)")
  endif()
  string(TOUPPER ${engine} ENG)
  if(NOT out MATCHES "first divergence: instruction ([0-9]+): ${engine} ")
    message(FATAL_ERROR "${engine}: no first divergence at a ${engine} instruction")
  endif()
  set(idx ${CMAKE_MATCH_1})
  if(idx LESS at)
    message(FATAL_ERROR "${engine}: instruction ${idx} named, the stall is at ${at}")
  endif()
  expect("${out}" "engine ${ENG}, DUT cycle [0-9]+ \\(end of its run\\): the DUT did not retire it: no instruction retired for [0-9]+ cycles \\(the stall limit [0-9]+\\)"
         "the engine and the stall")
  if(HAVE_RTL) # the SystemC model gives the cycle the REF (untimed) cannot
    set(when " \\(the REF is untimed; the SystemC model, whose timing is the RTL's, retires it in its cycle [0-9]+\\)")
  else()
    set(when " \\(the REF is untimed\\)")
  endif()
  expect("${out}" "the REF retired it as its retirement [0-9]+ of 618${when}; the DUT's last retirement was in cycle [0-9]+"
         "the REF's retirement")
  expect("${out}" "\n    ${ENG} +instruction ${idx} \\(${engine}\\) ${phase}" "the engine's state")
  foreach(e LOAD GEMM VECTOR STORE)
    expect("${out}" "\n    ${e} +[a-z]" "the ${e} line")
  endforeach()
  expect("${out}" "\n    tokens: " "the tokens")
  expect("${out}" "\n    DMA: [^\n]*(last data beat in cycle [0-9]+|no data beat yet)" "the DMA state")
  expect("${out}" "waveform: [^\n]*stall-${engine}.${ext} \\(DUT cycles [0-9]+-[0-9]+\\)" "the waveform")
  file(SIZE ${WORK}/stall-${engine}.${ext} size)
  if(size EQUAL 0)
    message(FATAL_ERROR "${engine}: the waveform window is empty")
  endif()
  expect("${out}" "cosim: diverged at instruction ${idx} ref=golden dut=${dut} engine=${ENG} "
         "the summary line")
endfunction()

# GEMM's next tile never preloads (the engine looks busy: the RTL's own watchdog never fires);
# LOAD never leaves setup, with a burst requested and its data never taken.
stall_case(gemm 300 "waits for the shadow weights to preload its tile")
stall_case(load 400 "executing")

# Lints every NPU RTL module with `verilator --lint-only -Wall` (warnings fatal): each .sv file
# that defines a module is the top of one run, given all sources so its submodules resolve.
# Packages are linted through the modules that import them.
set(failed "")
foreach(f ${SOURCES})
  file(STRINGS ${f} mods REGEX "^module [a-z_0-9]+")
  foreach(m ${mods})
    string(REGEX REPLACE "^module ([a-z_0-9]+).*" "\\1" top "${m}")
    execute_process(COMMAND ${VERILATOR} --lint-only -Wall --unroll-count 256 -I${INC} ${SOURCES}
                            --top-module ${top}
                    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
    if(NOT rc EQUAL 0)
      message("lint failed for ${top}:\n${out}${err}")
      list(APPEND failed ${top})
    else()
      message("lint ok: ${top}")
    endif()
  endforeach()
endforeach()
if(failed)
  message(FATAL_ERROR "verilator lint failed: ${failed}")
endif()

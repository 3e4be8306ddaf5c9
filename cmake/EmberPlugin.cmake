# ember_add_plugin(<target> [OUTPUT_NAME <name>] [EXPORTS <symbol>...]
#                  SOURCES <src>...)
#
# Builds an Ember backend plugin: a MODULE library that exports only
# ember_plugin_entry (hidden visibility plus a linker version script), so
# that nothing inside it can clash with the host or with other plugins.
# EXPORTS adds symbols that a library the plugin depends on expects from
# its host program (SystemC's libsystemc needs an sc_main, for example);
# they must have default visibility in the plugin's code.
# The file is lib<name>.so (name defaults to the target). Used in-tree and,
# after `cmake --install`, by vendors through find_package(Ember).
# _ember_export_only(<target> <output name or ""> <global symbols>): the
# shared settings of a plugin and an op library: hidden visibility, a
# linker version script that exports only the given symbols (patterns
# allowed), no undefined symbols, the backend API's headers.
function(_ember_export_only target output_name globals)
  set(vs ${CMAKE_CURRENT_BINARY_DIR}/${target}.exports.map)
  file(WRITE ${vs} "{\n  global: ${globals}\n  local: *;\n};\n")
  set_target_properties(${target} PROPERTIES
    C_VISIBILITY_PRESET hidden
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON
    POSITION_INDEPENDENT_CODE ON
    LINK_DEPENDS ${vs})
  if(output_name)
    set_target_properties(${target} PROPERTIES OUTPUT_NAME ${output_name})
  endif()
  target_link_options(${target} PRIVATE "LINKER:--version-script=${vs}"
                      "LINKER:--no-undefined")
  if(TARGET Ember::backend_api)
    target_link_libraries(${target} PRIVATE Ember::backend_api)
  elseif(TARGET ember_backend_api)
    target_link_libraries(${target} PRIVATE ember_backend_api)
  endif()
endfunction()

function(ember_add_plugin target)
  cmake_parse_arguments(EAP "" "OUTPUT_NAME" "SOURCES;EXPORTS" ${ARGN})
  add_library(${target} MODULE ${EAP_SOURCES} ${EAP_UNPARSED_ARGUMENTS})
  set(globals "ember_plugin_entry;")
  foreach(sym ${EAP_EXPORTS})
    string(APPEND globals " ${sym};")
  endforeach()
  _ember_export_only(${target} "${EAP_OUTPUT_NAME}" "${globals}")
endfunction()

# ember_add_op_library(<target> [OUTPUT_NAME <name>] SOURCES <src>...)
#
# Builds an Ember op library (docs/custom-ops.md): a SHARED library that
# exports only its entry points, ember_op_library_entry and the
# ember_op_library_entry_<name> alias EMBER_OP_LIBRARY_ENTRY defines, so
# that `ember --op-library` loads it and an AOT bundle links it. C or C++.
function(ember_add_op_library target)
  cmake_parse_arguments(EAO "" "OUTPUT_NAME" "SOURCES" ${ARGN})
  add_library(${target} SHARED ${EAO_SOURCES} ${EAO_UNPARSED_ARGUMENTS})
  _ember_export_only(${target} "${EAO_OUTPUT_NAME}"
                     "ember_op_library_entry; ember_op_library_entry_*;")
endfunction()

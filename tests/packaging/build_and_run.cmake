# Configures, builds and runs one packaging consumer project; run with `cmake -D... -P`.
#
# Required: CONSUMER_SOURCE_DIR, CONSUMER_BINARY_DIR, GENERATOR, CXX_COMPILER.
# Optional: GENERATOR_PLATFORM, GENERATOR_TOOLSET, MAKE_PROGRAM, PREFIX_PATH (where est is
# installed), EST_SOURCE_DIR (for add_subdirectory), Eigen3_DIR.
# Any failing step stops with FATAL_ERROR and shows that step's output, so that CTest's log
# says why the consumer could not be built or run.
cmake_minimum_required(VERSION 3.25)

foreach(_var IN ITEMS CONSUMER_SOURCE_DIR CONSUMER_BINARY_DIR GENERATOR CXX_COMPILER)
  if("${${_var}}" STREQUAL "")
    message(FATAL_ERROR "build_and_run.cmake: -D${_var}=... is required")
  endif()
endforeach()

# Runs a command, failing with its combined stdout/stderr; leaves the output in `step_output`.
function(run_step what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${what} failed (${rc}):\n${out}")
  endif()
  set(step_output "${out}" PARENT_SCOPE)
endfunction()

# A fresh build directory each time: a stale cache could hide a broken package.
file(REMOVE_RECURSE "${CONSUMER_BINARY_DIR}")

set(_args -S "${CONSUMER_SOURCE_DIR}" -B "${CONSUMER_BINARY_DIR}" -G "${GENERATOR}"
  "-DCMAKE_CXX_COMPILER=${CXX_COMPILER}" -DCMAKE_BUILD_TYPE=Release)
if(GENERATOR_PLATFORM)
  list(APPEND _args -A "${GENERATOR_PLATFORM}")
endif()
if(GENERATOR_TOOLSET)
  list(APPEND _args -T "${GENERATOR_TOOLSET}")
endif()
# `if(NOT "${${_var}}" STREQUAL "")`, not `if(${_var})`: a path is not a truth value.
foreach(_var IN ITEMS MAKE_PROGRAM PREFIX_PATH)
  if(NOT "${${_var}}" STREQUAL "")
    list(APPEND _args "-DCMAKE_${_var}=${${_var}}")
  endif()
endforeach()
foreach(_var IN ITEMS EST_SOURCE_DIR Eigen3_DIR)
  if(NOT "${${_var}}" STREQUAL "")
    list(APPEND _args "-D${_var}=${${_var}}")
  endif()
endforeach()

run_step("Configuring ${CONSUMER_SOURCE_DIR}" "${CMAKE_COMMAND}" ${_args})
run_step("Building ${CONSUMER_SOURCE_DIR}"
  "${CMAKE_COMMAND}" --build "${CONSUMER_BINARY_DIR}" --config Release)

# Multi-config generators put the program in a per-configuration folder.
set(_app "")
foreach(_candidate IN ITEMS app app.exe Release/app Release/app.exe)
  if(EXISTS "${CONSUMER_BINARY_DIR}/${_candidate}")
    set(_app "${CONSUMER_BINARY_DIR}/${_candidate}")
    break()
  endif()
endforeach()
if(NOT _app)
  message(FATAL_ERROR "The consumer program was not found in ${CONSUMER_BINARY_DIR}")
endif()

run_step("Running ${_app}" "${_app}")
message("${step_output}")

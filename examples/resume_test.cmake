# Bitwise resume of est-train: a run of N steps straight, and the same run stopped half way
# (with a checkpoint) and resumed in a new process, must end with byte-identical weights.
# Inputs: EST_TRAIN (the program), WORK_DIR, ARGS (the run's arguments, a list).
file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")

function(run_est_train)
  execute_process(COMMAND "${EST_TRAIN}" ${ARGS} ${ARGN} RESULT_VARIABLE rc
                  OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "est-train ${ARGN} failed (${rc}):\n${out}\n${err}")
  endif()
endfunction()

run_est_train(--checkpoint-dir "${WORK_DIR}/straight")
run_est_train(--checkpoint-dir "${WORK_DIR}/resumed" --stop-after 11)
if(EXISTS "${WORK_DIR}/resumed/step-00000024")
  message(FATAL_ERROR "--stop-after 11 ran to the end")
endif()
run_est_train(--checkpoint-dir "${WORK_DIR}/resumed" --resume)

foreach(file model.safetensors optimizer.safetensors)
  execute_process(COMMAND "${CMAKE_COMMAND}" -E compare_files
                          "${WORK_DIR}/straight/step-00000024/${file}"
                          "${WORK_DIR}/resumed/step-00000024/${file}"
                  RESULT_VARIABLE differ)
  if(NOT differ EQUAL 0)
    message(FATAL_ERROR "${file} after resuming differs from the straight run's")
  endif()
endforeach()
message(STATUS "resumed run is byte-identical to the straight run")

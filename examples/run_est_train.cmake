# Shared by the est-train test scripts: run_est_train(ARGS...) runs ${EST_TRAIN} and stops the
# script with its output when it fails.
function(run_est_train)
  execute_process(COMMAND "${EST_TRAIN}" ${ARGN} RESULT_VARIABLE rc
                  OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "est-train ${ARGN} failed (${rc}):\n${out}\n${err}")
  endif()
endfunction()

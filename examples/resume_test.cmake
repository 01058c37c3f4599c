# Bitwise resume of est-train: a run of 24 steps straight, and the same run stopped (with a
# checkpoint) and resumed in a new process given nothing but the checkpoint directory, must end
# with byte-identical weights and optimizer state. Also for a comparison stopped during its
# baseline (unless SINGLE is set). Inputs: EST_TRAIN (the program), WORK_DIR, ARGS (the run's
# arguments, a list).
file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")

include("${CMAKE_CURRENT_LIST_DIR}/run_est_train.cmake")

function(expect_same a b)
  foreach(file model.safetensors optimizer.safetensors)
    execute_process(COMMAND "${CMAKE_COMMAND}" -E compare_files "${a}/${file}" "${b}/${file}"
                    RESULT_VARIABLE differ)
    if(NOT differ EQUAL 0)
      message(FATAL_ERROR "${b}/${file} after resuming differs from the straight run's ${a}/${file}")
    endif()
  endforeach()
endfunction()

# One EST run, stopped at the end of stage 1 (step 6 of 24) and again inside stage 3.
run_est_train(${ARGS} --schedule est --checkpoint-dir "${WORK_DIR}/straight")
run_est_train(${ARGS} --schedule est --checkpoint-dir "${WORK_DIR}/resumed" --stop-after 6)
if(EXISTS "${WORK_DIR}/resumed/step-00000024")
  message(FATAL_ERROR "--stop-after 6 ran to the end")
endif()
run_est_train(--checkpoint-dir "${WORK_DIR}/resumed" --resume --stop-after 17 --quiet)
run_est_train(--checkpoint-dir "${WORK_DIR}/resumed" --resume --quiet)
expect_same("${WORK_DIR}/straight/step-00000024" "${WORK_DIR}/resumed/step-00000024")

if(SINGLE)
  message(STATUS "the resumed run is byte-identical to the straight run")
  return()
endif()

# A comparison stopped during its baseline: resuming finishes the baseline and runs EST.
run_est_train(${ARGS} --checkpoint-dir "${WORK_DIR}/compare-straight")
run_est_train(${ARGS} --checkpoint-dir "${WORK_DIR}/compare-resumed" --stop-after 10)
run_est_train(--checkpoint-dir "${WORK_DIR}/compare-resumed" --resume --quiet)
foreach(run baseline est)
  expect_same("${WORK_DIR}/compare-straight/${run}/step-00000024"
              "${WORK_DIR}/compare-resumed/${run}/step-00000024")
endforeach()
message(STATUS "resumed runs are byte-identical to the straight runs")

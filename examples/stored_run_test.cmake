# What a resume takes from state.json, and what it refuses. Inputs: EST_TRAIN, WORK_DIR, ARGS (a
# tiny run's arguments, a list).
#
# 1. The run's own checkpoint settings survive a resume: a run started with --keep 0 and
#    --checkpoint-interval 2, stopped and resumed with nothing but --resume, keeps every
#    checkpoint and goes on saving every 2 steps.
# 2. A damaged state.json is refused with the field named, and nothing is trained or written: a
#    step of 1e30, a missing run setting, an out-of-range setting, a step past the run's length,
#    a value nested 100,000 arrays deep.
file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")

include("${CMAKE_CURRENT_LIST_DIR}/run_est_train.cmake")

set(dir "${WORK_DIR}/run")
run_est_train(${ARGS} --schedule est --steps 10 --checkpoint-dir "${dir}" --keep 0
              --checkpoint-interval 2 --stop-after 4 --quiet)
run_est_train(--checkpoint-dir "${dir}" --resume --quiet)
foreach(name step-00000002 step-00000004 step-00000006 step-00000008 step-00000010)
  if(NOT EXISTS "${dir}/${name}/state.json")
    message(FATAL_ERROR "after --resume, ${name} is missing: the resumed run forgot --keep 0 or "
                        "--checkpoint-interval 2")
  endif()
endforeach()

# A checkpoint at step 4 of a 6-step run, damaged in one field at a time.
set(base "${WORK_DIR}/base")
run_est_train(${ARGS} --schedule est --steps 6 --eval-interval 2 --checkpoint-dir "${base}"
              --stop-after 4 --quiet)
file(READ "${base}/step-00000004/state.json" state)

function(expect_refused name from to pattern)
  set(case "${WORK_DIR}/${name}")
  file(COPY "${base}/" DESTINATION "${case}")
  string(FIND "${state}" "${from}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "${name}: '${from}' is not in state.json:\n${state}")
  endif()
  string(REPLACE "${from}" "${to}" damaged "${state}")
  file(WRITE "${case}/step-00000004/state.json" "${damaged}")
  execute_process(COMMAND "${EST_TRAIN}" --checkpoint-dir "${case}" --resume --quiet
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(rc EQUAL 0 OR NOT "${err}" MATCHES "${pattern}")
    message(FATAL_ERROR "${name}: expected a failure matching '${pattern}', got exit ${rc}:\n"
                        "${out}\n${err}")
  endif()
  if(EXISTS "${case}/step-00000006")
    message(FATAL_ERROR "${name}: the damaged checkpoint was trained on")
  endif()
endfunction()

expect_refused(step-1e30 "\"step\": 4," "\"step\": 1e30,"
               "\"step\" is 1e\\+30, expected a non-negative integer")
expect_refused(negative-step "\"step\": 4," "\"step\": -4," "\"step\" is -4")
expect_refused(missing-steps "\"steps\": 6," "" "run configuration: \"steps\" is missing")
expect_refused(threads "\"threads\": 2" "\"threads\": 1000000" "--threads 1000000 is outside")
expect_refused(past-the-end "\"steps\": 6," "\"steps\": 3," "step 4 is past the run's --steps 3")
expect_refused(float-batch "\"batch\": 4," "\"batch\": 4.5," "\"batch\" is 4.5, expected an integer")
string(REPEAT "[" 100000 open)
string(REPEAT "]" 100000 close)
expect_refused(deep "\"format\": \"est-checkpoint\"," "\"deep\": ${open}${close}, \"format\": \"est-checkpoint\","
               "no complete checkpoint .*the newest: .*nests deeper than 64 levels")
expect_refused(complete-as-text "\"complete\": true" "\"complete\": \"yes\""
               "no complete checkpoint .*the newest: .*is incomplete")
message(STATUS "resumes keep their checkpoint settings; damaged state.json files are refused")

# Runs Doxygen with XML output, then check_api_docs.py over it (the docs.api_coverage test).
file(REMOVE_RECURSE "${OUTPUT}/xml")
file(REMOVE "${OUTPUT}/warnings.log")
execute_process(COMMAND "${DOXYGEN}" "${DOXYFILE}" RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "doxygen failed (${rc})")
endif()
execute_process(COMMAND "${PYTHON}" "${CHECKER}" "${OUTPUT}/xml" "${OUTPUT}/warnings.log"
                RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "the public API has undocumented symbols or broken documentation (above)")
endif()

# Configures and builds the fuzz targets with clang (CTest's fuzz.build). Inputs: SOURCE (this
# directory), BINARY (the build directory), CXX (clang++).
execute_process(COMMAND "${CMAKE_COMMAND}" -S "${SOURCE}" -B "${BINARY}" -G Ninja
                        "-DCMAKE_CXX_COMPILER=${CXX}" RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "configuring the fuzz targets failed")
endif()
execute_process(COMMAND "${CMAKE_COMMAND}" --build "${BINARY}" RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "building the fuzz targets failed")
endif()
foreach(target safetensors token_file gpt2_tokenizer hf_tokenizer configs cli)
  file(MAKE_DIRECTORY "${BINARY}/corpus-${target}")
endforeach()

# The part of the suite that reads what users hand est — token files, safetensors, tokenizers,
# Hugging Face checkpoints, batches, checkpoints and est-train's resume — built with
# AddressSanitizer and UndefinedBehaviorSanitizer and run (CTest's sanitizers.io). The whole
# suite under sanitizers is the `asan` preset (docs/manual/building-and-testing.md). Inputs:
# SOURCE, BINARY.
set(targets test_token_files test_safetensors test_hf_checkpoint test_hf_tokenizer
            test_tokenizers test_batches test_trainer est-train est-tokenize)
execute_process(COMMAND "${CMAKE_COMMAND}" -S "${SOURCE}" -B "${BINARY}" -G Ninja
                        -DCMAKE_BUILD_TYPE=RelWithDebInfo -DEST_SANITIZERS=address,undefined
                        -DEST_BUILD_TESTS=ON -DEST_BUILD_EXAMPLES=ON -DEST_BUILD_BENCHMARKS=OFF
                        -DEST_ENABLE_CUDA=OFF -DEST_INSTALL=OFF -DEST_HF_PYTHON=
                        RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "configuring the sanitizer build failed")
endif()
execute_process(COMMAND "${CMAKE_COMMAND}" --build "${BINARY}" --target ${targets}
                RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "building the sanitizer build failed")
endif()
execute_process(COMMAND "${CMAKE_CTEST_COMMAND}" --test-dir "${BINARY}" -j2 --output-on-failure
                        -R "^(test_token_files|test_safetensors|test_hf_checkpoint|test_hf_tokenizer|test_tokenizers|test_batches|test_trainer):|^examples\\.est-train\\.(stored-run|kill-resume|shard)"
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
message("${out}${err}")
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "tests under AddressSanitizer/UndefinedBehaviorSanitizer failed")
endif()
string(REGEX MATCH "[0-9]+ tests failed out of [0-9]+" summary "${out}")
message(STATUS "sanitized: ${summary}")

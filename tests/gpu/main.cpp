// Entry point of the GPU tests: without a CUDA device they report a skip (exit code 77, which
// CTest's SKIP_RETURN_CODE turns into "Skipped") instead of failing at the first allocation.

#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <cstdio>

#include <cuda_runtime.h>

int main(int argc, char* argv[]) {
  int devices = 0;
  if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
    std::printf("skipped: no CUDA device\n");
    return 77;
  }
  cudaDeviceProp properties{};
  cudaGetDeviceProperties(&properties, 0);
  int driver = 0, runtime = 0;
  cudaDriverGetVersion(&driver);
  cudaRuntimeGetVersion(&runtime);
  std::printf("device 0: %s (sm_%d%d), driver API %d, runtime %d\n", properties.name,
              properties.major, properties.minor, driver, runtime);
  return Catch::Session().run(argc, argv);
}

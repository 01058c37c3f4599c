// On a machine without a CUDA device (CI's): asking for the GPU gives est::error with a message
// that says so, not an abort. Where a device exists there is nothing to check: exit 77, which
// CTest reports as skipped.

#include <cstdio>
#include <string>

#include <est/backend/cuda.cuh>

int main() {
  if (est::cuda_detail::device_count() > 0) {
    std::printf("skipped: a CUDA device is present\n");
    return 77;
  }
  try {
    est::Context<est::cuda> ctx;
  } catch (const est::error& e) {
    const std::string message = e.what();
    std::printf("est::error: %s\n", message.c_str());
    return message.find("no CUDA device is available") != std::string::npos ? 0 : 1;
  }
  std::printf("Context<cuda> was created without a device\n");
  return 1;
}

// A safetensors file: open (every header check), then read every tensor the way the loaders do.

#include <est/io/safetensors.hpp>

#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto path = est_fuzz::write_input({reinterpret_cast<const char*>(data), size}, "f.st");
  try {
    const auto file = est::SafetensorsFile::open(path);
    for (const std::string& name : file.names()) {
      const auto& info = file.info(name);
      if (info.numel > (1 << 20)) continue;
      std::vector<double> values(std::size_t(info.numel));
      try {
        file.convert_to(name, std::span<double>(values));
      } catch (const est::io_error&) {  // not a floating dtype
      }
      (void)file.bytes(name);
    }
    (void)file.metadata();
  } catch (const est::error&) {
  }
  return 0;
}

#pragma once
// What the fuzz targets share: writing an input to a file (est's readers map files), and
// splitting an input into NUL-separated parts.

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

namespace est_fuzz {

/// A file of this process (one per name), rewritten with `bytes` at every call.
inline std::filesystem::path write_input(std::string_view bytes, const std::string& name) {
  static const std::filesystem::path dir = [] {
    const auto d = std::filesystem::temp_directory_path() /
                   ("est-fuzz-" + std::to_string(::getpid()));
    std::filesystem::create_directories(d);
    return d;
  }();
  const auto path = dir / name;
  std::ofstream(path, std::ios::binary | std::ios::trunc)
      .write(bytes.data(), std::streamsize(bytes.size()));
  return path;
}

/// `data` cut at every NUL byte into at most `max_parts` parts (the last keeps its NULs).
inline std::vector<std::string_view> split(const std::uint8_t* data, std::size_t size,
                                           std::size_t max_parts) {
  std::string_view all(reinterpret_cast<const char*>(data), size);
  std::vector<std::string_view> parts;
  while (parts.size() + 1 < max_parts) {
    const auto nul = all.find('\0');
    if (nul == std::string_view::npos) break;
    parts.push_back(all.substr(0, nul));
    all.remove_prefix(nul + 1);
  }
  parts.push_back(all);
  return parts;
}

}  // namespace est_fuzz

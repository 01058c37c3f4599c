#pragma once
// Reading training text: one file, or every regular file of a directory in name order (so the
// fortune-cookie corpus /usr/share/games/fortunes is one call). Files named *.dat (fortune's
// index files) and *.u8 (its links to the plain files) are skipped in directories.

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "est/core/error.hpp"

namespace est {

/// The bytes of `path` (a file, or the files of a directory). Throws io_error naming the path
/// when it does not exist, cannot be read or holds no bytes.
[[nodiscard]] inline std::string read_text_corpus(const std::filesystem::path& path) {
  namespace fs = std::filesystem;
  std::vector<fs::path> files;
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    for (const auto& entry : fs::directory_iterator(path)) {
      const auto ext = entry.path().extension();
      if (entry.is_regular_file() && !entry.is_symlink() && ext != ".dat" && ext != ".u8") {
        files.push_back(entry.path());
      }
    }
    std::sort(files.begin(), files.end());
  } else if (fs::is_regular_file(path, ec)) {
    files.push_back(path);
  } else {
    fail<io_error>("'", path.string(), "' is neither a readable file nor a directory");
  }
  std::string text;
  for (const auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    require<io_error>(static_cast<bool>(in), "cannot read '", f.string(), "'");
    text.append(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  require<io_error>(!text.empty(), "'", path.string(), "' holds no text");
  return text;
}

}  // namespace est

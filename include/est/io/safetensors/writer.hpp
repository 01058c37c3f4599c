#pragma once
// Writing safetensors files (io/safetensors.hpp describes the format): tensors in the given
// order, the header padded with spaces to a multiple of 8 bytes as the reference implementation
// does, the file written atomically.

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "est/core/error.hpp"
#include "est/io/atomic_file.hpp"
#include "est/io/safetensors/format.hpp"

namespace est {

/// One tensor to write: `data` holds its elements little-endian, row-major (on a little-endian
/// host, `std::as_bytes` of the values; `safetensors_entry` builds one from typed values).
struct SafetensorsEntry {
  std::string name;  ///< the tensor's key in the header: non-empty, UTF-8, not "__metadata__"
  SafetensorsDtype dtype = SafetensorsDtype::f32;  ///< element type of `data`
  std::vector<std::int64_t> shape;  ///< extents, outermost first, each >= 0; empty for a scalar
  /// The elements' bytes: exactly shape's element count times the dtype's size. A view, not a
  /// copy: the bytes must stay valid until write_safetensors returns.
  std::span<const std::byte> data;
};

/// An entry viewing `values` (which must outlive the write) with dtype safetensors_dtype_of<T>.
template <class T>
[[nodiscard]] SafetensorsEntry safetensors_entry(std::string name, std::vector<std::int64_t> shape,
                                                 std::span<const T> values) {
  static_assert(std::endian::native == std::endian::little,
                "safetensors_entry views host values as little-endian bytes; on a big-endian "
                "host, byte-swap the values into a buffer and fill SafetensorsEntry::data");
  return {std::move(name), safetensors_dtype_of<T>, std::move(shape), std::as_bytes(values)};
}

/// Writes `tensors` (in the given order, contiguous) and `metadata` to `path`, atomically.
/// Checks every entry first and throws, before anything is written: value_error for an empty,
/// duplicate or reserved ("__metadata__") name, a negative extent or text that is not UTF-8;
/// shape_error when an entry's data size is not its shape's element count times its dtype size.
inline void write_safetensors(const std::filesystem::path& path,
                              const std::vector<SafetensorsEntry>& tensors,
                              const std::map<std::string, std::string>& metadata = {}) {
  const std::string file = path.string();
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) {
    nlohmann::ordered_json meta = nlohmann::ordered_json::object();
    for (const auto& [key, value] : metadata) meta[key] = value;
    header["__metadata__"] = std::move(meta);
  }
  std::set<std::string_view> seen;
  std::uint64_t offset = 0;
  for (const SafetensorsEntry& t : tensors) {
    require<value_error>(!t.name.empty(), "write_safetensors: \"", file,
                         "\": a tensor has an empty name");
    require<value_error>(t.name != "__metadata__", "write_safetensors: \"", file,
                         "\": \"__metadata__\" is reserved and cannot name a tensor");
    require<value_error>(seen.insert(t.name).second, "write_safetensors: \"", file,
                         "\": duplicate tensor name \"", t.name, "\"");
    std::uint64_t numel = 1;
    for (const std::int64_t e : t.shape) {
      require<value_error>(e >= 0, "write_safetensors: \"", file, "\": tensor \"", t.name,
                           "\" has negative extent ", e);
      require<shape_error>(!__builtin_mul_overflow(numel, std::uint64_t(e), &numel),
                           "write_safetensors: \"", file, "\": tensor \"", t.name,
                           "\" has too many elements");
    }
    const std::size_t size = safetensors_dtype_size(t.dtype);
    const bool fits = size != 0 && numel <= t.data.size() / size && numel * size == t.data.size();
    require<shape_error>(fits, "write_safetensors: \"", file, "\": tensor \"", t.name, "\" (",
                         safetensors_dtype_name(t.dtype), ", ", numel, " elements) needs ",
                         numel * size, " bytes of data, got ", t.data.size());
    header[t.name] = {{"dtype", safetensors_dtype_name(t.dtype)},
                      {"shape", t.shape},
                      {"data_offsets", {offset, offset + t.data.size()}}};
    offset += t.data.size();
  }
  std::string text;
  try {
    text = header.dump();
  } catch (const nlohmann::json::exception& e) {
    fail<value_error>("write_safetensors: \"", file,
                      "\": a tensor name or metadata string is not valid UTF-8 (", e.what(), ")");
  }
  text.append((8 - text.size() % 8) % 8, ' ');

  write_file_atomically(path, [&](FileSink& sink) {
    std::array<std::byte, 8> length;
    for (int i = 0; i < 8; ++i) {
      length[std::size_t(i)] = static_cast<std::byte>((text.size() >> (8 * i)) & 0xff);
    }
    sink.write(length);
    sink.write(text.data(), text.size());
    for (const SafetensorsEntry& t : tensors) sink.write(t.data);
  });
}

}  // namespace est

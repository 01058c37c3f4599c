#pragma once
// Reading safetensors files (io/safetensors.hpp describes the format): SafetensorsFile maps a
// file and validates all of it on open, throwing io_error naming the file and the tensor or
// field at fault; its accessors then copy values out without assuming alignment or the host's
// byte order.

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "est/core/dtype.hpp"
#include "est/core/error.hpp"
#include "est/io/json_file.hpp"
#include "est/io/atomic_file.hpp"
#include "est/io/safetensors/format.hpp"

namespace est {

/// What the header says of one tensor.
struct SafetensorsTensorInfo {
  SafetensorsDtype dtype = SafetensorsDtype::f32;  ///< the header's "dtype"
  std::vector<std::int64_t> shape;  ///< the header's "shape", outermost first (empty: a scalar)
  std::int64_t numel = 0;  ///< number of elements: the product of `shape` (1 for a scalar)
  std::uint64_t begin = 0;  ///< "data_offsets" begin: first byte, relative to the data section
  std::uint64_t end = 0;    ///< "data_offsets" end: one past the last byte, relative to the same
};

namespace detail {

/// value bits of an IEEE binary16 as a float (exact).
inline float half_to_float(std::uint16_t h) noexcept {
  const std::uint32_t sign = std::uint32_t(h & 0x8000u) << 16;
  const std::uint32_t exponent = (h >> 10) & 0x1fu, mantissa = h & 0x3ffu;
  if (exponent == 0) {  // zero or subnormal: mantissa * 2^-24
    const float magnitude = std::ldexp(float(mantissa), -24);
    return sign ? -magnitude : magnitude;
  }
  const std::uint32_t bits = exponent == 31 ? sign | 0x7f800000u | (mantissa << 13)
                                            : sign | ((exponent + 112) << 23) | (mantissa << 13);
  return std::bit_cast<float>(bits);
}

/// The little-endian value of type T stored at `p` (any alignment).
template <class T>
T load_le(const std::byte* p) noexcept {
  std::array<std::byte, sizeof(T)> raw;
  std::memcpy(raw.data(), p, sizeof(T));
  if constexpr (std::endian::native == std::endian::big) std::reverse(raw.begin(), raw.end());
  return std::bit_cast<T>(raw);
}

}  // namespace detail

/// A validated, memory-mapped safetensors file.
class SafetensorsFile {
 public:
  /// Headers larger than this are refused, as the reference implementation does.
  static constexpr std::uint64_t max_header_bytes = 100'000'000;

  /// Maps and validates `path`; throws io_error naming the file and the tensor or field at
  /// fault when the file is shorter than 8 bytes, the header length runs past the file (or
  /// exceeds max_header_bytes), the header is not a JSON object, repeats a key, or has a tensor
  /// whose "dtype" is missing or unknown, whose "shape" is not a list of non-negative integers,
  /// whose "data_offsets" are not [begin, end] with begin <= end inside the data section, or
  /// whose shape x dtype size differs from end - begin; when tensors overlap or leave a gap in
  /// the data section; or when a "__metadata__" value is not a string.
  [[nodiscard]] static SafetensorsFile open(const std::filesystem::path& path) {
    SafetensorsFile f;
    f.file_ = MappedFile(path);
    f.parse();
    return f;
  }

  /// The path the file was opened from.
  [[nodiscard]] const std::filesystem::path& path() const noexcept { return file_.path(); }
  /// Number of tensors.
  [[nodiscard]] std::size_t size() const noexcept { return tensors_.size(); }
  /// Tensor names in the order of their data in the file.
  [[nodiscard]] std::vector<std::string> names() const {
    std::vector<std::string> out;
    out.reserve(tensors_.size());
    for (const auto& [name, info] : tensors_) out.push_back(name);
    return out;
  }
  /// Whether the file holds a tensor named `name`.
  [[nodiscard]] bool contains(std::string_view name) const { return index_.contains(name); }
  /// The "__metadata__" object's entries (empty when the header has none).
  [[nodiscard]] const std::map<std::string, std::string>& metadata() const noexcept {
    return metadata_;
  }

  /// Dtype, shape and offsets of `name`; io_error listing some available names when missing.
  [[nodiscard]] const SafetensorsTensorInfo& info(std::string_view name) const {
    const auto it = index_.find(name);
    if (it == index_.end()) fail<io_error>(missing_message(name));
    return tensors_[it->second].second;
  }

  /// The raw little-endian bytes of `name`.
  [[nodiscard]] std::span<const std::byte> bytes(std::string_view name) const {
    const SafetensorsTensorInfo& t = info(name);
    return data_.subspan(t.begin, t.end - t.begin);
  }

  /// Copies the values of `name` into `out`, whose element type must be the tensor's dtype
  /// exactly (float for F32, std::int64_t for I64, ...) and whose size must be its element count.
  /// Throws io_error when the tensor is missing or of another dtype, shape_error when the size
  /// differs.
  template <class T>
  void copy_to(std::string_view name, std::span<T> out) const {
    const SafetensorsTensorInfo& t = info(name);
    constexpr SafetensorsDtype want = safetensors_dtype_of<T>;
    require<io_error>(t.dtype == want, "SafetensorsFile: \"", path().string(), "\": tensor \"",
                      name, "\" holds ", safetensors_dtype_name(t.dtype),
                      " values, not the destination's ", safetensors_dtype_name(want));
    check_destination(name, t, out.size());
    const std::byte* src = data_.data() + t.begin;
    if constexpr (std::endian::native == std::endian::little) {
      if (!out.empty()) std::memcpy(out.data(), src, out.size() * sizeof(T));
    } else {
      for (std::size_t i = 0; i < out.size(); ++i) out[i] = detail::load_le<T>(src + i * sizeof(T));
    }
  }

  /// Copies the values of `name`, which may be any floating dtype (F16, BF16, F32, F64), into
  /// `out` converted to T (float or double; F64 into float rounds to nearest). Throws io_error
  /// when the tensor is missing or of another dtype, shape_error when `out`'s size is not its
  /// element count.
  template <class T>
    requires std::is_same_v<T, float> || std::is_same_v<T, double>
  void convert_to(std::string_view name, std::span<T> out) const {
    const SafetensorsTensorInfo& t = info(name);
    check_destination(name, t, out.size());
    const std::byte* src = data_.data() + t.begin;
    switch (t.dtype) {
      case SafetensorsDtype::f32:
        for (std::size_t i = 0; i < out.size(); ++i) {
          out[i] = T(detail::load_le<float>(src + 4 * i));
        }
        return;
      case SafetensorsDtype::f64:
        for (std::size_t i = 0; i < out.size(); ++i) {
          out[i] = T(detail::load_le<double>(src + 8 * i));
        }
        return;
      case SafetensorsDtype::f16:
        for (std::size_t i = 0; i < out.size(); ++i) {
          out[i] = T(detail::half_to_float(detail::load_le<std::uint16_t>(src + 2 * i)));
        }
        return;
      case SafetensorsDtype::bf16:
        for (std::size_t i = 0; i < out.size(); ++i) {
          out[i] = T(float(bfloat16::from_bits(detail::load_le<std::uint16_t>(src + 2 * i))));
        }
        return;
      default:
        fail<io_error>("SafetensorsFile: \"", path().string(), "\": tensor \"", name, "\" holds ",
                       safetensors_dtype_name(t.dtype),
                       " values; only F16, BF16, F32 and F64 convert to floating point");
    }
  }

 private:
  SafetensorsFile() = default;

  void check_destination(std::string_view name, const SafetensorsTensorInfo& t,
                         std::size_t size) const {
    require<shape_error>(size == std::uint64_t(t.numel), "SafetensorsFile: \"", path().string(),
                         "\": tensor \"", name, "\" has ", t.numel,
                         " elements but the destination has ", size);
  }

  std::string missing_message(std::string_view name) const {
    std::string available;
    const std::size_t shown = std::min<std::size_t>(tensors_.size(), 5);
    for (std::size_t i = 0; i < shown; ++i) {
      available += (i ? ", \"" : "\"") + tensors_[i].first + "\"";
    }
    if (tensors_.size() > shown) available += ", ...";
    return detail::concat("SafetensorsFile: \"", path().string(), "\" has no tensor \"", name,
                          "\"; it holds ", tensors_.size(), " tensors",
                          tensors_.empty() ? "" : ": ", available);
  }

  /// Throws io_error `SafetensorsFile: "<file>": <what>`.
  template <class... Parts>
  [[noreturn]] void bad(const Parts&... parts) const {
    fail<io_error>("SafetensorsFile: \"", path().string(), "\": ", parts...);
  }

  /// Parses the header JSON in linear time; duplicate keys (which JSON parsers silently merge),
  /// a NUL byte (which would end the text early) and nesting deeper than a valid header needs
  /// are errors.
  nlohmann::json parse_json(std::string_view text) const {
    auto parsed = detail::parse_json_bounded(text, 8, true);
    if (parsed.error.empty()) return std::move(parsed.value);
    if (parsed.error.starts_with("repeats the key")) {
      const std::string key = parsed.error.substr(16, parsed.error.size() - 16 - 14);
      if (parsed.error_depth == 1) bad("duplicate tensor name ", key, " in the JSON header");
      bad("duplicate key ", key, " in the JSON header");
    }
    if (parsed.error.starts_with("nests deeper")) {
      bad("the JSON header nests deeper than any valid header");
    }
    if (parsed.error.starts_with("is not valid JSON")) {
      bad("the header is not valid JSON: ", parsed.error.substr(19));
    }
    bad("the header ", parsed.error);
  }

  void parse() {
    const std::span<const std::byte> bytes = file_.bytes();
    if (bytes.size() < 8) {
      bad("the file is ", bytes.size(), " bytes, shorter than the 8-byte header length");
    }
    const auto n = detail::load_le<std::uint64_t>(bytes.data());
    if (n > bytes.size() - 8) {
      bad("header length ", n, " extends beyond the end of the file (", bytes.size() - 8,
          " bytes follow the length)");
    }
    if (n > max_header_bytes) bad("header length ", n, " exceeds the limit of ", max_header_bytes);
    data_ = bytes.subspan(8 + n);

    const std::string_view text(reinterpret_cast<const char*>(bytes.data() + 8), n);
    const nlohmann::json header = parse_json(text);
    if (!header.is_object()) bad("the header is a JSON ", header.type_name(), ", not an object");

    for (const auto& [name, entry] : header.items()) {
      if (name == "__metadata__") {
        if (!entry.is_object()) {
          bad("\"__metadata__\" is a JSON ", entry.type_name(), ", not an object");
        }
        for (const auto& [key, value] : entry.items()) {
          if (!value.is_string()) {
            bad("\"__metadata__\" value of \"", key, "\" is a JSON ", value.type_name(),
                ", not a string");
          }
          metadata_[key] = value.get<std::string>();
        }
        continue;
      }
      tensors_.emplace_back(name, parse_tensor(name, entry));
    }
    check_coverage();
    for (std::size_t i = 0; i < tensors_.size(); ++i) index_.emplace(tensors_[i].first, i);
  }

  SafetensorsTensorInfo parse_tensor(const std::string& name, const nlohmann::json& entry) const {
    if (!entry.is_object()) {
      bad("tensor \"", name, "\" is a JSON ", entry.type_name(), ", not an object");
    }
    SafetensorsTensorInfo t;

    const auto dtype = entry.find("dtype");
    if (dtype == entry.end()) bad("tensor \"", name, "\" has no \"dtype\"");
    if (!dtype->is_string()) {
      bad("tensor \"", name, "\": \"dtype\" is a JSON ", dtype->type_name(), ", not a string");
    }
    const auto& dtype_name = dtype->get_ref<const std::string&>();
    const auto parsed = parse_safetensors_dtype(dtype_name);
    if (!parsed) bad("tensor \"", name, "\": unknown \"dtype\" \"", dtype_name, "\"");
    t.dtype = *parsed;

    const auto shape = entry.find("shape");
    if (shape == entry.end()) bad("tensor \"", name, "\" has no \"shape\"");
    if (!shape->is_array()) {
      bad("tensor \"", name, "\": \"shape\" is a JSON ", shape->type_name(), ", not a list");
    }
    std::uint64_t numel = 1;
    for (const auto& e : *shape) {
      if (!e.is_number_unsigned()) {
        bad("tensor \"", name, "\": \"shape\" must be a list of non-negative integers, found ",
            e.is_number_integer() ? "a negative integer" : e.type_name());
      }
      const auto extent = e.get<std::uint64_t>();
      if (extent > std::uint64_t(INT64_MAX) || __builtin_mul_overflow(numel, extent, &numel) ||
          numel > std::uint64_t(INT64_MAX)) {
        bad("tensor \"", name, "\": \"shape\" has more elements than a 64-bit count holds");
      }
      t.shape.push_back(static_cast<std::int64_t>(extent));
    }
    t.numel = static_cast<std::int64_t>(numel);

    const auto offsets = entry.find("data_offsets");
    if (offsets == entry.end()) bad("tensor \"", name, "\" has no \"data_offsets\"");
    if (!offsets->is_array() || offsets->size() != 2 || !(*offsets)[0].is_number_unsigned() ||
        !(*offsets)[1].is_number_unsigned()) {
      bad("tensor \"", name, "\": \"data_offsets\" must be two non-negative integers [begin, end]");
    }
    t.begin = (*offsets)[0].get<std::uint64_t>();
    t.end = (*offsets)[1].get<std::uint64_t>();
    if (t.begin > t.end) {
      bad("tensor \"", name, "\": \"data_offsets\" [", t.begin, ", ", t.end, "] has begin > end");
    }
    if (t.end > data_.size()) {
      bad("tensor \"", name, "\": \"data_offsets\" [", t.begin, ", ", t.end,
          "] extend beyond the data section of ", data_.size(), " bytes");
    }
    std::uint64_t bytes = 0;
    if (__builtin_mul_overflow(numel, safetensors_dtype_size(t.dtype), &bytes) ||
        bytes != t.end - t.begin) {
      bad("tensor \"", name, "\": \"shape\" and \"dtype\" give ", numel, " x ",
          safetensors_dtype_size(t.dtype), " bytes but \"data_offsets\" [", t.begin, ", ", t.end,
          "] span ", t.end - t.begin, " bytes");
    }
    return t;
  }

  /// Sorts tensors by offset and checks that they tile the data section exactly.
  void check_coverage() {
    std::stable_sort(tensors_.begin(), tensors_.end(), [](const auto& a, const auto& b) {
      return std::pair(a.second.begin, a.second.end) < std::pair(b.second.begin, b.second.end);
    });
    std::uint64_t covered = 0;
    const std::string* previous = nullptr;
    for (const auto& [name, t] : tensors_) {
      if (t.begin < covered) {
        bad("tensors \"", *previous, "\" and \"", name, "\" overlap: the \"data_offsets\" of \"",
            name, "\" begin at ", t.begin, ", before \"", *previous, "\" ends at ", covered);
      }
      if (t.begin > covered) {
        if (previous == nullptr) {
          bad("gap in the data section: bytes [0, ", t.begin, ") before tensor \"", name,
              "\" belong to no tensor");
        }
        bad("gap in the data section: bytes [", covered, ", ", t.begin, ") between tensors \"",
            *previous, "\" and \"", name, "\" belong to no tensor");
      }
      covered = t.end;
      previous = &name;
    }
    if (covered != data_.size()) {
      bad("gap in the data section: its last ", data_.size() - covered, " bytes (from ", covered,
          " to ", data_.size(), ") belong to no tensor");
    }
  }

  MappedFile file_;
  std::span<const std::byte> data_;  // the data section, inside file_'s mapping
  std::vector<std::pair<std::string, SafetensorsTensorInfo>> tensors_;  // in data order
  std::map<std::string, std::size_t, std::less<>> index_;              // name -> tensors_ index
  std::map<std::string, std::string> metadata_;
};


}  // namespace est

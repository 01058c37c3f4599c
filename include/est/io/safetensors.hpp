#pragma once
// safetensors files (https://github.com/huggingface/safetensors): an 8-byte little-endian uint64
// N, then N bytes of a JSON object header, then the data section. The header maps each tensor
// name to {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]} with offsets relative
// to the start of the data section, and may hold "__metadata__": {string: string}. Tensors cover
// the data section exactly (no gaps, no overlaps); values are little-endian.
//
// `write_safetensors` writes a file atomically, tensors in the given order, the header padded
// with spaces to a multiple of 8 bytes as the reference implementation does. `SafetensorsFile`
// maps a file and validates all of it on open, throwing io_error naming the file and the tensor
// or field at fault; its accessors then copy values out without assuming alignment or the host's
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
#include "est/io/atomic_file.hpp"

namespace est {

/// Element types of the safetensors format (the spelling in files is `safetensors_dtype_name`).
enum class SafetensorsDtype { boolean, u8, i8, u16, i16, f16, bf16, u32, i32, f32, u64, i64, f64,
                              f8_e5m2, f8_e4m3 };

namespace detail {
struct SafetensorsDtypeInfo {
  SafetensorsDtype dtype;
  std::string_view name;
  std::size_t size;
};
inline constexpr std::array<SafetensorsDtypeInfo, 15> safetensors_dtypes{{
    {SafetensorsDtype::boolean, "BOOL", 1}, {SafetensorsDtype::u8, "U8", 1},
    {SafetensorsDtype::i8, "I8", 1},        {SafetensorsDtype::u16, "U16", 2},
    {SafetensorsDtype::i16, "I16", 2},      {SafetensorsDtype::f16, "F16", 2},
    {SafetensorsDtype::bf16, "BF16", 2},    {SafetensorsDtype::u32, "U32", 4},
    {SafetensorsDtype::i32, "I32", 4},      {SafetensorsDtype::f32, "F32", 4},
    {SafetensorsDtype::u64, "U64", 8},      {SafetensorsDtype::i64, "I64", 8},
    {SafetensorsDtype::f64, "F64", 8},      {SafetensorsDtype::f8_e5m2, "F8_E5M2", 1},
    {SafetensorsDtype::f8_e4m3, "F8_E4M3", 1},
}};
}  // namespace detail

/// "F32", "I64", ... as written in files.
[[nodiscard]] constexpr std::string_view safetensors_dtype_name(SafetensorsDtype dtype) {
  for (const auto& d : detail::safetensors_dtypes) {
    if (d.dtype == dtype) return d.name;
  }
  return "?";
}

/// Bytes per element.
[[nodiscard]] constexpr std::size_t safetensors_dtype_size(SafetensorsDtype dtype) {
  for (const auto& d : detail::safetensors_dtypes) {
    if (d.dtype == dtype) return d.size;
  }
  return 0;
}

/// The dtype spelled `name`, or nothing when the format has no such dtype.
[[nodiscard]] constexpr std::optional<SafetensorsDtype> parse_safetensors_dtype(
    std::string_view name) {
  for (const auto& d : detail::safetensors_dtypes) {
    if (d.name == name) return d.dtype;
  }
  return std::nullopt;
}

/// The dtype that stores host type T exactly (float -> F32, std::int64_t -> I64, ...).
template <class T>
inline constexpr SafetensorsDtype safetensors_dtype_of = [] {
  if constexpr (std::is_same_v<T, float>) return SafetensorsDtype::f32;
  else if constexpr (std::is_same_v<T, double>) return SafetensorsDtype::f64;
  else if constexpr (std::is_same_v<T, std::int8_t>) return SafetensorsDtype::i8;
  else if constexpr (std::is_same_v<T, std::uint8_t>) return SafetensorsDtype::u8;
  else if constexpr (std::is_same_v<T, std::int16_t>) return SafetensorsDtype::i16;
  else if constexpr (std::is_same_v<T, std::uint16_t>) return SafetensorsDtype::u16;
  else if constexpr (std::is_same_v<T, std::int32_t>) return SafetensorsDtype::i32;
  else if constexpr (std::is_same_v<T, std::uint32_t>) return SafetensorsDtype::u32;
  else if constexpr (std::is_same_v<T, std::int64_t>) return SafetensorsDtype::i64;
  else if constexpr (std::is_same_v<T, std::uint64_t>) return SafetensorsDtype::u64;
  else static_assert(sizeof(T) == 0, "safetensors_dtype_of: no safetensors dtype for this type");
}();

/// One tensor to write: `data` holds its elements little-endian, row-major (on a little-endian
/// host, `std::as_bytes` of the values; `safetensors_entry` builds one from typed values).
struct SafetensorsEntry {
  std::string name;
  SafetensorsDtype dtype = SafetensorsDtype::f32;
  std::vector<std::int64_t> shape;
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

/// What the header says of one tensor.
struct SafetensorsTensorInfo {
  SafetensorsDtype dtype = SafetensorsDtype::f32;
  std::vector<std::int64_t> shape;
  std::int64_t numel = 0;
  std::uint64_t begin = 0;  // data_offsets, relative to the data section
  std::uint64_t end = 0;
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
  [[nodiscard]] bool contains(std::string_view name) const { return index_.contains(name); }
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
  /// `out` converted to T (float or double; F64 into float rounds to nearest).
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

  /// Throws io_error "SafetensorsFile: "<file>": <what>".
  template <class... Parts>
  [[noreturn]] void bad(const Parts&... parts) const {
    fail<io_error>("SafetensorsFile: \"", path().string(), "\": ", parts...);
  }

  /// Parses the header JSON; duplicate keys (which JSON parsers silently merge) are errors, and
  /// so is nesting deeper than a valid header needs.
  nlohmann::json parse_json(std::string_view text) const {
    std::vector<std::set<std::string>> keys;  // keys seen in each open object
    auto callback = [&](int depth, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
      using E = nlohmann::json::parse_event_t;
      if (depth > 8) bad("the JSON header nests deeper than any valid header");
      if (event == E::object_start) {
        keys.emplace_back();
      } else if (event == E::object_end) {
        keys.pop_back();
      } else if (event == E::key && !keys.empty()) {
        const auto& key = parsed.get_ref<const std::string&>();
        if (!keys.back().insert(key).second) {
          if (depth == 1) bad("duplicate tensor name \"", key, "\" in the JSON header");
          bad("duplicate key \"", key, "\" in the JSON header");
        }
      }
      return true;
    };
    try {
      return nlohmann::json::parse(text.begin(), text.end(), callback);
    } catch (const nlohmann::json::exception& e) {
      bad("the header is not valid JSON: ", e.what());
    }
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

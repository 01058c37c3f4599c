#pragma once
// The safetensors format's element types: their names in files, their sizes, and the host
// types that store them exactly. (io/safetensors.hpp describes the file layout.)

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <type_traits>

#include "est/core/dtype.hpp"

namespace est {

/// Element types of the safetensors format (the spelling in files is `safetensors_dtype_name`).
enum class SafetensorsDtype { boolean, u8, i8, u16, i16, f16, bf16, u32, i32, f32, u64, i64, f64,
                              f8_e5m2, f8_e4m3 };
/// @var SafetensorsDtype::boolean
/// "BOOL": one byte per element
/// @var SafetensorsDtype::u8
/// "U8": unsigned 8-bit integer
/// @var SafetensorsDtype::i8
/// "I8": signed 8-bit integer
/// @var SafetensorsDtype::u16
/// "U16": unsigned 16-bit integer
/// @var SafetensorsDtype::i16
/// "I16": signed 16-bit integer
/// @var SafetensorsDtype::f16
/// "F16": IEEE binary16
/// @var SafetensorsDtype::bf16
/// "BF16": bfloat16 (the upper 16 bits of a binary32)
/// @var SafetensorsDtype::u32
/// "U32": unsigned 32-bit integer
/// @var SafetensorsDtype::i32
/// "I32": signed 32-bit integer
/// @var SafetensorsDtype::f32
/// "F32": IEEE binary32
/// @var SafetensorsDtype::u64
/// "U64": unsigned 64-bit integer
/// @var SafetensorsDtype::i64
/// "I64": signed 64-bit integer
/// @var SafetensorsDtype::f64
/// "F64": IEEE binary64
/// @var SafetensorsDtype::f8_e5m2
/// "F8_E5M2": 8-bit float with 5 exponent and 2 mantissa bits (read and written as raw bytes)
/// @var SafetensorsDtype::f8_e4m3
/// "F8_E4M3": 8-bit float with 4 exponent and 3 mantissa bits (read and written as raw bytes)

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

}  // namespace est

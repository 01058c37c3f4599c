#pragma once
// The numeric types est computes in, and how they combine in a training run.
//
//   bfloat16          the upper 16 bits of an IEEE binary32 (8 exponent bits, 7 mantissa bits):
//                     float's range at 3 significant digits; conversion from float rounds to
//                     nearest, ties to even, keeps infinities and quiets NaNs
//   Dtype             a run-time name for a stored type (f32, f64, bf16), e.g. in files
//   accumulate_t<T>   the type sums of T are formed in: float for bfloat16, T otherwise
//   Precision<...>    a training run's choice of types: parameters (what the forward reads),
//                     compute (activations and GEMM inputs), accumulate (GEMM and reduction
//                     sums), master (the optimizer's copy of the weights and its moments).
//                     fp32 and fp64 are uniform; bf16_mixed keeps float master weights and
//                     float accumulation under bfloat16 parameters and activations.
//
// The models and ops take one Scalar today (a uniform Precision); mixed precision builds on
// these names.

#include <bit>
#include <concepts>
#include <cstdint>
#include <limits>
#include <string_view>
#include <type_traits>

namespace est {

/// A 16-bit brain floating-point number: the upper half of an IEEE binary32 (1 sign,
/// 8 exponent and 7 stored significand bits), so float's range at about 3 significant digits.
/// Conversions are explicit. `std::numeric_limits<est::bfloat16>` is specialised: float's
/// limits at this precision (`digits` 8, `epsilon()` 2^-7, `min()` 2^-126, `max()` about
/// 3.39e38, `denorm_min()` 2^-133, infinity and a quiet NaN).
struct bfloat16 {
  /// The stored bits: sign, exponent and the 7 high significand bits of a float.
  std::uint16_t bits = 0;

  constexpr bfloat16() = default;
  /// Rounds to nearest, ties to even; ±inf stays ±inf, a NaN stays a (quiet) NaN.
  constexpr explicit bfloat16(float value) noexcept : bits(round(std::bit_cast<std::uint32_t>(value))) {}
  /// Through float: the double is first rounded to float, then to bfloat16.
  constexpr explicit bfloat16(double value) noexcept : bfloat16(static_cast<float>(value)) {}

  /// Exact: every bfloat16 is a float.
  constexpr explicit operator float() const noexcept {
    return std::bit_cast<float>(std::uint32_t(bits) << 16);
  }
  /// Exact, through float.
  constexpr explicit operator double() const noexcept { return double(float(*this)); }

  /// The bfloat16 whose stored bits are `b` (any pattern, NaNs included).
  [[nodiscard]] static constexpr bfloat16 from_bits(std::uint16_t b) noexcept {
    bfloat16 x;
    x.bits = b;
    return x;
  }

  /// Equal as numbers (so +0 == -0 and NaN != NaN), as float compares.
  friend constexpr bool operator==(bfloat16 a, bfloat16 b) noexcept {
    return float(a) == float(b);
  }

 private:
  static constexpr std::uint16_t round(std::uint32_t f) noexcept {
    if ((f & 0x7f800000u) == 0x7f800000u && (f & 0x007fffffu) != 0) {
      return std::uint16_t((f >> 16) | 0x0040u);  // NaN: keep the sign and payload top, quiet
    }
    // Add half an ulp of the result, minus one unless the kept part is odd (ties to even).
    const std::uint32_t lsb = (f >> 16) & 1u;
    return std::uint16_t((f + 0x7fffu + lsb) >> 16);
  }
};

/// A stored numeric type, by name.
enum class Dtype : std::uint8_t { f32, f64, bf16 };
/// @var Dtype::f32
/// float: IEEE binary32, 4 bytes.
/// @var Dtype::f64
/// double: IEEE binary64, 8 bytes.
/// @var Dtype::bf16
/// est::bfloat16, 2 bytes.

/// True for the types est computes in: float, double and bfloat16.
template <class T>
inline constexpr bool is_floating_scalar_v =
    std::is_same_v<T, float> || std::is_same_v<T, double> || std::is_same_v<T, bfloat16>;

/// A type est computes in: float, double or bfloat16.
template <class T>
concept FloatingScalar = is_floating_scalar_v<T>;

/// The Dtype of T.
template <FloatingScalar T>
inline constexpr Dtype dtype_of = std::is_same_v<T, float>    ? Dtype::f32
                                  : std::is_same_v<T, double> ? Dtype::f64
                                                              : Dtype::bf16;

/// The name of `d` as PyTorch spells the dtype: "float32", "float64" or "bfloat16".
[[nodiscard]] constexpr std::string_view dtype_name(Dtype d) noexcept {
  switch (d) {
    case Dtype::f32: return "float32";
    case Dtype::f64: return "float64";
    case Dtype::bf16: return "bfloat16";
  }
  return "?";
}

/// The size of one element of `d` in bytes: 4, 8 or 2.
[[nodiscard]] constexpr int dtype_bytes(Dtype d) noexcept {
  return d == Dtype::f64 ? 8 : d == Dtype::f32 ? 4 : 2;
}

/// The type sums of T are formed in: T itself, except float for bfloat16.
template <FloatingScalar T>
struct accumulate_type {
  /// The accumulation type.
  using type = T;
};
/// bfloat16 sums are formed in float.
template <>
struct accumulate_type<bfloat16> {
  /// float.
  using type = float;
};
/// The type sums of `T` are formed in: float for bfloat16, `T` otherwise.
template <FloatingScalar T>
using accumulate_t = typename accumulate_type<T>::type;

/// A training run's choice of types: parameters (what the forward reads), compute (activations
/// and GEMM inputs), accumulate (GEMM and reduction sums) and master (the optimizer's copy of
/// the weights and its moments). Master weights and moments need the range and the
/// precision of small updates: a float or a double.
template <FloatingScalar Parameter, FloatingScalar Compute = Parameter,
          FloatingScalar Accumulate = accumulate_t<Compute>, FloatingScalar Master = Parameter>
struct Precision {
  static_assert(!std::is_same_v<Master, bfloat16>,
                "est::Precision: master weights (and the optimizer's moments) must be float or "
                "double; bfloat16 cannot hold the small updates of a training step");
  static_assert(!std::is_same_v<Accumulate, bfloat16>,
                "est::Precision: accumulate in float or double, not bfloat16");
  /// The type of the parameters, as the forward pass reads them.
  using parameter_type = Parameter;
  /// The type of activations and GEMM inputs.
  using compute_type = Compute;
  /// The type GEMM and reduction sums are formed in.
  using accumulate_type = Accumulate;
  /// The type of the optimizer's master weights and moments.
  using master_type = Master;
  /// True when every role uses one type (what est's models run today).
  static constexpr bool uniform = std::is_same_v<Parameter, Compute> &&
                                  std::is_same_v<Compute, Accumulate> &&
                                  std::is_same_v<Accumulate, Master>;
};

namespace precision {
/// Everything in float.
using fp32 = Precision<float>;
/// Everything in double.
using fp64 = Precision<double>;
/// bfloat16 parameters and activations, float accumulation and float master weights.
using bf16_mixed = Precision<bfloat16, bfloat16, float, float>;
}  // namespace precision

}  // namespace est

/// @cond
// bfloat16's limits, as float's where they make sense at 8 exponent and 8 significand bits.
template <>
class std::numeric_limits<est::bfloat16> {
 public:
  static constexpr bool is_specialized = true;
  static constexpr bool is_signed = true;
  static constexpr bool is_integer = false;
  static constexpr bool is_exact = false;
  static constexpr bool has_infinity = true;
  static constexpr bool has_quiet_NaN = true;
  static constexpr int digits = 8;
  static constexpr int radix = 2;
  static constexpr est::bfloat16 min() noexcept { return est::bfloat16::from_bits(0x0080); }
  static constexpr est::bfloat16 max() noexcept { return est::bfloat16::from_bits(0x7f7f); }
  static constexpr est::bfloat16 lowest() noexcept { return est::bfloat16::from_bits(0xff7f); }
  static constexpr est::bfloat16 epsilon() noexcept { return est::bfloat16::from_bits(0x3c00); }
  static constexpr est::bfloat16 infinity() noexcept { return est::bfloat16::from_bits(0x7f80); }
  static constexpr est::bfloat16 quiet_NaN() noexcept { return est::bfloat16::from_bits(0x7fc0); }
  static constexpr est::bfloat16 denorm_min() noexcept { return est::bfloat16::from_bits(0x0001); }
};
/// @endcond

// core/dtype.hpp: bfloat16 conversions against an independent rounding written with doubles
// (every float between two bfloat16 neighbours goes to the nearer, ties to the even one), every
// bfloat16 bit pattern round-tripping through float, the special values, and the precision
// vocabulary.

#include <catch2/catch.hpp>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>

#include <est/core/dtype.hpp>

using est::bfloat16;

namespace {

/// The value of a bfloat16 bit pattern, with 0x7f80 (infinity) read as 2^128, the value the
/// next step above the largest finite bfloat16 would have without an exponent limit.
double unbounded_value(std::uint16_t bits) {
  const std::uint16_t magnitude = bits & 0x7fffu;
  const double sign = (bits & 0x8000u) ? -1.0 : 1.0;
  if (magnitude == 0x7f80u) return sign * std::ldexp(1.0, 128);
  return double(std::bit_cast<float>(std::uint32_t(bits) << 16));
}

/// Round-to-nearest-even of a finite float to bfloat16, decided by exact distances in double.
std::uint16_t reference_round(float f) {
  const std::uint32_t u = std::bit_cast<std::uint32_t>(f);
  const auto down = std::uint16_t(u >> 16);           // toward zero
  const auto up = std::uint16_t(down + 1);            // away from zero (may be the infinity)
  if ((u & 0xffffu) == 0) return down;                // representable
  const double x = std::abs(double(f));
  const double below = std::abs(unbounded_value(down)), above = std::abs(unbounded_value(up));
  if (x - below < above - x) return down;
  if (x - below > above - x) return up;
  return (down & 1u) ? up : down;                     // a tie: the even one
}

}  // namespace

TEST_CASE("bfloat16 rounds floats to nearest, ties to even", "[dtype]") {
  std::mt19937 gen(1);
  int checked = 0;
  for (int i = 0; i < 2'000'000; ++i) {
    const float f = std::bit_cast<float>(std::uint32_t(gen()));
    if (!std::isfinite(f)) continue;
    const std::uint16_t expected = reference_round(f);
    if (bfloat16(f).bits != expected) {
      FAIL("float bits " << std::bit_cast<std::uint32_t>(f) << ": got " << bfloat16(f).bits
                         << ", expected " << expected);
    }
    ++checked;
  }
  CHECK(checked > 1'000'000);
  // Ties, by hand: 1 + 2^-8 lies halfway between 1 and 1 + 2^-7 and goes to the even 1; 1 +
  // 3·2^-8 between 1 + 2^-7 (odd) and 1 + 2^-6 goes up.
  CHECK(bfloat16(1.0f + 0x1p-8f).bits == 0x3f80);
  CHECK(bfloat16(1.0f + 3 * 0x1p-8f).bits == 0x3f82);
  CHECK(bfloat16(1.0f + 0x1p-8f + 0x1p-20f).bits == 0x3f81);  // just above the tie: up
  // The largest float rounds to infinity; a value below max + half an ulp does not.
  CHECK(bfloat16(std::numeric_limits<float>::max()).bits == 0x7f80);
  CHECK(bfloat16(-std::numeric_limits<float>::max()).bits == 0xff80);
  CHECK(float(bfloat16(3.3895e38f)) == float(std::numeric_limits<bfloat16>::max()));
}

TEST_CASE("every bfloat16 survives a trip through float", "[dtype]") {
  for (std::uint32_t b = 0; b <= 0xffffu; ++b) {
    const auto x = bfloat16::from_bits(std::uint16_t(b));
    const float f = float(x);
    if (std::isnan(f)) {
      CHECK(std::isnan(float(bfloat16(f))));
      continue;
    }
    REQUIRE(bfloat16(f).bits == b);
    REQUIRE(double(x) == double(f));
  }
}

TEST_CASE("bfloat16 keeps infinities, signs, zeros and NaNs", "[dtype]") {
  const float inf = std::numeric_limits<float>::infinity();
  CHECK(bfloat16(inf).bits == 0x7f80);
  CHECK(bfloat16(-inf).bits == 0xff80);
  CHECK(bfloat16(0.0f).bits == 0x0000);
  CHECK(bfloat16(-0.0f).bits == 0x8000);
  CHECK(bfloat16(0.0f) == bfloat16(-0.0f));
  // A NaN whose payload sits only in the dropped bits must not become infinity.
  const float low_nan = std::bit_cast<float>(0x7f800001u);
  CHECK(std::isnan(float(bfloat16(low_nan))));
  CHECK(std::isnan(float(bfloat16(-low_nan))));
  CHECK_FALSE(bfloat16(low_nan) == bfloat16(low_nan));
  CHECK(float(bfloat16(1.0)) == 1.0f);
  CHECK(float(std::numeric_limits<bfloat16>::epsilon()) == 0x1p-7f);
  CHECK(float(std::numeric_limits<bfloat16>::min()) == std::numeric_limits<float>::min());
  CHECK(float(std::numeric_limits<bfloat16>::denorm_min()) == 0x1p-133f);
  CHECK(std::isnan(float(std::numeric_limits<bfloat16>::quiet_NaN())));
}

TEST_CASE("the precision vocabulary names its types", "[dtype]") {
  static_assert(std::is_same_v<est::accumulate_t<bfloat16>, float>);
  static_assert(std::is_same_v<est::accumulate_t<double>, double>);
  static_assert(est::precision::fp32::uniform && est::precision::fp64::uniform);
  static_assert(!est::precision::bf16_mixed::uniform);
  static_assert(std::is_same_v<est::precision::bf16_mixed::master_type, float>);
  static_assert(std::is_same_v<est::precision::bf16_mixed::accumulate_type, float>);
  static_assert(est::FloatingScalar<bfloat16> && !est::FloatingScalar<int>);
  CHECK(est::dtype_of<float> == est::Dtype::f32);
  CHECK(est::dtype_of<bfloat16> == est::Dtype::bf16);
  CHECK(est::dtype_name(est::Dtype::bf16) == "bfloat16");
  CHECK(est::dtype_bytes(est::dtype_of<double>) == 8);
  CHECK(est::dtype_bytes(est::Dtype::bf16) == 2);
}

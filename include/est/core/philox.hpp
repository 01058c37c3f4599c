#pragma once
// Philox-4x32-10, the counter-based random number generator of Salmon, Moraes, Dror and Shaw,
// "Parallel random numbers: as easy as 1, 2, 3" (SC'11), bit-compatible with Random123's
// philox4x32 at 10 rounds.
//
// Why a counter-based generator: est keys every random draw by (seed, step, element), so a
// value is a pure function of those numbers. There is no generator state to carry, split or
// checkpoint, and the result does not depend on how many threads (or which device) produced it,
// nor on the order in which elements were filled. Philox is a bijection on 128-bit counters for
// each 64-bit key; distinct (key, counter) pairs give statistically independent outputs (it
// passes TestU01 BigCrush), and it costs a few multiplies per 4 words on CPU and GPU alike.
//
// Layout conventions used throughout est:
//   key     = the 64-bit seed as {low 32 bits, high 32 bits};
//   counter = the 128-bit number (a, b) as {lo(b), hi(b), lo(a), hi(a)}, so `b` is the fast
//             (element or block) index and `a` the stream (step, tensor, purpose).
// Each counter yields one block of 4 32-bit words ("lanes").

#include <array>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <numbers>
#include <span>

#include "est/core/error.hpp"
#include "est/core/shape.hpp"

namespace est {

/// The Philox-4x32-10 generator under one 64-bit seed, bit-compatible with Random123's
/// philox4x32 at 10 rounds: a pure function from a 128-bit counter to 4 random 32-bit words.
/// The counter (a, b) is laid out {lo(b), hi(b), lo(a), hi(a)}: `b` is the fast (element or
/// block) index, `a` the stream (step, tensor, purpose; see rng_stream()).
struct Philox4x32 {
  /// 128 bits as 4 words, the low word first; also the type of one output block.
  using counter_type = std::array<std::uint32_t, 4>;
  /// The 64-bit key as {low 32 bits, high 32 bits}.
  using key_type = std::array<std::uint32_t, 2>;

  // Constants of the published algorithm: the two round multipliers, and the Weyl increments
  // (golden ratio and sqrt(3) - 1, as 32-bit fractions) added to the key between rounds.
  /// Round multiplier of word 0 (the published constant).
  static constexpr std::uint32_t multiplier0 = 0xD2511F53u;
  /// Round multiplier of word 2 (the published constant).
  static constexpr std::uint32_t multiplier1 = 0xCD9E8D57u;
  /// Weyl increment of key word 0: the golden ratio's fraction in 32 bits.
  static constexpr std::uint32_t weyl0 = 0x9E3779B9u;
  /// Weyl increment of key word 1: sqrt(3) - 1 in 32 bits.
  static constexpr std::uint32_t weyl1 = 0xBB67AE85u;
  /// Rounds per block: 10, the count Random123's known-answer vectors are for.
  static constexpr int rounds = 10;

  /// One Philox round: two 32x32->64 multiplies whose high halves are xored with the other two
  /// words and the key, then a fixed permutation of the words.
  [[nodiscard]] static constexpr counter_type round(counter_type x, key_type k) noexcept {
    const std::uint64_t p0 = std::uint64_t{multiplier0} * x[0];
    const std::uint64_t p1 = std::uint64_t{multiplier1} * x[2];
    const auto hi0 = static_cast<std::uint32_t>(p0 >> 32);
    const auto lo0 = static_cast<std::uint32_t>(p0);
    const auto hi1 = static_cast<std::uint32_t>(p1 >> 32);
    const auto lo1 = static_cast<std::uint32_t>(p1);
    return {hi1 ^ x[1] ^ k[0], lo1, hi0 ^ x[3] ^ k[1], lo0};
  }

  /// The 4 output words for `counter` under `key`: 10 rounds, the key bumped by the Weyl
  /// increments before every round but the first (the Random123 schedule, which the published
  /// known-answer vectors pin down).
  [[nodiscard]] static constexpr counter_type block(counter_type counter, key_type key) noexcept {
    for (int r = 0; r < rounds; ++r) {
      if (r > 0) {
        key[0] += weyl0;  // unsigned: wraps mod 2^32 by definition
        key[1] += weyl1;
      }
      counter = round(counter, key);
    }
    return counter;
  }

  /// The counter for the 128-bit number (a, b): {lo(b), hi(b), lo(a), hi(a)}.
  [[nodiscard]] static constexpr counter_type make_counter(std::uint64_t a,
                                                           std::uint64_t b) noexcept {
    return {static_cast<std::uint32_t>(b), static_cast<std::uint32_t>(b >> 32),
            static_cast<std::uint32_t>(a), static_cast<std::uint32_t>(a >> 32)};
  }

  /// key = {low 32 bits of seed, high 32 bits of seed}.
  explicit constexpr Philox4x32(std::uint64_t seed) noexcept
      : key{static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32)} {}

  /// The 4 random words for the 128-bit counter (a, b).
  [[nodiscard]] constexpr counter_type operator()(std::uint64_t a, std::uint64_t b) const noexcept {
    return block(make_counter(a, b), key);
  }

  /// The key: {low 32 bits of the seed, high 32 bits}.
  key_type key;
};

// ---- Words to uniform reals -----------------------------------------------------------------
// Each conversion takes as many high bits as the target's significand holds, so every output is
// exactly representable: no rounding can push a value onto the excluded endpoint.

/// Uniform in [0, 1) from the 24 high bits of `w` (a float's significand), step 2^-24.
[[nodiscard]] inline constexpr float uniform_float(std::uint32_t w) noexcept {
  return static_cast<float>(w >> 8) * 0x1p-24f;
}

/// Uniform in (0, 1] from the 24 high bits of `w`: never 0, so safe to take the log of.
[[nodiscard]] inline constexpr float uniform_float_open(std::uint32_t w) noexcept {
  return static_cast<float>((w >> 8) + 1u) * 0x1p-24f;
}

/// Uniform in [0, 1) from one word, step 2^-32 (exact in a double).
[[nodiscard]] inline constexpr double uniform_double(std::uint32_t w) noexcept {
  return static_cast<double>(w) * 0x1p-32;
}

/// Uniform in (0, 1] from one word, step 2^-32: never 0, so safe to take the log of.
[[nodiscard]] inline constexpr double uniform_double_open(std::uint32_t w) noexcept {
  return (static_cast<double>(w) + 1.0) * 0x1p-32;
}

/// Uniform in [0, 1) from two words: the 53 high bits of (hi:lo), a double's significand.
[[nodiscard]] inline constexpr double uniform_double(std::uint32_t hi, std::uint32_t lo) noexcept {
  const std::uint64_t x = (std::uint64_t{hi} << 32) | lo;
  return static_cast<double>(x >> 11) * 0x1p-53;
}

/// Uniform in (0, 1] from two words (53 high bits of (hi:lo), plus one step).
[[nodiscard]] inline constexpr double uniform_double_open(std::uint32_t hi,
                                                          std::uint32_t lo) noexcept {
  const std::uint64_t x = (std::uint64_t{hi} << 32) | lo;
  return static_cast<double>((x >> 11) + 1u) * 0x1p-53;
}

// ---- Filling spans ----------------------------------------------------------------------------

/// The element types the fills produce.
template <class T>
concept philox_real = std::same_as<T, float> || std::same_as<T, double>;

namespace detail {

/// Calls `emit(j, block)` for each block j covering elements [first, first + count), 4
/// elements per block; `emit` writes the lanes that fall inside the range.
template <class Emit>
void for_each_philox_block(const Philox4x32& gen, std::uint64_t stream, Index first, Index count,
                           Emit&& emit) {
  if (count <= 0) return;
  const auto begin = static_cast<std::uint64_t>(first);
  const auto end = begin + static_cast<std::uint64_t>(count);
  for (std::uint64_t j = begin / 4; j * 4 < end; ++j) emit(j, gen(stream, j));
}

}  // namespace detail

/// Fills `out` with values uniform in [lo, hi). Element i is logical element g = first + i and
/// uses lane g % 4 of the block at counter (stream, g / 4), so its value depends only on
/// (seed, stream, g): not on out.size(), on how a tensor is split into spans, or on threads.
/// float takes the lane's 24 high bits, double all 32 (one lane per element either way, so the
/// float and double fills of one (seed, stream) agree to float precision). The affine map is
/// computed in double; a result that rounds up onto `hi` is pulled back below it.
template <philox_real T>
void fill_uniform(std::span<T> out, std::uint64_t seed, std::uint64_t stream, T lo, T hi,
                  Index first = 0) {
  require<value_error>(std::isfinite(lo) && std::isfinite(hi),
                       "fill_uniform: lo and hi must be finite, got lo = ", lo, ", hi = ", hi);
  require<value_error>(lo < hi, "fill_uniform: lo must be < hi, got lo = ", lo, ", hi = ", hi);
  const double dlo = static_cast<double>(lo);
  const double width = static_cast<double>(hi) - dlo;
  require<value_error>(std::isfinite(width), "fill_uniform: hi - lo overflows, got lo = ", lo,
                       ", hi = ", hi);
  require<value_error>(first >= 0, "fill_uniform: first must be >= 0, got ", first);

  const Philox4x32 gen(seed);
  const auto count = static_cast<Index>(out.size());
  const T below_hi = std::nextafter(hi, lo);
  detail::for_each_philox_block(
      gen, stream, first, count, [&](std::uint64_t j, const Philox4x32::counter_type& w) {
        for (std::size_t lane = 0; lane < 4; ++lane) {
          const Index i = static_cast<Index>(j * 4 + lane) - first;
          if (i < 0 || i >= count) continue;
          double u;
          if constexpr (std::same_as<T, float>) {
            u = static_cast<double>(uniform_float(w[lane]));
          } else {
            u = uniform_double(w[lane]);
          }
          const T v = static_cast<T>(dlo + width * u);
          out[static_cast<std::size_t>(i)] = v < hi ? v : below_hi;
        }
      });
}

/// Fills `out` with normal(mean, stddev) values by Box-Muller. Element i is logical element
/// g = first + i, drawn from the block at counter (stream, g / 4): lanes (0, 1) give the pair
/// for g % 4 in {0, 1} (cosine, sine), lanes (2, 3) the pair for {2, 3}. The first lane of a
/// pair is mapped into (0, 1] so its log is finite (radius <= sqrt(64 ln 2) ~ 6.66, a tail of
/// ~3e-11 lost); the second gives the angle. Computed in double, then cast, so float results are
/// correctly rounded normals rather than float-accumulated ones.
template <philox_real T>
void fill_normal(std::span<T> out, std::uint64_t seed, std::uint64_t stream, T mean, T stddev,
                 Index first = 0) {
  require<value_error>(std::isfinite(mean), "fill_normal: mean must be finite, got ", mean);
  require<value_error>(std::isfinite(stddev) && stddev >= T{0},
                       "fill_normal: stddev must be finite and >= 0, got ", stddev);
  require<value_error>(first >= 0, "fill_normal: first must be >= 0, got ", first);

  const Philox4x32 gen(seed);
  const auto count = static_cast<Index>(out.size());
  const double dmean = static_cast<double>(mean);
  const double dstd = static_cast<double>(stddev);
  detail::for_each_philox_block(
      gen, stream, first, count, [&](std::uint64_t j, const Philox4x32::counter_type& w) {
        std::array<double, 4> z{};
        for (std::size_t pair = 0; pair < 2; ++pair) {
          const double radius = std::sqrt(-2.0 * std::log(uniform_double_open(w[2 * pair])));
          const double angle = 2.0 * std::numbers::pi * uniform_double(w[2 * pair + 1]);
          z[2 * pair] = radius * std::cos(angle);
          z[2 * pair + 1] = radius * std::sin(angle);
        }
        for (std::size_t lane = 0; lane < 4; ++lane) {
          const Index i = static_cast<Index>(j * 4 + lane) - first;
          if (i < 0 || i >= count) continue;
          out[static_cast<std::size_t>(i)] = static_cast<T>(dmean + dstd * z[lane]);
        }
      });
}

// ---- Integers without bias --------------------------------------------------------------------

namespace detail {

/// High and low 64 bits of the 128-bit product a * b, from 32-bit halves (portable: no
/// __int128, which -Wpedantic rejects and device compilers may lack).
struct u128_parts {
  std::uint64_t hi;
  std::uint64_t lo;
};

[[nodiscard]] inline constexpr u128_parts mul_64x64(std::uint64_t a, std::uint64_t b) noexcept {
  const std::uint64_t a_lo = a & 0xFFFFFFFFu, a_hi = a >> 32;
  const std::uint64_t b_lo = b & 0xFFFFFFFFu, b_hi = b >> 32;
  const std::uint64_t ll = a_lo * b_lo;
  const std::uint64_t lh = a_lo * b_hi;
  const std::uint64_t hl = a_hi * b_lo;
  const std::uint64_t hh = a_hi * b_hi;
  // Middle column: carries from the three 32-bit terms summed there (cannot overflow 64 bits).
  const std::uint64_t mid = (ll >> 32) + (lh & 0xFFFFFFFFu) + (hl & 0xFFFFFFFFu);
  return {hh + (lh >> 32) + (hl >> 32) + (mid >> 32), (mid << 32) | (ll & 0xFFFFFFFFu)};
}

}  // namespace detail

/// An integer uniform in [0, n) for counter (a, b) under `seed`, without modulo bias
/// (Lemire, "Fast random integer generation in an interval", 2019): a 64-bit draw x maps to the
/// high word of x * n, and the few x whose low word falls below 2^64 mod n are rejected.
/// Draws come from lanes (1:0) then (3:2) of block (a, b); should both be rejected (chance below
/// (n / 2^64)^2), the block is re-encrypted to give the next 4 lanes. Re-encrypting instead of
/// stepping to counter (a, b + 1) keeps every retry inside this call's own counter, so callers
/// may use the neighbouring counters for other draws without correlation.
[[nodiscard]] inline Index uniform_index(std::uint64_t seed, std::uint64_t a, std::uint64_t b,
                                         Index n) {
  require<value_error>(n > 0, "uniform_index: n must be > 0, got ", n);
  const auto range = static_cast<std::uint64_t>(n);
  // 2^64 mod n, computed in 64 bits as (2^64 - n) mod n.
  const std::uint64_t threshold = (std::uint64_t{0} - range) % range;
  const Philox4x32 gen(seed);
  Philox4x32::counter_type w = gen(a, b);
  for (;;) {
    for (std::size_t pair = 0; pair < 2; ++pair) {
      const std::uint64_t x = (std::uint64_t{w[2 * pair + 1]} << 32) | w[2 * pair];
      const detail::u128_parts m = detail::mul_64x64(x, range);
      if (m.lo >= threshold) return static_cast<Index>(m.hi);
    }
    w = Philox4x32::block(w, gen.key);
  }
}

/// What a Philox stream is used for. The top 8 bits of a stream number name the purpose, so
/// that two uses of one seed (the weights' initialisation and the batch sampling, say) never
/// draw the same random words.
enum class RngPurpose : std::uint64_t {
  weights = 1,     ///< initialisation: stream index = tensor index
  batches = 2,     ///< data sampling: stream index = step
  subnetwork = 3,  ///< subnetwork sampling: stream index = step
  sampling = 4,    ///< text generation: stream index = token position
};

/// The stream number for `index` (below 2^56) within `purpose`.
[[nodiscard]] constexpr std::uint64_t rng_stream(RngPurpose purpose, std::uint64_t index) noexcept {
  return (static_cast<std::uint64_t>(purpose) << 56) | (index & ((std::uint64_t{1} << 56) - 1));
}

}  // namespace est

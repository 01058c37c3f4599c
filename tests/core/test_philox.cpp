// Tests for est/core/philox.hpp: known-answer vectors, values cross-checked against an
// independent implementation, statistical sanity of the fills, and argument validation.

#include "est/core/philox.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

namespace {

using est::Philox4x32;
using counter = Philox4x32::counter_type;
using key = Philox4x32::key_type;

// Known-answer vectors published with Random123 (D. E. Shaw Research), file tests/kat_vectors,
// lines "philox4x32 10 <counter x4> <key x2> <expected x4>". The pi-digits case uses the
// hexadecimal digits of pi as counter and key.
struct kat {
  counter ctr;
  key k;
  counter expected;
};
constexpr std::array<kat, 3> random123_kat{{
    {{0x00000000u, 0x00000000u, 0x00000000u, 0x00000000u},
     {0x00000000u, 0x00000000u},
     {0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u}},
    {{0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu},
     {0xffffffffu, 0xffffffffu},
     {0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu}},
    {{0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u},
     {0xa4093822u, 0x299f31d0u},
     {0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u}},
}};

// The generator is constexpr, so the vectors can also be checked by the compiler.
static_assert(Philox4x32::block(random123_kat[0].ctr, random123_kat[0].k) ==
              random123_kat[0].expected);
static_assert(Philox4x32::block(random123_kat[2].ctr, random123_kat[2].k) ==
              random123_kat[2].expected);

double mean_of(const std::vector<double>& v) {
  double s = 0.0;
  for (double x : v) s += x;
  return s / static_cast<double>(v.size());
}

double variance_of(const std::vector<double>& v) {
  const double m = mean_of(v);
  double s = 0.0;
  for (double x : v) s += (x - m) * (x - m);
  return s / static_cast<double>(v.size() - 1);
}

template <class T>
std::vector<double> widen(const std::vector<T>& v) {
  return std::vector<double>(v.begin(), v.end());
}

}  // namespace

TEST_CASE("philox4x32_10 matches the Random123 known-answer vectors", "[philox]") {
  for (const kat& t : random123_kat) {
    CAPTURE(t.ctr[0], t.k[0]);
    CHECK(Philox4x32::block(t.ctr, t.k) == t.expected);
  }
}

TEST_CASE("philox4x32 keying and counter layout match an independent implementation",
          "[philox]") {
  // Reference words from Python randomgen 2.5.1, Philox(number=4, width=32, key=seed,
  // counter=(a << 64 | b) - 1): randomgen steps its counter before each block, so its first four
  // raw outputs are the block at the 128-bit counter a * 2^64 + b, laid out low word first,
  // i.e. {lo(b), hi(b), lo(a), hi(a)}, with key {lo(seed), hi(seed)}.
  struct ref {
    std::uint64_t seed, a, b;
    counter expected;
  };
  const std::array<ref, 4> refs{{
      {0x0123456789abcdefull, 0, 0, {0xb850222eu, 0xc58cb04bu, 0x14a7a020u, 0x7a84fff9u}},
      {42, 7, 123456789012ull, {0xc156e79bu, 0x66008f31u, 0x8e0cd607u, 0x58f9bbbeu}},
      {~0ull, ~0ull, ~0ull - 1, {0x01840c58u, 0xe3bb7da9u, 0xb9965937u, 0xa1c18b72u}},
      {20240601, 3, 1, {0x91d4ed31u, 0x185e2c5fu, 0x37ce46f6u, 0x1615e71bu}},
  }};
  for (const ref& r : refs) {
    CAPTURE(r.seed, r.a, r.b);
    const Philox4x32 gen(r.seed);
    CHECK(gen.key == key{static_cast<std::uint32_t>(r.seed),
                         static_cast<std::uint32_t>(r.seed >> 32)});
    CHECK(gen(r.a, r.b) == r.expected);
  }
  CHECK(Philox4x32::make_counter(0x0000000100000002ull, 0x0000000300000004ull) ==
        counter{4u, 3u, 2u, 1u});
}

TEST_CASE("word to real conversions hit their documented endpoints", "[philox]") {
  CHECK(est::uniform_float(0u) == 0.0f);
  CHECK(est::uniform_float(0xffffffffu) == 1.0f - 0x1p-24f);
  CHECK(est::uniform_float(0x000000ffu) == 0.0f);  // low 8 bits are dropped
  CHECK(est::uniform_float_open(0u) == 0x1p-24f);
  CHECK(est::uniform_float_open(0xffffffffu) == 1.0f);

  CHECK(est::uniform_double(0u) == 0.0);
  CHECK(est::uniform_double(0xffffffffu) == 1.0 - 0x1p-32);
  CHECK(est::uniform_double_open(0u) == 0x1p-32);
  CHECK(est::uniform_double_open(0xffffffffu) == 1.0);

  CHECK(est::uniform_double(0u, 0u) == 0.0);
  CHECK(est::uniform_double(0xffffffffu, 0xffffffffu) == 1.0 - 0x1p-53);
  CHECK(est::uniform_double(0x80000000u, 0u) == 0.5);
  CHECK(est::uniform_double(0u, 0x000007ffu) == 0.0);  // low 11 bits are dropped
  CHECK(est::uniform_double_open(0u, 0u) == 0x1p-53);
  CHECK(est::uniform_double_open(0xffffffffu, 0xffffffffu) == 1.0);
}

TEST_CASE("fills use the documented block and lane for each element", "[philox]") {
  // Reference values computed in Python from randomgen's Philox4x32 words (see above) with the
  // mapping documented in philox.hpp: element g uses block (stream, g / 4).
  const std::uint64_t seed = 42, stream = 7;

  SECTION("fill_uniform<float>: lane g % 4, 24 high bits, [-1, 3)") {
    const std::array<float, 6> expected{0.6239278316497803f,  2.5832557678222656f,
                                        0.6952385902404785f,  0.33518028259277344f,
                                        2.5916693210601807f, 0.5009386539459229f};
    std::vector<float> out(6);
    est::fill_uniform<float>(out, seed, stream, -1.0f, 3.0f);
    for (std::size_t i = 0; i < out.size(); ++i) {
      CAPTURE(i);
      CHECK(out[i] == expected[i]);
    }
  }

  SECTION("fill_uniform<double>: lane g % 4, all 32 bits, [0.5, 2.5)") {
    const std::array<double, 6> expected{1.3119639363139868, 2.2916279789060354,
                                         1.3476193198002875, 1.1675902395509183,
                                         2.2958346903324127, 1.2504693968221545};
    std::vector<double> out(6);
    est::fill_uniform<double>(out, seed, stream, 0.5, 2.5);
    for (std::size_t i = 0; i < out.size(); ++i) {
      CAPTURE(i);
      CHECK(out[i] == expected[i]);
    }
  }

  SECTION("fill_normal<double>: Box-Muller pairs from lanes (0, 1) and (2, 3)") {
    const std::array<double, 8> expected{3.130301760795922,   -0.6350494407041112,
                                         -0.316900742799602,  3.265731481928144,
                                         0.34274866069368015, 1.6553157561001646,
                                         1.9865090316177325,  2.908029648073006};
    std::vector<double> out(8);
    est::fill_normal<double>(out, seed, stream, 1.0, 2.0);
    for (std::size_t i = 0; i < out.size(); ++i) {
      CAPTURE(i);
      // libm's log/cos/sin may differ from Python's in the last bit.
      CHECK(out[i] == Approx(expected[i]).epsilon(1e-13));
    }
  }

  SECTION("uniform_index: Lemire on lanes (1:0)") {
    CHECK(est::uniform_index(seed, 7, 0, 1000) == 895);
    CHECK(est::uniform_index(seed, 7, 1, 1000) == 375);
    CHECK(est::uniform_index(seed, 9, 5, 3) == 1);
    CHECK(est::uniform_index(seed, 9, 6, (est::Index{1} << 40) + 7) == 986659706111);
  }

  SECTION("uniform_index: rejected draws fall through to lanes (3:2), then a re-encrypted block") {
    // n = 3 * 2^61 rejects a quarter of all 64-bit draws. For these counters both draws of the
    // first block are rejected, and the reference re-encrypted the block under the same key.
    const est::Index n = est::Index{3} << 61;
    CHECK(est::uniform_index(seed, 11, 10, n) == 1828635171169689505);
    CHECK(est::uniform_index(seed, 11, 13, n) == 3421062314637436027);
    CHECK(est::uniform_index(seed, 11, 52, n) == 6221955148244500950);
  }
}

TEST_CASE("fill_uniform: range, mean and variance", "[philox][stats]") {
  constexpr std::size_t n = 100000;
  const double lo = -2.0, hi = 3.0, w = hi - lo;
  const double expected_mean = (lo + hi) / 2.0;
  const double expected_var = w * w / 12.0;
  // Standard errors: sd / sqrt(n) for the mean; sqrt((mu4 - sigma^4) / n) for the variance,
  // with mu4 - sigma^4 = w^4 / 80 - w^4 / 144 = w^4 / 180 for a uniform of width w.
  const double se_mean = std::sqrt(expected_var / n);
  const double se_var = w * w / std::sqrt(180.0 * n);

  SECTION("float") {
    std::vector<float> out(n);
    est::fill_uniform<float>(out, 1234, 0, static_cast<float>(lo), static_cast<float>(hi));
    CHECK(*std::min_element(out.begin(), out.end()) >= static_cast<float>(lo));
    CHECK(*std::max_element(out.begin(), out.end()) < static_cast<float>(hi));
    const auto v = widen(out);
    CHECK(std::abs(mean_of(v) - expected_mean) < 5.0 * se_mean);
    CHECK(std::abs(variance_of(v) - expected_var) < 5.0 * se_var);
  }
  SECTION("double") {
    std::vector<double> out(n);
    est::fill_uniform<double>(out, 1234, 0, lo, hi);
    CHECK(*std::min_element(out.begin(), out.end()) >= lo);
    CHECK(*std::max_element(out.begin(), out.end()) < hi);
    CHECK(std::abs(mean_of(out) - expected_mean) < 5.0 * se_mean);
    CHECK(std::abs(variance_of(out) - expected_var) < 5.0 * se_var);
  }
}

TEST_CASE("fill_uniform never returns hi even when rounding would", "[philox]") {
  // With hi one step above lo, lo + (hi - lo) * u rounds to hi for every u > 1/2: those draws
  // must be pulled back below hi, which leaves only lo.
  std::vector<float> f(1000);
  const float flo = 1.0f, fhi = 1.0f + 0x1p-23f;
  est::fill_uniform<float>(f, 99, 3, flo, fhi);
  for (float x : f) REQUIRE(x == flo);

  std::vector<double> d(1000);
  const double dlo = 1.0, dhi = 1.0 + 0x1p-52;
  est::fill_uniform<double>(d, 99, 3, dlo, dhi);
  for (double x : d) REQUIRE(x == dlo);

  // In [1, 2) a float's step is 2^-23, so the top 24-bit draw 1 + (1 - 2^-24) rounds to 2.
  std::vector<float> out(100000);
  est::fill_uniform<float>(out, 99, 3, 1.0f, 2.0f);
  CHECK(*std::max_element(out.begin(), out.end()) < 2.0f);
  CHECK(*std::min_element(out.begin(), out.end()) >= 1.0f);
}

TEST_CASE("fill_normal: mean, variance, tails and pairing", "[philox][stats]") {
  constexpr std::size_t n = 100000;
  const double mean = 0.5, sd = 2.0;
  const double se_mean = sd / std::sqrt(double{n});
  const double se_var = sd * sd * std::sqrt(2.0 / n);  // normal: Var(s^2) = 2 sigma^4 / n

  auto check_sample = [&](const std::vector<double>& v) {
    CHECK(std::abs(mean_of(v) - mean) < 5.0 * se_mean);
    CHECK(std::abs(variance_of(v) - sd * sd) < 5.0 * se_var);
    // P(|z| > 2) = 0.0455003: a wrong radius (e.g. a missing factor 2) shows up here.
    const double p = 0.04550026389635842;
    const auto tails = std::count_if(v.begin(), v.end(),
                                     [&](double x) { return std::abs(x - mean) > 2.0 * sd; });
    CHECK(std::abs(static_cast<double>(tails) / n - p) < 5.0 * std::sqrt(p * (1 - p) / n));
    // Neighbours share a block (and the two of a pair share a radius), yet must be
    // uncorrelated: cos and sin of one angle are.
    double c = 0.0;
    for (std::size_t i = 0; i + 1 < v.size(); ++i) c += (v[i] - mean) * (v[i + 1] - mean);
    const double rho = c / static_cast<double>(v.size() - 1) / (sd * sd);
    CHECK(std::abs(rho) < 5.0 / std::sqrt(double{n}));
  };

  SECTION("double") {
    std::vector<double> out(n);
    est::fill_normal<double>(out, 777, 5, mean, sd);
    check_sample(out);
  }
  SECTION("float") {
    std::vector<float> out(n);
    est::fill_normal<float>(out, 777, 5, static_cast<float>(mean), static_cast<float>(sd));
    check_sample(widen(out));
  }
}

TEST_CASE("fills are deterministic and keyed by seed and stream", "[philox]") {
  const std::size_t n = 1000;
  std::vector<double> a(n), b(n), c(n), d(n);
  est::fill_normal<double>(a, 5, 10, 0.0, 1.0);
  est::fill_normal<double>(b, 5, 10, 0.0, 1.0);
  est::fill_normal<double>(c, 5, 11, 0.0, 1.0);
  est::fill_normal<double>(d, 6, 10, 0.0, 1.0);
  CHECK(a == b);
  std::size_t same_stream = 0, same_seed = 0;
  for (std::size_t i = 0; i < n; ++i) {
    same_stream += a[i] == c[i];
    same_seed += a[i] == d[i];
  }
  CHECK(same_stream == 0);
  CHECK(same_seed == 0);

  std::vector<float> u1(n), u2(n), u3(n);
  est::fill_uniform<float>(u1, 5, 10, 0.0f, 1.0f);
  est::fill_uniform<float>(u2, 5, 10, 0.0f, 1.0f);
  est::fill_uniform<float>(u3, 5, 11, 0.0f, 1.0f);
  CHECK(u1 == u2);
  CHECK(u1 != u3);
}

TEST_CASE("element values do not depend on the span length or on how the range is split",
          "[philox]") {
  std::vector<double> whole(1003);
  est::fill_normal<double>(whole, 8, 2, 0.0, 1.0);
  for (std::size_t len : {1u, 2u, 3u, 5u, 7u, 37u}) {
    CAPTURE(len);
    std::vector<double> part(len);
    est::fill_normal<double>(part, 8, 2, 0.0, 1.0);
    CHECK(std::equal(part.begin(), part.end(), whole.begin()));
  }
  // A fill starting at logical element `first` reproduces that slice of the whole, including
  // slices that start and end mid-block; so does a split into uneven chunks.
  std::vector<double> slice(30);
  est::fill_normal<double>(slice, 8, 2, 0.0, 1.0, 13);
  CHECK(std::equal(slice.begin(), slice.end(), whole.begin() + 13));

  std::vector<float> uwhole(1003), uchunks(1003);
  est::fill_uniform<float>(uwhole, 8, 2, -1.0f, 1.0f);
  for (std::size_t begin = 0; begin < uchunks.size(); begin += 97) {
    const std::size_t len = std::min<std::size_t>(97, uchunks.size() - begin);
    est::fill_uniform<float>(std::span<float>(uchunks).subspan(begin, len), 8, 2, -1.0f, 1.0f,
                             static_cast<est::Index>(begin));
  }
  CHECK(uchunks == uwhole);

  std::vector<float> empty;
  est::fill_uniform<float>(empty, 8, 2, -1.0f, 1.0f);  // no-op, no throw
  est::fill_normal<float>(empty, 8, 2, 0.0f, 1.0f);
}

TEST_CASE("float and double fills of one key agree", "[philox]") {
  // Both compute in double from the same lane; float is the double result rounded (normal) or
  // the same draw at 24 instead of 32 bits (uniform).
  const std::size_t n = 4096;
  std::vector<double> nd(n);
  std::vector<float> nf(n);
  est::fill_normal<double>(nd, 3, 4, 0.25, 1.5);
  est::fill_normal<float>(nf, 3, 4, 0.25f, 1.5f);
  for (std::size_t i = 0; i < n; ++i) CHECK(nf[i] == static_cast<float>(nd[i]));

  std::vector<double> ud(n);
  std::vector<float> uf(n);
  est::fill_uniform<double>(ud, 3, 4, 0.0, 1.0);
  est::fill_uniform<float>(uf, 3, 4, 0.0f, 1.0f);
  for (std::size_t i = 0; i < n; ++i) {
    CHECK(uf[i] <= ud[i]);
    CHECK(ud[i] - uf[i] < 0x1p-24);
  }
}

TEST_CASE("fill_normal with stddev 0 returns the mean", "[philox]") {
  std::vector<float> out(9);
  est::fill_normal<float>(out, 1, 1, 3.5f, 0.0f);
  for (float x : out) CHECK(x == 3.5f);
}

TEST_CASE("uniform_index stays in range and is unbiased", "[philox][stats]") {
  SECTION("always in [0, n)") {
    const std::array<est::Index, 7> ns{1, 2, 3, 7, 1000, (est::Index{1} << 40) + 7,
                                       std::numeric_limits<est::Index>::max()};
    for (est::Index n : ns) {
      CAPTURE(n);
      for (std::uint64_t b = 0; b < 2000; ++b) {
        const est::Index k = est::uniform_index(17, 1, b, n);
        REQUIRE(k >= 0);
        REQUIRE(k < n);
      }
    }
    CHECK(est::uniform_index(17, 1, 0, 1) == 0);
  }

  SECTION("chi-square over 10 values") {
    constexpr int bins = 10;
    constexpr int draws = 100000;
    std::array<int, bins> counts{};
    for (std::uint64_t b = 0; b < draws; ++b) ++counts[est::uniform_index(2024, 3, b, bins)];
    const double expected = double{draws} / bins;
    double chi2 = 0.0;
    for (int c : counts) chi2 += (c - expected) * (c - expected) / expected;
    // 9 degrees of freedom: P(chi2 > 40) ~ 7e-6. A constant or grossly skewed output fails.
    CHECK(chi2 < 40.0);
  }

  SECTION("no modulo bias for n = 3 * 2^61") {
    // x mod n over 64-bit x would put 3/8, 3/8, 2/8 of the mass in the thirds of [0, n); an
    // unbiased draw puts 1/3 in each.
    const est::Index n = est::Index{3} << 61;
    constexpr int draws = 60000;
    std::array<int, 3> thirds{};
    for (std::uint64_t b = 0; b < draws; ++b) ++thirds[est::uniform_index(5, 8, b, n) >> 61];
    const double expected = draws / 3.0;
    double chi2 = 0.0;
    for (int c : thirds) chi2 += (c - expected) * (c - expected) / expected;
    CHECK(chi2 < 30.0);  // 2 degrees of freedom; the modulo bias would give ~1900
  }
}

TEST_CASE("invalid arguments throw value_error naming the function and argument", "[philox]") {
  using Catch::Matchers::Contains;
  std::vector<float> f(4);
  std::vector<double> d(4);
  const float inf = std::numeric_limits<float>::infinity();
  const double nan = std::numeric_limits<double>::quiet_NaN();

  CHECK_THROWS_AS(est::fill_uniform<float>(f, 1, 1, 1.0f, 1.0f), est::value_error);
  CHECK_THROWS_WITH(est::fill_uniform<float>(f, 1, 1, 2.0f, 1.0f),
                    Contains("fill_uniform") && Contains("lo must be < hi"));
  CHECK_THROWS_AS(est::fill_uniform<double>(d, 1, 1, nan, 1.0), est::value_error);
  CHECK_THROWS_WITH(est::fill_uniform<float>(f, 1, 1, 0.0f, inf),
                    Contains("fill_uniform") && Contains("finite"));
  CHECK_THROWS_WITH(est::fill_uniform<double>(d, 1, 1, -std::numeric_limits<double>::max(),
                                              std::numeric_limits<double>::max()),
                    Contains("fill_uniform") && Contains("hi - lo"));
  CHECK_THROWS_WITH(est::fill_uniform<float>(f, 1, 1, 0.0f, 1.0f, -1),
                    Contains("fill_uniform") && Contains("first"));

  CHECK_THROWS_WITH(est::fill_normal<float>(f, 1, 1, 0.0f, -1.0f),
                    Contains("fill_normal") && Contains("stddev"));
  CHECK_THROWS_AS(est::fill_normal<double>(d, 1, 1, 0.0, nan), est::value_error);
  CHECK_THROWS_AS(est::fill_normal<float>(f, 1, 1, 0.0f, inf), est::value_error);
  CHECK_THROWS_WITH(est::fill_normal<double>(d, 1, 1, nan, 1.0),
                    Contains("fill_normal") && Contains("mean"));
  CHECK_THROWS_WITH(est::fill_normal<double>(d, 1, 1, 0.0, 1.0, -4),
                    Contains("fill_normal") && Contains("first"));

  CHECK_THROWS_WITH(est::uniform_index(1, 2, 3, 0), Contains("uniform_index") && Contains("n"));
  CHECK_THROWS_AS(est::uniform_index(1, 2, 3, -5), est::value_error);

  // A failed check leaves the output untouched.
  std::vector<float> untouched(4, 7.0f);
  CHECK_THROWS(est::fill_normal<float>(untouched, 1, 1, 0.0f, -1.0f));
  CHECK(untouched == std::vector<float>(4, 7.0f));
}

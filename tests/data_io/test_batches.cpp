// est/data/batches.hpp: windows are consecutive source tokens with targets shifted by one,
// determined by (seed, step, micro-batch) alone, uniform over the range; validation batches are
// fixed consecutive windows; bad sizes are rejected naming the source.

#include <catch2/catch.hpp>

#include <numeric>

#include <est/data/batches.hpp>

#include "../support/test_support.hpp"

using est::Index;
using est::Tensor;

namespace {
/// Token i has id i, so a window's first id is its start.
est::TokenBuffer counting(Index n) {
  std::vector<std::int32_t> t(static_cast<std::size_t>(n));
  std::iota(t.begin(), t.end(), 0);
  return est::TokenBuffer(std::move(t));
}
}  // namespace

TEST_CASE("training batches are shifted windows fixed by seed, step and micro-batch",
          "[batches]") {
  const auto source = counting(1000);
  const est::BatchSampler sampler(source, {100, 800}, 4, 16, 7, "train split");
  Tensor<std::int32_t> x({4, 16}), y({4, 16}), x2({4, 16}), y2({4, 16});
  sampler.train_batch(5, 0, x, y);
  for (Index b = 0; b < 4; ++b) {
    const std::int32_t start = x[b * 16];
    CHECK(start >= 100);
    CHECK(start + 16 <= 900);  // the target window ends inside the range
    for (Index t = 0; t < 16; ++t) {
      CHECK(x[b * 16 + t] == start + t);
      CHECK(y[b * 16 + t] == start + t + 1);
    }
  }
  // The same (seed, step, micro) from a fresh sampler, after other draws: the same batch.
  const est::BatchSampler again(source, {100, 800}, 4, 16, 7, "train split");
  again.train_batch(9, 1, x2, y2);
  again.train_batch(5, 0, x2, y2);
  for (Index i = 0; i < x.numel(); ++i) CHECK(x2[i] == x[i]);
  // Other steps, micro-batches and seeds differ.
  again.train_batch(5, 1, x2, y2);
  bool differs = false;
  for (Index i = 0; i < x.numel(); ++i) differs |= x2[i] != x[i];
  CHECK(differs);
}

TEST_CASE("training window starts are uniform over the range", "[batches]") {
  const auto source = counting(64);
  const Index T = 8, starts = 64 - T;  // starts in [0, 55]
  const est::BatchSampler sampler(source, {0, 64}, 4, T, 3, "tiny");
  std::vector<double> counts(static_cast<std::size_t>(starts), 0.0);
  Tensor<std::int32_t> x({4, T}), y({4, T});
  const int steps = 5600;
  for (int s = 0; s < steps; ++s) {
    sampler.train_batch(s, 0, x, y);
    for (Index b = 0; b < 4; ++b) counts[static_cast<std::size_t>(x[b * T])] += 1;
  }
  const double expected = 4.0 * steps / double(starts);
  double chi2 = 0;
  for (double c : counts) chi2 += (c - expected) * (c - expected) / expected;
  // 0.999 quantile of chi-square with 55 degrees of freedom: 93.17.
  CHECK(chi2 < 93.17);
}

TEST_CASE("validation batches are fixed consecutive windows", "[batches]") {
  const auto source = counting(1000);
  const est::BatchSampler sampler(source, {900, 100}, 2, 10, 1, "val split");
  CHECK(sampler.validation_batches() == 4);  // (100 - 1) / 20
  Tensor<std::int32_t> x({2, 10}), y({2, 10});
  sampler.validation_batch(3, x, y);
  CHECK(x[0] == 960);
  CHECK(x[10] == 970);
  CHECK(y[19] == 980);
  EST_CHECK_THROWS(sampler.validation_batch(4, x, y), est::value_error,
                   "val split: validation batch 4 is outside [0, 4)");
}

TEST_CASE("a source shorter than one batch is rejected naming it", "[batches][errors]") {
  const auto source = counting(100);
  EST_CHECK_THROWS(est::BatchSampler(source, {0, 100}, 4, 25, 1, "data.bin"), est::value_error,
                   "data.bin: 100 tokens are fewer than one batch needs (4 x 25 + 1 = 101)");
  EST_CHECK_THROWS(est::BatchSampler(source, {50, 60}, 1, 4, 1, "data.bin"), est::value_error,
                   "token range [50, 110) is outside the source's 100 tokens");
  // Sizes whose product overflows are refused, not wrapped (UBSan found the signed overflow).
  EST_CHECK_THROWS(est::BatchSampler(source, {0, 100}, est::Index(1) << 40, est::Index(1) << 40, 1,
                                     "data.bin"),
                   est::value_error, "+ 1 is past 2^63");
  const est::BatchSampler ok(source, {0, 100}, 2, 8, 1, "data.bin");
  Tensor<std::int32_t> wrong({2, 9}), y({2, 8});
  CHECK_THROWS_AS(ok.train_batch(0, 0, wrong, y), est::shape_error);
}

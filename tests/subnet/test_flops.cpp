// est/subnet/flops.hpp: gpt2_step_flops and FlopsMeter against FLOP counts worked out by hand
// from the closed forms (every m x k by k x n product costs 2·m·n·k), written term by term with
// the numbers, for a small configuration, for subnetworks of it, and for GPT-2 124M.

#include <catch2/catch.hpp>

#include <cstdint>
#include <vector>

#include <est/models/gpt2/config.hpp>
#include <est/subnet/flops.hpp>
#include <est/subnet/subnetwork.hpp>
#include <est/models/gpt2/family.hpp>
#include <est/models/llama/family.hpp>

#include "../support/test_support.hpp"

using est::FlopsMeter;
using est::Gpt2Config;
using est::StepFlops;
using est::Subnetwork;

namespace {

// L 2, H 2, C 8 (head size d = 4), M 32, V 10; batches of B 3 sequences of T 4 (N = 12 tokens).
constexpr Gpt2Config small{.layers = 2, .heads = 2, .width = 8, .mlp_hidden = 32, .vocab = 10,
                           .context = 16};
constexpr std::int64_t B = 3, T = 4;

/// Forward FLOPs of one layer of `small` with h heads and m neurons, term by term.
constexpr std::int64_t small_layer(std::int64_t h, std::int64_t m) {
  const std::int64_t N = 12, C = 8, d = 4;
  const std::int64_t qkv = 2 * N * C * 3 * h * d;      // h=2: 2·12·8·3·2·4 = 4608
  const std::int64_t attn = 2 * 2 * B * h * T * T * d; // h=2: 4·3·2·4·4·4 = 1536
  const std::int64_t proj = 2 * N * h * d * C;         // h=2: 2·12·2·4·8   = 1536
  const std::int64_t mlp = 2 * 2 * N * C * m;          // m=32: 4·12·8·32   = 12288
  return qkv + attn + proj + mlp;
}
constexpr std::int64_t small_lm_head = 2 * 12 * 8 * 10;  // 2·N·C·V = 1920

static_assert(small_lm_head == 1920);
static_assert(small_layer(2, 32) == 4608 + 1536 + 1536 + 12288);  // = 19968
static_assert(small_layer(1, 8) == 2304 + 768 + 768 + 3072);      // = 6912
static_assert(small_layer(2, 16) == 4608 + 1536 + 1536 + 6144);   // = 13824

std::vector<int> iota(int n) {
  std::vector<int> v(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) v[static_cast<std::size_t>(i)] = i;
  return v;
}

}  // namespace

TEST_CASE("gpt2_step_flops of the full small model matches the hand count", "[subnet][flops]") {
  const StepFlops f = est::gpt2_step_flops(small, B, T);
  // LM head 1920 + 2 layers x 19968 = 41856.
  CHECK(f.forward == 41856);
  CHECK(f.forward == small_lm_head + 2 * small_layer(2, 32));
  CHECK(f.backward == 83712);
  CHECK(f.backward == 2 * f.forward);
  CHECK(f.total() == 125568);
  CHECK(est::gpt2_step_flops(small, B, T, Subnetwork::full(est::subnetwork_shape(small))) == f);
}

TEST_CASE("gpt2_step_flops counts only the active layers, heads and neurons", "[subnet][flops]") {
  const est::SubnetworkShape shape = est::subnetwork_shape(small);
  REQUIRE(shape == est::SubnetworkShape{2, 2, 32});

  SECTION("layer 1 skipped, one head and 8 neurons in layer 0") {
    Subnetwork s(shape);
    s.activate_layer(0, {1}, {0, 3, 5, 7, 11, 13, 17, 19});
    const StepFlops f = est::gpt2_step_flops(small, B, T, s);
    // 1920 + (2304 + 768 + 768 + 3072) = 1920 + 6912 = 8832.
    CHECK(f.forward == 8832);
    CHECK(f.backward == 17664);
    CHECK(f.total() == 26496);
  }
  SECTION("layer 0 skipped, every head and 16 neurons in layer 1") {
    Subnetwork s(shape);
    s.activate_layer(1, {0, 1}, iota(16));
    // 1920 + (4608 + 1536 + 1536 + 6144) = 1920 + 13824 = 15744.
    CHECK(est::gpt2_step_flops(small, B, T, s).forward == 15744);
    CHECK(est::gpt2_step_flops(small, B, T, s).backward == 2 * 15744);
  }
  SECTION("both layers, each partial") {
    Subnetwork s(shape);
    s.activate_layer(0, {0}, iota(8));
    s.activate_layer(1, {1, 0}, iota(16));
    // 1920 + 6912 + 13824 = 22656.
    CHECK(est::gpt2_step_flops(small, B, T, s).forward == 22656);
    CHECK(est::gpt2_step_flops(small, B, T, s).forward ==
          small_lm_head + small_layer(1, 8) + small_layer(2, 16));
  }
  SECTION("the index values do not matter, only the counts") {
    Subnetwork a(shape), b(shape);
    a.activate_layer(0, {0}, iota(8));
    b.activate_layer(0, {1}, {24, 25, 26, 27, 28, 29, 30, 31});
    CHECK(est::gpt2_step_flops(small, B, T, a) == est::gpt2_step_flops(small, B, T, b));
  }
}

TEST_CASE("gpt2_step_flops scales with batch and sequence as the closed form says",
          "[subnet][flops]") {
  // B = 1, T = 8 (N = 8): LM 2·8·8·10 = 1280; per layer QKV 2·8·8·3·2·4 = 3072,
  // attention 4·1·2·8·8·4 = 2048, out 2·8·2·4·8 = 1024, MLP 4·8·8·32 = 8192, sum 14336.
  // Forward 1280 + 2·14336 = 29952.
  CHECK(est::gpt2_step_flops(small, 1, 8).forward == 29952);
  // B = 2, T = 1 (N = 2): LM 320; QKV 768, attention 4·2·2·1·1·4 = 64, out 256, MLP 2048,
  // sum 3136. Forward 320 + 6272 = 6592.
  CHECK(est::gpt2_step_flops(small, 2, 1).forward == 6592);
}

TEST_CASE("gpt2_step_flops of GPT-2 124M at T = 1024 matches the hand count", "[subnet][flops]") {
  // N = 1024, C = 768, H = 12, d = 64, M = 3072, V = 50304, L = 12.
  //   LM head       2·1024·768·50304        = 79,121,350,656
  //   per layer: QKV 2·1024·768·2304        =  3,623,878,656
  //              attention 4·12·1024²·64    =  3,221,225,472
  //              out 2·1024·768·768         =  1,207,959,552
  //              MLP 4·1024·768·3072        =  9,663,676,416
  //              layer total                = 17,716,740,096
  //   forward = 79,121,350,656 + 12·17,716,740,096 = 291,722,231,808
  const StepFlops f = est::gpt2_step_flops(est::presets::gpt2_124m, 1, 1024);
  CHECK(f.forward == 291'722'231'808);
  CHECK(f.backward == 583'444'463'616);
  CHECK(f.total() == 875'166'695'424);
  // Sanity, the "2·N·params" rule: the matrix-multiply parameters are
  // 12·(4·768² + 2·768·3072) + 768·50304 = 123,568,128, and 2·1024·123,568,128 =
  // 253,067,526,144; the attention products add 12·3,221,225,472 = 38,654,705,664.
  CHECK(f.forward == 253'067'526'144 + 38'654'705'664);
  const double params = double(est::presets::gpt2_124m.parameter_count());
  CHECK(double(f.forward) / (2 * 1024 * params) > 1.0);
  CHECK(double(f.forward) / (2 * 1024 * params) < 1.25);
}

TEST_CASE("gpt2_step_flops rejects bad sizes and a subnetwork of another shape",
          "[subnet][flops][errors]") {
  EST_CHECK_THROWS((void)est::gpt2_step_flops(small, 0, 4), est::value_error,
                   "batch and seq must be >= 1, got 0 and 4");
  EST_CHECK_THROWS((void)est::gpt2_step_flops(small, 3, -1), est::value_error, "got 3 and -1");
  EST_CHECK_THROWS(
      (void)est::gpt2_step_flops(small, B, T, Subnetwork::full(est::SubnetworkShape{2, 2, 16})),
      est::value_error, "the subnetwork's shape (2, 2, 16) is not the configuration's (2, 2, 32)");
  EST_CHECK_THROWS(
      (void)est::gpt2_step_flops(small, B, T, Subnetwork::full(est::SubnetworkShape{3, 2, 32})),
      est::value_error, "(3, 2, 32)");
  EST_CHECK_THROWS((void)est::gpt2_step_flops(small, B, T, Subnetwork()), est::value_error,
                   "(0, 0, 0)");
}

TEST_CASE("FlopsMeter accumulates spent and full FLOPs and the savings", "[subnet][flops]") {
  FlopsMeter meter;
  CHECK(meter.steps() == 0);
  CHECK(meter.total() == 0);
  CHECK(meter.total_full() == 0);
  CHECK(meter.saving() == 0);
  CHECK(meter.last_saving() == 0);

  meter.add({100, 200}, {400, 800});
  CHECK(meter.steps() == 1);
  CHECK(meter.total() == 300);
  CHECK(meter.total_full() == 1200);
  CHECK(meter.saving() == Approx(0.75).epsilon(1e-15));  // 1 - 300/1200
  CHECK(meter.last_saving() == Approx(0.75).epsilon(1e-15));

  meter.add({400, 800}, {400, 800});  // a full step
  CHECK(meter.total() == 1500);
  CHECK(meter.total_full() == 2400);
  CHECK(meter.saving() == Approx(0.375).epsilon(1e-15));  // 1 - 1500/2400
  CHECK(meter.last_saving() == 0);

  meter.add({50, 100}, {400, 800});
  CHECK(meter.steps() == 3);
  CHECK(meter.total() == 1650);
  CHECK(meter.total_full() == 3600);
  CHECK(meter.saving() == Approx(13.0 / 24.0).epsilon(1e-15));  // 1 - 1650/3600
  CHECK(meter.last_saving() == Approx(0.875).epsilon(1e-15));   // 1 - 150/1200

  // With real step counts: the subnetwork with one layer, one head and 8 neurons spends
  // 26496 of 125568, so it saves 1 - 8832/41856 = 1 - 23/109 = 86/109.
  Subnetwork s(est::subnetwork_shape(small));
  s.activate_layer(0, {1}, iota(8));
  FlopsMeter real;
  real.add(est::gpt2_step_flops(small, B, T, s), est::gpt2_step_flops(small, B, T));
  CHECK(real.total() == 26496);
  CHECK(real.total_full() == 125568);
  CHECK(real.last_saving() == Approx(86.0 / 109.0).epsilon(1e-14));
  CHECK(real.saving() == Approx(86.0 / 109.0).epsilon(1e-14));
}

TEST_CASE("FlopsMeter::add rejects a subnetwork step above the full one or an empty full step",
          "[subnet][flops][errors]") {
  FlopsMeter meter;
  meter.add({10, 20}, {40, 80});
  EST_CHECK_THROWS(meter.add({500, 1000}, {400, 800}), est::value_error,
                   "a step of 1500 FLOPs against a full step of 1200");
  EST_CHECK_THROWS(meter.add({0, 0}, {0, 0}), est::value_error, "full step of 0");
  EST_CHECK_THROWS(meter.add({-1, 0}, {40, 80}), est::value_error, "a step of -1 FLOPs");
  // The rejected steps left the totals alone.
  CHECK(meter.steps() == 1);
  CHECK(meter.total() == 30);
  CHECK(meter.total_full() == 120);
  CHECK(meter.last_saving() == Approx(0.75).epsilon(1e-15));
}

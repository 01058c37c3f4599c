// The optimizer's CPU ops against their reference twins: the AdamW update of a slice
// (backend/cpu/adamw.hpp vs reference/adamw.hpp) bit for bit, with and without a mask,
// per-element counts, frozen and zero_grad, on one and two threads; the global norm and
// clipping (backend/cpu/norm.hpp vs reference/norm.hpp).

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include <est/backend/cpu/adamw.hpp>
#include <est/backend/cpu/norm.hpp>
#include <est/reference/adamw.hpp>
#include <est/reference/norm.hpp>

#include "../support/test_support.hpp"

using est::Index;
using est::Tensor;

namespace {

template <class T>
bool same_bits(const Tensor<T>& a, const Tensor<T>& b) {
  return a.numel() == b.numel() &&
         std::memcmp(a.data(), b.data(), sizeof(T) * std::size_t(a.numel())) == 0;
}

template <class T>
void check_adamw(bool masked, bool counted, bool frozen, int threads) {
  const Index n = 70'001;  // large enough to be split over threads
  const long long t = 7;
  auto params = est::testing::random_tensor<T>({n}, 1);
  auto grads = est::testing::random_tensor<T>({n}, 2, 0.1);
  auto m = est::testing::random_tensor<T>({n}, 3, 0.01);
  auto v = est::testing::random_tensor<T>({n}, 4, 0.001);
  for (Index i = 0; i < n; ++i) v[i] = std::abs(v[i]);
  Tensor<std::uint8_t> active({n});
  Tensor<std::int32_t> counts({n});
  std::mt19937 gen(5);
  for (Index i = 0; i < n; ++i) {
    active[i] = std::uint8_t(gen() % 3 != 0);
    counts[i] = std::int32_t(gen() % t);  // below t: each advances to at most t
  }
  std::vector<T> c1{T(0)}, c2{T(0)};
  for (long long s = 1; s <= t; ++s) {
    c1.push_back(T(1.0 / (1.0 - std::pow(0.9, double(s)))));
    c2.push_back(T(1.0 / (1.0 - std::pow(0.95, double(s)))));
  }
  auto run = [&](auto&& update) {
    Tensor<T> p = params, mm = m, vv = v;
    Tensor<std::int32_t> cc = counts;
    const est::AdamWSlice<T> slice{.params = p.data(), .grads = grads.data(), .m = mm.data(),
                                   .v = vv.data(), .active = masked ? active.data() : nullptr,
                                   .counts = counted ? cc.data() : nullptr, .size = n,
                                   .beta1 = T(0.9), .beta2 = T(0.95), .eps = T(1e-8),
                                   .rate = T(1e-3), .decay = T(0.1), .frozen = frozen,
                                   .c1 = c1[std::size_t(t)], .c2 = c2[std::size_t(t)],
                                   .c1_table = c1.data(), .c2_table = c2.data(), .t = t};
    update(slice);
    return std::tuple{p, mm, vv, cc};
  };
  const est::Context<est::cpu> ctx(threads);
  const auto [p1, m1, v1, k1] = run([&](const auto& s) { est::adamw_update<T>(ctx, s); });
  const auto [p2, m2, v2, k2] = run([](const auto& s) { est::reference::adamw_update<T>(s); });
  CHECK(same_bits(p1, p2));
  CHECK(same_bits(m1, m2));
  CHECK(same_bits(v1, v2));
  CHECK(same_bits(k1, k2));
  CHECK_FALSE(same_bits(p1, params));  // the step did something
}

}  // namespace

TEMPLATE_TEST_CASE("the CPU AdamW update is its reference twin bit for bit", "[adamw][ops]",
                   float, double) {
  const int threads = GENERATE(1, 2);
  const bool frozen = GENERATE(true, false);
  INFO("threads " << threads << ", frozen " << frozen);
  check_adamw<TestType>(false, false, frozen, threads);  // every element active, shared count
  check_adamw<TestType>(true, false, frozen, threads);   // a mask, shared count
  check_adamw<TestType>(true, true, frozen, threads);    // a mask and per-element counts
}

TEMPLATE_TEST_CASE("the CPU global norm and clipping agree with their reference twins",
                   "[clip][ops]", float, double) {
  const est::Context<est::cpu> ctx(GENERATE(1, 2));
  auto grads = est::testing::random_tensor<TestType>({200'003}, 9);
  const double expected = est::reference::global_norm<TestType>(grads);
  CHECK(est::global_norm<TestType>(ctx, grads) == Approx(expected).epsilon(1e-12));
  Tensor<TestType> a = grads, b = grads;
  const double max_norm = expected / 3;
  CHECK(est::clip_grad_norm<TestType>(ctx, a, max_norm) == Approx(expected).epsilon(1e-12));
  CHECK(est::reference::clip_grad_norm<TestType>(b, max_norm) == expected);
  // The same coefficient multiplies every element, up to the rounding of the norm's last bits.
  for (Index i = 0; i < a.numel(); i += 997) CHECK(a[i] == Approx(b[i]).epsilon(1e-6));
  CHECK(est::reference::global_norm<TestType>(a) == Approx(max_norm).epsilon(1e-5));
}

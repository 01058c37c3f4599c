// The Llama side of the CUDA backend against the CPU backend: the Llama ops (RMSNorm, RoPE,
// SwiGLU, the key/value expansion and its reduction) on random inputs, strided views included;
// Llama<Config, cuda> against Llama<Config, cpu> (same weights from the same seed; the loss and
// every gradient, full and under fixed EST subnetworks); the device active mask byte for byte;
// and 20 steps of EST training through the Trainer on both devices.
// Written outputs start as NaN on the device; accumulated ones start from the same random values
// on both sides.

#include <catch2/catch.hpp>

#include <algorithm>
#include <string>
#include <tuple>
#include <vector>

#include <est/backend/cpu/kv_groups.hpp>
#include <est/backend/cpu/rmsnorm.hpp>
#include <est/backend/cpu/rope.hpp>
#include <est/backend/cpu/swiglu.hpp>
#include <est/ops/rope_table.hpp>
#include <est/data/batches.hpp>
#include <est/models/llama/model.hpp>
#include <est/subnet/sampling.hpp>
#include <est/subnet/schedule.hpp>
#include <est/train/trainer.hpp>

#include "gpu_support.cuh"

using est::Context;
using est::Index;
using est::Tensor;
using est::cpu;
using est::testing::download;
using est::testing::gpu_tolerance;
using est::testing::poisoned;
using est::testing::random_tensor;
using est::testing::relative_error;
using est::testing::upload;

namespace {

const Context<cpu>& host() {
  static const Context<cpu> ctx(2);
  return ctx;
}
const Context<est::cuda>& gpu() {
  static const Context<est::cuda> ctx;
  return ctx;
}

/// A (rows, cols) view with row stride cols + pad into a host or device buffer.
template <class T, class Device, class Buffer>
est::MatrixView<T, Device> strided(Buffer& buffer, Index rows, Index cols, Index pad) {
  return {buffer.data(), rows, cols, cols + pad};
}

}  // namespace

TEMPLATE_TEST_CASE("cuda rmsnorm forward and backward match the CPU, strided views included",
                   "[cuda][llama][rmsnorm]", float, double) {
  using T = TestType;
  const auto& g = gpu();
  const Index N = GENERATE(1, 300), C = GENERATE(7, 768), pad = GENERATE(0, 5);
  INFO("N = " << N << ", C = " << C << ", pad = " << pad);
  const Index S = C + pad;  // row stride of every matrix
  auto x = random_tensor<T>({N, S}, 1, 2.0), w = random_tensor<T>({C}, 2),
       dy = random_tensor<T>({N, S}, 3);
  auto dx = random_tensor<T>({N, S}, 4), dw = random_tensor<T>({C}, 5);
  auto out = est::testing::nan_tensor<T>({N, S});
  Tensor<T> rstd({N});
  auto x_d = upload(g, x), w_d = upload(g, w), dy_d = upload(g, dy), dx_d = upload(g, dx),
       dw_d = upload(g, dw);
  auto out_d = poisoned<T>(g, {N, S}), rstd_d = poisoned<T>(g, {N});
  const T eps = T(1e-5);
  est::rmsnorm_forward<T>(host(), strided<T, cpu>(out, N, C, pad), rstd,
                          strided<const T, cpu>(x, N, C, pad), w, eps);
  est::rmsnorm_forward<T>(g, strided<T, est::cuda>(out_d, N, C, pad), rstd_d.view(),
                          strided<const T, est::cuda>(x_d, N, C, pad), w_d.view(), eps);
  // The padding stays NaN on both sides; relative_error needs finite values, so compare the
  // written columns only.
  const auto out_back = download(g, out_d);
  for (Index r = 0; r < N; ++r) {
    for (Index c = C; c < S; ++c) REQUIRE(std::isnan(out_back[r * S + c]));
  }
  auto columns = [&](const Tensor<T>& t) {
    std::vector<T> v;
    for (Index r = 0; r < N; ++r) v.insert(v.end(), t.data() + r * S, t.data() + r * S + C);
    return v;
  };
  CHECK(relative_error(columns(out_back), columns(out)) <= gpu_tolerance<T>());
  CHECK(relative_error(download(g, rstd_d), rstd) <= gpu_tolerance<T>());
  est::rmsnorm_backward<T>(host(), strided<T, cpu>(dx, N, C, pad), dw,
                           strided<const T, cpu>(dy, N, C, pad),
                           strided<const T, cpu>(x, N, C, pad), w, rstd);
  est::rmsnorm_backward<T>(g, strided<T, est::cuda>(dx_d, N, C, pad), dw_d.view(),
                           strided<const T, est::cuda>(dy_d, N, C, pad),
                           strided<const T, est::cuda>(x_d, N, C, pad), w_d.view(),
                           rstd_d.view());
  CHECK(relative_error(download(g, dx_d), dx) <= gpu_tolerance<T>());  // padding untouched too
  CHECK(relative_error(download(g, dw_d), dw) <= gpu_tolerance<T>());
}

TEMPLATE_TEST_CASE("cuda rope forward and backward match the CPU", "[cuda][llama][rope]", float,
                   double) {
  using T = TestType;
  const auto& g = gpu();
  const Index B = 3, T_ = 7, heads = 3, d = GENERATE(2, 8, 64), W = 4 * heads * d;
  const Index first = GENERATE(Index(0), Index(2)) * d;
  INFO("d = " << d << ", first = " << first);
  const auto table = est::rope_table<T>(T_ + 2, d, 10000.0);  // P > T is allowed
  auto x = random_tensor<T>({B, T_, W}, 1);
  auto x_d = upload(g, x), cos_d = upload(g, table.cos), sin_d = upload(g, table.sin);
  est::rope_forward<T>(host(), x, first, heads, d, table.cos, table.sin);
  est::rope_forward<T>(g, x_d.view(), first, heads, d, cos_d.view(), sin_d.view());
  CHECK(relative_error(download(g, x_d), x) <= gpu_tolerance<T>());
  // The backward pass on a gradient: a fresh tensor, rotated back.
  auto dy = random_tensor<T>({B, T_, W}, 2);
  auto dy_d = upload(g, dy);
  est::rope_backward<T>(host(), dy, first, heads, d, table.cos, table.sin);
  est::rope_backward<T>(g, dy_d.view(), first, heads, d, cos_d.view(), sin_d.view());
  CHECK(relative_error(download(g, dy_d), dy) <= gpu_tolerance<T>());
  // Columns outside [first, first + heads·d) are untouched: exactly the input's.
  const auto back = download(g, dy_d);
  const auto original = random_tensor<T>({B, T_, W}, 2);
  for (Index r = 0; r < B * T_; ++r) {
    for (Index c = 0; c < W; ++c) {
      if (c < first || c >= first + heads * d) REQUIRE(back[r * W + c] == original[r * W + c]);
    }
  }
  CHECK_THROWS_AS(est::rope_forward<T>(g, x_d.view(), W - d, 2, d, cos_d.view(), sin_d.view()),
                  est::value_error);
}

TEMPLATE_TEST_CASE("cuda swiglu forward and backward match the CPU, strided views included",
                   "[cuda][llama][swiglu]", float, double) {
  using T = TestType;
  const auto& g = gpu();
  const auto [n, m] = GENERATE(std::pair<Index, Index>{1, 1}, std::pair<Index, Index>{9, 33},
                               std::pair<Index, Index>{64, 256});
  const Index pad = GENERATE(0, 3);
  INFO("n = " << n << ", m = " << m << ", pad = " << pad);
  auto gate_up = random_tensor<T>({n, 2 * m + pad}, 1, 3.0), dy = random_tensor<T>({n, m + pad}, 2);
  Tensor<T> out({n, m}), d_gate_up({n, 2 * m});
  auto gate_up_d = upload(g, gate_up), dy_d = upload(g, dy);
  auto out_d = poisoned<T>(g, {n, m}), d_gate_up_d = poisoned<T>(g, {n, 2 * m});
  est::swiglu_forward<T>(host(), out.view().matrix(), strided<const T, cpu>(gate_up, n, 2 * m, pad));
  est::swiglu_forward<T>(g, out_d.view().matrix(),
                         strided<const T, est::cuda>(gate_up_d, n, 2 * m, pad));
  CHECK(relative_error(download(g, out_d), out) <= gpu_tolerance<T>());
  est::swiglu_backward<T>(host(), d_gate_up.view().matrix(), strided<const T, cpu>(dy, n, m, pad),
                          strided<const T, cpu>(gate_up, n, 2 * m, pad));
  est::swiglu_backward<T>(g, d_gate_up_d.view().matrix(),
                          strided<const T, est::cuda>(dy_d, n, m, pad),
                          strided<const T, est::cuda>(gate_up_d, n, 2 * m, pad));
  CHECK(relative_error(download(g, d_gate_up_d), d_gate_up) <= gpu_tolerance<T>());
}

TEMPLATE_TEST_CASE("cuda expand_kv and reduce_kv match the CPU exactly", "[cuda][llama][gqa]",
                   float, double) {
  using T = TestType;
  const auto& g = gpu();
  // Two groups of two heads; plain multi-head; one group for all; uneven groups (as the active
  // heads of a subnetwork make them).
  const std::vector<Index> group_of_head =
      GENERATE(std::vector<Index>{0, 0, 1, 1}, std::vector<Index>{0, 1, 2},
               std::vector<Index>{0, 0, 0}, std::vector<Index>{0, 1, 1, 1, 2});
  const Index N = 37, d = GENERATE(1, 4, 16), h = std::ssize(group_of_head),
              groups = group_of_head.back() + 1, packed_cols = (h + 2 * groups) * d;
  INFO("h = " << h << ", g = " << groups << ", d = " << d);
  auto packed = random_tensor<T>({N, packed_cols}, 1), d_expanded = random_tensor<T>({N, 3 * h * d}, 2);
  Tensor<T> expanded({N, 3 * h * d}), d_packed({N, packed_cols});
  auto packed_d = upload(g, packed), d_expanded_d = upload(g, d_expanded);
  auto expanded_d = poisoned<T>(g, {N, 3 * h * d}), d_packed_d = poisoned<T>(g, {N, packed_cols});
  est::expand_kv<T>(host(), expanded.view().matrix(), packed.view().matrix(), group_of_head, d);
  est::expand_kv<T>(g, expanded_d.view().matrix(), packed_d.view().matrix(), group_of_head, d);
  CHECK(relative_error(download(g, expanded_d), expanded) == 0);  // copies
  est::reduce_kv<T>(host(), d_packed.view().matrix(), d_expanded.view().matrix(), group_of_head,
                    d);
  est::reduce_kv<T>(g, d_packed_d.view().matrix(), d_expanded_d.view().matrix(), group_of_head,
                    d);
  CHECK(relative_error(download(g, d_packed_d), d_packed) == 0);  // the same sums, same order
}

TEMPLATE_TEST_CASE("cuda expand_kv and reduce_kv in strided views, and refused arguments",
                   "[cuda][llama][gqa]", float, double) {
  using T = TestType;
  const auto& g = gpu();
  const std::vector<Index> group_of_head{0, 0, 1};
  const Index N = 11, d = 4, h = 3, groups = 2, pc = (h + 2 * groups) * d, ec = 3 * h * d,
              pad = 6;
  auto packed = random_tensor<T>({N, pc + pad}, 3), d_expanded = random_tensor<T>({N, ec + pad}, 4);
  auto expanded = random_tensor<T>({N, ec + pad}, 5), d_packed = random_tensor<T>({N, pc + pad}, 6);
  auto packed_d = upload(g, packed), d_expanded_d = upload(g, d_expanded),
       expanded_d = upload(g, expanded), d_packed_d = upload(g, d_packed);
  est::expand_kv<T>(host(), strided<T, cpu>(expanded, N, ec, pad),
                    strided<const T, cpu>(packed, N, pc, pad), group_of_head, d);
  est::expand_kv<T>(g, strided<T, est::cuda>(expanded_d, N, ec, pad),
                    strided<const T, est::cuda>(packed_d, N, pc, pad), group_of_head, d);
  CHECK(relative_error(download(g, expanded_d), expanded) == 0);  // padding untouched
  est::reduce_kv<T>(host(), strided<T, cpu>(d_packed, N, pc, pad),
                    strided<const T, cpu>(d_expanded, N, ec, pad), group_of_head, d);
  est::reduce_kv<T>(g, strided<T, est::cuda>(d_packed_d, N, pc, pad),
                    strided<const T, est::cuda>(d_expanded_d, N, ec, pad), group_of_head, d);
  CHECK(relative_error(download(g, d_packed_d), d_packed) == 0);

  const std::vector<Index> skips{0, 2, 2};  // group 1 missing
  CHECK_THROWS_AS(est::expand_kv<T>(g, strided<T, est::cuda>(expanded_d, N, ec, pad),
                                    strided<const T, est::cuda>(packed_d, N, pc, pad), skips, d),
                  est::value_error);
  CHECK_THROWS_AS(est::reduce_kv<T>(g, strided<T, est::cuda>(d_packed_d, N, pc - d, pad),
                                    strided<const T, est::cuda>(d_expanded_d, N, ec, pad),
                                    group_of_head, d),
                  est::shape_error);
}

namespace {

// 3 layers, 4 query heads in 2 key/value groups of 2, head size 8.
constexpr est::LlamaConfig cfg{.layers = 3, .heads = 4, .kv_heads = 2, .width = 32,
                               .mlp_hidden = 48, .vocab = 97, .context = 24};
// Tied LM head and plain multi-head attention, for the mask.
constexpr est::LlamaConfig tied{.layers = 2, .heads = 2, .kv_heads = 2, .width = 16,
                                .mlp_hidden = 20, .vocab = 31, .context = 8,
                                .tie_embeddings = true};

/// Subnetworks of cfg: full; layer 1 skipped, layer 0 with one head of each group, layer 2 with
/// both heads of group 0 only (group 1 of layer 2 reads no head); a single head and neuron.
std::vector<est::Subnetwork> llama_subnetworks() {
  const auto shape = est::subnetwork_shape(cfg);
  std::vector<est::Subnetwork> out{est::Subnetwork::full(shape)};
  est::Subnetwork some(shape);
  some.activate_layer(0, {1, 2}, {0, 3, 4, 5, 9, 14, 15, 20, 23, 47});
  some.activate_layer(2, {0, 1}, {2, 7, 8, 19, 22, 40});
  out.push_back(some);
  est::Subnetwork tiny(shape);
  tiny.activate_layer(1, {3}, {42});
  out.push_back(tiny);
  return out;
}

template <class T>
void compare_llama_gradients(const est::Llama<cfg, cpu, T>& host_model,
                             const est::Llama<cfg, est::cuda, T>& gpu_model,
                             const Context<est::cuda>& g) {
  const auto host_grads = host_model.gradient_arena();
  const auto gpu_grads = download(g, gpu_model.gradient_arena());
  for (const auto& spec : host_model.parameter_specs()) {
    INFO("gradient of " << spec.name);
    const est::TensorView<const T> a(gpu_grads.data() + spec.offset, spec.shape);
    const est::TensorView<const T> b(host_grads.data() + spec.offset, spec.shape);
    // Tensors a subnetwork leaves alone must be exactly zero on both.
    CHECK(relative_error(a.span(), b.span(), 1e-20) <=
          gpu_tolerance<T>() * (std::is_same_v<T, float> ? 5 : 1));
  }
}

}  // namespace

TEMPLATE_TEST_CASE("Llama on CUDA matches the CPU model: loss and every gradient, full and "
                   "under EST subnetworks", "[cuda][llama]", float, double) {
  using T = TestType;
  const Context<cpu> host_ctx(2);
  const Context<est::cuda> g;
  est::Llama<cfg, cpu, T> host_model(host_ctx, 7);
  est::Llama<cfg, est::cuda, T> gpu_model(g, 7);
  CHECK(relative_error(download(g, gpu_model.parameter_arena()), host_model.parameter_arena()) ==
        0);  // same seed, same weights
  if constexpr (std::is_same_v<T, double>) {
    // In double, weights away from the near-linear regime of the initialisation exercise every
    // nonlinearity; in float the initialisation is kept (as for GPT-2), so that the two devices'
    // rounding differences stay at FP32's level.
    est::testing::randomise(host_model, 8);
    est::copy(g, gpu_model.parameter_arena(), host_model.parameter_arena());
  }
  auto tokens = est::testing::random_tokens({3, 19}, cfg.vocab, 1);
  auto targets = est::testing::random_tokens({3, 19}, cfg.vocab, 2);
  int index = 0;
  for (const auto& subnet : llama_subnetworks()) {
    INFO("subnetwork " << index++ << ": " << subnet);
    host_model.zero_grad();
    gpu_model.zero_grad();
    const double loss = host_model.forward(tokens.view(), targets.view(), subnet);
    const double loss_d = gpu_model.forward(tokens.view(), targets.view(), subnet);
    CHECK(std::abs(loss_d - loss) <= gpu_tolerance<T>() * loss);
    host_model.backward();
    gpu_model.backward();
    compare_llama_gradients(host_model, gpu_model, g);
  }
  // Subnetwork 1's layer 2 reads key/value group 0 only: on the device, group 1's k and v rows
  // get exactly nothing.
  {
    const est::Subnetwork subnet = llama_subnetworks()[1];
    gpu_model.zero_grad();
    gpu_model.forward(tokens.view(), targets.view(), subnet);
    gpu_model.backward();
    const auto grads = download(g, gpu_model.gradient_arena());
    const auto layer = est::layout_llama<const T>(cfg, grads.data(), nullptr).layers[2];
    const Index rows = cfg.head_dim() * cfg.width;  // one group's rows of k (or v)
    double group0 = 0, group1 = 0;
    for (Index i = 0; i < rows; ++i) {
      group0 += std::abs(double(layer.k[i])) + std::abs(double(layer.v[i]));
      group1 += std::abs(double(layer.k[rows + i])) + std::abs(double(layer.v[rows + i]));
    }
    CHECK(group0 > 0);
    CHECK(group1 == 0.0);  // exactly: never touched
  }
  // Evaluation and inference: full model, logits kept.
  const double eval = host_model.evaluate(tokens.view(), targets.view());
  const double eval_d = gpu_model.evaluate(tokens.view(), targets.view());
  CHECK(std::abs(eval_d - eval) <= gpu_tolerance<T>() * eval);
  CHECK(relative_error(download(g, gpu_model.logits()), host_model.logits()) <=
        gpu_tolerance<T>());
}

TEST_CASE("the device Llama active mask is the CPU's, byte for byte", "[cuda][llama][subnet]") {
  const auto& g = gpu();
  auto check = [&](const est::LlamaConfig& config, const est::Subnetwork& subnet) {
    INFO(subnet);
    Tensor<std::uint8_t> host_mask({config.parameter_count()});
    est::mark_active_parameters(config, subnet, host_mask);
    auto device_mask = poisoned<std::uint8_t>(g, {config.parameter_count()});
    est::mark_active_parameters(g, config, subnet, device_mask.view());
    const auto back = download(g, device_mask);
    CHECK(std::equal(back.data(), back.data() + back.numel(), host_mask.data()));
  };
  for (const auto& subnet : llama_subnetworks()) check(cfg, subnet);
  const auto shape = est::subnetwork_shape(cfg);
  for (std::uint64_t step = 0; step < 4; ++step) {
    check(cfg, est::sampling::Uniform(5).sample(shape, {0.67, 0.5, 0.3}, step));
    check(cfg, est::sampling::Uniform(6, 1, cfg.group_size()).sample(shape, {1, 0.5, 0.5}, step));
  }
  const auto tied_shape = est::subnetwork_shape(tied);
  check(tied, est::Subnetwork::full(tied_shape));
  check(tied, est::sampling::Uniform(7).sample(tied_shape, {0.5, 0.5, 0.5}, 1));
  // Refused like the CPU's: a mask of the wrong size.
  auto short_mask = poisoned<std::uint8_t>(g, {cfg.parameter_count() - 1});
  CHECK_THROWS_AS(est::mark_active_parameters(g, cfg, est::Subnetwork::full(shape),
                                              short_mask.view()),
                  est::shape_error);
}

TEST_CASE("20 EST training steps of a Llama on CUDA give the CPU's losses within 1e-4",
          "[cuda][llama][trainer]") {
  using Schedule = est::SubnetworkSchedule<est::sampling::Uniform, est::growth::ThreeStage>;
  using Model = est::Llama<cfg>;
  using GpuModel = est::Llama<cfg, est::cuda>;
  const std::string line =
      "the quick brown fox jumps over the lazy dog while the cat sleeps by the warm fire. ";
  std::vector<std::int32_t> ids;
  for (int r = 0; r < 40; ++r) {
    for (unsigned char c : line) ids.push_back(c % cfg.vocab);
  }
  const est::TokenBuffer tokens(std::move(ids));
  const est::BatchSampler<est::TokenBuffer> train{tokens, {0, tokens.size() * 9 / 10}, 4, 16, 11,
                                                  "train"};
  const est::BatchSampler<est::TokenBuffer> val{
      tokens, {tokens.size() * 9 / 10, tokens.size() / 10}, 4, 16, 11, "val"};
  const std::int64_t steps = 20;
  auto schedule = [&] {
    return Schedule(est::subnetwork_shape(cfg), est::sampling::Uniform(3),
                    est::growth::ThreeStage({.stage1 = {0.67, 0.5, 0.5},
                                             .end_of_stage1 = est::Boundary::step(7),
                                             .end_of_stage2 = est::Boundary::step(14)},
                                            steps));
  };
  const est::lr::WarmupCosine lr(3e-3, 3e-4, 2, steps);
  const est::TrainerOptions options{.micro_batches = 2, .grad_clip = 1.0};

  const Context<cpu> host_ctx(2);
  Model host_model(host_ctx, 5);
  est::Trainer<Model, est::sampling::Uniform, est::growth::ThreeStage, est::lr::WarmupCosine,
               est::TokenBuffer>
      host_trainer(host_model, host_ctx, schedule(), lr, train, val, options);
  const Context<est::cuda> g;
  GpuModel gpu_model(g, 5);
  est::Trainer<GpuModel, est::sampling::Uniform, est::growth::ThreeStage, est::lr::WarmupCosine,
               est::TokenBuffer>
      gpu_trainer(gpu_model, g, schedule(), lr, train, val, options);
  for (std::int64_t s = 0; s < steps; ++s) {
    const auto a = host_trainer.step();
    const auto b = gpu_trainer.step();
    INFO("step " << s);
    CHECK(std::abs(a.loss - b.loss) <= 1e-4);
    CHECK(std::abs(a.grad_norm - b.grad_norm) <= 1e-4 * a.grad_norm);
    CHECK(a.active_layers == b.active_layers);  // the same subnetwork on both devices
  }
  CHECK(std::abs(host_trainer.evaluate() - gpu_trainer.evaluate()) <= 1e-4);
}

// est/dist/ and the trainer's data parallelism, with N ranks as threads of this process
// (support/thread_communicator.hpp): the active segments of a slice plan are exactly the
// elements its mask marks; the packed reduction equals a plain sum of the ranks' arenas and
// sends only the active elements; 2 ranks with half the batch each train like 1 rank with the
// whole batch (to round-off), for the baseline and for EST across its stage changes, GPT-2 and
// Llama; a fixed world repeats itself bit for bit; the ranks' weights stay identical, and a
// rank whose weights differ is caught.

#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <vector>

#include <est/data/batches.hpp>
#include <est/dist/gradient_reduction.hpp>
#include <est/dist/replica_check.hpp>
#include <est/models/gpt2/model.hpp>
#include <est/models/llama/model.hpp>
#include <est/ops/mask.hpp>
#include <est/subnet/sampling.hpp>
#include <est/subnet/schedule.hpp>
#include <est/train/trainer.hpp>

#include "../support/test_support.hpp"
#include "../support/thread_communicator.hpp"

using est::Index;
using est::testing::ThreadCommunicator;
using est::testing::ThreadWorld;

namespace {

constexpr est::Gpt2Config cfg{.layers = 3, .heads = 4, .width = 32, .mlp_hidden = 64,
                              .vocab = 256, .context = 16};
using Model = est::Gpt2<cfg>;
constexpr est::LlamaConfig llama_cfg{.layers = 3, .heads = 4, .kv_heads = 2, .width = 32,
                                     .mlp_hidden = 48, .vocab = 256, .context = 16};
using LlamaModel = est::Llama<llama_cfg>;

est::TokenBuffer corpus() {
  const std::string line =
      "a stitch in time saves nine, and a rolling stone gathers no moss at all. ";
  std::vector<std::int32_t> tokens;
  for (int r = 0; r < 30; ++r) {
    for (unsigned char c : line) tokens.push_back(c);
  }
  return est::TokenBuffer(std::move(tokens));
}

/// One rank's run of `M` (GPT-2 by default): the global batch is 8 windows of 16 tokens in 2 micro-batches; `schedule`
/// "baseline" trains the full model, "est" three stages over `steps` steps.
template <class M = Model>
struct RankOf {
  est::Context<est::cpu> ctx{1};
  est::TokenBuffer tokens = corpus();
  est::BatchSampler<est::TokenBuffer> train{tokens, {0, tokens.size() * 8 / 10}, 8, 16, 3, "train"};
  est::BatchSampler<est::TokenBuffer> val{tokens, {tokens.size() * 8 / 10, tokens.size() / 5},
                                          2, 16, 3, "val"};
  M model{ctx, 9};
  est::Trainer<M, est::sampling::Uniform, est::growth::ThreeStage, est::lr::WarmupCosine,
               est::TokenBuffer>
      trainer;

  RankOf(bool est_schedule, std::int64_t steps, est::Communicator* comm = nullptr)
      : trainer(model, ctx,
                est::SubnetworkSchedule(
                    est::subnetwork_shape(M::config), est::sampling::Uniform(4),
                    est_schedule
                        ? est::growth::ThreeStage({.stage1 = {0.67, 0.5, 0.5},
                                                   .end_of_stage1 = est::Boundary::step(steps / 3),
                                                   .end_of_stage2 =
                                                       est::Boundary::step(2 * steps / 3)},
                                                  steps)
                        : est::growth::ThreeStage({.end_of_stage1 = est::Boundary::step(0),
                                                   .end_of_stage2 = est::Boundary::step(0)},
                                                  steps)),
                est::lr::WarmupCosine(3e-3, 3e-4, 2, steps), train, val,
                {.micro_batches = 2, .grad_clip = 1.0, .eval_batches = 3,
                 .replica_check_interval = 1}) {
    if (comm) trainer.set_communicator(*comm);
  }
};
using Rank = RankOf<>;

struct Trace {
  std::vector<double> losses, val_losses;
  std::vector<float> weights;
  std::vector<std::uint64_t> bytes;   // all-reduced per step
  std::vector<double> layers, heads, neurons;  // the step's subnetwork (per active layer)
};

template <class M = Model>
Trace run_single(bool est_schedule, std::int64_t steps) {
  RankOf<M> rank(est_schedule, steps);
  Trace t;
  for (std::int64_t i = 0; i < steps; ++i) {
    t.losses.push_back(rank.trainer.step().loss);
    if (i % 4 == 3) t.val_losses.push_back(rank.trainer.evaluate());
  }
  const auto w = rank.model.parameter_arena();
  t.weights.assign(w.data(), w.data() + w.numel());
  return t;
}

/// Runs `steps` steps on `ranks` thread ranks; returns rank 0's trace and checks that every
/// rank saw the same losses and ends with the same weights.
template <class M = Model>
Trace run_world(int ranks, bool est_schedule, std::int64_t steps) {
  ThreadWorld world(ranks);
  std::vector<Trace> traces(static_cast<std::size_t>(ranks));
  world.run([&](int r) {
    ThreadCommunicator comm(world, r);
    RankOf<M> rank(est_schedule, steps, &comm);
    Trace& t = traces[std::size_t(r)];
    for (std::int64_t i = 0; i < steps; ++i) {
      const est::StepReport s = rank.trainer.step();
      t.losses.push_back(s.loss);
      t.bytes.push_back(s.reduced_bytes);
      t.layers.push_back(s.active_layers);
      t.heads.push_back(s.active_heads);
      t.neurons.push_back(s.active_neurons);
      if (i % 4 == 3) t.val_losses.push_back(rank.trainer.evaluate());
    }
    const auto w = rank.model.parameter_arena();
    t.weights.assign(w.data(), w.data() + w.numel());
  });
  for (int r = 1; r < ranks; ++r) {
    CHECK(traces[std::size_t(r)].losses == traces[0].losses);
    CHECK(std::memcmp(traces[std::size_t(r)].weights.data(), traces[0].weights.data(),
                      traces[0].weights.size() * sizeof(float)) == 0);
  }
  return traces[0];
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

}  // namespace

TEST_CASE("a plan's active segments are the elements its mask marks", "[dist]") {
  const est::Context<est::cpu> ctx(1);
  const auto shape = est::subnetwork_shape(cfg);
  est::Subnetwork subnet(shape);
  subnet.activate_layer(0, {1, 2}, {0, 1, 2, 9, 10, 40, 63});
  subnet.activate_layer(2, {0, 1, 2, 3}, {5});
  for (const est::Subnetwork& s : {subnet, est::Subnetwork::full(shape)}) {
    const est::SlicePlan plan = est::slice_plan(cfg, s);
    est::Tensor<std::uint8_t> mask({cfg.parameter_count()});
    est::write_active_mask(ctx, plan, mask.view());
    std::vector<std::uint8_t> from_segments(std::size_t(cfg.parameter_count()), 0);
    Index total = 0;
    Index previous_end = -1;
    for (const est::ArenaSegment& seg : est::active_segments(plan)) {
      CHECK(seg.length > 0);
      CHECK(seg.offset > previous_end);  // increasing and merged: a gap between runs
      previous_end = seg.offset + seg.length;
      std::fill_n(from_segments.begin() + seg.offset, seg.length, std::uint8_t{1});
      total += seg.length;
    }
    CHECK(total == plan.active_elements());
    CHECK(std::memcmp(from_segments.data(), mask.data(), from_segments.size()) == 0);
  }
}

TEST_CASE("the packed reduction sums the active gradients of every rank and sends only those",
          "[dist]") {
  const auto shape = est::subnetwork_shape(cfg);
  est::Subnetwork subnet(shape);
  subnet.activate_layer(1, {0, 3}, {2, 3, 4, 30});
  const est::SlicePlan plan = est::slice_plan(cfg, subnet);
  const est::Context<est::cpu> ctx(1);
  est::Tensor<std::uint8_t> mask({cfg.parameter_count()});
  est::write_active_mask(ctx, plan, mask.view());
  const Index P = cfg.parameter_count();
  constexpr int ranks = 3;
  // Each rank's gradients: a different value at every active element, zero elsewhere.
  std::vector<std::vector<float>> grads(ranks, std::vector<float>(std::size_t(P), 0.f));
  for (int r = 0; r < ranks; ++r) {
    for (Index i = 0; i < P; ++i) {
      if (mask.data()[i]) grads[std::size_t(r)][std::size_t(i)] = float((i % 97) * (r + 1)) / 64.f;
    }
  }
  std::vector<float> expected(std::size_t(P), 0.f);
  for (int r = 0; r < ranks; ++r) {
    for (Index i = 0; i < P; ++i) expected[std::size_t(i)] += grads[std::size_t(r)][std::size_t(i)];
  }
  ThreadWorld world(ranks);
  std::vector<std::uint64_t> bytes(static_cast<std::size_t>(ranks));
  world.run([&](int r) {
    ThreadCommunicator comm(world, r);
    est::GradientReducer<float> reducer;
    auto& g = grads[std::size_t(r)];
    reducer.reduce_active(comm, plan, est::TensorView<float>(g.data(), {P}));
    bytes[std::size_t(r)] = comm.reduced_bytes();
  });
  for (int r = 0; r < ranks; ++r) {
    CHECK(grads[std::size_t(r)] == expected);  // small integers / 64: exact in float
    CHECK(bytes[std::size_t(r)] == std::uint64_t(plan.active_elements()) * sizeof(float));
  }
  CHECK(plan.active_elements() < P / 2);  // one layer of three, half its units
}

TEST_CASE("2 ranks with half the batch each train like 1 rank with the whole batch", "[dist]") {
  const std::int64_t steps = 12;  // EST stages [0, 4), [4, 8), [8, 12)
  for (const bool est_schedule : {false, true}) {
    INFO((est_schedule ? "EST" : "baseline"));
    const Trace one = run_single(est_schedule, steps);
    const Trace two = run_world(2, est_schedule, steps);
    REQUIRE(two.losses.size() == one.losses.size());
    // The ranks' gradients add the same per-window terms in another order, so the two runs
    // differ by float round-off: relative 2^-23 per rounding, amplified by the few hundred
    // terms of a weight gradient's sum and by AdamW's division by sqrt(v) over 12 steps.
    // Bound: 1e-4 relative on the losses, 1e-4 absolute on the weights (lr 3e-3).
    for (std::size_t i = 0; i < one.losses.size(); ++i) {
      INFO("step " << i);
      CHECK(two.losses[i] == Approx(one.losses[i]).epsilon(1e-4));
    }
    for (std::size_t i = 0; i < one.val_losses.size(); ++i) {
      CHECK(two.val_losses[i] == Approx(one.val_losses[i]).epsilon(1e-4));
    }
    double max_diff = 0;
    for (std::size_t i = 0; i < one.weights.size(); ++i) {
      max_diff = std::max(max_diff, double(std::abs(two.weights[i] - one.weights[i])));
    }
    INFO("largest weight difference " << max_diff);
    CHECK(max_diff < 1e-4);
    // The traffic follows the subnetwork: the loss and the active parameters, counted here
    // from GPT-2's layout (embeddings and the final norm always; per active layer two norms,
    // h heads' Q/K/V columns and output rows with their biases, m neurons' columns and rows).
    for (std::size_t i = 0; i < two.bytes.size(); ++i) {
      INFO("step " << i);
      const double C = cfg.width, d = double(cfg.width) / cfg.heads;
      const double h = two.heads[i], m = two.neurons[i];
      const double layer = 2 * C + (C * 3 * h * d + 3 * h * d) + (h * d * C + C) + 2 * C +
                           (C * m + m) + (m * C + C);
      const double params =
          double(cfg.vocab) * C + double(cfg.context) * C + 2 * C + two.layers[i] * layer;
      CHECK(double(two.bytes[i]) == params * sizeof(float) + sizeof(double));
    }
    CHECK(two.layers.back() == cfg.layers);
    if (est_schedule) CHECK(two.layers.front() < cfg.layers);
  }
}

TEST_CASE("Llama: 2 ranks train like 1 rank, and only the active slices travel", "[dist]") {
  const std::int64_t steps = 12;
  const Trace one = run_single<LlamaModel>(true, steps);
  const Trace two = run_world<LlamaModel>(2, true, steps);
  for (std::size_t i = 0; i < one.losses.size(); ++i) {
    INFO("step " << i);
    CHECK(two.losses[i] == Approx(one.losses[i]).epsilon(1e-4));  // as for GPT-2 above
  }
  double max_diff = 0;
  for (std::size_t i = 0; i < one.weights.size(); ++i) {
    max_diff = std::max(max_diff, double(std::abs(two.weights[i] - one.weights[i])));
  }
  INFO("largest weight difference " << max_diff);
  CHECK(max_diff < 1e-4);
  const auto full = std::uint64_t(llama_cfg.parameter_count()) * sizeof(float) + sizeof(double);
  CHECK(two.bytes.back() == full);
  CHECK(two.bytes.front() < full);
}

TEST_CASE("a fixed world repeats itself bit for bit", "[dist]") {
  const Trace a = run_world(2, true, 8);
  const Trace b = run_world(2, true, 8);
  CHECK(a.losses == b.losses);
  CHECK(same_bits(a.weights, b.weights));
}

TEST_CASE("a rank whose weights differ stops the run, naming the step", "[dist]") {
  ThreadWorld world(2);
  std::vector<std::string> errors(2);
  world.run([&](int r) {
    ThreadCommunicator comm(world, r);
    Rank rank(false, 6, &comm);
    rank.trainer.step();
    rank.trainer.check_replicas();  // identical so far
    if (r == 1) rank.model.parameter_arena().data()[7] += 1e-6f;
    try {
      rank.trainer.step();  // replica_check_interval 1: checked after every step
    } catch (const est::value_error& e) {
      errors[std::size_t(r)] = e.what();
    }
  });
  for (const std::string& e : errors) {
    CHECK_THAT(e, Catch::Contains("weights differ after step 2"));
  }
}

TEST_CASE("a batch that does not split over the ranks is refused", "[dist]") {
  ThreadWorld world(3);
  std::vector<std::string> errors(3);
  world.run([&](int r) {  // Catch2's assertions are not thread-safe: check afterwards
    ThreadCommunicator comm(world, r);
    try {
      Rank rank(false, 4, &comm);
    } catch (const est::value_error& e) {
      errors[std::size_t(r)] = e.what();
    }
  });
  for (const std::string& e : errors) {
    CHECK_THAT(e, Catch::Contains("batch of 8 windows does not split evenly over 3 ranks"));
  }
}

TEST_CASE("the fingerprint sees every bit", "[dist]") {
  std::vector<float> w(1001);
  for (std::size_t i = 0; i < w.size(); ++i) w[i] = float(i) * 0.25f;
  const auto view = [&] { return est::ConstView<float>(w.data(), {Index(w.size())}); };
  const std::uint64_t h = est::fingerprint<float>(view());
  for (const std::size_t i : {std::size_t(0), std::size_t(500), w.size() - 1}) {
    const float keep = w[i];
    w[i] = std::nextafter(w[i], 1e9f);  // one bit of one element
    CHECK(est::fingerprint<float>(view()) != h);
    w[i] = keep;
  }
  CHECK(est::fingerprint<float>(view()) == h);
}

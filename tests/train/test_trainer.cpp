// est/train/trainer.hpp and est/train/checkpoint.hpp: a short run learns; a run resumed from a
// checkpoint in a fresh trainer (new model, optimizer and samplers, everything read back from
// files) is bit for bit the straight run, also across EST stage boundaries; a non-finite
// gradient skips the update and leaves the weights alone; a crash while saving leaves the
// previous checkpoint loadable; a checkpoint of another configuration is refused.

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <limits>
#include <string>

#include <est/data/batches.hpp>
#include <est/models/gpt2/model.hpp>
#include <est/subnet/sampling.hpp>
#include <est/subnet/schedule.hpp>
#include <est/train/checkpoint.hpp>
#include <est/train/trainer.hpp>

#include "../support/test_support.hpp"

namespace fs = std::filesystem;
using est::Index;

namespace {

constexpr est::Gpt2Config cfg{.layers = 3, .heads = 2, .width = 32, .mlp_hidden = 128,
                              .vocab = 256, .context = 32};
using Model = est::Gpt2<cfg>;
using Schedule = est::SubnetworkSchedule<est::sampling::Uniform, est::growth::ThreeStage>;
using TrainerType = est::Trainer<Model, est::sampling::Uniform, est::growth::ThreeStage,
                                 est::lr::WarmupCosine, est::TokenBuffer>;

/// A few hundred bytes of repetitive English, as byte tokens.
est::TokenBuffer corpus() {
  const std::string line =
      "the quick brown fox jumps over the lazy dog while the cat sleeps by the warm fire. ";
  std::vector<std::int32_t> tokens;
  for (int r = 0; r < 40; ++r) {
    for (unsigned char c : line) tokens.push_back(c);
  }
  return est::TokenBuffer(std::move(tokens));
}

/// Everything a run needs, built from scratch (as a new process would).
template <class Sampling = est::sampling::Uniform>
struct RunOf {
  est::Context<est::cpu> ctx{2};
  est::TokenBuffer tokens = corpus();
  est::BatchSampler<est::TokenBuffer> train{tokens, {0, tokens.size() * 9 / 10}, 4, 16, 11, "train"};
  est::BatchSampler<est::TokenBuffer> val{tokens, {tokens.size() * 9 / 10, tokens.size() / 10},
                                          4, 16, 11, "val"};
  Model model{ctx, 5};
  est::Trainer<Model, Sampling, est::growth::ThreeStage, est::lr::WarmupCosine, est::TokenBuffer>
      trainer;

  explicit RunOf(std::int64_t total_steps)
      : trainer(model, ctx,
                est::SubnetworkSchedule(est::subnetwork_shape(cfg), Sampling(3),
                         est::growth::ThreeStage({.stage1 = {0.67, 0.5, 0.5},
                                                  .end_of_stage1 = est::Boundary::step(total_steps / 3),
                                                  .end_of_stage2 = est::Boundary::step(2 * total_steps / 3)},
                                                 total_steps)),
                est::lr::WarmupCosine(3e-3, 3e-4, 2, total_steps), train, val,
                {.micro_batches = 2, .grad_clip = 1.0}) {}
};
using Run = RunOf<>;

bool same_bits(est::TensorView<const float> a, est::TensorView<const float> b) {
  return a.numel() == b.numel() &&
         std::memcmp(a.data(), b.data(), sizeof(float) * std::size_t(a.numel())) == 0;
}

}  // namespace

TEST_CASE("a short run on a tiny corpus lowers the validation loss", "[trainer]") {
  Run run(60);
  const double before = run.trainer.evaluate();
  CHECK(before == Approx(std::log(256.0)).margin(0.3));  // uniform over bytes at the start
  est::StepReport last;
  for (int i = 0; i < 60; ++i) last = run.trainer.step();
  const double after = run.trainer.evaluate();
  INFO("val loss " << before << " -> " << after);
  CHECK(after < before - 2.5);  // from ~5.5 nats to below ~3
  CHECK(last.active_layers == cfg.layers);  // the last third trains the full model
  CHECK(run.trainer.flops().saving() > 0.1);
  CHECK(run.trainer.non_finite_steps() == 0);
}

TEST_CASE("a resumed run is bit for bit the straight run, across stage boundaries",
          "[trainer][checkpoint]") {
  const std::int64_t total = 12;  // stages: [0, 4), [4, 8), [8, 12)
  Run straight(total);
  std::vector<double> losses;
  std::vector<int> sizes;
  for (int i = 0; i < total; ++i) {
    const auto r = straight.trainer.step();
    losses.push_back(r.loss);
    sizes.push_back(r.active_layers);
  }
  for (const std::int64_t k : {4, 6, 9}) {  // at a boundary, inside stage 2, inside stage 3
    INFO("checkpoint after " << k << " steps");
    const est::testing::TempDir temp("resume");
  const fs::path dir = temp.path();
    {
      Run first(total);
      for (std::int64_t i = 0; i < k; ++i) first.trainer.step();
      est::save_checkpoint(dir, first.trainer, {{"note", "test"}});
    }
    Run second(total);  // a new model, optimizer and samplers
    const auto latest = est::latest_checkpoint(dir);
    REQUIRE(latest.has_value());
    const auto run_config = est::load_checkpoint(*latest, second.trainer);
    CHECK(run_config.at("note") == "test");
    REQUIRE(second.trainer.steps_done() == k);
    for (std::int64_t i = k; i < total; ++i) {
      const auto r = second.trainer.step();
      CHECK(std::memcmp(&r.loss, &losses[std::size_t(i)], sizeof(double)) == 0);
      CHECK(r.active_layers == sizes[std::size_t(i)]);
    }
    CHECK(same_bits(second.model.parameter_arena(), straight.model.parameter_arena()));
    CHECK(same_bits(second.trainer.optimizer().first_moments(),
                    straight.trainer.optimizer().first_moments()));
    CHECK(second.trainer.flops().total() == straight.trainer.flops().total());
  }
}

TEST_CASE("a non-finite gradient skips the update or stops the run", "[trainer]") {
  Run run(10);
  run.trainer.step();
  run.trainer.set_after_backward([](std::int64_t step, est::TensorView<float> grads) {
    if (step == 1) grads[7] = std::numeric_limits<float>::quiet_NaN();
  });
  const auto p = run.model.parameter_arena();
  const std::vector<float> before(p.data(), p.data() + p.numel());
  const auto m_before = run.trainer.optimizer().steps_taken();
  const auto r = run.trainer.step();
  CHECK(r.skipped);
  CHECK(std::isnan(r.grad_norm));
  CHECK(run.trainer.non_finite_steps() == 1);
  CHECK(run.trainer.optimizer().steps_taken() == m_before);
  CHECK(std::memcmp(p.data(), before.data(), sizeof(float) * before.size()) == 0);
  const auto next = run.trainer.step();  // training goes on
  CHECK_FALSE(next.skipped);
  for (Index i = 0; i < p.numel(); ++i) REQUIRE(std::isfinite(p[i]));

  Run strict(10);
  est::TrainerOptions stop{.on_non_finite = est::OnNonFinite::stop};
  TrainerType stopping(strict.model, strict.ctx,
                       Schedule(est::subnetwork_shape(cfg), est::sampling::Uniform(3),
                                est::growth::ThreeStage(10)),
                       est::lr::WarmupCosine(1e-3, 1e-4, 1, 10), strict.train, strict.val, stop);
  stopping.set_after_backward([](std::int64_t, est::TensorView<float> grads) {
    grads[0] = std::numeric_limits<float>::infinity();
  });
  EST_CHECK_THROWS(stopping.step(), est::value_error, "non-finite loss");
}

TEST_CASE("a crash while saving leaves the previous checkpoint loadable", "[checkpoint]") {
  const est::testing::TempDir temp("crash");
  const fs::path dir = temp.path();
  Run run(10);
  run.trainer.step();
  const auto first = est::save_checkpoint(dir, run.trainer, {});
  run.trainer.step();
  // Three files, three stages each: crash at every one of the nine points.
  for (int crash_at = 1; crash_at <= 9; ++crash_at) {
    INFO("crash at write stage " << crash_at);
    int calls = 0;
    est::testing_hooks::atomic_write_fault = [&](std::string_view) {
      if (++calls == crash_at) throw std::runtime_error("simulated crash");
    };
    CHECK_THROWS_WITH(est::save_checkpoint(dir, run.trainer, {}), "simulated crash");
    est::testing_hooks::atomic_write_fault = nullptr;
    REQUIRE(est::latest_checkpoint(dir) == first);
  }
  // What a real kill leaves: a hidden temporary directory. It is ignored, then cleaned up.
  fs::create_directory(dir / ".step-00000002.tmp-999999999");
  std::ofstream(dir / ".step-00000002.tmp-999999999" / "model.safetensors") << "partial";
  CHECK(est::latest_checkpoint(dir) == first);
  Run resumed(10);
  est::load_checkpoint(first, resumed.trainer);
  CHECK(resumed.trainer.steps_done() == 1);
  const auto second = est::save_checkpoint(dir, run.trainer, {});
  CHECK(est::latest_checkpoint(dir) == second);
  CHECK_FALSE(fs::exists(dir / ".step-00000002.tmp-999999999"));
  CHECK_THROWS_AS(est::save_checkpoint(dir, run.trainer, {}), est::io_error);  // never overwrite
}

TEST_CASE("checkpoints keep the newest N and refuse another configuration", "[checkpoint]") {
  const est::testing::TempDir temp("keep");
  const fs::path dir = temp.path();
  Run run(10);
  for (int i = 0; i < 4; ++i) {
    run.trainer.step();
    est::save_checkpoint(dir, run.trainer, {}, 2);
  }
  int count = 0;
  for (const auto& entry : fs::directory_iterator(dir)) count += entry.is_directory();
  CHECK(count == 2);
  CHECK(est::latest_checkpoint(dir) == dir / "step-00000004");

  constexpr est::Gpt2Config other{.layers = 2, .heads = 2, .width = 32, .mlp_hidden = 128,
                                  .vocab = 256, .context = 32};
  const est::Context<est::cpu> ctx(1);
  est::Gpt2<other> model(ctx, 1);
  const auto tokens = corpus();
  const est::BatchSampler<est::TokenBuffer> s(tokens, {0, tokens.size()}, 2, 8, 1, "all");
  est::Trainer<est::Gpt2<other>, est::sampling::Full, est::growth::Constant, est::lr::Constant,
               est::TokenBuffer>
      trainer(model, ctx,
              est::SubnetworkSchedule(est::subnetwork_shape(other), est::sampling::Full(),
                                      est::growth::Constant()),
              est::lr::Constant(1e-3), s, s);
  const auto p = model.parameter_arena();
  const std::vector<float> before(p.data(), p.data() + p.numel());
  EST_CHECK_THROWS(est::load_checkpoint(dir / "step-00000004", trainer), est::io_error,
                   "the checkpoint is of another model configuration");
  CHECK(std::memcmp(p.data(), before.data(), sizeof(float) * before.size()) == 0);

  std::ofstream(dir / "step-00000004" / "state.json") << "{ not json";
  CHECK(est::latest_checkpoint(dir) == dir / "step-00000003");  // falls back
}

TEST_CASE("weight decay applies to the matrices only", "[trainer][adamw]") {
  const est::Context<est::cpu> ctx(1);
  const Model model(ctx, 1);
  int decayed = 0;
  for (const auto& spec : model.parameter_specs()) {
    INFO(spec.name);
    const bool norm_or_bias = spec.name.ends_with(".bias") || spec.name.find("ln_") != std::string::npos;
    CHECK(spec.weight_decay == !norm_or_bias);
    decayed += spec.weight_decay;
  }
  CHECK(decayed == 2 + 4 * cfg.layers);  // wte, wpe; c_attn, attn c_proj, c_fc, mlp c_proj
}

TEST_CASE("pruning never removes the new checkpoint or a later one", "[checkpoint]") {
  const est::testing::TempDir temp("prune");
  const fs::path dir = temp.path();
  {
    Run other(30);  // another run's later checkpoints in the same directory
    for (int i = 0; i < 12; ++i) other.trainer.step();
    est::save_checkpoint(dir, other.trainer, {}, 0);
  }
  Run run(30);
  for (int i = 0; i < 3; ++i) {
    run.trainer.step();
    est::save_checkpoint(dir, run.trainer, {}, 1);
  }
  CHECK(fs::exists(dir / "step-00000012"));
  CHECK(fs::exists(dir / "step-00000003"));
  CHECK_FALSE(fs::exists(dir / "step-00000002"));
  CHECK_FALSE(fs::exists(dir / "step-00000001"));
}

TEST_CASE("a kill while pruning leaves no checkpoint-like orphan, and a save clears the remains",
          "[checkpoint]") {
  const est::testing::TempDir temp("orphans");
  const fs::path dir = temp.path();
  Run run(10);
  run.trainer.step();
  est::save_checkpoint(dir, run.trainer, {});
  // What a kill during pruning leaves now: a hidden renamed directory of a process that is gone.
  fs::create_directory(dir / ".step-00000001.pruned-999999999");
  std::ofstream(dir / ".step-00000001.pruned-999999999" / "model.safetensors") << "half";
  // What an older est's pruning (or a deletion by hand) left: a step directory without a
  // complete state.json, at the very step the run will save next.
  fs::create_directory(dir / "step-00000002");
  std::ofstream(dir / "step-00000002" / "model.safetensors") << "half";
  CHECK(est::latest_checkpoint(dir) == dir / "step-00000001");
  run.trainer.step();
  const auto second = est::save_checkpoint(dir, run.trainer, {}, 1);
  CHECK(second == dir / "step-00000002");
  CHECK(est::latest_checkpoint(dir) == second);
  CHECK(fs::exists(second / "state.json"));
  CHECK_FALSE(fs::exists(dir / ".step-00000001.pruned-999999999"));
  CHECK_FALSE(fs::exists(dir / "step-00000001"));  // pruned (keep 1), through a hidden rename
  int entries = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir)) ++entries;
  CHECK(entries == 1);
  // A complete checkpoint is still never overwritten.
  EST_CHECK_THROWS(est::save_checkpoint(dir, run.trainer, {}), est::io_error,
                   "already exists; checkpoints are never overwritten");
}

TEST_CASE("damaged or non-finite checkpoints are refused before anything changes",
          "[checkpoint]") {
  const est::testing::TempDir temp("damaged");
  const fs::path dir = temp.path();
  Run run(10);
  run.trainer.step();
  const auto saved = est::save_checkpoint(dir, run.trainer, {});
  // One flipped bit in the data section: the format cannot see it, the digest does.
  {
    std::fstream f(saved / "model.safetensors", std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(-5, std::ios::end);
    char c = 0;
    f.get(c);
    f.seekp(-5, std::ios::end);
    f.put(static_cast<char>(c ^ 0x10));
  }
  Run fresh(10);
  const auto p = fresh.model.parameter_arena();
  const std::vector<float> before(p.data(), p.data() + p.numel());
  EST_CHECK_THROWS(est::load_checkpoint(saved, fresh.trainer), est::io_error,
                   "do not match the digest recorded in state.json");
  CHECK(std::memcmp(p.data(), before.data(), sizeof(float) * before.size()) == 0);
  CHECK(fresh.trainer.steps_done() == 0);
  // Non-finite weights are never saved.
  run.model.parameter_arena()[3] = std::numeric_limits<float>::infinity();
  run.trainer.step();
  EST_CHECK_THROWS(est::save_checkpoint(dir, run.trainer, {}), est::value_error,
                   "refusing to save non-finite weights");
  // ... and the refusal leaves no temporary directory behind.
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    CHECK(entry.path().filename().string().find(".tmp-") == std::string::npos);
  }
}

TEST_CASE("the trainer stops after too many non-finite steps in a row", "[trainer]") {
  Run run(20);
  run.trainer.set_after_backward([](std::int64_t, est::TensorView<float> grads) {
    grads[0] = std::numeric_limits<float>::quiet_NaN();
  });
  for (int i = 0; i < 9; ++i) CHECK(run.trainer.step().skipped);
  // Once only (EST_CHECK_THROWS would step twice).
  CHECK_THROWS_WITH(run.trainer.step(), Catch::Matchers::Contains("10 steps in a row had a non-finite"));
}

TEST_CASE("importance sampling learns from each step's gradients and resumes bit for bit",
          "[trainer][checkpoint][importance]") {
  const std::int64_t total = 12;
  using ImportanceRun = RunOf<est::sampling::Importance>;
  ImportanceRun straight(total);
  CHECK(straight.trainer.subnetworks().sampling().state().at("heads").empty());
  const est::Subnetwork first = straight.trainer.subnetworks().at(0);
  straight.trainer.step();
  // After one step the statistic holds the gradient norms of exactly the units that trained.
  const auto norms = est::unit_gradient_norms<float>(est::slice_plan(cfg, first), first.shape(),
                                                     straight.model.gradient_arena());
  const auto state = straight.trainer.subnetworks().sampling().state();
  for (int l = 0; l < cfg.layers; ++l) {
    for (int h = 0; h < cfg.heads; ++h) {
      const bool trained = first.is_active(l) &&
                           std::ranges::find(first.heads(l), h) != first.heads(l).end();
      const double stat = state.at("heads")[std::size_t(l * cfg.heads + h)];
      if (trained) {
        CHECK(stat == norms.heads[std::size_t(l * cfg.heads + h)]);
        CHECK(stat > 0);
      } else {
        CHECK(stat == -1.0);
      }
    }
  }
  std::vector<double> losses{0.0};
  for (std::int64_t i = 1; i < total; ++i) losses.push_back(straight.trainer.step().loss);

  const est::testing::TempDir temp("resume-importance");
  {
    ImportanceRun part(total);
    for (int i = 0; i < 5; ++i) part.trainer.step();
    est::save_checkpoint(temp.path(), part.trainer, {});
  }
  ImportanceRun second(total);
  est::load_checkpoint(*est::latest_checkpoint(temp.path()), second.trainer);
  CHECK(second.trainer.subnetworks().sampling().state().at("neurons").size() ==
        std::size_t(cfg.layers * cfg.mlp_hidden));
  for (std::int64_t i = 5; i < total; ++i) {
    const auto r = second.trainer.step();
    CHECK(std::memcmp(&r.loss, &losses[std::size_t(i)], sizeof(double)) == 0);
  }
  CHECK(same_bits(second.model.parameter_arena(), straight.model.parameter_arena()));
  CHECK(second.trainer.subnetworks().sampling().state() ==
        straight.trainer.subnetworks().sampling().state());

  // A uniform run's checkpoint holds no sampling state: refused by an importance run.
  const est::testing::TempDir other("resume-uniform");
  {
    Run uniform(total);
    uniform.trainer.step();
    est::save_checkpoint(other.path(), uniform.trainer, {});
  }
  ImportanceRun third(total);
  EST_CHECK_THROWS(est::load_checkpoint(*est::latest_checkpoint(other.path()), third.trainer),
                   est::io_error, "holds no state of sampling::Importance");
}

namespace {
/// One fixed subnetwork at every step: layers 0 and 2 of 3; in layer 0 head 1 of 2 and neurons
/// [0, 64) of 128, in layer 2 both heads and neurons [32, 128).
struct FixedSubnetwork {
  [[nodiscard]] est::Subnetwork sample(const est::SubnetworkShape& shape, const est::Rates&,
                                       std::int64_t) const {
    est::Subnetwork s(shape);
    std::vector<int> low(64), high(96);
    for (int i = 0; i < 64; ++i) low[std::size_t(i)] = i;
    for (int i = 0; i < 96; ++i) high[std::size_t(i)] = 32 + i;
    s.activate_layer(0, {1}, low);
    s.activate_layer(2, {0, 1}, high);
    return s;
  }
  [[nodiscard]] std::string_view name() const noexcept { return "FixedSubnetwork"; }
};

/// The parameters after one step from a fresh model under `inactive`, lr 0.01, weight decay 0.1.
std::vector<float> one_step(est::InactiveParameters inactive, std::vector<float>& before) {
  est::Context<est::cpu> ctx{1};
  est::TokenBuffer tokens = corpus();
  est::BatchSampler<est::TokenBuffer> train{tokens, {0, tokens.size()}, 4, 16, 11, "train"};
  Model model{ctx, 5};
  const auto arena = model.parameter_arena();
  before.assign(arena.data(), arena.data() + arena.numel());
  est::Trainer trainer(model, ctx,
                       est::SubnetworkSchedule(est::subnetwork_shape(cfg), FixedSubnetwork{},
                                               est::growth::Constant({0.5, 0.5, 0.5})),
                       est::lr::Constant(0.01), train, train, {.grad_clip = 0},
                       {.weight_decay = 0.1, .inactive = inactive});
  trainer.step();
  return {arena.data(), arena.data() + arena.numel()};
}
}  // namespace

TEST_CASE("mixed inactive semantics: zero-grad inside active layers, frozen in skipped ones",
          "[trainer][adamw]") {
  std::vector<float> p0, frozen0;
  const std::vector<float> mixed = one_step(est::InactiveParameters::mixed, p0);
  const std::vector<float> frozen = one_step(est::InactiveParameters::frozen, frozen0);
  REQUIRE(p0 == frozen0);
  est::Context<est::cpu> ctx{1};
  Model layout{ctx, 5};
  const auto& p = layout.parameters();
  const float* base = layout.parameter_arena().data();
  auto at = [&](est::TensorView<float> t, Index i) { return Index(t.data() - base) + i; };
  constexpr Index C = cfg.width, d = C / cfg.heads;
  // At the first step m = v = 0 before the update, so a zero-grad step leaves m = v = 0 and
  // only the weight decay moves a parameter: p·(1 - lr·λ) for matrices, nothing for biases.
  const auto decayed = [](float x) { return x - 0.01f * (0.1f * x); };
  for (Index row = 0; row < C; ++row) {
    for (Index col = 0; col < d; ++col) {  // layer 0, head 0: Q columns [0, d), not sampled
      const Index i = at(p.layers[0].attn_weight, row * 3 * C + col);
      CHECK(mixed[std::size_t(i)] == decayed(p0[std::size_t(i)]));
      CHECK(frozen[std::size_t(i)] == p0[std::size_t(i)]);
    }
  }
  for (Index j = 64; j < cfg.mlp_hidden; ++j) {  // layer 0's unsampled neurons: biases stay
    const Index i = at(p.layers[0].fc_bias, j);
    CHECK(mixed[std::size_t(i)] == p0[std::size_t(i)]);
  }
  // The skipped layer 1 is frozen in both: every parameter bit for bit as before.
  const Index first = at(p.layers[1].ln_1_weight, 0), last = at(p.layers[2].ln_1_weight, 0);
  for (Index i = first; i < last; ++i) {
    REQUIRE(mixed[std::size_t(i)] == p0[std::size_t(i)]);
  }
  // Sampled elements train in both, identically.
  const Index sampled = at(p.layers[0].attn_weight, d);  // row 0, head 1's first Q column
  CHECK(mixed[std::size_t(sampled)] != p0[std::size_t(sampled)]);
  CHECK(mixed[std::size_t(sampled)] == frozen[std::size_t(sampled)]);
}

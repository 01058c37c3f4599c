#pragma once
// What defines a training run of est-train: everything a checkpoint stores and a resume reuses
// (RunConfig), and what only steers this invocation (Invocation).

#include <array>
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

namespace est_train {

struct RunConfig {
  std::string preset = "mini";
  std::string schedule = "est";  // "baseline" or "est" (one run; "compare" runs both)
  std::int64_t steps = 600;
  std::int64_t batch = 16;
  std::int64_t seq = 0;          // tokens per sequence (<= the preset's context); 0: the context
  int micro_batches = 1;
  double lr = 2e-3;
  double min_lr = 2e-4;
  std::int64_t warmup = -1;      // linear warmup steps; -1: steps / 15
  double grad_clip = 1.0;
  double weight_decay = 0.1;
  std::uint64_t seed = 1337;
  std::int64_t eval_interval = 100;
  std::int64_t eval_batches = 8;
  std::string data;              // text file or directory, or token file; empty = default corpus
  std::string data_format = "auto";  // "auto" (.bin: token file), "text", "llmc" or "uint16"
  std::string val_data;          // a separate validation token file; empty = last val_fraction
  double val_fraction = 0.1;
  std::string tokenizer = "byte";  // "byte", "gpt2" or "hf"
  std::string gpt2_dir;            // encoder.json and vocab.bpe for the GPT-2 tokenizer
  std::string tokenizer_file;      // tokenizer.json for "hf"; empty: the one beside init_from
  std::string init_from;           // start from these Hugging Face weights; empty: random init
  // Evolving subnetwork training (growth::ThreeStage; sampling::Uniform or sampling::Importance).
  std::array<double, 3> stage1{0.5, 0.5, 0.5};  // (pL, pH, pM)
  std::array<double, 2> stage2{0.5, 0.5};       // (pH, pM); every layer
  double stage1_end = 0.25;                     // fractions of the run
  double stage2_end = 0.5;
  int granularity = 8;                          // neuron counts rounded to a multiple
  std::string head_sampling = "heads";          // "heads" or "kv-groups" (Llama: whole groups)
  std::string sampling = "uniform";             // "uniform" or "importance"
  double importance_share = 0.5;                // importance: the uniform share α of the weights
  double importance_decay = 0.9;                // importance: decay β of the running magnitudes
  std::string inactive = "frozen";              // "frozen" or "zero-grad"
  int threads = 0;                              // 0: all cores

  friend bool operator==(const RunConfig&, const RunConfig&) = default;
};

NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(RunConfig, preset, schedule, steps, batch, seq,
                                                micro_batches, lr, min_lr, warmup, grad_clip,
                                                weight_decay, seed, eval_interval, eval_batches,
                                                data, data_format, val_data, val_fraction, tokenizer, gpt2_dir, tokenizer_file,
                                                init_from,
                                                stage1, stage2, stage1_end, stage2_end,
                                                granularity, head_sampling, sampling,
                                                importance_share, importance_decay, inactive,
                                                threads)

struct Invocation {
  std::string checkpoint_dir;        // empty: no checkpoints
  std::int64_t checkpoint_interval = 0;  // 0: only at the end
  int keep_checkpoints = 3;
  bool resume = false;
  std::int64_t stop_after = 0;       // stop (with a checkpoint) after this many steps; 0: never
  std::string metrics;               // JSON lines, one per step
  std::string plot;                  // PNG of val loss against FLOPs and wall-clock
  int sample_tokens = 200;
  std::string prompt = "The ";
  bool quiet = false;
  bool append_metrics = false;       // add to --metrics instead of starting it (second run)
};

}  // namespace est_train

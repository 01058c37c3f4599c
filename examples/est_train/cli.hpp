#pragma once
// est-train's command line: every option, with its checks. The options that define the run (and
// are stored in its checkpoints) are collected apart, so that --resume can refuse them.

#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "data.hpp"
#include "presets.hpp"
#include "run_config.hpp"
#include "sampling.hpp"

namespace est_train {

/// Adds every option; the ones that define the run (stored in checkpoints) go to `run_options`.
inline void add_options(CLI::App& app, RunConfig& run, Invocation& inv, std::vector<double>& stage1,
                 std::vector<double>& stage2, std::vector<CLI::Option*>& run_options) {
  auto add = [&](CLI::Option* o) {
    run_options.push_back(o);
    return o;
  };
  add(app.add_option("--preset", run.preset, "model preset (--list-presets)")
      ->check(CLI::IsMember(est_train::preset_names()))->capture_default_str());
  add(app.add_option("--schedule", run.schedule,
                 "baseline (full model), est (evolving subnetworks) or compare (both)")
      ->check(CLI::IsMember({"baseline", "est", "compare"}))->capture_default_str());
  add(app.add_option("--data", run.data,
                 std::string("training text (file or directory) or token file (.bin: llm.c "
                             "shard or raw uint16); default: ") + est_train::default_corpus));
  add(app.add_option("--data-format", run.data_format, "how to read --data and --val-data: auto "
                 "(.bin files are token files, anything else text), text, llmc (llm.c shard) or "
                 "uint16 (headerless stream)")
      ->check(CLI::IsMember({"auto", "text", "llmc", "uint16"}))->capture_default_str());
  add(app.add_option("--val-data", run.val_data, "validation token/text file (default: the last "
                 "--val-fraction of --data)"));
  add(app.add_option("--val-fraction", run.val_fraction, "held-out fraction of --data")
      ->check(CLI::Range(0.001, 0.5))->capture_default_str());
  add(app.add_option("--tokenizer", run.tokenizer, "byte, gpt2 (OpenAI's files, --gpt2-dir) or "
                 "hf (a Hugging Face tokenizer.json, --tokenizer-file)")
      ->check(CLI::IsMember({"byte", "gpt2", "hf"}))->capture_default_str());
  add(app.add_option("--tokenizer-file", run.tokenizer_file, "tokenizer.json for --tokenizer hf "
                 "(default: the one beside --init-from)")->check(CLI::ExistingFile));
  add(app.add_option("--gpt2-dir", run.gpt2_dir, "directory with GPT-2's encoder.json and vocab.bpe")
      ->check(CLI::ExistingDirectory));
  add(app.add_option("--init-from", run.init_from, "start from the weights of a Hugging Face "
                 "checkpoint: a directory (config.json with model.safetensors or a sharded "
                 "model.safetensors.index.json), a .safetensors file or an index; config.json "
                 "must match the preset, which it chooses when --preset is not given")
      ->check(CLI::ExistingPath));
  add(app.add_option("--steps", run.steps, "optimizer steps")->check(CLI::PositiveNumber)
      ->capture_default_str());
  add(app.add_option("--batch", run.batch, "sequences per micro-batch")->check(CLI::PositiveNumber)
      ->capture_default_str());
  add(app.add_option("--seq", run.seq, "tokens per sequence (default: the preset's context)")
      ->check(CLI::PositiveNumber));
  add(app.add_option("--micro-batches", run.micro_batches, "micro-batches per step (accumulation)")
      ->check(CLI::PositiveNumber)->capture_default_str());
  add(app.add_option("--lr", run.lr, "peak learning rate")->check(CLI::PositiveNumber)
      ->capture_default_str());
  add(app.add_option("--min-lr", run.min_lr, "final learning rate of the cosine decay")
      ->check(CLI::NonNegativeNumber)->capture_default_str());
  add(app.add_option("--warmup", run.warmup, "linear warmup steps (default: steps / 15)")
      ->check(CLI::NonNegativeNumber));
  add(app.add_option("--grad-clip", run.grad_clip, "global gradient-norm limit (0: off)")
      ->check(CLI::NonNegativeNumber)->capture_default_str());
  add(app.add_option("--weight-decay", run.weight_decay, "AdamW weight decay (matrices only)")
      ->check(CLI::NonNegativeNumber)->capture_default_str());
  // (CLI11 would wrap -1 around to 2^64 - 1 for an unsigned seed.)
  const CLI::Validator unsigned_integer(
      [](std::string& text) {
        return text.find_first_not_of("0123456789") == std::string::npos && !text.empty()
                   ? std::string()
                   : "expected a non-negative integer, got " + text;
      },
      "UINT");
  add(app.add_option("--seed", run.seed, "seed of weights, batches and subnetworks")
      ->check(unsigned_integer)->capture_default_str());
  add(app.add_option("--threads", run.threads, "CPU threads (0: all cores)")
      ->check(CLI::NonNegativeNumber)->capture_default_str());
  add(app.add_option("--eval-interval", run.eval_interval, "steps between validation losses (0: end only)")
      ->check(CLI::NonNegativeNumber)->capture_default_str());
  add(app.add_option("--eval-batches", run.eval_batches, "validation batches per evaluation")
      ->check(CLI::PositiveNumber)->capture_default_str());
  add(app.add_option("--stage1", stage1, "EST stage 1 rates pL,pH,pM in (0, 1]")->delimiter(',')
      ->expected(3)->check(CLI::Range(1e-9, 1.0)));
  add(app.add_option("--stage2", stage2, "EST stage 2 rates pH,pM in (0, 1] (every layer)")
      ->delimiter(',')->expected(2)->check(CLI::Range(1e-9, 1.0)));
  add(app.add_option("--stage1-end", run.stage1_end, "end of stage 1, fraction of the run")
      ->check(CLI::Range(0.0, 1.0))->capture_default_str());
  add(app.add_option("--stage2-end", run.stage2_end, "end of stage 2, fraction of the run")
      ->check(CLI::Range(0.0, 1.0))->capture_default_str());
  add(app.add_option("--granularity", run.granularity, "round sampled neuron counts to a multiple")
      ->check(CLI::PositiveNumber)->capture_default_str());
  add(app.add_option("--head-sampling", run.head_sampling, "heads (query heads one by one) or "
                 "kv-groups (whole key/value groups; Llama presets)")
      ->check(CLI::IsMember({"heads", "kv-groups"}))->capture_default_str());
  // The policies this program knows: est-train's own, or those a program embedding it registered.
  auto samplers = inv.samplers ? inv.samplers
                               : std::make_shared<const SamplingRegistry>(SamplingRegistry::builtin());
  add(app.add_option("--sampling", run.sampling, "sampling policy: " + samplers->names() +
                 " (uniform: the paper's; importance: heads and neurons by their running gradient "
                 "magnitude, outputs scaled by 1/pi)")
      ->check(CLI::Validator([samplers](std::string& name) {
        return samplers->contains(name) ? std::string()
                                        : "expected " + samplers->names() + ", got '" + name + "'";
      }, "POLICY"))->capture_default_str());
  add(app.add_option("--importance-share", run.importance_share, "importance sampling: the "
                 "uniform share of every unit's weight, in (0, 1]")
      ->check(CLI::Range(1e-9, 1.0))->capture_default_str());
  add(app.add_option("--importance-decay", run.importance_decay, "importance sampling: decay of "
                 "the running gradient magnitudes, in [0, 1)")
      ->check(CLI::Range(0.0, 0.999999))->capture_default_str());
  add(app.add_option("--inactive", run.inactive, "optimizer treatment of parameters outside the "
                 "subnetwork: frozen, zero-grad, or mixed (zero-grad inside active layers, "
                 "frozen in skipped ones)")
      ->check(CLI::IsMember({"frozen", "zero-grad", "mixed"}))->capture_default_str());
  add(app.add_option("--pin-layers", run.pin_layers, "uniform sampling: layers that train at "
                 "every step: none, first, last or both")
      ->check(CLI::IsMember({"none", "first", "last", "both"}))->capture_default_str());
  add(app.add_option("--layer-draw", run.layer_draw, "uniform sampling: exact (max(1, round(pL*L)) "
                 "layers) or bernoulli (each layer on its own, pL*L on average)")
      ->check(CLI::IsMember({"exact", "bernoulli"}))->capture_default_str());
  add(app.add_flag("--rescale-layers", run.rescale_layers, "uniform sampling: scale a kept "
                 "layer's residual branches by 1/p (p: its probability of being kept), the "
                 "stochastic-depth convention"));
  add(app.add_option("--lr-schedule", run.lr_schedule, "cosine (warmup, then cosine decay to "
                 "--min-lr) or wsd (warmup, stable until --decay-start, then linear decay)")
      ->check(CLI::IsMember({"cosine", "wsd"}))->capture_default_str());
  add(app.add_option("--decay-start", run.decay_start, "wsd: start of the decay, fraction of "
                 "the run")->check(CLI::Range(0.0, 1.0))->capture_default_str());
  add(app.add_option("--rewarm", run.rewarm, "EST: re-warm the learning rate over this many "
                 "steps when the full-model stage starts (0: no re-warm)")
      ->check(CLI::NonNegativeNumber)->capture_default_str());
  app.add_option("--checkpoint-dir", inv.checkpoint_dir, "write checkpoints here (compare: one "
                 "subdirectory per run)");
  app.add_option("--checkpoint-interval", inv.checkpoint_interval, "steps between checkpoints "
                 "(0: at the end only)")->check(CLI::NonNegativeNumber);
  app.add_option("--keep", inv.keep_checkpoints, "checkpoints to keep (0: all)")
      ->check(CLI::NonNegativeNumber)->capture_default_str();
  app.add_flag("--resume", inv.resume, "continue from the newest checkpoint in --checkpoint-dir "
               "(with the configuration stored there)");
  app.add_option("--stop-after", inv.stop_after, "stop after this many steps, with a checkpoint")
      ->check(CLI::PositiveNumber);
  app.add_option("--metrics", inv.metrics, "write one JSON line per step to this file");
  app.add_option("--plot", inv.plot, "draw val loss vs FLOPs and vs time into this PNG (gnuplot)");
  app.add_option("--sample", inv.sample_tokens, "tokens to generate at the end (0: none)")
      ->check(CLI::NonNegativeNumber)->capture_default_str();
  app.add_option("--prompt", inv.prompt, "prompt of the sample")->capture_default_str();
  app.add_flag("--quiet", inv.quiet, "no progress output");
}


}  // namespace est_train

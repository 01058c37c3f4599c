// est-eval: the mean next-token loss of a model's weights on a text or token file — weights from
// a Hugging Face checkpoint (transformers' save_pretrained, or an est checkpoint directory, which
// is one), the preset chosen from its config.json.
//
//   est-eval runs/est/step-00000600 --data held_out.txt
//   est-eval gpt2/ --tokenizer gpt2 --gpt2-dir gpt2/ --data book_val.bin --seq 1024
//   est-eval my-llama/ --tokenizer hf --data held_out.txt     (my-llama/tokenizer.json)
//
// The tokens are cut into consecutive windows of --seq + 1 tokens (the last partial window
// dropped); each window predicts its last --seq tokens from the ones before them, and the loss is
// the mean over every predicted token.

#include <cstdio>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include <est/models/hf_checkpoint.hpp>

#include "est_train/data.hpp"
#include "est_train/presets.hpp"
#include "est_train/train_run.hpp"

namespace {

struct EvalResult {
  double loss = 0;
  est::Index windows = 0, seq = 0;
};

template <auto Config>
EvalResult evaluate(const std::string& weights, const est_train::RunConfig& run, est::Index seq,
                    est::Index max_windows, int threads) {
  const est_train::Tokenizer tokenizer(run);
  est::require<est::value_error>(tokenizer.vocab_size() <= Config.vocab, "the ", run.tokenizer,
                                 " tokenizer's ", tokenizer.vocab_size(),
                                 " tokens do not fit the model's vocabulary of ", Config.vocab);
  const est_train::Tokens tokens = est_train::load_tokens(run.data, tokenizer, run.data_format);
  tokens.check_vocab(tokenizer.vocab_size(), run.data);
  if (seq == 0) seq = Config.context;
  est::require<est::value_error>(seq >= 1 && seq <= Config.context, "--seq ", seq,
                                 " must be in [1, ", Config.context, "] (the model's context)");
  const est::Index windows = std::min((tokens.size() - 1) / seq, max_windows);
  est::require<est::value_error>(windows >= 1, "'", run.data, "' has ", tokens.size(),
                                 " tokens, fewer than one window of --seq + 1 = ", seq + 1);
  const est::Context<est::cpu> ctx(threads > 0 ? threads : est::Context<est::cpu>::default_threads());
  est_train::ModelOf<Config> model(ctx, 0);
  (void)est::load_hf_checkpoint(weights, model);
  std::vector<std::int32_t> window(std::size_t(seq + 1));
  est::Tensor<std::int32_t> in({1, seq}), next({1, seq});
  double total = 0;
  for (est::Index w = 0; w < windows; ++w) {
    tokens.copy(w * seq, seq + 1, window);
    std::copy(window.begin(), window.end() - 1, in.data());
    std::copy(window.begin() + 1, window.end(), next.data());
    total += double(model.evaluate(in.view(), next.view()));
  }
  return {total / double(windows), windows, seq};
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"est-eval: the mean next-token loss of a Hugging Face or est checkpoint on a text "
               "or token file"};
  std::string weights, preset;
  est_train::RunConfig run;
  est::Index seq = 0, max_windows = 1 << 30;
  int threads = 0;
  app.add_option("weights", weights, "checkpoint directory, .safetensors file or sharded index")
      ->required()->check(CLI::ExistingPath);
  app.add_option("--data", run.data, "text file or directory, or token file (.bin)")->required();
  app.add_option("--data-format", run.data_format, "auto, text, llmc or uint16 (as est-train)")
      ->check(CLI::IsMember({"auto", "text", "llmc", "uint16"}))->capture_default_str();
  app.add_option("--preset", preset, "the model's preset (default: the one config.json describes)")
      ->check(CLI::IsMember(est_train::preset_names()));
  app.add_option("--tokenizer", run.tokenizer, "byte, gpt2 or hf (as est-train)")
      ->check(CLI::IsMember({"byte", "gpt2", "hf"}))->capture_default_str();
  app.add_option("--tokenizer-file", run.tokenizer_file, "tokenizer.json for --tokenizer hf "
                 "(default: the one beside the weights)")->check(CLI::ExistingFile);
  app.add_option("--gpt2-dir", run.gpt2_dir, "directory with GPT-2's encoder.json and vocab.bpe")
      ->check(CLI::ExistingDirectory);
  app.add_option("--seq", seq, "tokens predicted per window (default: the model's context)")
      ->check(CLI::PositiveNumber);
  app.add_option("--max-windows", max_windows, "evaluate at most this many windows")
      ->check(CLI::PositiveNumber);
  app.add_option("--threads", threads, "CPU threads (0: all cores)")->check(CLI::NonNegativeNumber);
  CLI11_PARSE(app, argc, argv);
  try {
    run.init_from = weights;  // where --tokenizer hf finds tokenizer.json by default
    if (preset.empty()) preset = est_train::preset_for_checkpoint(weights);
    const EvalResult r = est_train::with_preset(preset, [&]<auto Config>() {
      return evaluate<Config>(weights, run, seq, max_windows, threads);
    });
    std::printf("%s on %s: %lld windows of %lld tokens: loss %.9g\n", preset.c_str(),
                run.data.c_str(), static_cast<long long>(r.windows),
                static_cast<long long>(r.seq), r.loss);
    return 0;
  } catch (const est::error& e) {
    std::fprintf(stderr, "est-eval: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "est-eval: unexpected error: %s\n", e.what());
    return 1;
  }
}

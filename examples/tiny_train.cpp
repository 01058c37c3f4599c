// est-tiny-train: trains a small byte-level GPT-2 on real English text for a few hundred steps
// and prints the falling training and validation loss, then a short sample.
//
//   est-tiny-train [--steps N] [--threads N] [--seed N] [TEXT_FILE_OR_DIRECTORY]
//
// Without a path it reads the fortune-cookie corpus that scripts/setup.sh installs from the
// distribution (/usr/share/games/fortunes, package `fortunes`). Tokens are bytes (vocabulary
// 256), so no tokenizer files are needed.

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <numbers>
#include <string>
#include <vector>

#include <est/est.hpp>

namespace fs = std::filesystem;

namespace {

constexpr auto model_config = est::presets::gpt2_bytes;
constexpr int batch = 16;
constexpr int seq = model_config.context;
const char* const default_corpus = "/usr/share/games/fortunes";

struct Options {
  int steps = 500;
  int threads = est::Context<est::cpu>::default_threads();
  std::uint64_t seed = 1337;
  std::string path = default_corpus;
};

const char* const usage =
    "usage: est-tiny-train [--steps N] [--threads N] [--seed N] [TEXT_FILE_OR_DIRECTORY]\n"
    "  --steps N    optimizer steps (default 500)\n"
    "  --threads N  CPU threads (default: all cores)\n"
    "  --seed N     seed of the weights, the batches and the sample (default 1337)\n"
    "  TEXT_FILE_OR_DIRECTORY  training text (default: /usr/share/games/fortunes)\n";

[[noreturn]] void usage_error(const std::string& message) {
  std::fprintf(stderr, "est-tiny-train: %s\n%s", message.c_str(), usage);
  std::exit(2);
}

long long parse_int(const char* flag, const char* text, long long min) {
  char* end = nullptr;
  const long long v = std::strtoll(text, &end, 10);
  if (end == text || *end != '\0' || v < min) {
    usage_error(std::string(flag) + " expects an integer >= " + std::to_string(min) + ", got '" +
                text + "'");
  }
  return v;
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&] {
      if (i + 1 >= argc) usage_error(arg + " needs a value");
      return argv[++i];
    };
    if (arg == "--steps") o.steps = int(parse_int("--steps", value(), 1));
    else if (arg == "--threads") o.threads = int(parse_int("--threads", value(), 1));
    else if (arg == "--seed") o.seed = std::uint64_t(parse_int("--seed", value(), 0));
    else if (arg == "-h" || arg == "--help") {
      std::fputs(usage, stdout);
      std::exit(0);
    }
    else if (!arg.empty() && arg[0] == '-') usage_error("unknown option " + arg);
    else o.path = arg;
  }
  return o;
}

/// The bytes of a file, or of every regular file of a directory (sorted by name, fortune's
/// index files *.dat skipped).
std::string read_corpus(const fs::path& path) {
  std::vector<fs::path> files;
  if (fs::is_directory(path)) {
    for (const auto& entry : fs::directory_iterator(path)) {
      if (entry.is_regular_file() && !entry.is_symlink() && entry.path().extension() != ".dat") {
        files.push_back(entry.path());
      }
    }
    std::sort(files.begin(), files.end());
  } else if (fs::is_regular_file(path)) {
    files.push_back(path);
  } else {
    throw est::io_error("est-tiny-train: '" + path.string() + "' is neither a file nor a "
                        "directory (run scripts/setup.sh for the default corpus, or pass a text "
                        "file)");
  }
  std::string text;
  for (const auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    if (!in) throw est::io_error("est-tiny-train: cannot read '" + f.string() + "'");
    text.append(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  return text;
}

/// Fills tokens/targets (B, T) with windows of `data` starting at the given offsets.
void fill_windows(const std::string& data, const std::vector<std::size_t>& starts,
                  est::Tensor<std::int32_t>& tokens, est::Tensor<std::int32_t>& targets) {
  for (std::size_t b = 0; b < starts.size(); ++b) {
    for (int t = 0; t < seq; ++t) {
      tokens[est::Index(b * seq + t)] = static_cast<unsigned char>(data[starts[b] + t]);
      targets[est::Index(b * seq + t)] = static_cast<unsigned char>(data[starts[b] + t + 1]);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  const Options opt = parse(argc, argv);
  try {
    const std::string text = read_corpus(opt.path);
    if (text.size() < 20 * (seq + 1)) {
      throw est::value_error("est-tiny-train: '" + opt.path + "' holds " +
                             std::to_string(text.size()) + " bytes; need at least " +
                             std::to_string(20 * (seq + 1)));
    }
    // The last 10% is held out for validation.
    const std::size_t split = text.size() * 9 / 10;
    const std::string train = text.substr(0, split), val = text.substr(split);

    const est::Context<est::cpu> ctx(opt.threads);
    est::Gpt2<model_config> model(ctx, opt.seed);
    est::AdamW<float> optimizer(model.parameter_specs(), {.weight_decay = 0.1});
    std::printf("est tiny GPT-2: %d layers, %d heads, width %d, %.2fM parameters; %zu bytes of "
                "text from %s; batch %d x %d; %d threads\n",
                model_config.layers, model_config.heads, model_config.width,
                double(model_config.parameter_count()) / 1e6, text.size(), opt.path.c_str(), batch,
                seq, ctx.threads());

    // Fixed validation windows, evenly spaced over the held-out text.
    est::Tensor<std::int32_t> val_tokens({batch, seq}), val_targets({batch, seq});
    std::vector<std::size_t> val_starts(batch);
    for (int b = 0; b < batch; ++b) val_starts[b] = (val.size() - seq - 1) * b / batch;
    fill_windows(val, val_starts, val_tokens, val_targets);

    est::Tensor<std::int32_t> tokens({batch, seq}), targets({batch, seq});
    std::vector<std::size_t> starts(batch);
    const double peak_lr = 2e-3, min_lr = 2e-4;
    const int warmup = std::max(1, opt.steps / 15);
    double window_ms = 0;
    for (int step = 1; step <= opt.steps; ++step) {
      const auto t0 = std::chrono::steady_clock::now();
      for (int b = 0; b < batch; ++b) {
        starts[b] = std::size_t(
            est::uniform_index(opt.seed, est::rng_stream(est::RngPurpose::batches, std::uint64_t(step)),
                               std::uint64_t(b), est::Index(train.size() - seq - 1)));
      }
      fill_windows(train, starts, tokens, targets);
      // Linear warmup, then cosine decay to min_lr.
      const double progress = double(step - warmup) / std::max(1, opt.steps - warmup);
      const double lr = step <= warmup ? peak_lr * step / warmup
                                       : min_lr + 0.5 * (peak_lr - min_lr) *
                                                      (1 + std::cos(std::numbers::pi * progress));
      model.zero_grad();
      const float loss = model.forward(tokens.view(), targets.view());
      model.backward();
      optimizer.step(ctx, model.parameter_arena(), model.gradient_arena(), lr);
      window_ms += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
      if (step == 1 || step % 25 == 0 || step == opt.steps) {
        const int in_window = step == 1 ? 1 : (step % 25 == 0 ? 25 : step % 25);
        std::printf("step %4d/%d  train loss %.4f  lr %.2e  %.1f ms/step\n", step, opt.steps,
                    double(loss), lr, window_ms / in_window);
        window_ms = 0;
      }
      if (step % 100 == 0 || step == opt.steps) {
        std::printf("step %4d/%d  val loss %.4f\n", step, opt.steps,
                    double(model.evaluate(val_tokens.view(), val_targets.view())));
      }
      std::fflush(stdout);
    }

    // A sample: temperature 0.8, seeded, from a prompt.
    std::string sample = "The ";
    est::Philox4x32 rng(opt.seed);
    for (int i = 0; i < 160; ++i) {
      const int n = int(std::min<std::size_t>(sample.size(), seq));
      est::Tensor<std::int32_t> ctx_tokens({1, n});
      for (int t = 0; t < n; ++t) {
        ctx_tokens[t] = static_cast<unsigned char>(sample[sample.size() - n + t]);
      }
      model.forward(ctx_tokens.view());
      const float* row = model.logits().data() + (n - 1) * model_config.vocab;
      std::vector<double> p(model_config.vocab);
      const float max = *std::max_element(row, row + model_config.vocab);
      double sum = 0;
      for (int v = 0; v < model_config.vocab; ++v) sum += p[v] = std::exp((row[v] - max) / 0.8);
      double u = est::uniform_double(
                     rng(est::rng_stream(est::RngPurpose::sampling, std::uint64_t(i)), 0)[0]) *
                 sum;
      int next = 0;
      while (next < model_config.vocab - 1 && (u -= p[next]) > 0) ++next;
      sample.push_back(char(next));
    }
    std::printf("sample: %s\n", sample.c_str());
  } catch (const est::error& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
  return 0;
}

#pragma once
// est-train's data: text through a tokenizer, or token files as they are, split into a training
// and a validation range of one token source.

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <est/data/batches.hpp>
#include <est/data/byte_tokenizer.hpp>
#include <est/data/gpt2_tokenizer.hpp>
#include <est/data/hf_tokenizer.hpp>
#include <est/data/text_corpus.hpp>
#include <est/data/token_file.hpp>

#include "run_config.hpp"

namespace est_train {

/// The corpus est-train reads without --data: the fortune-cookie collection of Debian's
/// `fortunes` package (installed by scripts/setup.sh).
inline constexpr const char* default_corpus = "/usr/share/games/fortunes";

/// Tokens in memory or in a memory-mapped token file, behind one type.
class Tokens {
 public:
  explicit Tokens(est::TokenBuffer b) : v_(std::move(b)) {}
  explicit Tokens(est::TokenFile f) : v_(std::move(f)) {}
  [[nodiscard]] est::Index size() const {
    return std::visit([](const auto& s) { return est::Index(s.size()); }, v_);
  }
  void copy(est::Index first, est::Index count, std::span<std::int32_t> out) const {
    std::visit([&](const auto& s) { s.copy(first, count, out); }, v_);
  }
  /// Throws est::value_error naming `what` and the first id >= vocab.
  void check_vocab(int vocab, const std::string& what) const {
    if (const auto* f = std::get_if<est::TokenFile>(&v_)) {
      f->check_vocab(vocab);
      return;
    }
    const auto& t = std::get<est::TokenBuffer>(v_).tokens();
    const auto bad = std::find_if(t.begin(), t.end(), [vocab](std::int32_t id) { return id >= vocab; });
    est::require<est::value_error>(bad == t.end(), what, ": token id ",
                                   bad == t.end() ? 0 : *bad, " at position ", bad - t.begin(),
                                   " is outside the model's vocabulary of ", vocab);
  }

 private:
  std::variant<est::TokenBuffer, est::TokenFile> v_;
};

/// The tokenizer.json of `--tokenizer hf`: --tokenizer-file, or the one beside --init-from.
inline std::filesystem::path hf_tokenizer_file(const RunConfig& run) {
  if (!run.tokenizer_file.empty()) return run.tokenizer_file;
  est::require<est::value_error>(!run.init_from.empty(), "--tokenizer hf needs --tokenizer-file "
                                 "(a Hugging Face tokenizer.json), or --init-from a checkpoint "
                                 "that holds one");
  std::error_code ec;
  const std::filesystem::path from = run.init_from;
  const auto file = (std::filesystem::is_directory(from, ec) ? from : from.parent_path()) /
                    "tokenizer.json";
  est::require<est::value_error>(std::filesystem::exists(file, ec), "--tokenizer hf: '",
                                 file.string(), "' does not exist (give --tokenizer-file)");
  return file;
}

/// A tokenizer chosen at run time: bytes, GPT-2's BPE files, or a Hugging Face tokenizer.json.
class Tokenizer {
 public:
  explicit Tokenizer(const RunConfig& run) {
    if (run.tokenizer == "byte") return;
    if (run.tokenizer == "hf") {
      hf_ = est::HfTokenizer::load(hf_tokenizer_file(run));
      return;
    }
    est::require<est::value_error>(run.tokenizer == "gpt2", "--tokenizer: expected 'byte', "
                                   "'gpt2' or 'hf', got '", run.tokenizer, "'");
    est::require<est::value_error>(!run.gpt2_dir.empty(), "--tokenizer gpt2 needs --gpt2-dir, "
                                   "the directory holding encoder.json and vocab.bpe");
    const std::filesystem::path dir = run.gpt2_dir;
    gpt2_ = est::Gpt2Tokenizer::load(dir / "encoder.json", dir / "vocab.bpe");
  }
  [[nodiscard]] int vocab_size() const {
    return gpt2_ ? gpt2_->vocab_size() : hf_ ? hf_->vocab_size() : 256;
  }
  [[nodiscard]] std::vector<std::int32_t> encode(std::string_view text) const {
    return gpt2_ ? gpt2_->encode(text) : hf_ ? hf_->encode(text) : est::ByteTokenizer().encode(text);
  }
  [[nodiscard]] std::string decode(std::span<const std::int32_t> ids) const {
    return gpt2_ ? gpt2_->decode(ids) : hf_ ? hf_->decode(ids) : est::ByteTokenizer().decode(ids);
  }

 private:
  std::optional<est::Gpt2Tokenizer> gpt2_;
  std::optional<est::HfTokenizer> hf_;
};

/// The first four bytes of `path` are the llm.c token-shard magic.
inline bool starts_with_llmc_magic(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return false;
  std::ifstream in(path, std::ios::binary);
  unsigned char b[4] = {};
  if (!in.read(reinterpret_cast<char*>(b), 4)) return false;
  const std::uint32_t word = b[0] | (b[1] << 8) | (b[2] << 16) | (std::uint32_t(b[3]) << 24);
  return word == std::uint32_t(est::TokenFile::llmc_magic);
}

/// Reads `path` as --data-format says: `auto` takes a .bin file for a token file (an llm.c shard
/// or a headerless uint16 stream, told apart by est::TokenFile) and anything else for text, but
/// refuses a file that is not .bin and starts with the llm.c magic (a shard under another name,
/// which would otherwise be tokenized as text); `text`, `llmc` and `uint16` force one reading.
inline Tokens load_tokens(const std::string& path, const Tokenizer& tokenizer,
                          const std::string& format) {
  if (format == "llmc") return Tokens(est::TokenFile::open(path, est::TokenFileFormat::llmc));
  if (format == "uint16") {
    return Tokens(est::TokenFile::open(path, est::TokenFileFormat::raw_uint16));
  }
  if (format == "auto") {
    if (std::filesystem::path(path).extension() == ".bin") return Tokens(est::TokenFile::open(path));
    est::require<est::value_error>(!starts_with_llmc_magic(path), "'", path, "' starts with the "
                                   "llm.c token-shard magic 20240520 but is not named .bin; "
                                   "rename it to .bin or pass --data-format llmc to read it as "
                                   "tokens (or --data-format text to tokenize its bytes)");
  } else {
    est::require<est::value_error>(format == "text", "--data-format: expected auto, text, llmc "
                                   "or uint16, got '", format, "'");
  }
  return Tokens(est::TokenBuffer(tokenizer.encode(est::read_text_corpus(path))));
}

/// The training and validation token sources and ranges of a run.
struct Dataset {
  std::string name;
  std::optional<Tokens> train, val;  // val empty: the tail of train
  est::TokenRange train_range, val_range;
  [[nodiscard]] const Tokens& val_source() const { return val ? *val : *train; }
};

/// Token ids must be ids of the run's tokenizer (which fits the model's vocabulary).
inline void check_ids(const Tokens& tokens, int vocab, const std::string& what, const RunConfig& run) {
  try {
    tokens.check_vocab(vocab, what);
  } catch (const est::value_error& e) {
    est::fail<est::value_error>(e.what(), " (the ", run.tokenizer, " tokenizer has ", vocab,
                                " tokens", run.tokenizer == "byte" ? "; GPT-2 token files need "
                                "--tokenizer gpt2 and a preset with GPT-2's vocabulary" : "",
                                ")");
  }
}

/// Training and validation tokens; ids are checked against the tokenizer's vocabulary.
inline Dataset load_dataset(const RunConfig& run, const Tokenizer& tokenizer) {
  const int vocab = tokenizer.vocab_size();
  Dataset d;
  d.name = run.data.empty() ? default_corpus : run.data;
  d.train.emplace(load_tokens(d.name, tokenizer, run.data_format));
  check_ids(*d.train, vocab, d.name, run);
  if (!run.val_data.empty()) {
    d.val.emplace(load_tokens(run.val_data, tokenizer, run.data_format));
    check_ids(*d.val, vocab, run.val_data, run);
    d.train_range = {0, d.train->size()};
    d.val_range = {0, d.val->size()};
  } else {
    est::require<est::value_error>(run.val_fraction > 0 && run.val_fraction < 1,
                                   "--val-fraction must be in (0, 1), got ", run.val_fraction);
    const est::Index n = d.train->size();
    const auto val = static_cast<est::Index>(double(n) * run.val_fraction);
    d.train_range = {0, n - val};
    d.val_range = {n - val, val};
  }
  return d;
}

}  // namespace est_train

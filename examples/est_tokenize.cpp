// est-tokenize: turns text into token files for est-train (llm.c's shard format: a 1024-byte
// header, then uint16 tokens), split into a training and a validation file.
//
//   est-tokenize --out data/shakespeare book.txt             byte-level tokens
//   est-tokenize --tokenizer gpt2 --gpt2-dir gpt2/ --out data/shakespeare book.txt
//   est-tokenize --tokenizer hf --tokenizer-file tokenizer.json --out data/shakespeare book.txt
//
// writes data/shakespeare_train.bin and data/shakespeare_val.bin (the last --val-fraction).

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include <est/data/byte_tokenizer.hpp>
#include <est/data/gpt2_tokenizer.hpp>
#include <est/data/hf_tokenizer.hpp>
#include <est/data/text_corpus.hpp>
#include <est/data/token_file.hpp>

int main(int argc, char** argv) {
  CLI::App app{"est-tokenize: text (a file or a directory of files) to train/val token files in "
               "llm.c's shard format"};
  std::string input, out, tokenizer = "byte", gpt2_dir, tokenizer_file;
  double val_fraction = 0.1;
  app.add_option("input", input, "text file or directory")->required();
  app.add_option("--out", out, "output prefix: writes PREFIX_train.bin and PREFIX_val.bin")
      ->required();
  app.add_option("--tokenizer", tokenizer, "byte, gpt2 (--gpt2-dir) or hf (--tokenizer-file)")
      ->check(CLI::IsMember({"byte", "gpt2", "hf"}))->capture_default_str();
  app.add_option("--tokenizer-file", tokenizer_file, "a Hugging Face tokenizer.json (BPE: "
                 "byte-level or with byte fallback) for --tokenizer hf")->check(CLI::ExistingFile);
  app.add_option("--gpt2-dir", gpt2_dir, "directory with GPT-2's encoder.json and vocab.bpe")
      ->check(CLI::ExistingDirectory);
  app.add_option("--val-fraction", val_fraction, "fraction of the tokens held out")
      ->check(CLI::Range(0.0, 0.5))->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  try {
    const std::string text = est::read_text_corpus(input);
    std::vector<std::int32_t> tokens;
    if (tokenizer == "gpt2") {
      est::require<est::value_error>(!gpt2_dir.empty(), "--tokenizer gpt2 needs --gpt2-dir");
      const auto gpt2 = est::Gpt2Tokenizer::load(std::filesystem::path(gpt2_dir) / "encoder.json",
                                                 std::filesystem::path(gpt2_dir) / "vocab.bpe");
      tokens = gpt2.encode(text);
    } else if (tokenizer == "hf") {
      est::require<est::value_error>(!tokenizer_file.empty(), "--tokenizer hf needs "
                                     "--tokenizer-file");
      tokens = est::HfTokenizer::load(tokenizer_file).encode(text);
    } else {
      tokens = est::ByteTokenizer().encode(text);
    }
    const auto val = static_cast<std::size_t>(double(tokens.size()) * val_fraction);
    const std::span<const std::int32_t> all(tokens);
    est::require<est::value_error>(val >= 1 && val < tokens.size(), "'", input, "' gives ",
                                   tokens.size(), " tokens: too few to split with --val-fraction ",
                                   val_fraction);
    // --out data/book writes into data/, made when missing.
    const auto parent = std::filesystem::path(out + "_train.bin").parent_path();
    std::error_code ec;
    if (!parent.empty()) std::filesystem::create_directories(parent, ec);
    est::require<est::io_error>(!ec, "--out: cannot create the directory '", parent.string(),
                                "': ", ec.message());
    est::write_llmc_tokens(out + "_train.bin", all.first(tokens.size() - val));
    est::write_llmc_tokens(out + "_val.bin", all.last(val));
    std::printf("%zu bytes -> %zu tokens (%s): %s_train.bin (%zu), %s_val.bin (%zu)\n",
                text.size(), tokens.size(), tokenizer.c_str(), out.c_str(), tokens.size() - val,
                out.c_str(), val);
    return 0;
  } catch (const est::error& e) {
    std::fprintf(stderr, "est-tokenize: %s\n", e.what());
    return 1;
  }
}

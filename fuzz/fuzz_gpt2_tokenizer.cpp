// GPT-2's tokenizer files: encoder.json, NUL, vocab.bpe, NUL, text. Load both files, encode the
// text and decode the ids.

#include <est/data/gpt2_tokenizer.hpp>

#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto parts = est_fuzz::split(data, size, 3);
  if (parts.size() < 3) return 0;
  const auto encoder = est_fuzz::write_input(parts[0], "encoder.json");
  const auto merges = est_fuzz::write_input(parts[1], "vocab.bpe");
  try {
    const auto tokenizer = est::Gpt2Tokenizer::load(encoder, merges);
    const auto ids = tokenizer.encode(parts[2]);
    (void)tokenizer.decode(ids);
  } catch (const est::error&) {
  }
  return 0;
}

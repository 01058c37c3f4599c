// A Hugging Face tokenizer.json, NUL, text: read it, encode the text, decode the ids.

#include <est/data/hf_tokenizer.hpp>

#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto parts = est_fuzz::split(data, size, 2);
  const auto path = est_fuzz::write_input(parts[0], "tokenizer.json");
  try {
    const auto tokenizer = est::HfTokenizer::load(path);
    if (parts.size() == 2) {
      const auto ids = tokenizer.encode(parts[1]);
      (void)tokenizer.decode(ids);
    }
  } catch (const est::error&) {
  }
  return 0;
}

// A token file in each format est reads (llm.c shard, headerless uint16, detected): open, read
// every token, check them against GPT-2's vocabulary.

#include <est/data/token_file.hpp>

#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto path = est_fuzz::write_input({reinterpret_cast<const char*>(data), size}, "t.bin");
  for (const auto format : {est::TokenFileFormat::detect, est::TokenFileFormat::llmc,
                            est::TokenFileFormat::raw_uint16}) {
    try {
      const auto file = est::TokenFile::open(path, format);
      std::vector<std::int32_t> all(std::size_t(file.size()));
      file.copy(0, file.size(), all);
      (void)file.max_token();
      file.check_vocab(50257);
    } catch (const est::error&) {
    }
  }
  return 0;
}

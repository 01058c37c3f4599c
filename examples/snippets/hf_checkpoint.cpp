// Loading transformers' GPT-2 small (docs/manual/guides/hf-checkpoint.md):
//   hf_checkpoint DIR     DIR: a download of the Hugging Face "gpt2" checkpoint
// Built by the suite; run by hand (the checkpoint is not part of est).

#include <cstdio>

#include <est/est.hpp>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR (transformers' gpt2 download)\n", argv[0]);
    return 2;
  }
  const char* directory = argv[1];
  try {
    est::Context<est::cpu> ctx(2);
    // [load-gpt2]
    est::Gpt2<est::presets::gpt2_small> model(ctx);   // vocabulary 50257, padded to 50304 rows
    const est::HfCheckpointInfo info = est::load_hf_checkpoint(directory, model);
    // info.weights: the file(s) read; info.config_checked: config.json matched the preset
    // [load-gpt2]
    std::printf("loaded %s\n", info.weights.c_str());
    return 0;
  } catch (const est::error& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
}

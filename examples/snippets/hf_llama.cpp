// A transformers checkpoint of a shape no preset has (docs/manual/guides/hf-checkpoint.md):
//   hf_llama DIR OUT     DIR: a transformers Llama checkpoint; OUT: where to save it again
// CTest runs it on tests/data/hf/llama_gqa_sharded (2 layers, 4 query heads in 2 key/value
// groups, rope_theta 500000, two shards) and checks that the saved directory loads back bit for
// bit.

#include <cstdio>
#include <vector>

#include <est/est.hpp>

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s DIR OUT (a transformers Llama checkpoint, a directory)\n",
                 argv[0]);
    return 2;
  }
  const char* directory = argv[1];
  const char* out = argv[2];
  try {
    est::Context<est::cpu> ctx(2);
    // [read-config]
    // What config.json describes, as an est configuration (io_error if est cannot build it).
    const est::LlamaConfig c = est::hf_checkpoint_config<est::LlamaConfig>(directory);
    std::printf("constexpr est::LlamaConfig mine{.layers = %d, .heads = %d, .kv_heads = %d, "
                ".width = %d, .mlp_hidden = %d, .vocab = %d, .context = %d, .rope_theta = %.1f, "
                ".norm_eps = %g, .tie_embeddings = %s};\n",
                c.layers, c.heads, c.kv_heads, c.width, c.mlp_hidden, c.vocab, c.context,
                c.rope_theta, c.norm_eps, c.tie_embeddings ? "true" : "false");
    // [read-config]

    // [load-own]
    constexpr est::LlamaConfig mine{.layers = 2, .heads = 4, .kv_heads = 2, .width = 32,
                                    .mlp_hidden = 48, .vocab = 64, .context = 16,
                                    .rope_theta = 500000.0, .norm_eps = 1e-6};
    est::Llama<mine> model(ctx);
    const est::HfCheckpointInfo info = est::load_hf_checkpoint(directory, model);
    // info.files: 2 for a checkpoint in two shards; info.config_checked: config.json matched
    // ... train the model (est::Trainer), then:
    est::save_hf_checkpoint(out, model);   // OUT/model.safetensors (F32) and OUT/config.json
    // [load-own]
    std::printf("loaded %s (%zu files, config.json %s)\n", info.weights.c_str(), info.files,
                info.config_checked ? "checked" : "absent");

    // The saved directory loads back, through its own config.json, bit for bit.
    est::Llama<mine> again(ctx, /*seed=*/7);
    const est::HfCheckpointInfo back = est::load_hf_checkpoint(out, again);
    const auto a = model.parameter_arena();
    const auto b = again.parameter_arena();
    bool same = back.config_checked && a.numel() == b.numel();
    for (est::Index i = 0; same && i < a.numel(); ++i) same = a.data()[i] == b.data()[i];
    std::printf("saved to %s and loaded back: %s\n", out, same ? "identical" : "DIFFERENT");
    return same ? 0 : 1;
  } catch (const est::error& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
}

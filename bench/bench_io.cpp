// Reading what users hand est, at sizes that once took minutes:
//   safetensors_header/N   open a safetensors file of N one-element tensors (header parse, every
//                          check); the target is N = 100,000 in well under a second — the
//                          header used to be parsed in quadratic time (28 s at 40,000 tensors)
//   json_file/N            read_json_file of an object of N keys (config.json, shard indexes)
//   hf_tokenizer_encode    tokenizer.json (Llama style, byte fallback) over 250 KB of mixed text
// `smoke/...` are the CI-sized runs.

#include <benchmark/benchmark.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <est/data/hf_tokenizer.hpp>
#include <est/io/json_file.hpp>
#include <est/io/safetensors.hpp>

namespace {

namespace fs = std::filesystem;

fs::path scratch(const std::string& name) {
  const auto dir = fs::temp_directory_path() / "est-bench-io";
  fs::create_directories(dir);
  return dir / name;
}

void BM_safetensors_header(benchmark::State& state) {
  const auto n = std::size_t(state.range(0));
  const auto path = scratch("many-" + std::to_string(n) + ".safetensors");
  if (!fs::exists(path)) {
    std::vector<float> values(n, 1.0f);
    std::vector<std::string> names(n);
    std::vector<est::SafetensorsEntry> entries;
    for (std::size_t i = 0; i < n; ++i) names[i] = "model.layers." + std::to_string(i) + ".w";
    for (std::size_t i = 0; i < n; ++i) {
      entries.push_back(est::safetensors_entry<float>(names[i], {1},
                                                      std::span<const float>(values).subspan(i, 1)));
    }
    est::write_safetensors(path, entries, {});
  }
  for (auto _ : state) {
    const auto file = est::SafetensorsFile::open(path);
    benchmark::DoNotOptimize(file.size());
  }
  state.counters["tensors/s"] = benchmark::Counter(double(n), benchmark::Counter::kIsIterationInvariantRate);
}

void BM_json_file(benchmark::State& state) {
  const auto n = std::size_t(state.range(0));
  const auto path = scratch("keys-" + std::to_string(n) + ".json");
  if (!fs::exists(path)) {
    std::ofstream out(path);
    out << "{\"weight_map\": {";
    for (std::size_t i = 0; i < n; ++i) {
      out << (i ? ", " : "") << "\"model.layers." << i << ".w\": \"model-0000" << i % 7 << ".safetensors\"";
    }
    out << "}}";
  }
  for (auto _ : state) benchmark::DoNotOptimize(est::read_json_file(path, "bench").size());
  state.counters["keys/s"] = benchmark::Counter(double(n), benchmark::Counter::kIsIterationInvariantRate);
}

void BM_hf_tokenizer_encode(benchmark::State& state) {
  const fs::path data = EST_TEST_DATA_DIR;
  const auto tokenizer = est::HfTokenizer::load(data / "hf" / "tokenizer_llama.json");
  std::ifstream in(data / "tokenizer_mixed.txt", std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  const std::string s = text.str();
  for (auto _ : state) benchmark::DoNotOptimize(tokenizer.encode(s).size());
  state.SetBytesProcessed(std::int64_t(state.iterations()) * std::int64_t(s.size()));
}

}  // namespace

BENCHMARK(BM_safetensors_header)->Name("safetensors_header")->Arg(100000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_json_file)->Name("json_file")->Arg(100000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_hf_tokenizer_encode)->Name("hf_tokenizer_encode")->Unit(benchmark::kMillisecond);
BENCHMARK(BM_safetensors_header)->Name("smoke/safetensors_header")->Arg(2000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_json_file)->Name("smoke/json_file")->Arg(2000)->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();

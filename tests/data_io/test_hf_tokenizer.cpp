// Hugging Face tokenizer.json files against the `tokenizers` library: ids of tricky cases, of a
// mixed-script text with invalid UTF-8 and of tinyshakespeare + that text (1.35 MB), for a
// byte-level (GPT-2 style) tokenizer and a byte-fallback (Llama style) one in both of its file
// forms (tests/data/make_hf_tokenizers.py made the files and the expectations). The BPE merge
// engine against a naive reference, U+FFFD replacement against hand-worked cases, and refusals.

#include <catch2/catch.hpp>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <est/data/bpe_merges.hpp>
#include <est/data/gpt2_tokenizer.hpp>
#include <est/data/hf_tokenizer.hpp>
#include <est/io/json_file.hpp>

#include "../support/test_support.hpp"

namespace fs = std::filesystem;
using Ids = std::vector<std::int32_t>;

namespace {

const fs::path data_dir = EST_TEST_DATA_DIR;

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string from_hex(const std::string& hex) {
  std::string out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    out += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
  }
  return out;
}

std::uint64_t fnv1a(const Ids& ids, std::size_t first, std::size_t count) {
  std::uint64_t h = 0xCBF29CE484222325ull;
  for (std::size_t i = first; i < first + count && i < ids.size(); ++i) {
    const auto v = static_cast<std::uint32_t>(ids[i]);
    for (int k = 0; k < 4; ++k) h = (h ^ ((v >> (8 * k)) & 0xFF)) * 0x100000001B3ull;
  }
  return h;
}

/// The ids against {"count", "block_fnv1a64"}: reports the first block of 10000 that differs.
void check_summary(const Ids& ids, const nlohmann::json& expected) {
  CHECK(ids.size() == expected.at("count").get<std::size_t>());
  const auto& blocks = expected.at("block_fnv1a64");
  for (std::size_t b = 0; b < blocks.size(); ++b) {
    INFO("first differing block of 10000 ids: " << b);
    REQUIRE(fnv1a(ids, b * 10000, 10000) == blocks[b].get<std::uint64_t>());
  }
}

const nlohmann::json& expectations() {
  static const nlohmann::json j =
      est::read_json_file(data_dir / "hf" / "tokenizer_expected.json", "expectations");
  return j;
}

}  // namespace

TEST_CASE("tokenizer.json tokenizers give the tokenizers library's ids", "[tokenizer][hf]") {
  const std::string mixed = read_file(data_dir / "tokenizer_mixed.txt");
  const fs::path shakespeare = fs::path(EST_SHARED_DATA_DIR) / "tinyshakespeare.txt";
  for (const char* name : {"bytelevel", "llama", "llama_legacy"}) {
    DYNAMIC_SECTION(name) {
      const auto tok = est::HfTokenizer::load(data_dir / "hf" / ("tokenizer_" + std::string(name) + ".json"));
      const auto& e = expectations().at(name);
      CHECK(tok.vocab_size() == e.at("vocab_size").get<int>());
      for (const auto& c : e.at("cases")) {
        const std::string text = from_hex(c.at("hex"));
        INFO("text: " << text);
        CHECK(tok.encode(text) == c.at("ids").get<Ids>());
      }
      check_summary(tok.encode(mixed), e.at("mixed"));
      if (fs::exists(shakespeare)) {
        check_summary(tok.encode(read_file(shakespeare) + mixed), e.at("shakespeare_mixed"));
      } else {
        WARN("skipped the 1.35 MB corpus: " << shakespeare << " is absent");
      }
    }
  }
}

TEST_CASE("decode inverts encode", "[tokenizer][hf]") {
  const std::string mixed = read_file(data_dir / "tokenizer_mixed.txt");
  const auto bytes = est::HfTokenizer::load(data_dir / "hf" / "tokenizer_bytelevel.json");
  // Byte level is lossless (once invalid UTF-8 has become U+FFFD).
  CHECK(bytes.decode(bytes.encode(mixed)) == est::detail::replace_invalid_utf8(mixed));
  CHECK(bytes.decode(bytes.encode("a<|endoftext|>b")) == "a<|endoftext|>b");
  for (const char* name : {"llama", "llama_legacy"}) {
    const auto tok = est::HfTokenizer::load(data_dir / "hf" / ("tokenizer_" + std::string(name) + ".json"));
    const std::string text = "First Citizen:\nBefore we proceed, 日本語 👩‍💻 naïve\n  x";
    CHECK(tok.decode(tok.encode(text)) == text);
    // Characters outside the vocabulary come back through their <0xXX> bytes.
    const auto ids = tok.encode("🫠");
    CHECK(ids.size() >= 2);
    CHECK(tok.decode(ids) == "🫠");
  }
  EST_CHECK_THROWS((void)bytes.decode(Ids{bytes.vocab_size()}), est::value_error, "has no token");
}

TEST_CASE("ill-formed UTF-8 becomes U+FFFD per maximal subpart, as Python decodes it",
          "[tokenizer][hf]") {
  using est::detail::replace_invalid_utf8;
  const std::string r = "\xEF\xBF\xBD";
  CHECK(replace_invalid_utf8("abc") == "abc");
  CHECK(replace_invalid_utf8("a\xFF" "b") == "a" + r + "b");
  CHECK(replace_invalid_utf8("\xE2\x82 x") == r + " x");             // truncated 3-byte: one
  CHECK(replace_invalid_utf8("\xED\xA0\x80") == r + r + r);          // surrogate: three
  CHECK(replace_invalid_utf8("\xF0\x9F\x98") == r);                  // truncated 4-byte: one
  CHECK(replace_invalid_utf8("\xC0\xAF") == r + r);                  // overlong: two
  CHECK(replace_invalid_utf8("\xF4\x90\x80\x80") == r + r + r + r);  // past U+10FFFF: four
  CHECK(replace_invalid_utf8("\xE0\x80\xAF") == r + r + r);          // overlong 3-byte
  CHECK(replace_invalid_utf8("\xC3") == r);
  CHECK(replace_invalid_utf8("\xF0\x9F\x98\x80") == "\xF0\x9F\x98\x80");  // 😀 stays
}

TEST_CASE("BPE merges equal the naive lowest-rank, leftmost-first merging", "[tokenizer][hf]") {
  std::mt19937 rng(7);
  for (int trial = 0; trial < 200; ++trial) {
    const int alphabet = 2 + int(rng() % 4);
    est::BpeMerges merges;
    std::vector<std::tuple<int, int, int>> table;  // (left, right, merged) by rank
    int next_id = alphabet;
    for (int rank = 0; rank < 12; ++rank) {
      const int left = int(rng() % std::uint32_t(next_id)), right = int(rng() % std::uint32_t(next_id));
      bool seen = false;
      for (const auto& [l, r, m] : table) seen = seen || (l == left && r == right);
      if (seen) continue;
      table.emplace_back(left, right, next_id);
      merges.add(left, right, std::int32_t(table.size() - 1), next_id++);
    }
    Ids word(std::size_t(1 + rng() % 40));
    for (auto& s : word) s = std::int32_t(rng() % std::uint32_t(alphabet));
    // Naive: find the lowest-rank adjacent pair (leftmost among equals), merge it, repeat.
    Ids naive = word;
    for (;;) {
      std::size_t best_pos = 0;
      int best_rank = -1;
      for (std::size_t i = 0; i + 1 < naive.size(); ++i) {
        for (std::size_t k = 0; k < table.size(); ++k) {
          const auto& [l, r, m] = table[k];
          if (naive[i] == l && naive[i + 1] == r && (best_rank < 0 || int(k) < best_rank)) {
            best_rank = int(k);
            best_pos = i;
          }
        }
      }
      if (best_rank < 0) break;
      naive[best_pos] = std::get<2>(table[std::size_t(best_rank)]);
      naive.erase(naive.begin() + std::ptrdiff_t(best_pos) + 1);
    }
    Ids fast = word;
    merges.apply(fast);
    INFO("trial " << trial);
    REQUIRE(fast == naive);
  }
}

TEST_CASE("tokenizer.json files est cannot apply are refused by name", "[tokenizer][hf][errors]") {
  const nlohmann::json base =
      est::read_json_file(data_dir / "hf" / "tokenizer_llama.json", "tokenizer.json");
  auto refused = [&](const std::function<void(nlohmann::json&)>& edit, const std::string& text) {
    nlohmann::json j = base;
    edit(j);
    INFO("expecting: " << text);
    EST_CHECK_THROWS((void)est::HfTokenizer::from_json(j, "tokenizer.json \"t\""), est::io_error,
                     text);
  };
  refused([](nlohmann::json& j) { j["model"]["type"] = "WordPiece"; }, "the model is WordPiece");
  refused([](nlohmann::json& j) { j["model"]["type"] = "Unigram"; }, "est reads BPE tokenizers only");
  refused([](nlohmann::json& j) {
    j["pre_tokenizer"] = {{"type", "Split"}, {"pattern", {{"Regex", "\\s+"}}}};
  }, "pre-tokenizer Split is not supported");
  refused([](nlohmann::json& j) { j["normalizer"] = {{"type", "NFKC"}}; },
          "normalizer {\"type\":\"NFKC\"} is not supported");
  refused([](nlohmann::json& j) { j["model"]["dropout"] = 0.1; }, "BPE dropout 0.1");
  refused([](nlohmann::json& j) { j["model"]["continuing_subword_prefix"] = "##"; },
          "\"continuing_subword_prefix\" \"##\" is not supported");
  refused([](nlohmann::json& j) { j["model"]["merges"].push_back({"zzz", "qqq"}); },
          "names a token that is not in the vocabulary");
  refused([](nlohmann::json& j) { j["model"]["vocab"]["another"] = 5; }, "id 5 belongs to two tokens");
  refused([](nlohmann::json& j) { j["model"]["vocab"]["<s>"] = -3; }, "expected an integer in [0, 2^30)");
  refused([](nlohmann::json& j) { j["added_tokens"][0]["single_word"] = true; }, "is single_word");
  refused([](nlohmann::json& j) { j.erase("model"); }, "expected an object with a \"model\"");
  refused([](nlohmann::json& j) { j["decoder"] = {{"type", "WordPiece"}}; },
          "decoder {\"type\":\"WordPiece\"} is not supported");
  refused([](nlohmann::json& j) { j["decoder"]["decoders"][3]["content"] = "x"; },
          "is not supported");  // a Strip of something else than spaces
  refused([](nlohmann::json& j) { j["decoder"]["decoders"][0]["content"] = "_"; },
          "is not supported");  // a Replace other than "▁" -> " "
  // Found by fuzz_hf_tokenizer: a Strip start too large for an integer was converted to int
  // (undefined behaviour); it is compared as JSON and refused.
  refused([](nlohmann::json& j) { j["decoder"]["decoders"][3]["start"] = 1.1111e63; },
          "is not supported");
  refused([](nlohmann::json& j) { j["decoder"]["decoders"][3]["stop"] = -1e300; },
          "is not supported");
  refused([](nlohmann::json& j) { j["model"]["type"] = 5; }, "malformed");
  refused([](nlohmann::json& j) { j["model"]["vocab"]["far"] = (1 << 30) - 1; },
          "is far beyond the 3001 tokens");
  refused([](nlohmann::json& j) { j["pre_tokenizer"]["replacement"] = ""; },
          "the Metaspace replacement \"\" is not one character");
  refused([](nlohmann::json& j) { j["pre_tokenizer"]["replacement"] = "ab"; }, "is not one character");
  refused([](nlohmann::json& j) {
    j["normalizer"] = {{"type", "Prepend"}, {"prepend", "x"}};
    j["added_tokens"][1]["normalized"] = true;
  }, "is matched after normalization");

  const est::testing::TempDir dir;
  std::ofstream(dir.path() / "bad.json") << "{\"model\": [";
  EST_CHECK_THROWS((void)est::HfTokenizer::load(dir.path() / "bad.json"), est::io_error,
                   "is not valid JSON");
}

TEST_CASE("merges written as \"a b\" strings (older files) read as pairs do", "[tokenizer][hf]") {
  nlohmann::json j =
      est::read_json_file(data_dir / "hf" / "tokenizer_bytelevel.json", "tokenizer.json");
  const auto pairs = est::HfTokenizer::from_json(j, "pairs");
  for (auto& m : j["model"]["merges"]) m = m[0].get<std::string>() + " " + m[1].get<std::string>();
  const auto strings = est::HfTokenizer::from_json(j, "strings");
  const std::string mixed = read_file(data_dir / "tokenizer_mixed.txt");
  CHECK(strings.encode(mixed) == pairs.encode(mixed));
}

TEST_CASE("GPT-2's tokenizer.json, as Hugging Face ships it, gives est's GPT-2 tokenizer's ids",
          "[tokenizer][hf][gpt2]") {
  const fs::path gpt2 = fs::path(EST_SHARED_DATA_DIR) / "gpt2";
  const fs::path shakespeare = fs::path(EST_SHARED_DATA_DIR) / "tinyshakespeare.txt";
  if (!fs::exists(gpt2 / "encoder.json") || !fs::exists(shakespeare)) {
    WARN("skipped: GPT-2's files or tinyshakespeare.txt are absent from " << EST_SHARED_DATA_DIR);
    return;
  }
  // The gpt2 repository's tokenizer.json: encoder.json as the vocabulary, vocab.bpe's lines as
  // "a b" merges, the ByteLevel pre-tokenizer and decoder, <|endoftext|> added.
  nlohmann::json j;
  j["model"] = {{"type", "BPE"}, {"vocab", est::read_json_file(gpt2 / "encoder.json", "encoder")}};
  std::istringstream bpe(read_file(gpt2 / "vocab.bpe"));
  std::string line;
  std::getline(bpe, line);  // "#version: 0.2"
  j["model"]["merges"] = nlohmann::json::array();
  while (std::getline(bpe, line)) {
    if (!line.empty()) j["model"]["merges"].push_back(line);
  }
  j["added_tokens"] = {{{"id", 50256}, {"content", "<|endoftext|>"}, {"special", true}}};
  j["pre_tokenizer"] = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", true}};
  j["decoder"] = {{"type", "ByteLevel"}};
  const auto hf = est::HfTokenizer::from_json(j, "gpt2 tokenizer.json");
  const auto openai = est::Gpt2Tokenizer::load(gpt2 / "encoder.json", gpt2 / "vocab.bpe");
  CHECK(hf.vocab_size() == 50257);
  // Valid UTF-8 without "<|endoftext|>" (which OpenAI's encoder treats as text).
  const std::string text = est::detail::replace_invalid_utf8(
      read_file(shakespeare) + read_file(data_dir / "tokenizer_mixed.txt"));
  std::string plain;
  for (std::size_t pos = 0; pos < text.size();) {
    const auto at = text.find("<|endoftext|>", pos);
    plain += text.substr(pos, at == std::string::npos ? std::string::npos : at - pos);
    pos = at == std::string::npos ? text.size() : at + 13;
  }
  const auto ids = hf.encode(plain);
  CHECK(ids == openai.encode(plain));
  CHECK(hf.decode(ids) == plain);
  CHECK(hf.encode("a<|endoftext|>b") == Ids{64, 50256, 65});
}

TEST_CASE("added tokens strip Unicode white space; ignore_merges looks words up as spelled",
          "[tokenizer][hf]") {
  nlohmann::json j =
      est::read_json_file(data_dir / "hf" / "tokenizer_bytelevel.json", "tokenizer.json");
  const auto plain = est::HfTokenizer::from_json(j, "plain");
  j["added_tokens"][0]["lstrip"] = true;
  j["added_tokens"][0]["rstrip"] = true;
  const auto stripping = est::HfTokenizer::from_json(j, "stripping");
  // U+3000 (ideographic space) and U+00A0 are white space; the strips take them with the token.
  const std::string spaces = "\xE3\x80\x80 \xC2\xA0";
  const auto ids = stripping.encode("a" + spaces + "<|endoftext|>" + spaces + "b");
  CHECK(ids == Ids{plain.encode("a")[0], 0, plain.encode("b")[0]});

  // ignore_merges: a word that is itself a token is that token, looked up in the byte alphabet
  // ("Ġthe" for " the"), not merged.
  j["model"]["ignore_merges"] = true;
  const auto direct = est::HfTokenizer::from_json(j, "ignore_merges");
  const auto the = direct.id_of("\xC4\xA0the");
  REQUIRE(the.has_value());
  CHECK(direct.encode(" the") == Ids{*the});
  CHECK(direct.encode("x the") == plain.encode("x the"));
  // The raw bytes of "Ġ" are the word "Ä" + U+00A0 in the byte alphabet, not the token "Ġ".
  CHECK(direct.encode("\xC4\xA0") == plain.encode("\xC4\xA0"));
  CHECK(direct.encode("\xC4\xA0") != Ids{*direct.id_of("\xC4\xA0")});
}

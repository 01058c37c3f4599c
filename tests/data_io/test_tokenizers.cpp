// est/data/byte_tokenizer.hpp and est/data/gpt2_tokenizer.hpp: byte round trips; GPT-2's
// pre-tokenizer and BPE against the known encodings of ../shared/data/README.md and against ids
// computed independently by a Python reference of OpenAI's encoder
// (tests/data/make_gpt2_encodings.py -> tests/data/gpt2_encodings.json); BPE rules on small
// hand-made vocabularies; and every load error. Tests that need the real GPT-2 files skip, with
// a warning, when ../shared/data is absent.

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include <est/data/byte_tokenizer.hpp>
#include <est/data/gpt2_tokenizer.hpp>

#include "../support/test_support.hpp"

namespace fs = std::filesystem;
using Ids = std::vector<std::int32_t>;

namespace {

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in.good());
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::string random_bytes(std::mt19937_64& gen, std::size_t size) {
  std::uniform_int_distribution<int> byte(0, 255);
  std::string s(size, '\0');
  for (char& c : s) c = static_cast<char>(byte(gen));
  return s;
}

/// Random text that is mostly well-formed UTF-8 from several scripts, with invalid bytes mixed
/// in: the inputs where a scanner's UTF-8 handling could lose or duplicate a byte.
std::string random_mixed_text(std::mt19937_64& gen, std::size_t units) {
  static const std::vector<std::string> pool = {
      "a", "Z", "7", " ", " ", "  ", "\t", "\n", "'", "'s", "'ll", "!", ".", "é", "ß", "П", "日",
      "☃", "👍", "\u00a0", "\u3000", "\u0301", "\x80", "\xff", "\xc0\xaf", "\xe2\x98",
      "\xed\xa0\x80", "\xf4\x90\x80\x80", std::string(1, '\0')};
  std::uniform_int_distribution<std::size_t> pick(0, pool.size() - 1);
  std::string s;
  for (std::size_t i = 0; i < units; ++i) s += pool[pick(gen)];
  return s;
}

const nlohmann::json& fixture() {
  static const nlohmann::json doc =
      nlohmann::json::parse(read_file(fs::path(EST_TEST_DATA_DIR) / "gpt2_encodings.json"));
  return doc;
}

const fs::path gpt2_dir = fs::path(EST_SHARED_DATA_DIR) / "gpt2";

/// OpenAI's GPT-2 tokenizer from the shared data, loaded once; nullptr, with a warning, when
/// the files are absent (a clone without ../shared/data).
const est::Gpt2Tokenizer* real_gpt2() {
  static const std::optional<est::Gpt2Tokenizer> tokenizer =
      []() -> std::optional<est::Gpt2Tokenizer> {
    if (!fs::exists(gpt2_dir / "encoder.json") || !fs::exists(gpt2_dir / "vocab.bpe")) {
      return std::nullopt;
    }
    return est::Gpt2Tokenizer::load(gpt2_dir / "encoder.json", gpt2_dir / "vocab.bpe");
  }();
  if (!tokenizer) WARN("skipped: GPT-2 files not found in " << gpt2_dir.string());
  return tokenizer ? &*tokenizer : nullptr;
}

/// A fresh directory under the system's temporary directory, removed with its files.
struct TempDir {
  fs::path path;
  TempDir() {
    std::random_device seed;
    path = fs::temp_directory_path() / ("est_test_tokenizers_" + std::to_string(seed()));
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  fs::path write(const std::string& name, const std::string& content) const {
    std::ofstream(path / name, std::ios::binary) << content;
    return path / name;
  }
};

/// The spelling in GPT-2's byte alphabet of `bytes`, as encoder.json and vocab.bpe write it.
std::string spelled(std::string_view bytes) {
  std::string out;
  for (const char c : bytes) {
    est::detail::append_utf8(out, est::gpt2_byte_alphabet[static_cast<unsigned char>(c)]);
  }
  return out;
}

/// encoder.json text for a small vocabulary: byte b has id b, then `extra` tokens (given as
/// bytes) from 256 on, then "<|endoftext|>".
std::string small_encoder(const std::vector<std::string>& extra) {
  nlohmann::json encoder = nlohmann::json::object();
  for (int b = 0; b < 256; ++b) encoder[spelled(std::string(1, char(b)))] = b;
  for (std::size_t i = 0; i < extra.size(); ++i) encoder[spelled(extra[i])] = 256 + int(i);
  encoder["<|endoftext|>"] = 256 + int(extra.size());
  return encoder.dump();
}

/// A tokenizer with byte ids 0..255, `extra` tokens from 256 and the given merge lines.
est::Gpt2Tokenizer small_tokenizer(const TempDir& dir, const std::vector<std::string>& extra,
                                   const std::string& merges) {
  return est::Gpt2Tokenizer::load(dir.write("encoder.json", small_encoder(extra)),
                                  dir.write("vocab.bpe", "#version: 0.2\n" + merges));
}

std::uint64_t fnv1a_of_ids(const Ids& ids) {
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (const std::int32_t id : ids) {
    const auto u = static_cast<std::uint32_t>(id);
    for (int k = 0; k < 4; ++k) h = (h ^ ((u >> (8 * k)) & 0xFF)) * 0x100000001b3ull;
  }
  return h;
}

}  // namespace

TEST_CASE("ByteTokenizer maps each byte to its value and round-trips any bytes",
          "[tokenizer][bytes]") {
  const est::ByteTokenizer tok;
  CHECK(tok.vocab_size() == 256);
  CHECK(tok.encode(std::string("A\0\xff", 3)) == Ids{65, 0, 255});
  CHECK(tok.encode("").empty());
  std::mt19937_64 gen(7);
  for (std::size_t size : {0, 1, 2, 17, 1000, 4096}) {
    const std::string text = random_bytes(gen, size);
    const Ids ids = tok.encode(text);
    REQUIRE(ids.size() == text.size());
    for (const auto id : ids) CHECK((id >= 0 && id < 256));
    CHECK(tok.decode(ids) == text);
  }
  EST_CHECK_THROWS(tok.decode(Ids{1, 2, 256}), est::value_error,
                   "ByteTokenizer::decode: id 256 at position 2 is outside [0, 256)");
  EST_CHECK_THROWS(tok.decode(Ids{-1}), est::value_error, "id -1 at position 0");
}

TEST_CASE("GPT-2's byte alphabet", "[tokenizer][gpt2]") {
  const auto& alphabet = est::gpt2_byte_alphabet;
  CHECK(alphabet['A'] == U'A');
  CHECK(alphabet['!'] == U'!');
  CHECK(alphabet[0xE9] == U'\u00e9');      // printable Latin-1 stands for itself
  CHECK(alphabet[0x00] == U'\u0100');      // the 68 others follow U+0100 in byte order
  CHECK(alphabet['\n'] == U'\u010a');      // 'Ċ'
  CHECK(alphabet[' '] == U'\u0120');       // 'Ġ'
  CHECK(alphabet[0x7F] == U'\u0121');
  CHECK(alphabet[0xAD] == U'\u0143');      // soft hyphen, the last one
  std::vector<char32_t> sorted(alphabet.begin(), alphabet.end());
  std::sort(sorted.begin(), sorted.end());
  CHECK(std::adjacent_find(sorted.begin(), sorted.end()) == sorted.end());
  CHECK(sorted.back() == U'\u0143');
}

TEST_CASE("GPT-2 pre-tokenization matches the regex module's pieces", "[tokenizer][gpt2]") {
  for (const auto& c : fixture()["cases"]) {
    const std::string text = c["text"];
    INFO(c["name"].get<std::string>());
    std::vector<std::string> pieces;
    for (const auto piece : est::gpt2_pretokenize(text)) pieces.emplace_back(piece);
    CHECK(pieces == c["pieces"].get<std::vector<std::string>>());
  }
  CHECK(est::gpt2_pretokenize("").empty());
}

TEST_CASE("GPT-2 pre-tokenization of invalid UTF-8: each bad byte is punctuation",
          "[tokenizer][gpt2]") {
  using V = std::vector<std::string_view>;
  // A lone byte that cannot start a character joins no letter run ...
  CHECK(est::gpt2_pretokenize("caf\xe9 ok") == V{"caf", "\xe9", " ok"});
  CHECK(est::gpt2_pretokenize("caf\xc3\xa9 ok") == V{"caf\xc3\xa9", " ok"});  // well-formed é
  // ... but joins punctuation, and follows an optional space like punctuation.
  CHECK(est::gpt2_pretokenize("a\xff!?b") == V{"a", "\xff!?", "b"});
  CHECK(est::gpt2_pretokenize(" \xff\xfe") == V{" \xff\xfe"});
  // Truncated, overlong, surrogate and past-U+10FFFF sequences are bytes of that class too.
  CHECK(est::gpt2_pretokenize("x\xe2\x98y") == V{"x", "\xe2\x98", "y"});
  CHECK(est::gpt2_pretokenize("x\xc0\xafy") == V{"x", "\xc0\xaf", "y"});
  CHECK(est::gpt2_pretokenize("x\xed\xa0\x80y") == V{"x", "\xed\xa0\x80", "y"});
  CHECK(est::gpt2_pretokenize("x\xf4\x90\x80\x80y") == V{"x", "\xf4\x90\x80\x80", "y"});
  // A continuation byte after a letter does not extend it.
  CHECK(est::gpt2_pretokenize("ab\x80") == V{"ab", "\x80"});

  // On any bytes the pieces are non-empty and tile the text.
  std::mt19937_64 gen(11);
  for (int trial = 0; trial < 300; ++trial) {
    const std::string text =
        trial % 2 ? random_bytes(gen, gen() % 64) : random_mixed_text(gen, gen() % 40);
    std::string joined;
    for (const auto piece : est::gpt2_pretokenize(text)) {
      CHECK(!piece.empty());
      joined += piece;
    }
    CHECK(joined == text);
  }
}

TEST_CASE("GPT-2 BPE merges the lowest-ranked pair everywhere, left to right",
          "[tokenizer][gpt2][bpe]") {
  const TempDir dir;
  SECTION("a chain of merges and the byte fallback") {
    const auto tok = small_tokenizer(dir, {"ab", "abc", " abc"}, "a b\nab c\n\xc4\xa0 abc\n");
    CHECK(tok.vocab_size() == 260);
    CHECK(tok.eot_token() == 259);
    CHECK(tok.merge_count() == 3);
    // "abc abcd" -> pieces "abc", " abcd" -> [abc], [ abc, d].
    CHECK(tok.encode("abc abcd") == Ids{257, 258, 'd'});
    CHECK(tok.encode("cab") == Ids{'c', 256});
    CHECK(tok.decode(Ids{258, 256, 259}) == " abcab<|endoftext|>");
    CHECK(tok.token_bytes(258) == " abc");
  }
  SECTION("overlapping occurrences merge left to right") {
    const auto tok = small_tokenizer(dir, {"aa", "aaaa"}, "a a\naa aa\n");
    CHECK(tok.encode("aaa") == Ids{256, 'a'});
    CHECK(tok.encode("aaaa") == Ids{257});
    CHECK(tok.encode("aaaaa") == Ids{257, 'a'});
    CHECK(tok.encode("aaaaaaa") == Ids{257, 256, 'a'});
    const std::string run(1000, 'a');  // long pieces are not cached: the same answer
    const Ids ids = tok.encode(run);
    REQUIRE(ids.size() == 250);
    for (const auto id : ids) CHECK(id == 257);
  }
  SECTION("a pair formed during a pass waits for the pass to end, as in encoder.py") {
    // Merge 0 is "ab a", merge 1 "a b". encoder.py merges every "a b" in "abab" first, giving
    // [ab, ab], and only then looks for pairs again: "ab a" never applies. (A heap that merged
    // "ab a" as soon as it appeared would return [aba, b].)
    const auto tok = small_tokenizer(dir, {"ab", "aba"}, "ab a\na b\n");
    CHECK(tok.encode("abab") == Ids{256, 256});
    CHECK(tok.encode("aba") == Ids{257});  // after the pass, the pair is merged as usual
  }
  SECTION("a cache shared between calls and between tokenizers gives the same ids") {
    const auto chain = small_tokenizer(dir, {"ab", "abc", " abc"}, "a b\nab c\n\xc4\xa0 abc\n");
    const TempDir other_dir;
    const auto doubling = small_tokenizer(other_dir, {"ab", "aba"}, "a b\n");
    est::Gpt2Tokenizer::Cache cache(2);  // tiny: emptied again and again
    for (int round = 0; round < 3; ++round) {
      CHECK(chain.encode("abc abc ab x abc", cache) == chain.encode("abc abc ab x abc"));
      CHECK(cache.size() <= 2);
      CHECK(doubling.encode("abc abc", cache) == Ids{256, 'c', ' ', 256, 'c'});
    }
  }
}

TEST_CASE("GPT-2 encodes the README's examples", "[tokenizer][gpt2][shared-data]") {
  const auto* tok = real_gpt2();
  if (!tok) return;
  CHECK(tok->vocab_size() == 50257);
  CHECK(tok->eot_token() == 50256);
  CHECK(tok->merge_count() == 50000);
  CHECK(tok->encode("Hello world") == Ids{15496, 995});
  CHECK(tok->encode(" hello  world\n\nfoo123 \xe2\x98\x83") ==
        Ids{23748, 220, 995, 198, 198, 21943, 10163, 34719, 225});
  CHECK(tok->encode("<|endoftext|>") == Ids{27, 91, 437, 1659, 5239, 91, 29});
  CHECK(tok->decode(Ids{tok->eot_token()}) == "<|endoftext|>");
  CHECK(tok->encode("").empty());
}

TEST_CASE("GPT-2 matches the Python reference encoder", "[tokenizer][gpt2][shared-data]") {
  const auto* tok = real_gpt2();
  if (!tok) return;
  const auto& doc = fixture();
  est::Gpt2Tokenizer::Cache cache;
  for (const auto* group : {&doc["cases"], &doc["random"]}) {
    for (const auto& c : *group) {
      const std::string text = c["text"];
      INFO("text: " << text);
      const Ids expected = c["ids"];
      CHECK(tok->encode(text) == expected);
      CHECK(tok->encode(text, cache) == expected);
      CHECK(tok->decode(expected) == text);
    }
  }
  const auto& prefix = doc["tinyshakespeare_prefix"];
  const std::string text = prefix["text"];
  REQUIRE(text.size() == prefix["bytes"].get<std::size_t>());
  CHECK(tok->encode(text) == prefix["ids"].get<Ids>());
  if (fs::exists(fs::path(EST_SHARED_DATA_DIR) / "tinyshakespeare.txt")) {
    CHECK(read_file(fs::path(EST_SHARED_DATA_DIR) / "tinyshakespeare.txt").substr(0, text.size()) ==
          text);
  }
}

TEST_CASE("GPT-2 encodes all of tinyshakespeare as the reference does and decodes it back",
          "[tokenizer][gpt2][shared-data]") {
  const auto* tok = real_gpt2();
  if (!tok) return;
  const fs::path path = fs::path(EST_SHARED_DATA_DIR) / "tinyshakespeare.txt";
  if (!fs::exists(path)) {
    WARN("skipped: " << path.string() << " not found");
    return;
  }
  const std::string text = read_file(path);
  const auto& expected = fixture()["tinyshakespeare"];
  REQUIRE(text.size() == expected["bytes"].get<std::size_t>());
  const Ids ids = tok->encode(text);
  CHECK(ids.size() == expected["token_count"].get<std::size_t>());  // 338025
  CHECK(fnv1a_of_ids(ids) == expected["ids_fnv1a64"].get<std::uint64_t>());
  CHECK(tok->decode(ids) == text);
}

TEST_CASE("GPT-2 round-trips arbitrary bytes, invalid UTF-8 included",
          "[tokenizer][gpt2][shared-data]") {
  const auto* tok = real_gpt2();
  if (!tok) return;
  std::mt19937_64 gen(3);
  est::Gpt2Tokenizer::Cache cache(64);
  for (int trial = 0; trial < 400; ++trial) {
    const std::string text =
        trial % 2 ? random_bytes(gen, gen() % 200) : random_mixed_text(gen, gen() % 80);
    const Ids ids = tok->encode(text, cache);
    for (const auto id : ids) REQUIRE((id >= 0 && id < tok->vocab_size()));
    CHECK(tok->decode(ids) == text);
    CHECK(tok->encode(text) == ids);
  }
  // Every single byte is one token, the byte's own.
  for (int b = 0; b < 256; ++b) {
    const std::string byte(1, char(b));
    const Ids ids = tok->encode(byte);
    REQUIRE(ids.size() == 1);
    CHECK(tok->token_bytes(ids[0]) == byte);
  }
}

TEST_CASE("Gpt2Tokenizer::decode rejects ids outside the vocabulary", "[tokenizer][gpt2][errors]") {
  const TempDir dir;
  const auto tok = small_tokenizer(dir, {"ab"}, "a b\n");
  EST_CHECK_THROWS(tok.decode(Ids{1, 258}), est::value_error,
                   "Gpt2Tokenizer::decode: id 258 at position 1 is outside [0, 258)");
  EST_CHECK_THROWS(tok.decode(Ids{-3}), est::value_error, "id -3 at position 0");
  EST_CHECK_THROWS(tok.token_bytes(300), est::value_error, "id 300 is outside [0, 258)");
}

TEST_CASE("Gpt2Tokenizer::load names the file and the problem", "[tokenizer][gpt2][errors]") {
  const TempDir dir;
  const auto good_encoder = small_encoder({"ab"});
  const auto encoder = dir.write("encoder.json", good_encoder);
  const auto merges = dir.write("vocab.bpe", "#version: 0.2\na b\n");
  const auto load_encoder = [&](const std::string& json) {
    return est::Gpt2Tokenizer::load(dir.write("bad_encoder.json", json), merges);
  };
  const auto load_merges = [&](const std::string& text) {
    return est::Gpt2Tokenizer::load(encoder, dir.write("bad_vocab.bpe", text));
  };
  CHECK_NOTHROW(est::Gpt2Tokenizer::load(encoder, merges));

  SECTION("missing or unreadable files") {
    const auto missing = (dir.path / "nowhere" / "encoder.json").string();
    EST_CHECK_THROWS(est::Gpt2Tokenizer::load(missing, merges), est::io_error, missing);
    EST_CHECK_THROWS(est::Gpt2Tokenizer::load(missing, merges), est::io_error, "does not exist");
    const auto missing_merges = (dir.path / "vocab_missing.bpe").string();
    EST_CHECK_THROWS(est::Gpt2Tokenizer::load(encoder, missing_merges), est::io_error,
                     missing_merges);
    EST_CHECK_THROWS(est::Gpt2Tokenizer::load(dir.path, merges), est::io_error,
                     "is a directory");
  }
  SECTION("encoder.json") {
    EST_CHECK_THROWS(load_encoder("{\"a\": 1,"), est::io_error, "is not valid JSON");
    EST_CHECK_THROWS(load_encoder("{\"a\": 1,"), est::io_error, "bad_encoder.json");
    EST_CHECK_THROWS(load_encoder("[1, 2]"), est::io_error,
                     "holds a JSON array, expected an object");
    EST_CHECK_THROWS(load_encoder("{}"), est::io_error, "has 0 tokens");
    // A token value nested 100,000 arrays deep once overflowed the stack.
    EST_CHECK_THROWS(load_encoder("{\"a\": " + std::string(100000, '[') +
                                  std::string(100000, ']') + "}"),
                     est::io_error, "nests deeper than 4 levels");
    EST_CHECK_THROWS(load_encoder(std::string("{\"a\": 1}\0junk", 13)), est::io_error,
                     "holds a NUL byte");
    nlohmann::json e = nlohmann::json::parse(good_encoder);
    auto with = [&](const std::string& key, const nlohmann::json& value) {
      nlohmann::json copy = e;
      copy[key] = value;
      return copy.dump();
    };
    EST_CHECK_THROWS(load_encoder(with("ab", 1.5)), est::io_error,
                     "token \"ab\" has id 1.5, expected an integer");
    EST_CHECK_THROWS(load_encoder(with("ab", "256")), est::io_error, "expected an integer");
    EST_CHECK_THROWS(load_encoder(with("ab", 5)), est::io_error, "id 5 is given to both");
    EST_CHECK_THROWS(load_encoder(with("ab", 300)), est::io_error,
                     "token \"ab\" has id 300, expected an id in [0, 258) (ids must be dense");
    EST_CHECK_THROWS(load_encoder(with("ab", -1)), est::io_error, "has id -1, expected an id in");
    nlohmann::json no_byte = e;
    no_byte.erase("A");
    no_byte["zz"] = 65;  // keep the ids dense
    EST_CHECK_THROWS(load_encoder(no_byte.dump()), est::io_error, "has no token for byte 65");
    EST_CHECK_THROWS(load_encoder(with("\xe2\x98\x83", 258)), est::io_error,
                     "has a character outside GPT-2's byte alphabet");
    nlohmann::json no_eot = e;
    no_eot.erase("<|endoftext|>");
    EST_CHECK_THROWS(load_encoder(no_eot.dump()), est::io_error, "has no \"<|endoftext|>\" token");
  }
  SECTION("vocab.bpe") {
    EST_CHECK_THROWS(load_merges("#version: 0.2\na b c\n"), est::io_error,
                     "line 2 of the merges file");
    EST_CHECK_THROWS(load_merges("#version: 0.2\na b c\n"), est::io_error,
                     "is \"a b c\", expected two tokens separated by one space");
    EST_CHECK_THROWS(load_merges("#version: 0.2\nab\n"), est::io_error, "expected two tokens");
    EST_CHECK_THROWS(load_merges("a b\n\na b\n"), est::io_error, "line 2 of the merges file");
    EST_CHECK_THROWS(load_merges("#version: 0.2\na  b\n"), est::io_error, "expected two tokens");
    EST_CHECK_THROWS(load_merges("#version: 0.2\na b\nx \xe2\x98\x83\n"), est::io_error,
                     "line 3 of the merges file");
    EST_CHECK_THROWS(load_merges("#version: 0.2\na b\nx \xe2\x98\x83\n"), est::io_error,
                     "the token \"\xe2\x98\x83\" is not in the encoder");
    EST_CHECK_THROWS(load_merges("#version: 0.2\nb c\n"), est::io_error,
                     "their concatenation \"bc\" is not in the encoder");
    EST_CHECK_THROWS(load_merges("#version: 0.2\na b\r\na b\n"), est::io_error,
                     "line 3 of the merges file");
    EST_CHECK_THROWS(load_merges("#version: 0.2\na b\r\na b\n"), est::io_error,
                     "repeats the merge \"a b\" of line 2");
    // Accepted: no version line, CRLF line ends, no merges at all.
    CHECK(load_merges("a b\r\n").merge_count() == 1);
    CHECK(load_merges("#version: 0.2\n").merge_count() == 0);
    CHECK(load_merges("").merge_count() == 0);
  }
}

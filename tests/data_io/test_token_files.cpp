// est/data/token_file.hpp: llm.c shards and raw uint16 streams written and read back, files built
// byte by byte in the test (independent of est's writers), format detection, and rejection of
// malformed files and out-of-range ids with messages that name the file and the problem.

#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include <est/data/token_file.hpp>

#include "../support/test_support.hpp"

using est::testing::Bytes;
using est::testing::read_bytes;
using est::testing::TempDir;
using est::testing::write_bytes;

namespace fs = std::filesystem;
using est::TokenFile;
using est::TokenFileFormat;

namespace {



void append_le32(Bytes& b, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) b.push_back(static_cast<unsigned char>(v >> (8 * i)));
}

void append_le16(Bytes& b, std::uint32_t v) {
  b.push_back(static_cast<unsigned char>(v & 0xff));
  b.push_back(static_cast<unsigned char>(v >> 8));
}

/// An llm.c shard assembled by hand: the three header fields, zero padding to 1024 bytes, ids.
Bytes llmc_bytes(std::uint32_t magic, std::uint32_t version, std::uint32_t count,
                 const std::vector<std::uint32_t>& ids) {
  Bytes b;
  append_le32(b, magic);
  append_le32(b, version);
  append_le32(b, count);
  b.resize(1024, 0);
  for (auto id : ids) append_le16(b, id);
  return b;
}

Bytes raw_bytes(const std::vector<std::uint32_t>& ids) {
  Bytes b;
  for (auto id : ids) append_le16(b, id);
  return b;
}

std::vector<std::int32_t> all_tokens(const TokenFile& f) {
  std::vector<std::int32_t> out(static_cast<std::size_t>(f.size()));
  f.copy(0, f.size(), out);
  return out;
}

}  // namespace

TEST_CASE("llm.c shards round-trip, byte for byte as llm.c lays them out", "[token_file]") {
  TempDir dir;
  const auto path = dir / "shard.bin";
  const std::vector<std::int32_t> tokens{0, 1, 65535, 50256, 12345};  // odd count, maximum id
  est::write_llmc_tokens(path, tokens);

  const Bytes expected = llmc_bytes(20240520, 1, 5, {0, 1, 65535, 50256, 12345});
  CHECK(read_bytes(path) == expected);
  CHECK(fs::file_size(path) == 1024 + 2 * 5);

  for (auto format : {TokenFileFormat::llmc, TokenFileFormat::detect}) {
    const TokenFile f = TokenFile::open(path, format);
    CHECK(f.format() == TokenFileFormat::llmc);
    CHECK(f.path() == path);
    REQUIRE(f.size() == 5);
    for (std::size_t i = 0; i < tokens.size(); ++i) CHECK(f.token(est::Index(i)) == tokens[i]);
    CHECK(all_tokens(f) == tokens);
    CHECK(f.max_token() == 65535);
  }
}

TEST_CASE("raw uint16 streams round-trip, byte for byte", "[token_file]") {
  TempDir dir;
  const auto path = dir / "train.bin";
  const std::vector<std::int32_t> tokens{7, 65535, 0, 256, 255, 1, 50000};
  est::write_raw_uint16_tokens(path, tokens);
  CHECK(read_bytes(path) == raw_bytes({7, 65535, 0, 256, 255, 1, 50000}));

  for (auto format : {TokenFileFormat::raw_uint16, TokenFileFormat::detect}) {
    const TokenFile f = TokenFile::open(path, format);
    CHECK(f.format() == TokenFileFormat::raw_uint16);
    CHECK(f.size() == 7);
    CHECK(all_tokens(f) == tokens);
    CHECK(f.max_token() == 65535);
  }
}

TEST_CASE("token files read any range, at odd positions, and survive a move", "[token_file]") {
  TempDir dir;
  std::mt19937_64 gen(42);
  std::uniform_int_distribution<int> pick(0, 65535);
  std::vector<std::int32_t> tokens(40'001);  // spans several of the writer's blocks
  for (auto& t : tokens) t = pick(gen);
  est::write_llmc_tokens(dir / "a.bin", tokens);
  est::write_raw_uint16_tokens(dir / "b.bin", tokens);

  for (const char* name : {"a.bin", "b.bin"}) {
    TokenFile moved = TokenFile::open(dir / name);
    const TokenFile f = std::move(moved);
    REQUIRE(f.size() == est::Index(tokens.size()));
    for (est::Index first : {0, 1, 3, 1023, 20'000, 39'990}) {
      for (est::Index count : {0, 1, 2, 7}) {
        std::vector<std::int32_t> out(9, -1);
        f.copy(first, count, out);
        for (est::Index i = 0; i < count; ++i)
          CHECK(out[std::size_t(i)] == tokens[std::size_t(first + i)]);
        CHECK(out[std::size_t(count)] == -1);  // nothing past `count` is written
      }
    }
    CHECK(all_tokens(f) == tokens);
    CHECK(f.max_token() == *std::max_element(tokens.begin(), tokens.end()));
  }
}

TEST_CASE("files built by hand are read independently of est's writers", "[token_file]") {
  TempDir dir;
  // Ids whose two bytes differ, so a byte-order mistake shows.
  write_bytes(dir / "shard.bin", llmc_bytes(20240520, 1, 3, {0x0102, 0xfffe, 0x8001}));
  const TokenFile shard = TokenFile::open(dir / "shard.bin");
  CHECK(shard.format() == TokenFileFormat::llmc);
  CHECK(all_tokens(shard) == std::vector<std::int32_t>{0x0102, 0xfffe, 0x8001});

  // A one-token raw file is too short for detection to look at a magic.
  write_bytes(dir / "one.bin", raw_bytes({0xabcd}));
  const TokenFile one = TokenFile::open(dir / "one.bin");
  CHECK(one.format() == TokenFileFormat::raw_uint16);
  CHECK(one.token(0) == 0xabcd);
}

TEST_CASE("format detection and forcing a format", "[token_file]") {
  TempDir dir;
  est::write_llmc_tokens(dir / "shard.bin", std::vector<std::int32_t>{5, 6});
  // Read as raw, the header becomes tokens: the magic 20240520 = 0x0134D888 is ids 0xD888, 0x0134.
  const TokenFile as_raw = TokenFile::open(dir / "shard.bin", TokenFileFormat::raw_uint16);
  CHECK(as_raw.format() == TokenFileFormat::raw_uint16);
  CHECK(as_raw.size() == 512 + 2);
  CHECK(as_raw.token(0) == 0xD888);
  CHECK(as_raw.token(1) == 0x0134);
  CHECK(as_raw.token(512) == 5);

  // A raw stream (no magic) detects as raw and is refused when forced to be a shard.
  std::vector<std::int32_t> tokens(600, 17);
  est::write_raw_uint16_tokens(dir / "raw.bin", tokens);
  CHECK(TokenFile::open(dir / "raw.bin").format() == TokenFileFormat::raw_uint16);
  EST_CHECK_THROWS(TokenFile::open(dir / "raw.bin", TokenFileFormat::llmc), est::io_error,
                   "bad llm.c magic 1114129, expected 20240520");
}

TEST_CASE("malformed token files are rejected with the file and the problem named",
          "[token_file][errors]") {
  TempDir dir;
  const auto path = dir / "bad.bin";
  const std::string name = path.string();
  auto rejects = [&](const Bytes& bytes, TokenFileFormat format, const std::string& text) {
    write_bytes(path, bytes);
    INFO("expecting: " << text);
    EST_CHECK_THROWS(TokenFile::open(path, format), est::io_error, name);
    EST_CHECK_THROWS(TokenFile::open(path, format), est::io_error, text);
  };

  rejects(llmc_bytes(12345, 1, 2, {1, 2}), TokenFileFormat::llmc,
          "bad llm.c magic 12345, expected 20240520");
  rejects(llmc_bytes(20240520, 2, 2, {1, 2}), TokenFileFormat::detect,
          "unsupported llm.c version 2, expected 1");
  rejects(llmc_bytes(20240520, 1, 3, {1, 2}), TokenFileFormat::detect,
          "says 3 tokens, so the file should be 1030 bytes, but it is 1028 bytes");
  rejects(llmc_bytes(20240520, 1, 1, {1, 2}), TokenFileFormat::detect,
          "should be 1026 bytes, but it is 1028 bytes");
  rejects(llmc_bytes(20240520, 1, 0, {}), TokenFileFormat::detect, "token count is 0");
  rejects(llmc_bytes(20240520, 1, 0xffffffffu, {1}), TokenFileFormat::detect, "token count is -1");
  Bytes truncated = llmc_bytes(20240520, 1, 2, {});
  truncated.resize(600);
  rejects(truncated, TokenFileFormat::detect,
          "is 600 bytes, smaller than the 1024-byte llm.c header");
  rejects(Bytes(100, 0), TokenFileFormat::llmc, "is 100 bytes, smaller than the 1024-byte");
  rejects(Bytes{1, 2, 3, 4, 5, 6, 7}, TokenFileFormat::raw_uint16,
          "is 7 bytes, an odd length for a stream of uint16 tokens");
  rejects(Bytes{1, 2, 3}, TokenFileFormat::detect, "is 3 bytes, an odd length");
  for (auto format :
       {TokenFileFormat::llmc, TokenFileFormat::raw_uint16, TokenFileFormat::detect}) {
    rejects(Bytes{}, format, "is empty");
  }

  EST_CHECK_THROWS(TokenFile::open(dir / "missing.bin"), est::io_error,
                   (dir / "missing.bin").string() + "\": No such file or directory");
  fs::create_directories(dir / "a_directory");
  EST_CHECK_THROWS(TokenFile::open(dir / "a_directory"), est::io_error, "is not a regular file");
  // A FIFO would block the open until a writer came: it is refused at once instead.
  REQUIRE(::mkfifo((dir / "a_fifo.bin").c_str(), 0600) == 0);
  EST_CHECK_THROWS(TokenFile::open(dir / "a_fifo.bin"), est::io_error, "is not a regular file");
}

TEST_CASE("ids are checked against a vocabulary, naming the first offending position",
          "[token_file][errors]") {
  TempDir dir;
  const auto path = dir / "tokens.bin";
  est::write_raw_uint16_tokens(path, std::vector<std::int32_t>{1, 2, 70, 3, 80});
  const TokenFile f = TokenFile::open(path);
  CHECK(f.max_token() == 80);
  CHECK_NOTHROW(f.check_vocab(81));
  EST_CHECK_THROWS(f.check_vocab(64), est::value_error,
                   path.string() + "\": token at position 2 is 70, outside the vocabulary [0, 64)");
  EST_CHECK_THROWS(f.check_vocab(80), est::value_error, "token at position 4 is 80");
  EST_CHECK_THROWS(f.check_vocab(0), est::value_error, "vocab must be >= 1");
}

TEST_CASE("reads outside the file are refused", "[token_file][errors]") {
  TempDir dir;
  est::write_llmc_tokens(dir / "t.bin", std::vector<std::int32_t>{1, 2, 3});
  const TokenFile f = TokenFile::open(dir / "t.bin");
  EST_CHECK_THROWS((void)f.token(3), est::value_error, "position 3 is outside [0, 3)");
  EST_CHECK_THROWS((void)f.token(-1), est::value_error, "position -1 is outside [0, 3)");
  std::vector<std::int32_t> out(4);
  EST_CHECK_THROWS(f.copy(2, 2, out), est::value_error, "tokens [2, 2 + 2) are not inside [0, 3)");
  EST_CHECK_THROWS(f.copy(-1, 1, out), est::value_error, "are not inside");
  EST_CHECK_THROWS(f.copy(0, 3, std::span<std::int32_t>(out).first(2)), est::shape_error,
                   "3 tokens do not fit the destination of 2 elements");
}

TEST_CASE("writers refuse ids outside uint16 before touching the file", "[token_file][errors]") {
  TempDir dir;
  const auto path = dir / "t.bin";
  est::write_llmc_tokens(path, std::vector<std::int32_t>{9, 9});
  const Bytes before = read_bytes(path);

  EST_CHECK_THROWS(est::write_llmc_tokens(path, std::vector<std::int32_t>{1, 2, 65536}),
                   est::value_error, "token at position 2 is 65536, outside the uint16 range");
  EST_CHECK_THROWS(est::write_raw_uint16_tokens(path, std::vector<std::int32_t>{4, -1}),
                   est::value_error, "token at position 1 is -1");
  EST_CHECK_THROWS(est::write_raw_uint16_tokens(path, std::vector<std::int32_t>{}),
                   est::value_error, "with no tokens");
  EST_CHECK_THROWS(est::write_llmc_tokens(dir / "new.bin", std::vector<std::int32_t>{70000}),
                   est::value_error, (dir / "new.bin").string());
  CHECK(read_bytes(path) == before);
  CHECK_FALSE(fs::exists(dir / "new.bin"));
  CHECK(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator()) == 1);
}

TEST_CASE("detection reports a damaged llm.c magic instead of reading the header as tokens",
          "[token_file][errors]") {
  TempDir dir;
  // Version 1 and a size matching the count, but the magic is off by one.
  write_bytes(dir / "damaged.bin", llmc_bytes(20240521, 1, 3, {1, 2, 3}));
  EST_CHECK_THROWS(TokenFile::open(dir / "damaged.bin"), est::io_error,
                   "bad llm.c magic 20240521, expected 20240520");
  // Forced raw, the same bytes are a (meaningless) token stream.
  CHECK(TokenFile::open(dir / "damaged.bin", TokenFileFormat::raw_uint16).size() == 515);
}

TEST_CASE("a header with a damaged magic is a damaged shard even when its count is wrong too",
          "[token_file][errors]") {
  TempDir dir;
  // Version 1, the other header words zero, but neither the magic nor the count is right: read
  // as a headerless stream, its 512 header words would become training tokens.
  write_bytes(dir / "damaged.bin", llmc_bytes(20240521, 1, 7, {1, 2, 3}));
  EST_CHECK_THROWS(TokenFile::open(dir / "damaged.bin"), est::io_error,
                   "bad llm.c magic 20240521, expected 20240520");
  // A count of zero and a wrong magic: still the header's shape.
  write_bytes(dir / "zero.bin", llmc_bytes(0, 1, 0, {5, 6}));
  EST_CHECK_THROWS(TokenFile::open(dir / "zero.bin"), est::io_error, "bad llm.c magic 0");
  // A raw stream that merely has the id pair (1, 0) at positions 2 and 3 is still a raw stream.
  std::vector<std::int32_t> ids(600, 7);
  ids[2] = 1;
  ids[3] = 0;
  est::write_raw_uint16_tokens(dir / "raw.bin", ids);
  CHECK(TokenFile::open(dir / "raw.bin").format() == TokenFileFormat::raw_uint16);
  CHECK(TokenFile::open(dir / "raw.bin").size() == 600);
}

TEST_CASE("a detected file that is neither a shard nor a uint16 stream says both",
          "[token_file][errors]") {
  TempDir dir;
  write_bytes(dir / "odd.bin", Bytes{'h', 'e', 'l', 'l', 'o'});
  EST_CHECK_THROWS(TokenFile::open(dir / "odd.bin"), est::io_error,
                   "is 5 bytes, an odd length for a stream of uint16 tokens; nor is it an llm.c "
                   "shard (it does not start with the magic 20240520)");
}

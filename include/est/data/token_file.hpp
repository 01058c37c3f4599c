#pragma once
// Token files: pre-tokenized training data as a flat stream of uint16 token ids, in one of the two
// formats GPT-2 trainers use:
//
// - llm.c shards (`TokenFileFormat::llmc`): a 1024-byte header of 256 little-endian int32 —
//   header[0] = 20240520 (magic), header[1] = 1 (version: uint16 tokens), header[2] = token
//   count, the rest zero — then `count` little-endian uint16 tokens;
// - headerless little-endian uint16 streams (`TokenFileFormat::raw_uint16`), nanoGPT's .bin files.
//
// `TokenFile` maps a file read-only and validates its structure once; ids are read in place. The
// file's bytes carry no alignment guarantee and the host's byte order is not assumed, so every id
// is assembled from its two bytes. Writers replace files atomically (est/io/atomic_file.hpp).

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <span>
#include <utility>

#include "est/core/error.hpp"
#include "est/core/shape.hpp"
#include "est/io/atomic_file.hpp"

namespace est {

/// How `TokenFile::open` reads a file. `detect` picks `llmc` when the first four bytes are the
/// llm.c magic, or when the file has an llm.c header with a damaged magic (version 1, and either
/// a count matching the size or the header's other 253 words zero), and `raw_uint16` otherwise.
/// A raw stream is only mistaken for a shard when it starts with the ids 55432, 308 (55432 is
/// outside GPT-2's vocabulary of 50257) or with the ids (x, y, 1, 0, c, d) followed either by
/// 506 zeros or by exactly c + 65536·d more ids after the first 512.
enum class TokenFileFormat { llmc, raw_uint16, detect };
/// @var TokenFileFormat::llmc
/// an llm.c shard: a 1024-byte header of 256 little-endian int32 (magic 20240520, version 1,
/// token count, zeros), then the count's little-endian uint16 tokens
/// @var TokenFileFormat::raw_uint16
/// a headerless stream of little-endian uint16 tokens (nanoGPT's .bin files)
/// @var TokenFileFormat::detect
/// decide from the file's first bytes, as described above

namespace detail {

inline std::int32_t load_le_i32(const std::byte* p) noexcept {
  std::uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | std::to_integer<std::uint32_t>(p[i]);
  return static_cast<std::int32_t>(v);
}

inline void store_le_i32(std::byte* p, std::int32_t value) noexcept {
  const auto v = static_cast<std::uint32_t>(value);
  for (int i = 0; i < 4; ++i) p[i] = static_cast<std::byte>((v >> (8 * i)) & 0xffu);
}

/// Every id of `tokens` must fit a uint16 before a writer touches the disk.
inline void check_uint16_tokens(const char* who, const std::filesystem::path& path,
                                std::span<const std::int32_t> tokens) {
  require<value_error>(!tokens.empty(), who, ": refusing to write \"", path.string(),
                       "\" with no tokens (a token file holds at least one)");
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    require<value_error>(tokens[i] >= 0 && tokens[i] <= 65535, who, ": cannot write \"",
                         path.string(), "\": token at position ", i, " is ", tokens[i],
                         ", outside the uint16 range [0, 65535]");
  }
}

/// Appends `tokens` to `sink` as little-endian uint16, a block at a time.
inline void write_uint16_tokens(FileSink& sink, std::span<const std::int32_t> tokens) {
  std::array<std::byte, 1 << 14> block;
  std::size_t used = 0;
  for (const std::int32_t t : tokens) {
    const auto v = static_cast<std::uint32_t>(t);
    block[used++] = static_cast<std::byte>(v & 0xffu);
    block[used++] = static_cast<std::byte>((v >> 8) & 0xffu);
    if (used == block.size()) {
      sink.write(std::span<const std::byte>(block.data(), used));
      used = 0;
    }
  }
  sink.write(std::span<const std::byte>(block.data(), used));
}

}  // namespace detail

/// A validated, memory-mapped token file. Every `TokenFile` holds at least one token.
class TokenFile {
 public:
  static constexpr std::int32_t llmc_magic = 20240520;  ///< header[0] of an llm.c shard
  static constexpr std::int32_t llmc_version = 1;  ///< header[1]: the version with uint16 tokens
  /// Size of the llm.c header: 256 little-endian int32 words, of which the first three are
  /// magic, version and token count and the rest zero.
  static constexpr std::size_t llmc_header_bytes = 1024;

  /// Maps and validates `path`; throws io_error naming the file and the problem: a file too
  /// small for the header, a wrong magic or version (both values named), a size that does not
  /// match the header's count (expected and actual bytes), an odd length for a raw stream, or no
  /// tokens at all.
  [[nodiscard]] static TokenFile open(const std::filesystem::path& path,
                                      TokenFileFormat format = TokenFileFormat::detect) {
    MappedFile file(path);
    const std::span<const std::byte> bytes = file.bytes();
    const std::string name = path.string();
    require<io_error>(!bytes.empty(), "TokenFile: \"", name,
                      "\" is empty (a token file holds at least one token)");
    bool magic_missing = false;  // detected as a raw stream because the magic is absent
    if (format == TokenFileFormat::detect) {
      format = looks_like_llmc(bytes) ? TokenFileFormat::llmc : TokenFileFormat::raw_uint16;
      magic_missing = format == TokenFileFormat::raw_uint16;
    }

    std::span<const std::byte> tokens;
    if (format == TokenFileFormat::llmc) {
      require<io_error>(bytes.size() >= llmc_header_bytes, "TokenFile: \"", name, "\" is ",
                        bytes.size(), " bytes, smaller than the ", llmc_header_bytes,
                        "-byte llm.c header");
      const std::int32_t magic = detail::load_le_i32(bytes.data());
      const std::int32_t version = detail::load_le_i32(bytes.data() + 4);
      const std::int32_t count = detail::load_le_i32(bytes.data() + 8);
      require<io_error>(magic == llmc_magic, "TokenFile: \"", name, "\": bad llm.c magic ", magic,
                        ", expected ", llmc_magic,
                        " (a headerless uint16 stream is opened with TokenFileFormat::raw_uint16)");
      require<io_error>(version == llmc_version, "TokenFile: \"", name,
                        "\": unsupported llm.c version ", version, ", expected ", llmc_version,
                        " (uint16 tokens)");
      require<io_error>(count > 0, "TokenFile: \"", name, "\": the llm.c header's token count is ",
                        count, "; a token file holds at least one token");
      const std::uint64_t expected = llmc_header_bytes + 2 * std::uint64_t(count);
      require<io_error>(bytes.size() == expected, "TokenFile: \"", name,
                        "\": the llm.c header says ", count, " tokens, so the file should be ",
                        expected, " bytes, but it is ", bytes.size(), " bytes");
      tokens = bytes.subspan(llmc_header_bytes);
    } else {
      require<io_error>(bytes.size() % 2 == 0, "TokenFile: \"", name, "\" is ", bytes.size(),
                        " bytes, an odd length for a stream of uint16 tokens",
                        magic_missing ? "; nor is it an llm.c shard (it does not start with the "
                                        "magic 20240520)"
                                      : "");
      tokens = bytes;
    }
    return TokenFile(std::move(file), tokens, format);
  }

  /// The path the file was opened from.
  [[nodiscard]] const std::filesystem::path& path() const noexcept { return file_.path(); }
  /// `llmc` or `raw_uint16` (never `detect`).
  [[nodiscard]] TokenFileFormat format() const noexcept { return format_; }
  /// Number of tokens (>= 1).
  [[nodiscard]] Index size() const noexcept { return static_cast<Index>(tokens_.size() / 2); }

  /// Token `i`, for 0 <= i < size().
  [[nodiscard]] std::int32_t token(Index i) const {
    require<value_error>(i >= 0 && i < size(), "TokenFile::token: position ", i,
                         " is outside [0, ", size(), ") of \"", path().string(), "\"");
    return at(i);
  }

  /// Copies tokens [first, first + count) into out[0, count); `out` may be longer. Throws
  /// value_error when the range is not inside the file and shape_error when `out` is too short.
  void copy(Index first, Index count, std::span<std::int32_t> out) const {
    require<value_error>(first >= 0 && count >= 0 && count <= size() - first,
                         "TokenFile::copy: tokens [", first, ", ", first, " + ", count,
                         ") are not inside [0, ", size(), ") of \"", path().string(), "\"");
    require<shape_error>(out.size() >= static_cast<std::size_t>(count), "TokenFile::copy: ",
                         count, " tokens do not fit the destination of ", out.size(),
                         " elements");
    const auto* p = reinterpret_cast<const unsigned char*>(tokens_.data()) + 2 * first;
    for (Index i = 0; i < count; ++i) {
      out[static_cast<std::size_t>(i)] =
          std::int32_t(p[2 * i]) | (std::int32_t(p[2 * i + 1]) << 8);
    }
  }

  /// The largest id in the file (reads every token).
  [[nodiscard]] std::int32_t max_token() const noexcept {
    std::int32_t best = 0;
    for (Index i = 0; i < size(); ++i) best = std::max(best, at(i));
    return best;
  }

  /// Throws value_error naming the file, the first position and its id when an id is not in
  /// [0, vocab) (reads every token).
  void check_vocab(int vocab) const {
    require<value_error>(vocab >= 1, "TokenFile::check_vocab: vocab must be >= 1, got ", vocab);
    for (Index i = 0; i < size(); ++i) {
      const std::int32_t id = at(i);
      require<value_error>(id < vocab, "TokenFile: \"", path().string(), "\": token at position ",
                           i, " is ", id, ", outside the vocabulary [0, ", vocab, ")");
    }
  }

 private:
  TokenFile(MappedFile file, std::span<const std::byte> tokens, TokenFileFormat format)
      : file_(std::move(file)), tokens_(tokens), format_(format) {}

  /// Whether `bytes` are (meant to be) an llm.c shard: the magic, or a header without it —
  /// version 1 with a count that matches the size, or version 1 followed by the header's 253
  /// zero words. Such a file is read as a shard, so a damaged header is reported as such and
  /// never trained on as 512 tokens of a headerless stream.
  [[nodiscard]] static bool looks_like_llmc(std::span<const std::byte> bytes) noexcept {
    if (bytes.size() >= 4 && detail::load_le_i32(bytes.data()) == llmc_magic) return true;
    if (bytes.size() < llmc_header_bytes || detail::load_le_i32(bytes.data() + 4) != llmc_version) {
      return false;
    }
    const std::int32_t count = detail::load_le_i32(bytes.data() + 8);
    if (count > 0 && bytes.size() == llmc_header_bytes + 2 * std::uint64_t(count)) return true;
    return std::all_of(bytes.begin() + 12, bytes.begin() + llmc_header_bytes,
                       [](std::byte b) { return b == std::byte{0}; });
  }

  [[nodiscard]] std::int32_t at(Index i) const noexcept {
    const auto* p = reinterpret_cast<const unsigned char*>(tokens_.data()) + 2 * i;
    return std::int32_t(p[0]) | (std::int32_t(p[1]) << 8);
  }

  MappedFile file_;                   // owns the mapping tokens_ points into (moves keep it)
  std::span<const std::byte> tokens_; // the uint16 payload, after any header
  TokenFileFormat format_;
};

/// Writes `tokens` as an llm.c shard (header + uint16 ids), atomically. Throws value_error
/// naming the position of the first id outside [0, 65535], before anything is written.
inline void write_llmc_tokens(const std::filesystem::path& path,
                              std::span<const std::int32_t> tokens) {
  detail::check_uint16_tokens("write_llmc_tokens", path, tokens);
  require<value_error>(tokens.size() <= std::size_t(std::numeric_limits<std::int32_t>::max()),
                       "write_llmc_tokens: cannot write \"", path.string(), "\": ", tokens.size(),
                       " tokens exceed the llm.c header's int32 count");
  write_file_atomically(path, [&](FileSink& sink) {
    std::array<std::byte, TokenFile::llmc_header_bytes> header{};
    detail::store_le_i32(header.data(), TokenFile::llmc_magic);
    detail::store_le_i32(header.data() + 4, TokenFile::llmc_version);
    detail::store_le_i32(header.data() + 8, static_cast<std::int32_t>(tokens.size()));
    sink.write(header);
    detail::write_uint16_tokens(sink, tokens);
  });
}

/// Writes `tokens` as a headerless little-endian uint16 stream, atomically. Throws value_error
/// naming the position of the first id outside [0, 65535], before anything is written.
inline void write_raw_uint16_tokens(const std::filesystem::path& path,
                                    std::span<const std::int32_t> tokens) {
  detail::check_uint16_tokens("write_raw_uint16_tokens", path, tokens);
  write_file_atomically(path, [&](FileSink& sink) { detail::write_uint16_tokens(sink, tokens); });
}

}  // namespace est

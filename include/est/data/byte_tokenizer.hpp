#pragma once
// est::ByteTokenizer: the trivial tokenizer whose tokens are the 256 byte values. It needs no
// files, round-trips any byte string (invalid UTF-8 and NULs included) and is the usual choice
// for character-level experiments such as tinyshakespeare.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "est/core/error.hpp"

namespace est {

/// Tokens are bytes: the id of a byte is its unsigned value, so the vocabulary is [0, 256).
class ByteTokenizer {
 public:
  /// Number of distinct ids: 256.
  static constexpr std::int32_t vocab_size() { return 256; }

  /// One id per byte of `text`, in order.
  std::vector<std::int32_t> encode(std::string_view text) const {
    std::vector<std::int32_t> ids(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
      ids[i] = static_cast<unsigned char>(text[i]);
    }
    return ids;
  }

  /// The bytes of `ids`. Throws value_error naming the first id outside [0, 256) and its
  /// position.
  std::string decode(std::span<const std::int32_t> ids) const {
    std::string text(ids.size(), '\0');
    for (std::size_t i = 0; i < ids.size(); ++i) {
      require<value_error>(ids[i] >= 0 && ids[i] < vocab_size(), "ByteTokenizer::decode: id ",
                           ids[i], " at position ", i, " is outside [0, ", vocab_size(), ")");
      text[i] = static_cast<char>(static_cast<unsigned char>(ids[i]));
    }
    return text;
  }
};

}  // namespace est

#pragma once
// GPT-2's byte alphabet and pre-tokenizer, the first two stages of est::Gpt2Tokenizer (see
// gpt2_tokenizer.hpp): the code points that stand for bytes in encoder.json and vocab.bpe, and
// the pattern 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// implemented as a scanner over UTF-8 code points (Python `regex` semantics), with invalid UTF-8
// bytes as units of the punctuation class.

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "est/data/unicode_tables.hpp"
#include "est/data/utf8.hpp"

namespace est {


/// Whether GPT-2's byte alphabet spells byte `b` as the Latin-1 character of the same value:
/// the printable bytes '!'..'~', U+00A1..U+00AC and U+00AE..U+00FF.
constexpr bool gpt2_byte_is_printable(unsigned b) {
  return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
}

/// GPT-2's byte alphabet (encoder.py's bytes_to_unicode): the code point that stands for each
/// byte in encoder.json and vocab.bpe. Printable bytes stand for themselves; the other 68 bytes,
/// in increasing order, for U+0100, U+0101, ... (so `' '` is U+0120 'Ġ' and `'\n'` is U+010A
/// 'Ċ').
inline constexpr std::array<char32_t, 256> gpt2_byte_alphabet = [] {
  std::array<char32_t, 256> alphabet{};
  char32_t next = 256;
  for (unsigned b = 0; b < 256; ++b) alphabet[b] = gpt2_byte_is_printable(b) ? b : next++;
  return alphabet;
}();

namespace detail {

/// The classes GPT-2's pattern tells apart; `other` is [^\s\p{L}\p{N}].
enum class Gpt2CharClass : std::uint8_t { letter, number, space, other };

constexpr Gpt2CharClass gpt2_class_of(char32_t cp) {
  if (unicode::is_letter(cp)) return Gpt2CharClass::letter;
  if (unicode::is_number(cp)) return Gpt2CharClass::number;
  if (unicode::is_space(cp)) return Gpt2CharClass::space;
  return Gpt2CharClass::other;
}

/// Classes of the ASCII code points, so that ASCII text needs no table search.
inline constexpr std::array<Gpt2CharClass, 128> gpt2_ascii_classes = [] {
  std::array<Gpt2CharClass, 128> classes{};
  for (char32_t c = 0; c < 128; ++c) classes[c] = gpt2_class_of(c);
  return classes;
}();

/// One unit of the scan: a well-formed code point, or a single invalid byte (class `other`).
struct Gpt2Unit {
  std::size_t size;
  Gpt2CharClass cls;
};

inline Gpt2Unit gpt2_unit_at(std::string_view text, std::size_t pos) {
  const auto b0 = static_cast<unsigned char>(text[pos]);
  if (b0 < 0x80) return {1, gpt2_ascii_classes[b0]};
  char32_t cp = 0;
  const int size = decode_utf8(text, pos, cp);
  if (size == 0) return {1, Gpt2CharClass::other};
  return {static_cast<std::size_t>(size), gpt2_class_of(cp)};
}

/// End of the pre-token that starts at `text[pos]` (pos < text.size()): the pattern's first
/// matching alternative at pos, as the `regex` module would find it.
inline std::size_t gpt2_pretoken_end(std::string_view text, std::size_t pos) {
  const std::size_t n = text.size();
  // 's|'t|'re|'ve|'m|'ll|'d (ASCII apostrophe, lower case only).
  if (text[pos] == '\'' && pos + 1 < n) {
    const char c = text[pos + 1];
    if (c == 's' || c == 't' || c == 'm' || c == 'd') return pos + 2;
    if (pos + 2 < n) {
      const char d = text[pos + 2];
      if ((c == 'r' && d == 'e') || (c == 'v' && d == 'e') || (c == 'l' && d == 'l')) {
        return pos + 3;
      }
    }
  }
  // ` ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+`: an optional U+0020, then a run of one class.
  const std::size_t start = text[pos] == ' ' && pos + 1 < n ? pos + 1 : pos;
  const Gpt2Unit first = gpt2_unit_at(text, start);
  if (first.cls != Gpt2CharClass::space) {
    std::size_t end = start + first.size;
    while (end < n) {
      const Gpt2Unit unit = gpt2_unit_at(text, end);
      if (unit.cls != first.cls) break;
      end += unit.size;
    }
    return end;
  }
  // `\s+(?!\S)|\s+`: a run of white space. When a non-space follows the run, backtracking
  // leaves the run's last unit out (it will prefix the next word, as " word"), unless the run
  // is that one unit.
  std::size_t end = pos, last = pos;
  while (end < n) {
    const Gpt2Unit unit = gpt2_unit_at(text, end);
    if (unit.cls != Gpt2CharClass::space) break;
    last = end;
    end += unit.size;
  }
  return end == n || last == pos ? end : last;
}

}  // namespace detail

/// Calls `visit(piece)` for each of GPT-2's pre-tokens of `text`, in order; the pieces are
/// views into `text` and together cover it exactly.
template <class Visit>
void for_each_gpt2_pretoken(std::string_view text, Visit&& visit) {
  for (std::size_t pos = 0; pos < text.size();) {
    const std::size_t end = detail::gpt2_pretoken_end(text, pos);
    visit(text.substr(pos, end - pos));
    pos = end;
  }
}

/// GPT-2's pre-tokens of `text` (views into it).
inline std::vector<std::string_view> gpt2_pretokenize(std::string_view text) {
  std::vector<std::string_view> pieces;
  for_each_gpt2_pretoken(text, [&](std::string_view piece) { pieces.push_back(piece); });
  return pieces;
}

}  // namespace est

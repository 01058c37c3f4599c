#pragma once
// UTF-8 at the level est's tokenizers need it: decoding one well-formed sequence (Unicode's
// table 3-7: no overlong forms, no surrogates, nothing past U+10FFFF), encoding a code point,
// and replacing ill-formed input the way Unicode recommends and Python's
// bytes.decode(errors="replace") does: each maximal ill-formed subpart becomes one U+FFFD.

#include <cstddef>
#include <string>
#include <string_view>

namespace est::detail {

/// Length (1 to 4) of the well-formed UTF-8 sequence that starts at `text[pos]`, with its code
/// point in `cp`; 0 when the bytes there are not well-formed UTF-8 (Unicode's table 3-7).
constexpr int decode_utf8(std::string_view text, std::size_t pos, char32_t& cp) {
  const std::size_t left = text.size() - pos;
  const auto byte = [&](std::size_t k) -> unsigned {
    return static_cast<unsigned char>(text[pos + k]);
  };
  const auto continuation = [&](std::size_t k, unsigned lo = 0x80, unsigned hi = 0xBF) {
    return k < left && byte(k) >= lo && byte(k) <= hi;
  };
  const unsigned b0 = byte(0);
  if (b0 < 0x80) {
    cp = b0;
    return 1;
  }
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    if (!continuation(1)) return 0;
    cp = (b0 & 0x1F) << 6 | (byte(1) & 0x3F);
    return 2;
  }
  if (b0 >= 0xE0 && b0 <= 0xEF) {
    // E0 must not be overlong (A0..BF next); ED must not encode a surrogate (80..9F next).
    if (!continuation(1, b0 == 0xE0 ? 0xA0 : 0x80, b0 == 0xED ? 0x9F : 0xBF) || !continuation(2)) {
      return 0;
    }
    cp = (b0 & 0x0F) << 12 | (byte(1) & 0x3F) << 6 | (byte(2) & 0x3F);
    return 3;
  }
  if (b0 >= 0xF0 && b0 <= 0xF4) {
    // F0 must not be overlong (90..BF next); F4 must stay within U+10FFFF (80..8F next).
    if (!continuation(1, b0 == 0xF0 ? 0x90 : 0x80, b0 == 0xF4 ? 0x8F : 0xBF) ||
        !continuation(2) || !continuation(3)) {
      return 0;
    }
    cp = (b0 & 0x07) << 18 | (byte(1) & 0x3F) << 12 | (byte(2) & 0x3F) << 6 | (byte(3) & 0x3F);
    return 4;
  }
  return 0;
}

/// UTF-8 encoding of code point `cp` (at most U+10FFFF), appended to `out`.
inline void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | cp >> 6);
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | cp >> 12);
    out += static_cast<char>(0x80 | (cp >> 6 & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | cp >> 18);
    out += static_cast<char>(0x80 | (cp >> 12 & 0x3F));
    out += static_cast<char>(0x80 | (cp >> 6 & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

/// `text` with each maximal ill-formed UTF-8 subpart replaced by U+FFFD.
inline std::string replace_invalid_utf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  std::size_t pos = 0;
  while (pos < text.size()) {
    char32_t cp;
    const int n = decode_utf8(text, pos, cp);
    if (n > 0) {
      out.append(text.substr(pos, std::size_t(n)));
      pos += std::size_t(n);
      continue;
    }
    // The maximal subpart: a valid lead byte followed by as many bytes as still fit a
    // well-formed sequence (the second byte's range depends on the lead), at least one byte.
    const auto b = [&](std::size_t k) { return unsigned(static_cast<unsigned char>(text[pos + k])); };
    const unsigned lead = b(0);
    std::size_t length = 0, fits = 1;
    unsigned lo = 0x80, hi = 0xBF;
    if (lead >= 0xC2 && lead <= 0xDF) {
      length = 2;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
      length = 3;
      lo = lead == 0xE0 ? 0xA0 : 0x80;
      hi = lead == 0xED ? 0x9F : 0xBF;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
      length = 4;
      lo = lead == 0xF0 ? 0x90 : 0x80;
      hi = lead == 0xF4 ? 0x8F : 0xBF;
    }
    if (length > 0) {
      while (fits < length && pos + fits < text.size()) {
        const unsigned c = b(fits);
        if (fits == 1 ? (c < lo || c > hi) : (c < 0x80 || c > 0xBF)) break;
        ++fits;
      }
    }
    out.append("\xEF\xBF\xBD");
    pos += fits;
  }
  return out;
}

}  // namespace est::detail

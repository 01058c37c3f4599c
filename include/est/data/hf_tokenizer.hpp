#pragma once
// est::HfTokenizer: the BPE tokenizers that Hugging Face models ship as tokenizer.json, read and
// applied as the `tokenizers` library does (its encode(text, add_special_tokens=False)):
//
//   - GPT-2 style byte-level BPE: pre-tokenizer ByteLevel (GPT-2's pattern, optional prefix
//     space), every byte spelled in GPT-2's byte alphabet;
//   - Llama / Mistral / TinyLlama style BPE with byte fallback: spaces as "▁" and a "▁" before
//     the text, either through the Metaspace pre-tokenizer (prepend_scheme always / first /
//     never, optionally split at "▁") or through the older normalizers Prepend + Replace;
//     characters outside the vocabulary become their UTF-8 bytes' "<0xXX>" tokens (or the unknown
//     token, consecutive ones fused when fuse_unk).
//
// The pipeline: added tokens (special or not: "<s>", "<|endoftext|>", ...) are cut out of the
// text first, leftmost-longest, honouring lstrip/rstrip; each stretch between them is
// normalized, pre-tokenized and split into words; each word's characters become symbols, merged
// by rank (est/data/bpe_merges.hpp). No post-processor runs: no BOS or EOS is added.
//
// Text is UTF-8. An ill-formed sequence is replaced by U+FFFD, each maximal ill-formed subpart
// by one (Unicode's recommended practice, which Python's bytes.decode(errors="replace") follows),
// so a file with stray bytes tokenizes as it does when a Python user decodes it that way.
// A tokenizer.json asking for anything else (WordPiece or Unigram models, regex Split or
// Whitespace pre-tokenizers, Unicode normalization forms, subword prefixes, dropout, added tokens
// matched after a normalizer, decoders other than these) is refused at load with the setting
// named (data/hf_tokenizer_spec.hpp).
//
// decode(ids) follows the decoder: byte-level ids become their bytes; byte-fallback ids their
// byte, "▁" a space, with the one leading space the encoder added removed. Its result is bytes:
// ids that split a character give partial UTF-8, not U+FFFD.

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "est/core/error.hpp"
#include "est/data/bpe_merges.hpp"
#include "est/data/gpt2_pretokenizer.hpp"
#include "est/data/hf_tokenizer_spec.hpp"
#include "est/data/utf8.hpp"
#include "est/io/json_file.hpp"

namespace est {

/// A Hugging Face BPE tokenizer read from tokenizer.json, encoding as the `tokenizers` library's
/// encode(text, add_special_tokens=False) does: GPT-2 style byte-level BPE, or Llama style BPE
/// with "▁" for spaces and byte fallback. Added tokens are cut out of the text first
/// (leftmost-longest, honouring lstrip/rstrip); each stretch between them is normalized,
/// pre-tokenized into words and merged by rank. No BOS or EOS is added. Ill-formed UTF-8 in the
/// input is replaced by U+FFFD, one per maximal ill-formed subpart. Settings est does not apply
/// are refused at load with their name. Immutable once built: const members may be called from
/// any number of threads.
class HfTokenizer {
 public:
  /// Reads a tokenizer.json; throws io_error naming the file and the setting it cannot apply.
  [[nodiscard]] static HfTokenizer load(const std::filesystem::path& path) {
    return from_json(read_json_file(path, "tokenizer.json"),
                     "tokenizer.json \"" + path.string() + "\"");
  }

  /// As load(), from parsed JSON; `where` names it in errors.
  [[nodiscard]] static HfTokenizer from_json(const nlohmann::json& j, const std::string& where) {
    try {
      return HfTokenizer(read_hf_tokenizer_spec(j, where), where);
    } catch (const nlohmann::json::exception& e) {
      fail<io_error>(where, ": malformed: ", e.what());
    }
  }

  /// The tokenizer `spec` describes; `where` names its source in errors. Throws io_error when
  /// the pre-tokenizer is byte-level and a byte has no token in GPT-2's byte alphabet.
  HfTokenizer(HfTokenizerSpec spec, const std::string& where) : s_(std::move(spec)) {
    byte_of_id_.assign(s_.tokens.size(), -1);
    byte_of_char_.fill(-1);
    for (unsigned b = 0; b < 256; ++b) {
      byte_of_char_[gpt2_byte_alphabet[b]] = std::int16_t(b);
      char name[8];
      std::snprintf(name, sizeof name, "<0x%02X>", b);
      byte_ids_[b] = id_of(name).value_or(-1);
      if (byte_ids_[b] >= 0) byte_of_id_[std::size_t(byte_ids_[b])] = std::int16_t(b);
      std::string spelled;
      detail::append_utf8(spelled, gpt2_byte_alphabet[b]);
      alphabet_ids_[b] = id_of(spelled).value_or(-1);
      require<io_error>(s_.pre_tokenizer != HfTokenizerSpec::PreTokenizer::byte_level ||
                            alphabet_ids_[b] >= 0,
                        where, ": byte-level pre-tokenizer, but byte ", b,
                        " has no token in the vocabulary");
    }
    for (std::size_t rank = 0; rank < s_.merges.size(); ++rank) {
      const auto [left, right, merged] = s_.merges[rank];
      merges_.add(left, right, std::int32_t(rank), merged);
    }
  }

  /// The ids of `text`, any bytes (see the class description).
  [[nodiscard]] std::vector<std::int32_t> encode(std::string_view text) const;

  /// The bytes that `ids` stand for, as the decoder says: byte-level ids become their bytes,
  /// byte-fallback ids their byte, "▁" a space, less the leading space the encoder added. Ids
  /// that split a character give partial UTF-8. Throws value_error for an id with no token.
  [[nodiscard]] std::string decode(std::span<const std::int32_t> ids) const;

  /// One more than the largest id (ids of the vocabulary and the added tokens).
  [[nodiscard]] int vocab_size() const noexcept { return int(s_.tokens.size()); }
  /// The id of token `token` (as tokenizer.json spells it), if any.
  [[nodiscard]] std::optional<std::int32_t> id_of(std::string_view token) const {
    const auto it = s_.ids.find(std::string(token));
    return it == s_.ids.end() ? std::nullopt : std::optional<std::int32_t>(it->second);
  }

 private:
  /// A stretch of text between added tokens, with whether it starts the input.
  void encode_stretch(std::string_view stretch, bool at_start, std::vector<std::int32_t>& out,
                      std::unordered_map<std::string, std::vector<std::int32_t>>& cache) const;
  void encode_word(std::string_view word, std::vector<std::int32_t>& out) const;

  HfTokenizerSpec s_;                                     // what tokenizer.json says
  BpeMerges merges_;                                      // s_.merges, for merging
  std::array<std::int32_t, 256> byte_ids_{};              // "<0xXX>" ids (byte fallback), -1
  std::array<std::int32_t, 256> alphabet_ids_{};          // byte-level: the id of each byte, -1
  std::vector<std::int16_t> byte_of_id_;                  // id -> its "<0xXX>" byte, or -1
  std::array<std::int16_t, 0x144> byte_of_char_{};        // GPT-2 alphabet code point -> byte
};


inline void HfTokenizer::encode_word(std::string_view word, std::vector<std::int32_t>& out) const {
  if (word.empty()) return;
  if (s_.ignore_merges) {
    std::string spelled;  // the word as the vocabulary spells it
    if (s_.pre_tokenizer == HfTokenizerSpec::PreTokenizer::byte_level) {
      for (const char c : word) detail::append_utf8(spelled, gpt2_byte_alphabet[static_cast<unsigned char>(c)]);
    } else {
      spelled = word;
    }
    if (const auto id = id_of(spelled)) {
      out.push_back(*id);
      return;
    }
  }
  std::vector<std::int32_t> symbols;
  bool last_unk = false;
  if (s_.pre_tokenizer == HfTokenizerSpec::PreTokenizer::byte_level) {
    for (const char c : word) symbols.push_back(alphabet_ids_[static_cast<unsigned char>(c)]);
  } else {
    std::size_t pos = 0;
    while (pos < word.size()) {
      char32_t cp;
      const auto n = std::size_t(std::max(1, detail::decode_utf8(word, pos, cp)));
      const std::string_view ch = word.substr(pos, n);
      pos += n;
      if (const auto id = id_of(ch)) {
        symbols.push_back(*id);
        last_unk = false;
        continue;
      }
      if (s_.byte_fallback && std::all_of(ch.begin(), ch.end(), [&](char c) {
            return byte_ids_[static_cast<unsigned char>(c)] >= 0;
          })) {
        for (const char c : ch) symbols.push_back(byte_ids_[static_cast<unsigned char>(c)]);
        last_unk = false;
        continue;
      }
      if (s_.unk) {
        if (!(s_.fuse_unk && last_unk)) symbols.push_back(*s_.unk);
        last_unk = true;
      }
    }
  }
  merges_.apply(symbols);
  out.insert(out.end(), symbols.begin(), symbols.end());
}

inline void HfTokenizer::encode_stretch(
    std::string_view stretch, bool at_start, std::vector<std::int32_t>& out,
    std::unordered_map<std::string, std::vector<std::int32_t>>& cache) const {
  if (stretch.empty()) return;
  std::string text(stretch);
  for (const auto& [kind, s] : s_.normalizers) {
    if (kind == 'p') {
      text.insert(0, s);
    } else {
      std::string replaced;
      for (const char c : text) {
        if (c == ' ') {
          replaced += s;
        } else {
          replaced += c;
        }
      }
      text = std::move(replaced);
    }
  }
  if (s_.pre_tokenizer == HfTokenizerSpec::PreTokenizer::none) {
    encode_word(text, out);
    return;
  }
  if (s_.pre_tokenizer == HfTokenizerSpec::PreTokenizer::metaspace) {
    std::string replaced;
    for (const char c : text) {
      if (c == ' ') {
        replaced += s_.replacement;
      } else {
        replaced += c;
      }
    }
    using Prepend = HfTokenizerSpec::Prepend;
    const bool prepend =
        s_.prepend == Prepend::always || (s_.prepend == Prepend::first && at_start);
    if (prepend && !std::string_view(replaced).starts_with(s_.replacement)) {
      replaced.insert(0, s_.replacement);
    }
    if (!s_.split) {
      encode_word(replaced, out);
      return;
    }
    // Split before every replacement character (it begins the next word).
    std::size_t begin = 0;
    while (begin < replaced.size()) {
      std::size_t end = replaced.find(s_.replacement, begin + 1);
      if (end == std::string::npos) end = replaced.size();
      encode_word(std::string_view(replaced).substr(begin, end - begin), out);
      begin = end;
    }
    return;
  }
  // Byte level.
  if (s_.add_prefix_space && !text.starts_with(' ')) text.insert(0, " ");
  auto word = [&](std::string_view piece) {
    auto [it, inserted] = cache.try_emplace(std::string(piece));
    if (inserted) encode_word(piece, it->second);
    out.insert(out.end(), it->second.begin(), it->second.end());
  };
  if (s_.use_regex) {
    for_each_gpt2_pretoken(text, word);
  } else {
    word(text);
  }
}

inline std::vector<std::int32_t> HfTokenizer::encode(std::string_view raw) const {
  const std::string text = detail::replace_invalid_utf8(raw);
  std::vector<std::int32_t> out;
  std::unordered_map<std::string, std::vector<std::int32_t>> cache;
  std::size_t begin = 0, pos = 0;  // the stretch [begin, pos) has no added token
  // lstrip/rstrip take Unicode white space (the White_Space property), a code point at a time.
  auto space_before = [&](std::size_t end) -> std::size_t {  // bytes of white space ending at end
    for (std::size_t n = 1; n <= 4 && n <= end; ++n) {
      char32_t cp;
      if (detail::decode_utf8(text, end - n, cp) == int(n)) {
        return detail::gpt2_class_of(cp) == detail::Gpt2CharClass::space ? n : 0;
      }
    }
    return 0;
  };
  auto space_after = [&](std::size_t at) -> std::size_t {
    char32_t cp;
    const int n = at < text.size() ? detail::decode_utf8(text, at, cp) : 0;
    return n > 0 && detail::gpt2_class_of(cp) == detail::Gpt2CharClass::space ? std::size_t(n) : 0;
  };
  while (pos < text.size()) {
    // Added tokens are sorted longest first: the first that matches is the longest.
    const HfTokenizerSpec::AddedToken* match = nullptr;
    for (const HfTokenizerSpec::AddedToken& a : s_.added) {
      if (std::string_view(text).substr(pos).starts_with(a.content)) {
        match = &a;
        break;
      }
    }
    if (!match) {
      ++pos;
      continue;
    }
    std::size_t stretch_end = pos, next = pos + match->content.size();
    if (match->lstrip) {
      while (stretch_end > begin) {
        const std::size_t n = space_before(stretch_end);
        if (n == 0 || stretch_end - n < begin) break;
        stretch_end -= n;
      }
    }
    if (match->rstrip) {
      while (const std::size_t n = space_after(next)) next += n;
    }
    encode_stretch(std::string_view(text).substr(begin, stretch_end - begin), begin == 0, out,
                   cache);
    out.push_back(match->id);
    begin = pos = next;
  }
  encode_stretch(std::string_view(text).substr(begin), begin == 0, out, cache);
  return out;
}

inline std::string HfTokenizer::decode(std::span<const std::int32_t> ids) const {
  std::string out;
  for (const std::int32_t id : ids) {
    require<value_error>(id >= 0 && id < vocab_size() && !s_.tokens[std::size_t(id)].empty(),
                         "HfTokenizer::decode: id ", id, " has no token");
    const std::string& token = s_.tokens[std::size_t(id)];
    if (s_.decode_byte_level) {
      // Every character of a byte-level token stands for one byte.
      std::size_t pos = 0;
      while (pos < token.size()) {
        char32_t cp = 0;
        const int length = detail::decode_utf8(token, pos, cp);
        const auto n = std::size_t(std::max(1, length));
        if (length > 0 && cp < byte_of_char_.size() && byte_of_char_[cp] >= 0) {
          out += static_cast<char>(byte_of_char_[cp]);
        } else {
          out.append(token, pos, n);
        }
        pos += n;
      }
      continue;
    }
    if (s_.byte_fallback && byte_of_id_[std::size_t(id)] >= 0) {
      out += static_cast<char>(byte_of_id_[std::size_t(id)]);
      continue;
    }
    if (!s_.decode_metaspace) {
      out += token;
      continue;
    }
    std::size_t pos = 0;
    while (pos < token.size()) {
      if (std::string_view(token).substr(pos).starts_with(s_.replacement)) {
        out += ' ';
        pos += s_.replacement.size();
      } else {
        out += token[pos++];
      }
    }
  }
  for (int i = 0; i < s_.strip_leading_spaces && !out.empty() && out.front() == ' '; ++i) {
    out.erase(0, 1);
  }
  return out;
}

}  // namespace est

#pragma once
// What a Hugging Face tokenizer.json says, read and checked: the vocabulary and added tokens,
// the BPE merges and model options, the normalizer, the pre-tokenizer and the decoder, for the
// kinds est applies (est/data/hf_tokenizer.hpp); any other setting is refused with its name.

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "est/core/error.hpp"
#include "est/data/utf8.hpp"
#include "est/io/json_file.hpp"

namespace est {

/// The settings of a tokenizer.json that HfTokenizer applies, as read_hf_tokenizer_spec()
/// returns them: vocabulary, added tokens, merges, normalizer, pre-tokenizer and decoder.
/// Tokens are spelled as tokenizer.json spells them (UTF-8; byte-level vocabularies in GPT-2's
/// byte alphabet).
struct HfTokenizerSpec {
  /// An entry of "added_tokens": cut out of the text before anything else, matched literally.
  struct AddedToken {
    std::string content;  ///< the exact text matched (never empty)
    std::int32_t id = 0;  ///< the id emitted for it
    /// @var lstrip
    /// true: white space before the token is dropped with it
    /// @var rstrip
    /// true: white space after the token is dropped with it
    bool lstrip = false, rstrip = false;
  };
  /// The pre-tokenizer, which cuts a normalized stretch of text into words.
  enum class PreTokenizer { none, byte_level, metaspace };
  /// @var PreTokenizer::none
  /// none: each stretch between added tokens is one word
  /// @var PreTokenizer::byte_level
  /// ByteLevel: words by GPT-2's pattern (when `use_regex`), bytes in GPT-2's byte alphabet
  /// @var PreTokenizer::metaspace
  /// Metaspace: spaces become `replacement`, which may also be prepended and split at

  /// When Metaspace prepends `replacement` to a stretch (never to one that starts with it).
  enum class Prepend { always, first, never };
  /// @var Prepend::always
  /// to every stretch between added tokens
  /// @var Prepend::first
  /// only to the stretch at the very start of the input
  /// @var Prepend::never
  /// never

  std::vector<std::string> tokens;                    ///< id -> token ("" where there is none)
  std::unordered_map<std::string, std::int32_t> ids;  ///< token -> id (vocabulary and added)
  std::vector<AddedToken> added;                      ///< longest content first
  /// The merges by rank (the first merges first): (left id, right id, merged id).
  std::vector<std::tuple<std::int32_t, std::int32_t, std::int32_t>> merges;
  /// Normalizer steps in order: ('p', s) prepends s, ('r', s) replaces every " " by s.
  std::vector<std::pair<char, std::string>> normalizers;
  PreTokenizer pre_tokenizer = PreTokenizer::none;    ///< how stretches are cut into words
  /// @var add_prefix_space
  /// ByteLevel: a space is prepended to a stretch that does not start with one
  /// @var use_regex
  /// ByteLevel: split with GPT-2's pattern; false keeps each stretch as one word
  bool add_prefix_space = false, use_regex = true;
  Prepend prepend = Prepend::always;                  ///< Metaspace: where to prepend
  /// Metaspace: split before each replacement (tokenizer.json's default when Metaspace is read
  /// is true).
  bool split = false;
  std::string replacement = "\xE2\x96\x81";            ///< Metaspace: one character, "▁"
  /// @var byte_fallback
  /// a character outside the vocabulary becomes the "<0xXX>" tokens of its UTF-8 bytes
  /// @var fuse_unk
  /// consecutive unknown characters give one `unk` token
  /// @var ignore_merges
  /// a word that is itself a token is emitted as that token without merging
  bool byte_fallback = false, fuse_unk = false, ignore_merges = false;
  /// The unknown token's id: a character with no token and no byte fallback gives it (and is
  /// dropped when there is none).
  std::optional<std::int32_t> unk;
  /// @var decode_byte_level
  /// Decoder: each character of a token is a byte in GPT-2's byte alphabet
  /// @var decode_metaspace
  /// Decoder: `replacement` in a token is a space
  bool decode_byte_level = false, decode_metaspace = false;
  int strip_leading_spaces = 0;  ///< Decoder: spaces (0 or 1) removed from the output's start
};

namespace detail {

/// Throws io_error "<where>: <parts>".
template <class... Parts>
[[noreturn]] void bad_tokenizer(const std::string& where, const Parts&... parts) {
  fail<io_error>(where, ": ", parts...);
}

inline std::string json_type_of(const nlohmann::json& j) {
  return j.is_object() && j.contains("type") && j["type"].is_string()
             ? j["type"].get<std::string>()
             : std::string("(no type)");
}

}  // namespace detail

/// The settings of tokenizer.json `j`; throws io_error naming `where` and what est cannot apply
/// or what is invalid (ids outside [0, 2^30), far from dense or given twice, merges of unknown
/// tokens, ...). Some malformed structures (a missing "content" or "id" in an added token, a
/// value of the wrong JSON type) throw nlohmann::json::exception instead; HfTokenizer::from_json
/// turns those into io_error.
inline HfTokenizerSpec read_hf_tokenizer_spec(const nlohmann::json& j, const std::string& where) {
  using detail::bad_tokenizer;
  require<io_error>(j.is_object() && j.contains("model") && j["model"].is_object(), where,
                    ": expected an object with a \"model\"");
  HfTokenizerSpec t;
  auto id_of = [&t](const std::string& token) -> std::optional<std::int32_t> {
    const auto it = t.ids.find(token);
    return it == t.ids.end() ? std::nullopt : std::optional<std::int32_t>(it->second);
  };
  const auto& model = j["model"];
  const std::string type = model.value("type", std::string("BPE"));
  if (type != "BPE") {
    bad_tokenizer(where, "the model is ", type, "; est reads BPE tokenizers only");
  }
  if (model.contains("dropout") && !model["dropout"].is_null() && model["dropout"] != 0.0) {
    bad_tokenizer(where, "BPE dropout ", detail::json_excerpt(model["dropout"]), " is not supported");
  }
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    if (model.contains(key) && !model[key].is_null() && model[key] != "") {
      bad_tokenizer(where, "\"", key, "\" ", detail::json_excerpt(model[key]), " is not supported");
    }
  }
  t.byte_fallback = model.value("byte_fallback", false);
  t.fuse_unk = model.value("fuse_unk", false);
  t.ignore_merges = model.value("ignore_merges", false);

  // Vocabulary and added tokens: ids below 2^30, every token and id once.
  std::int64_t max_id = -1;
  auto add_token = [&](const std::string& token, const nlohmann::json& id_json, bool added) {
    require<io_error>(id_json.is_number_integer() && id_json.get<std::int64_t>() >= 0 &&
                          id_json.get<std::int64_t>() < (std::int64_t(1) << 30),
                      where, ": token ", detail::json_excerpt(nlohmann::json(token)), " has id ",
                      detail::json_excerpt(id_json), ", expected an integer in [0, 2^30)");
    const auto id = id_json.get<std::int32_t>();
    const auto [it, inserted] = t.ids.emplace(token, id);
    if (!inserted && !(added && it->second == id)) {
      bad_tokenizer(where, "token ", detail::json_excerpt(nlohmann::json(token)), " has two ids, ", it->second,
                    " and ", id);
    }
    max_id = std::max<std::int64_t>(max_id, id);
  };
  require<io_error>(model.contains("vocab") && model["vocab"].is_object(), where,
                    ": the model has no \"vocab\" object");
  for (const auto& [token, id] : model["vocab"].items()) add_token(token, id, false);
  if (j.contains("added_tokens") && !j["added_tokens"].is_null()) {
    for (const auto& a : j["added_tokens"]) {
      const std::string content = a.at("content").get<std::string>();
      require<io_error>(!content.empty(), where, ": an added token is empty");
      if (a.value("single_word", false)) {
        bad_tokenizer(where, "added token ", detail::json_excerpt(nlohmann::json(content)),
                      " is single_word, which est does not support");
      }
      if (a.value("normalized", false) && j.contains("normalizer") && !j["normalizer"].is_null()) {
        bad_tokenizer(where, "added token ", detail::json_excerpt(nlohmann::json(content)),
                      " is matched after normalization, which est does not support");
      }
      add_token(content, a.at("id"), true);
      t.added.push_back({content, a.at("id").get<std::int32_t>(), a.value("lstrip", false),
                          a.value("rstrip", false)});
    }
  }
  std::stable_sort(t.added.begin(), t.added.end(), [](const auto& a, const auto& b) {
    return a.content.size() > b.content.size();
  });
  require<io_error>(max_id >= 0, where, ": the vocabulary is empty");
  // Ids are (nearly) dense in real files; a sparse one would make the id table huge.
  require<io_error>(max_id < 2 * std::int64_t(t.ids.size()) + 1024, where, ": the largest id, ",
                    max_id, ", is far beyond the ", t.ids.size(), " tokens (ids must be dense)");
  t.tokens.assign(std::size_t(max_id + 1), std::string());
  std::vector<bool> used(std::size_t(max_id + 1), false);
  for (const auto& [token, id] : t.ids) {
    if (used[std::size_t(id)] && t.tokens[std::size_t(id)] != token) {
      bad_tokenizer(where, "id ", id, " belongs to two tokens, ",
                    detail::json_excerpt(nlohmann::json(t.tokens[std::size_t(id)])), " and ",
                    detail::json_excerpt(nlohmann::json(token)));
    }
    used[std::size_t(id)] = true;
    t.tokens[std::size_t(id)] = token;
  }
  if (model.contains("unk_token") && model["unk_token"].is_string()) {
    const auto unk = id_of(model["unk_token"].get<std::string>());
    require<io_error>(unk.has_value(), where, ": the unknown token ", detail::json_excerpt(model["unk_token"]),
                      " is not in the vocabulary");
    t.unk = *unk;
  }
  // Merges: "a b" strings (older files) or [a, b] pairs.
  if (model.contains("merges") && !model["merges"].is_null()) {
    std::int32_t rank = 0;
    for (const auto& m : model["merges"]) {
      std::string left, right;
      if (m.is_string()) {
        const std::string s = m.get<std::string>();
        const auto space = s.find(' ', 1);
        require<io_error>(space != std::string::npos, where, ": merge ", detail::json_excerpt(m),
                          " is not two tokens separated by a space");
        left = s.substr(0, space);
        right = s.substr(space + 1);
      } else {
        require<io_error>(m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string(),
                          where, ": merge ", detail::json_excerpt(m), " is not a pair of tokens");
        left = m[0].get<std::string>();
        right = m[1].get<std::string>();
      }
      const auto l = id_of(left), r = id_of(right), merged = id_of(left + right);
      require<io_error>(l && r && merged, where, ": merge ", detail::json_excerpt(m), " (rank ", rank,
                        ") names a token that is not in the vocabulary");
      t.merges.push_back({*l, *r, *merged});
      ++rank;
    }
  }

  // Normalizer: none, or Prepend / Replace(" " -> x), alone or in a Sequence.
  if (j.contains("normalizer") && !j["normalizer"].is_null()) {
    const auto& n = j["normalizer"];
    std::vector<nlohmann::json> steps;
    if (detail::json_type_of(n) == "Sequence") {
      for (const auto& s : n.at("normalizers")) steps.push_back(s);
    } else {
      steps.push_back(n);
    }
    for (const auto& s : steps) {
      const std::string kind = detail::json_type_of(s);
      if (kind == "Prepend") {
        t.normalizers.emplace_back('p', s.at("prepend").get<std::string>());
      } else if (kind == "Replace" && s.at("pattern").contains("String") &&
                 s.at("pattern")["String"] == " ") {
        t.normalizers.emplace_back('r', s.at("content").get<std::string>());
      } else {
        bad_tokenizer(where, "normalizer ", detail::json_excerpt(s), " is not supported (est applies Prepend "
                      "and Replace of \" \")");
      }
    }
  }

  // Pre-tokenizer: none, ByteLevel or Metaspace (alone or as a one-step Sequence).
  if (j.contains("pre_tokenizer") && !j["pre_tokenizer"].is_null()) {
    nlohmann::json p = j["pre_tokenizer"];
    if (detail::json_type_of(p) == "Sequence" && p.at("pretokenizers").size() == 1) {
      p = p["pretokenizers"][0];
    }
    const std::string kind = detail::json_type_of(p);
    if (kind == "ByteLevel") {
      t.pre_tokenizer = HfTokenizerSpec::PreTokenizer::byte_level;
      t.add_prefix_space = p.value("add_prefix_space", false);
      t.use_regex = p.value("use_regex", true);
    } else if (kind == "Metaspace") {
      t.pre_tokenizer = HfTokenizerSpec::PreTokenizer::metaspace;
      t.replacement = p.value("replacement", std::string("\xE2\x96\x81"));
      char32_t cp = 0;
      require<io_error>(!t.replacement.empty() &&
                            detail::decode_utf8(t.replacement, 0, cp) == int(t.replacement.size()),
                        where, ": the Metaspace replacement ",
                        detail::json_excerpt(nlohmann::json(t.replacement)),
                        " is not one character");
      t.split = p.value("split", true);
      const std::string scheme =
          p.contains("prepend_scheme")
              ? p["prepend_scheme"].get<std::string>()
              : (p.value("add_prefix_space", true) ? std::string("always") : std::string("never"));
      if (scheme == "always") {
        t.prepend = HfTokenizerSpec::Prepend::always;
      } else if (scheme == "first") {
        t.prepend = HfTokenizerSpec::Prepend::first;
      } else if (scheme == "never") {
        t.prepend = HfTokenizerSpec::Prepend::never;
      } else {
        bad_tokenizer(where, "Metaspace prepend_scheme \"", scheme, "\" is not supported");
      }
    } else {
      bad_tokenizer(where, "pre-tokenizer ", kind, " is not supported (est applies ByteLevel and "
                    "Metaspace)");
    }
  }

  // Decoder: what decode() undoes.
  if (j.contains("decoder") && !j["decoder"].is_null()) {
    const auto& d = j["decoder"];
    std::vector<nlohmann::json> steps;
    if (detail::json_type_of(d) == "Sequence") {
      for (const auto& s : d.at("decoders")) steps.push_back(s);
    } else {
      steps.push_back(d);
    }
    for (const auto& s : steps) {
      const std::string kind = detail::json_type_of(s);
      if (kind == "ByteLevel") {
        t.decode_byte_level = true;
      } else if (kind == "Metaspace") {
        t.decode_metaspace = true;
        const bool prepends = s.contains("prepend_scheme") ? s["prepend_scheme"] != "never"
                                                           : s.value("add_prefix_space", true);
        if (prepends) t.strip_leading_spaces = 1;
      } else if (kind == "Replace" && s.contains("pattern") && s["pattern"].is_object() &&
                 s["pattern"].value("String", std::string()) == t.replacement &&
                 s.value("content", std::string()) == " ") {
        t.decode_metaspace = true;  // "▁" -> " "
      } else if (kind == "Strip" && s.value("content", std::string(" ")) == " " &&
                 s.value("stop", nlohmann::json(0)) == 0 &&
                 (s.value("start", nlohmann::json(0)) == 0 ||
                  s.value("start", nlohmann::json(0)) == 1)) {
        // (compared as JSON: a start of 1e63 must not be converted to int, which is undefined)
        t.strip_leading_spaces = s.value("start", nlohmann::json(0)) == 1 ? 1 : 0;
      } else if (kind != "ByteFallback" && kind != "Fuse") {
        bad_tokenizer(where, "decoder ", detail::json_excerpt(s), " is not supported");
      }
    }
  }
  return t;
}

}  // namespace est

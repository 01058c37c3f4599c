#pragma once
// est::Gpt2Tokenizer: OpenAI GPT-2's byte-level BPE tokenizer, read from the released
// encoder.json (token -> id) and vocab.bpe (merges by rank). Its output equals OpenAI's
// encoder.py, which works in three stages:
//   1. pre-tokenization: the text is cut into pieces by the pattern
//        's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//      (Python `regex` semantics: alternatives tried in order at each position, \s is the
//      White_Space property). std::regex has no \p{L}, so the pattern is implemented here as a
//      scanner over UTF-8 code points, with the classes from est/data/unicode_tables.hpp;
//   2. each piece's bytes become one symbol per byte. The files spell tokens not in bytes but in
//      GPT-2's byte alphabet (printable Latin-1 bytes stand for themselves, the other 68 bytes
//      for U+0100.. in order), which gpt2_byte_alphabet reproduces to read them;
//   3. BPE: while some adjacent pair of symbols is a merge, every occurrence of the pair with
//      the lowest rank is merged, left to right.
//
// Two choices where encoder.py (which takes a Python str) says nothing:
//   - invalid UTF-8: a byte that does not start a well-formed UTF-8 sequence (stray continuation
//     bytes, overlong forms, surrogates, code points past U+10FFFF, truncated sequences) is a
//     unit of its own that is neither letter, number nor space, so it joins the punctuation
//     class [^\s\p{L}\p{N}]. Tokens are byte strings, so decode(encode(s)) == s for any bytes.
//   - special tokens: "<|endoftext|>" in the text is ordinary text (encoded as "<", "|", ...);
//     the end-of-text token is inserted by id (eot_token()), never parsed.
//
// The tokenizer is immutable once loaded: its const members may be called from any number of
// threads. Repeated pieces are encoded once per Gpt2Tokenizer::Cache, which the caller owns (one
// per thread); encode(text) without one uses a cache that lives for that call.

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "est/core/error.hpp"
#include "est/data/gpt2_pretokenizer.hpp"
#include "est/io/json_file.hpp"

namespace est {

/// GPT-2's byte-level BPE tokenizer. Load it from OpenAI's files with load().
class Gpt2Tokenizer {
 public:
  /// Remembers the BPE of pre-tokens already seen. Owned by the caller, one per thread; it may
  /// be shared by copies of one tokenizer and is emptied when used with a tokenizer loaded
  /// from other files. Memory is bounded: pieces longer than max_piece_bytes are not kept, and
  /// the cache is emptied when it reaches max_entries pieces, so it holds at most max_entries
  /// pieces of up to 64 bytes with their ids (about 13 MB at the default in the worst case;
  /// all of tinyshakespeare fills 15,030 entries, about 1.5 MB).
  class Cache {
   public:
    /// Pieces longer than this many bytes are encoded but not remembered.
    static constexpr std::size_t max_piece_bytes = 64;

    /// An empty cache that forgets everything when it holds `max_entries` pieces and a new one
    /// is to be added.
    explicit Cache(std::size_t max_entries = std::size_t{1} << 15) : max_entries_(max_entries) {}

    /// Number of pieces remembered.
    std::size_t size() const { return pieces_.size(); }

    /// Forgets every remembered piece.
    void clear() {
      pieces_.clear();
      ids_.clear();
    }

   private:
    friend class Gpt2Tokenizer;

    /// Transparent string hash: pieces are looked up by string_view without a copy.
    struct Hash {
      using is_transparent = void;  ///< enables heterogeneous lookup
      /// Hash of the bytes of `s`.
      std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
    };
    /// Where a remembered piece's ids lie in `ids_`.
    struct Slice {
      /// @var offset
      /// index in `ids_` of the piece's first id
      /// @var size
      /// number of ids the piece encodes to
      std::uint32_t offset, size;
    };
    /// A symbol of the word being merged, in a doubly linked list over the word's bytes.
    struct Symbol {
      std::int32_t id;          ///< token id; -1 once merged into the symbol on its left
      /// @var prev
      /// index of the neighbour on the left, -1 at the start
      /// @var next
      /// index of the neighbour on the right, -1 at the end
      std::int32_t prev, next;
    };
    /// A mergeable adjacent pair, valid while both symbols still have the recorded ids.
    struct Candidate {
      /// @var rank
      /// the merge's rank: lower ranks merge first
      /// @var left
      /// index of the left symbol in the symbol list
      /// @var left_id
      /// token id the left symbol had when the pair was queued
      /// @var right_id
      /// token id the right symbol had when the pair was queued
      /// @var result
      /// token id of the merged symbol
      std::int32_t rank, left, left_id, right_id, result;
    };

    std::size_t max_entries_;
    std::uint64_t owner_ = 0;  // fingerprint of the tokenizer whose merges fill the cache
    std::unordered_map<std::string, Slice, Hash, std::equal_to<>> pieces_;
    std::vector<std::int32_t> ids_;
    // Work space of one BPE run, kept to avoid allocating per piece.
    std::vector<Symbol> symbols_;
    std::vector<Candidate> heap_, deferred_;
  };

  /// Reads OpenAI's `encoder_json` (a JSON object from token, spelled in GPT-2's byte alphabet,
  /// to id) and `vocab_bpe` (an optional "#version" line, then one merge "left right" per line,
  /// highest priority first). Throws io_error naming the file and the problem when a file is
  /// missing or unreadable, the JSON is invalid, an id is not an integer, ids repeat or are not
  /// dense in [0, N), a token uses a character outside the byte alphabet, a byte or
  /// "<|endoftext|>" has no token, or a merge line is not two tokens of the encoder separated by
  /// one space whose concatenation is also a token, or repeats an earlier merge.
  static Gpt2Tokenizer load(const std::filesystem::path& encoder_json,
                            const std::filesystem::path& vocab_bpe);

  /// Number of token ids, N: ids are [0, N). 50257 for GPT-2.
  std::int32_t vocab_size() const { return static_cast<std::int32_t>(offsets_.size() - 1); }

  /// Id of "<|endoftext|>" (50256 for GPT-2), to be inserted between documents by id.
  std::int32_t eot_token() const { return eot_; }

  /// Number of merges read from vocab.bpe (50000 for GPT-2).
  std::int32_t merge_count() const { return static_cast<std::int32_t>(merges_.size()); }

  /// The bytes token `id` stands for. Throws value_error for ids outside [0, vocab_size()).
  std::string_view token_bytes(std::int32_t id) const {
    require<value_error>(id >= 0 && id < vocab_size(), "Gpt2Tokenizer::token_bytes: id ", id,
                         " is outside [0, ", vocab_size(), ")");
    return bytes_of(id);
  }

  /// GPT-2's token ids for `text` (any bytes; see the top of this header for invalid UTF-8 and
  /// special tokens). Uses, and fills, the caller's `cache`.
  std::vector<std::int32_t> encode(std::string_view text, Cache& cache) const {
    if (cache.owner_ != fingerprint_) {
      cache.clear();
      cache.owner_ = fingerprint_;
    }
    std::vector<std::int32_t> ids;
    ids.reserve(text.size() / 3 + 1);
    for_each_gpt2_pretoken(text, [&](std::string_view piece) { encode_piece(piece, cache, ids); });
    return ids;
  }

  /// GPT-2's token ids for `text`, with a cache that lives for this call. To encode many short
  /// texts, keep a Cache and pass it instead.
  std::vector<std::int32_t> encode(std::string_view text) const {
    Cache cache;
    return encode(text, cache);
  }

  /// The exact bytes `ids` stand for. Throws value_error naming the first id outside
  /// [0, vocab_size()) and its position.
  std::string decode(std::span<const std::int32_t> ids) const {
    std::size_t size = 0;
    for (std::size_t i = 0; i < ids.size(); ++i) {
      require<value_error>(ids[i] >= 0 && ids[i] < vocab_size(), "Gpt2Tokenizer::decode: id ",
                           ids[i], " at position ", i, " is outside [0, ", vocab_size(), ")");
      size += bytes_of(ids[i]).size();
    }
    std::string text;
    text.reserve(size);
    for (const std::int32_t id : ids) text += bytes_of(id);
    return text;
  }

 private:
  /// A merge of vocab.bpe.
  struct Merge {
    /// @var rank
    /// the merge's line index among the merges: lower ranks merge first
    /// @var result
    /// token id of the concatenation of the pair
    std::int32_t rank, result;
  };

  static std::uint64_t pair_key(std::int32_t left, std::int32_t right) {
    return std::uint64_t(std::uint32_t(left)) << 32 | std::uint32_t(right);
  }

  std::string_view bytes_of(std::int32_t id) const {
    return std::string_view(bytes_).substr(offsets_[id], offsets_[id + 1] - offsets_[id]);
  }

  void encode_piece(std::string_view piece, Cache& cache, std::vector<std::int32_t>& out) const;

  using IdOfToken = std::unordered_map<std::string, std::int32_t>;
  /// The byte strings of the tokens (`token_of_id`, in the byte alphabet), the ids of the 256
  /// single bytes and of <|endoftext|>.
  void set_tokens(const std::vector<std::string>& token_of_id, const IdOfToken& id_of_token,
                  const std::filesystem::path& encoder_json);
  /// The merges of vocab.bpe, ranked by their order.
  void read_merges(std::string_view merges_text, const IdOfToken& id_of_token,
                   const std::filesystem::path& vocab_bpe,
                   const std::filesystem::path& encoder_json);

  std::string bytes_;                                // every token's bytes, in id order
  std::vector<std::uint32_t> offsets_;               // id's bytes: [offsets_[id], offsets_[id+1])
  std::array<std::int32_t, 256> byte_ids_{};         // token of each single byte
  std::unordered_map<std::uint64_t, Merge> merges_;  // pair_key(left, right) -> merge
  std::int32_t eot_ = 0;
  std::uint64_t fingerprint_ = 0;  // hash of both files' contents, never 0 once loaded
};

inline void Gpt2Tokenizer::encode_piece(std::string_view piece, Cache& cache,
                                        std::vector<std::int32_t>& out) const {
  if (piece.size() == 1) {
    out.push_back(byte_ids_[static_cast<unsigned char>(piece[0])]);
    return;
  }
  const bool cacheable = piece.size() <= Cache::max_piece_bytes;
  if (cacheable) {
    if (const auto hit = cache.pieces_.find(piece); hit != cache.pieces_.end()) {
      const auto first = cache.ids_.begin() + hit->second.offset;
      out.insert(out.end(), first, first + hit->second.size);
      return;
    }
  }

  // BPE with a heap of candidate pairs ordered by (rank, position): O(n log n) in the piece's
  // length, where encoder.py's rescans are O(n^2). The heap pops a rank's occurrences left to
  // right, which is encoder.py's merge-all-occurrences pass. A pair formed during that pass is
  // only considered after it, as in encoder.py: one ranked below the pass is held in
  // `deferred` until the pass ends (files where merges only build on earlier merges, such as
  // GPT-2's, never form one).
  require<value_error>(piece.size() < std::size_t(std::numeric_limits<std::int32_t>::max()),
                       "Gpt2Tokenizer::encode: a pre-token of ", piece.size(),
                       " bytes is longer than the 2^31 - 2 bytes BPE supports");
  const auto n = static_cast<std::int32_t>(piece.size());
  auto& symbols = cache.symbols_;
  auto& heap = cache.heap_;
  auto& deferred = cache.deferred_;
  symbols.resize(piece.size());
  heap.clear();
  deferred.clear();
  for (std::int32_t i = 0; i < n; ++i) {
    symbols[i] = {byte_ids_[static_cast<unsigned char>(piece[i])], i - 1, i + 1 < n ? i + 1 : -1};
  }
  const auto later = [](const Cache::Candidate& a, const Cache::Candidate& b) {
    return a.rank != b.rank ? a.rank > b.rank : a.left > b.left;
  };
  std::int32_t pass_rank = -1;
  const auto consider = [&](std::int32_t left) {
    const std::int32_t left_id = symbols[left].id, right_id = symbols[symbols[left].next].id;
    const auto merge = merges_.find(pair_key(left_id, right_id));
    if (merge == merges_.end()) return;
    const Cache::Candidate candidate{merge->second.rank, left, left_id, right_id,
                                     merge->second.result};
    if (candidate.rank < pass_rank) {
      deferred.push_back(candidate);
    } else {
      heap.push_back(candidate);
      std::push_heap(heap.begin(), heap.end(), later);
    }
  };
  for (std::int32_t i = 0; i + 1 < n; ++i) consider(i);
  while (true) {
    if (heap.empty() || (heap.front().rank != pass_rank && !deferred.empty())) {
      if (deferred.empty()) break;
      for (const auto& candidate : deferred) {
        heap.push_back(candidate);
        std::push_heap(heap.begin(), heap.end(), later);
      }
      deferred.clear();
      continue;
    }
    std::pop_heap(heap.begin(), heap.end(), later);
    const Cache::Candidate top = heap.back();
    heap.pop_back();
    Cache::Symbol& left = symbols[top.left];
    if (left.id != top.left_id || left.next < 0 || symbols[left.next].id != top.right_id) {
      continue;  // stale: one of the two symbols has been merged since
    }
    pass_rank = top.rank;
    Cache::Symbol& right = symbols[left.next];
    left.id = top.result;
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = top.left;
    right.id = -1;
    if (left.prev >= 0) consider(left.prev);
    if (left.next >= 0) consider(top.left);
  }

  const std::size_t first = out.size();
  for (std::int32_t i = 0; i >= 0; i = symbols[i].next) out.push_back(symbols[i].id);
  if (cacheable) {
    if (cache.pieces_.size() >= cache.max_entries_) cache.clear();
    const auto count = static_cast<std::uint32_t>(out.size() - first);
    cache.pieces_.emplace(std::string(piece),
                          Cache::Slice{static_cast<std::uint32_t>(cache.ids_.size()), count});
    cache.ids_.insert(cache.ids_.end(), out.begin() + std::ptrdiff_t(first), out.end());
  }
}

namespace detail {

/// The whole content of `path`; `what` names the file's role in errors.
inline std::string read_tokenizer_file(const std::filesystem::path& path, std::string_view what) {
  std::error_code ec;
  require<io_error>(std::filesystem::exists(path, ec), "Gpt2Tokenizer::load: the ", what,
                    " file ", path, " does not exist");
  require<io_error>(!std::filesystem::is_directory(path, ec), "Gpt2Tokenizer::load: the ", what,
                    " file ", path, " is a directory, expected a file");
  std::ifstream in(path, std::ios::binary);
  require<io_error>(in.is_open(), "Gpt2Tokenizer::load: cannot open the ", what, " file ", path,
                    " for reading");
  std::ostringstream content;
  content << in.rdbuf();
  require<io_error>(!in.bad(), "Gpt2Tokenizer::load: reading the ", what, " file ", path,
                    " failed");
  return std::move(content).str();
}

/// FNV-1a over `text`, continuing from `hash`.
inline std::uint64_t fnv1a(std::string_view text, std::uint64_t hash = 0xcbf29ce484222325ull) {
  for (const char c : text) hash = (hash ^ static_cast<unsigned char>(c)) * 0x100000001b3ull;
  return hash;
}

}  // namespace detail

namespace detail {

/// encoder.json: token (in the byte alphabet) -> id, ids dense in [0, N). Returns the tokens by
/// id and the ids by token.
inline std::pair<std::vector<std::string>, std::unordered_map<std::string, std::int32_t>>
read_gpt2_encoder(const std::string& encoder_text, const std::filesystem::path& encoder_json) {
  // Bounded: encoder.json is {token: id}, so deep nesting is refused before anything recurses.
  auto parsed = parse_json_bounded(encoder_text, 4, false);
  require<io_error>(parsed.error.empty(), "Gpt2Tokenizer::load: the encoder file ",
                    encoder_json, " ", parsed.error);
  const nlohmann::json encoder = std::move(parsed.value);
  require<io_error>(encoder.is_object(), "Gpt2Tokenizer::load: the encoder file ", encoder_json,
                    " holds a JSON ", encoder.type_name(), ", expected an object {token: id}");
  const std::size_t max_tokens = std::numeric_limits<std::int32_t>::max() - 1;
  require<io_error>(!encoder.empty() && encoder.size() <= max_tokens,
                    "Gpt2Tokenizer::load: the encoder file ", encoder_json, " has ",
                    encoder.size(), " tokens, expected 1 to ", max_tokens);
  const auto count = static_cast<std::int64_t>(encoder.size());
  std::vector<std::string> token_of_id(static_cast<std::size_t>(count));
  std::vector<bool> seen(static_cast<std::size_t>(count), false);
  std::unordered_map<std::string, std::int32_t> id_of_token;
  id_of_token.reserve(encoder.size());
  for (const auto& [token, value] : encoder.items()) {
    require<io_error>(value.is_number_integer(), "Gpt2Tokenizer::load: in ", encoder_json,
                      ", token \"", token, "\" has id ", json_excerpt(value), ", expected an integer");
    const bool in_range = value.is_number_unsigned()
                              ? value.get<std::uint64_t>() < std::uint64_t(count)
                              : value.get<std::int64_t>() >= 0 && value.get<std::int64_t>() < count;
    require<io_error>(in_range, "Gpt2Tokenizer::load: in ", encoder_json, ", token \"", token,
                      "\" has id ", json_excerpt(value), ", expected an id in [0, ", count,
                      ") (ids must be dense: the file has ", count, " tokens)");
    const auto id = static_cast<std::size_t>(value.get<std::int64_t>());
    require<io_error>(!seen[id], "Gpt2Tokenizer::load: in ", encoder_json, ", id ", id,
                      " is given to both \"", token_of_id[id], "\" and \"", token, "\"");
    seen[id] = true;
    token_of_id[id] = token;
    id_of_token.emplace(token, static_cast<std::int32_t>(id));
  }

  return {std::move(token_of_id), std::move(id_of_token)};
}

}  // namespace detail

inline void Gpt2Tokenizer::set_tokens(const std::vector<std::string>& token_of_id,
                                      const IdOfToken& id_of_token,
                                      const std::filesystem::path& encoder_json) {
  std::array<int, 324> byte_of_code_point;  // inverse of gpt2_byte_alphabet, -1 elsewhere
  byte_of_code_point.fill(-1);
  for (unsigned b = 0; b < 256; ++b) byte_of_code_point[gpt2_byte_alphabet[b]] = int(b);
  offsets_.reserve(token_of_id.size() + 1);
  offsets_.push_back(0);
  for (std::size_t id = 0; id < token_of_id.size(); ++id) {
    const std::string& token = token_of_id[id];
    for (std::size_t pos = 0; pos < token.size();) {
      char32_t cp = 0;
      const int size = detail::decode_utf8(token, pos, cp);  // the JSON parser checked UTF-8
      const int byte = size > 0 && cp < byte_of_code_point.size() ? byte_of_code_point[cp] : -1;
      require<io_error>(byte >= 0, "Gpt2Tokenizer::load: in ", encoder_json, ", token \"", token,
                        "\" (id ", id, ") has a character outside GPT-2's byte alphabet at byte ",
                        pos);
      bytes_ += static_cast<char>(byte);
      pos += std::size_t(size);
    }
    require<io_error>(bytes_.size() < std::numeric_limits<std::uint32_t>::max(),
                      "Gpt2Tokenizer::load: the tokens of ", encoder_json, " exceed 4 GiB");
    offsets_.push_back(static_cast<std::uint32_t>(bytes_.size()));
  }
  for (unsigned b = 0; b < 256; ++b) {
    std::string symbol;
    detail::append_utf8(symbol, gpt2_byte_alphabet[b]);
    const auto it = id_of_token.find(symbol);
    require<io_error>(it != id_of_token.end(), "Gpt2Tokenizer::load: ", encoder_json,
                      " has no token for byte ", b, " (\"", symbol,
                      "\"); a byte-level BPE needs all 256");
    byte_ids_[b] = it->second;
  }
  const auto eot = id_of_token.find("<|endoftext|>");
  require<io_error>(eot != id_of_token.end(), "Gpt2Tokenizer::load: ", encoder_json,
                    " has no \"<|endoftext|>\" token");
  eot_ = eot->second;
}

inline void Gpt2Tokenizer::read_merges(std::string_view merges_text,
                                       const IdOfToken& id_of_token,
                                       const std::filesystem::path& vocab_bpe,
                                       const std::filesystem::path& encoder_json) {
  // vocab.bpe: "#version: ..." then "left right" per line; the rank is the merge's index.
  std::string_view rest = merges_text;
  std::size_t line_number = 0, first_merge_line = 1;
  while (!rest.empty()) {
    const std::size_t newline = rest.find('\n');
    std::string_view line = rest.substr(0, newline);
    rest = newline == std::string_view::npos ? std::string_view{} : rest.substr(newline + 1);
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line_number == 1 && line.starts_with("#version")) {
      first_merge_line = 2;
      continue;
    }
    const std::size_t space = line.find(' ');
    require<io_error>(space != std::string_view::npos && space > 0 && space + 1 < line.size() &&
                          line.find(' ', space + 1) == std::string_view::npos,
                      "Gpt2Tokenizer::load: line ", line_number, " of the merges file ", vocab_bpe,
                      " is \"", line, "\", expected two tokens separated by one space");
    const std::string left(line.substr(0, space)), right(line.substr(space + 1));
    std::int32_t ids[3];
    const std::string* parts[3] = {&left, &right, nullptr};
    const std::string merged = left + right;
    parts[2] = &merged;
    for (int k = 0; k < 3; ++k) {
      const auto it = id_of_token.find(*parts[k]);
      require<io_error>(it != id_of_token.end(), "Gpt2Tokenizer::load: line ", line_number,
                        " of the merges file ", vocab_bpe, " merges \"", left, "\" and \"", right,
                        "\", but ", k < 2 ? "the token \"" : "their concatenation \"", *parts[k],
                        "\" is not in the encoder ", encoder_json);
      ids[k] = it->second;
    }
    const auto rank = static_cast<std::int32_t>(merges_.size());
    const auto [previous, inserted] =
        merges_.emplace(pair_key(ids[0], ids[1]), Merge{rank, ids[2]});
    require<io_error>(inserted, "Gpt2Tokenizer::load: line ", line_number, " of the merges file ",
                      vocab_bpe, " repeats the merge \"", line, "\" of line ",
                      first_merge_line + std::size_t(previous->second.rank));
  }
}

inline Gpt2Tokenizer Gpt2Tokenizer::load(const std::filesystem::path& encoder_json,
                                         const std::filesystem::path& vocab_bpe) {
  const std::string encoder_text = detail::read_tokenizer_file(encoder_json, "encoder");
  const std::string merges_text = detail::read_tokenizer_file(vocab_bpe, "merges");
  const auto [token_of_id, id_of_token] = detail::read_gpt2_encoder(encoder_text, encoder_json);
  Gpt2Tokenizer tokenizer;
  tokenizer.set_tokens(token_of_id, id_of_token, encoder_json);
  tokenizer.read_merges(merges_text, id_of_token, vocab_bpe, encoder_json);
  tokenizer.fingerprint_ = detail::fnv1a(merges_text, detail::fnv1a(encoder_text)) | 1;
  return tokenizer;
}

}  // namespace est

#pragma once
// The merge step of byte-pair encoding over token ids: given a word as a sequence of symbols
// (ids) and a table of merges (pair of ids -> rank and merged id), repeatedly merge the adjacent
// pair with the lowest rank, the leftmost one among equals, until no adjacent pair is a merge.
// A priority queue of candidate pairs keeps this O(n log n) in the word's length, so a whole
// document taken as one word (as Llama-style tokenizers without pre-tokenization do) is fine.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <queue>
#include <unordered_map>
#include <vector>

namespace est {

/// Merges of a BPE vocabulary: (left id, right id) -> (rank, merged id).
class BpeMerges {
 public:
  /// What a pair merges into.
  struct Merge {
    std::int32_t rank = 0;  ///< priority: lower ranks merge first
    std::int32_t id = 0;    ///< id of the merged symbol
  };

  /// Adds the merge of (left, right) into `merged` at `rank`; a pair given twice keeps the later
  /// rank (as Hugging Face's tokenizers does).
  void add(std::int32_t left, std::int32_t right, std::int32_t rank, std::int32_t merged) {
    table_[key(left, right)] = {rank, merged};
  }
  /// Number of distinct pairs in the table.
  [[nodiscard]] std::size_t size() const noexcept { return table_.size(); }
  /// The merge of (left, right), or null when the pair does not merge. The pointer stays valid
  /// while the table lives; a later add() of the same pair changes what it points to.
  [[nodiscard]] const Merge* find(std::int32_t left, std::int32_t right) const {
    const auto it = table_.find(key(left, right));
    return it == table_.end() ? nullptr : &it->second;
  }

  /// Merges `symbols` (a word's ids, in order) in place: repeatedly the adjacent pair of lowest
  /// rank, the leftmost among equals, until no adjacent pair is in the table.
  void apply(std::vector<std::int32_t>& symbols) const {
    // Positions are 64-bit: a document taken as one word may exceed 2^31 symbols.
    using Pos = std::int64_t;
    const auto n = static_cast<Pos>(symbols.size());
    if (n < 2) return;
    const std::size_t count = symbols.size();
    std::vector<Pos> next(count), prev(count);  // neighbours in the list, -1 at the ends
    std::vector<bool> alive(count, true);
    for (Pos i = 0; i < n; ++i) {
      next[std::size_t(i)] = i + 1 < n ? i + 1 : -1;
      prev[std::size_t(i)] = i - 1;
    }
    struct Candidate {
      std::int32_t rank;
      Pos pos;
      std::int32_t id;
      bool operator>(const Candidate& o) const {
        return rank != o.rank ? rank > o.rank : pos > o.pos;
      }
    };
    std::priority_queue<Candidate, std::vector<Candidate>, std::greater<>> queue;
    auto consider = [&](Pos pos) {
      const Pos right = next[std::size_t(pos)];
      if (right < 0) return;
      if (const Merge* m = find(symbols[std::size_t(pos)], symbols[std::size_t(right)])) {
        queue.push({m->rank, pos, m->id});
      }
    };
    for (Pos i = 0; i + 1 < n; ++i) consider(i);
    while (!queue.empty()) {
      const Candidate top = queue.top();
      queue.pop();
      const auto pos = std::size_t(top.pos);
      if (!alive[pos] || next[pos] < 0) continue;
      const auto right = std::size_t(next[pos]);
      // The pair may have changed since it was queued: it must still merge into the same id.
      const Merge* m = find(symbols[pos], symbols[right]);
      if (!m || m->id != top.id || m->rank != top.rank) continue;
      symbols[pos] = top.id;
      alive[right] = false;
      next[pos] = next[right];
      if (next[pos] >= 0) prev[std::size_t(next[pos])] = top.pos;
      if (prev[pos] >= 0) consider(prev[pos]);
      consider(top.pos);
    }
    std::size_t out = 0;
    for (std::size_t i = 0; i < symbols.size(); ++i) {
      if (alive[i]) symbols[out++] = symbols[i];
    }
    symbols.resize(out);
  }

 private:
  static std::uint64_t key(std::int32_t left, std::int32_t right) noexcept {
    return std::uint64_t(std::uint32_t(left)) << 32 | std::uint32_t(right);
  }
  std::unordered_map<std::uint64_t, Merge> table_;
};

}  // namespace est

#pragma once
// Batches of next-token prediction windows from a token sequence.
//
// Training batches are B windows of T+1 consecutive tokens (inputs = the first T, targets = the
// last T) whose starts are drawn uniformly from the whole range, from Philox keyed by
// (seed, step, micro-batch). A batch is a pure function of those three numbers: the loader has
// no state beyond the step, so a resumed run draws exactly the batches it would have drawn.
// Validation batches are fixed: consecutive, non-overlapping windows from the start of the
// validation range, the same at every evaluation.
//
// A token source is any type with `Index size() const` and
// `void copy(Index first, Index count, std::span<std::int32_t> out) const` (the concept
// TokenSource): an in-memory TokenBuffer, or a memory-mapped token file.

#include <concepts>
#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "est/core/checks.hpp"
#include "est/core/philox.hpp"
#include "est/core/tensor.hpp"

namespace est {

/// A sequence of int32 token ids that can be read in ranges: `size()` is the number of tokens
/// and `copy(first, count, out)` writes tokens [first, first + count) to the front of `out`.
template <class S>
concept TokenSource = requires(const S& s, Index first, Index count, std::span<std::int32_t> out) {
  { s.size() } -> std::convertible_to<Index>;
  s.copy(first, count, out);
};

/// Tokens held in memory.
class TokenBuffer {
 public:
  TokenBuffer() = default;
  /// Takes ownership of `tokens`.
  explicit TokenBuffer(std::vector<std::int32_t> tokens) : tokens_(std::move(tokens)) {}
  /// Number of tokens.
  [[nodiscard]] Index size() const noexcept { return std::ssize(tokens_); }
  /// Writes tokens [first, first + count) to the first `count` slots of `out`. Throws
  /// shape_error when the range is not inside the buffer or `out` has fewer than `count` slots.
  void copy(Index first, Index count, std::span<std::int32_t> out) const {
    require<shape_error>(first >= 0 && count >= 0 && first + count <= size() &&
                             std::ssize(out) >= count,
                         "TokenBuffer::copy: tokens [", first, ", ", first + count,
                         ") of ", size(), " into ", out.size(), " slots");
    std::copy_n(tokens_.begin() + first, count, out.begin());
  }
  /// All the tokens, in order.
  [[nodiscard]] const std::vector<std::int32_t>& tokens() const noexcept { return tokens_; }

 private:
  std::vector<std::int32_t> tokens_;
};

/// A contiguous range [first, first + count) of a source, as the training or validation split.
struct TokenRange {
  Index first = 0;  ///< index of the range's first token in the source
  Index count = 0;  ///< number of tokens in the range
};

/// Draws training and validation batches of next-token windows from a range of a TokenSource
/// (see the file's overview): training batches from Philox keyed by (seed, step, micro-batch),
/// validation batches as fixed consecutive windows. Holds a pointer to the source, not a copy.
/// Not thread-safe: the batch functions share one scratch window.
template <TokenSource Source>
class BatchSampler {
 public:
  /// Batches of `batch` x `seq` from `range` of `source` (which must outlive the sampler);
  /// `name` (a file name, "train split", ...) appears in errors. The range must hold at least
  /// one batch: batch·seq + 1 tokens.
  BatchSampler(const Source& source, TokenRange range, Index batch, Index seq, std::uint64_t seed,
               std::string name)
      : source_(&source), range_(range), batch_(batch), seq_(seq), seed_(seed),
        name_(std::move(name)) {
    require<value_error>(batch >= 1 && seq >= 1, name_,
                         ": batch and sequence length must be >= 1, got ", batch, " and ", seq);
    require<value_error>(range.first >= 0 && range.count >= 0 &&
                             range.first <= Index(source.size()) &&
                             range.count <= Index(source.size()) - range.first,
                         name_, ": token range [", range.first, ", ", range.first + range.count,
                         ") is outside the source's ", source.size(), " tokens");
    // batch · seq + 1 without overflow: a product past the range is simply too large.
    Index needed = 0;
    const bool overflow = __builtin_mul_overflow(batch, seq, &needed) ||
                          __builtin_add_overflow(needed, Index(1), &needed);
    require<value_error>(!overflow && range.count >= needed, name_, ": ", range.count,
                         " tokens are fewer than one batch needs (", batch, " x ", seq, " + 1",
                         overflow ? std::string(" is past 2^63") : " = " + std::to_string(needed),
                         ")");
  }

  /// Micro-batch `micro` of optimizer step `step`: tokens and targets, both (B, T), where
  /// targets are the tokens shifted left by one. Window starts are uniform over the range.
  /// Throws shape_error when an output is not (B, T) and value_error when `step` or `micro` is
  /// negative.
  void train_batch(std::int64_t step, int micro, TensorView<std::int32_t> tokens,
                   TensorView<std::int32_t> targets) const {
    check_outputs(tokens, targets);
    train_rows(step, micro, 0, tokens, targets);
  }

  /// Rows [first_row, first_row + b) of micro-batch `micro` of step `step`, into tokens and
  /// targets of shape (b, T): the same windows train_batch() puts in those rows. Data-parallel
  /// ranks each take their own rows of the global batch this way (dist/). Throws shape_error
  /// when an output is not (b, T) with 1 <= b and first_row + b <= B, value_error when `step`,
  /// `micro` or `first_row` is negative.
  void train_rows(std::int64_t step, int micro, Index first_row, TensorView<std::int32_t> tokens,
                  TensorView<std::int32_t> targets) const {
    require<value_error>(step >= 0 && micro >= 0 && first_row >= 0, name_, ": step ", step,
                         ", micro-batch ", micro, " and first row ", first_row, " must be >= 0");
    const Index rows = tokens.rank() == 2 ? tokens.dim(0) : 0;
    require<shape_error>(rows >= 1 && first_row + rows <= batch_, name_, ": rows [", first_row,
                         ", ", first_row + rows, ") are not inside the batch of ", batch_);
    expect_shape(tokens, Shape{rows, seq_}, "BatchSampler", "tokens");
    expect_shape(targets, Shape{rows, seq_}, "BatchSampler", "targets");
    const Index starts = range_.count - seq_;  // window starts in [0, count - T - 1]
    const std::uint64_t stream = rng_stream(RngPurpose::batches, static_cast<std::uint64_t>(step));
    for (Index b = 0; b < rows; ++b) {
      const auto counter = static_cast<std::uint64_t>(micro) * static_cast<std::uint64_t>(batch_) +
                           static_cast<std::uint64_t>(first_row + b);
      const Index start = range_.first + uniform_index(seed_, stream, counter, starts);
      load_window(start, b, tokens, targets);
    }
  }

  /// How many fixed validation batches the range holds (consecutive windows, no overlap).
  [[nodiscard]] Index validation_batches() const { return (range_.count - 1) / (batch_ * seq_); }

  /// Validation batch `i` in [0, validation_batches()): window `b` of batch `i` starts at
  /// token (i·B + b)·T of the range. Throws shape_error when an output is not (B, T) and
  /// value_error when `i` is out of range.
  void validation_batch(Index i, TensorView<std::int32_t> tokens,
                        TensorView<std::int32_t> targets) const {
    check_outputs(tokens, targets);
    require<value_error>(i >= 0 && i < validation_batches(), name_, ": validation batch ", i,
                         " is outside [0, ", validation_batches(), ")");
    for (Index b = 0; b < batch_; ++b) {
      load_window(range_.first + (i * batch_ + b) * seq_, b, tokens, targets);
    }
  }

  /// Batch size B (windows per batch).
  [[nodiscard]] Index batch() const noexcept { return batch_; }
  /// Sequence length T (tokens per window, not counting the extra target token).
  [[nodiscard]] Index seq() const noexcept { return seq_; }

 private:
  void check_outputs(TensorView<std::int32_t> tokens, TensorView<std::int32_t> targets) const {
    expect_shape(tokens, Shape{batch_, seq_}, "BatchSampler", "tokens");
    expect_shape(targets, Shape{batch_, seq_}, "BatchSampler", "targets");
  }

  void load_window(Index start, Index b, TensorView<std::int32_t> tokens,
                   TensorView<std::int32_t> targets) const {
    window_.resize(static_cast<std::size_t>(seq_ + 1));
    source_->copy(start, seq_ + 1, window_);
    std::copy_n(window_.begin(), seq_, tokens.data() + b * seq_);
    std::copy_n(window_.begin() + 1, seq_, targets.data() + b * seq_);
  }

  const Source* source_;
  TokenRange range_;
  Index batch_, seq_;
  std::uint64_t seed_;
  std::string name_;
  mutable std::vector<std::int32_t> window_;  // (T + 1) scratch
};

}  // namespace est

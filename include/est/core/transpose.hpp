#pragma once
// Whether a GEMM operand is used as stored or transposed.

namespace est {

/// Whether a GEMM operand is used as stored (`no`) or transposed (`yes`).
enum class Transpose { no, yes };
/// @var Transpose::no
/// The operand as stored.
/// @var Transpose::yes
/// The operand's transpose.

}  // namespace est

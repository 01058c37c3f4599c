#pragma once
// Whether a GEMM operand is used as stored or transposed.

namespace est {

enum class Transpose { no, yes };

}  // namespace est

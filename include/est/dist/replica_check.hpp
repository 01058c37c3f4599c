#pragma once
// Do the ranks of a data-parallel run still hold the same weights? Every rank applies the same
// update to the same weights, so their bits never differ unless something is wrong (a rank that
// read other data, a non-deterministic kernel, memory corruption). A 64-bit fingerprint of the
// weights' bytes, gathered from every rank, tells cheaply:
//
//   check_replicas(comm, weights (P), step)   throws value_error naming the step and the ranks

#include <cstdint>
#include <cstring>
#include <sstream>
#include <vector>

#include "est/core/error.hpp"
#include "est/core/tensor.hpp"
#include "est/dist/communicator.hpp"

namespace est {

/// A 64-bit fingerprint of the bytes of `values` (n): equal bits give equal fingerprints, and
/// any changed bit changes it with overwhelming probability (a multiply-xorshift mix of each
/// 8-byte word and its position; not a cryptographic hash).
template <class T>
[[nodiscard]] std::uint64_t fingerprint(ConstView<T> values) {
  const auto* bytes = reinterpret_cast<const unsigned char*>(values.data());
  const std::size_t n = std::size_t(values.numel()) * sizeof(T);
  auto mix = [](std::uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
  };
  std::uint64_t h = 0x9e3779b97f4a7c15ULL ^ n;
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    std::uint64_t word;
    std::memcpy(&word, bytes + i, 8);
    h = mix(h ^ word ^ (std::uint64_t(i) * 0x9e3779b97f4a7c15ULL));
  }
  std::uint64_t tail = 0;
  std::memcpy(&tail, bytes + i, n - i);
  return mix(h ^ tail ^ 0x632be59bd9b4e019ULL);
}

/// Throws value_error, naming `step` and every rank's fingerprint, unless all ranks of `comm`
/// hold the same bits in `weights` (P). A collective: every rank calls it at the same step.
template <class T>
void check_replicas(Communicator& comm, ConstView<T> weights, std::int64_t step) {
  if (comm.size() == 1) return;
  const std::vector<std::uint64_t> all = comm.all_gather(fingerprint<T>(weights));
  for (const std::uint64_t h : all) {
    if (h == all.front()) continue;
    std::ostringstream ranks;
    for (std::size_t r = 0; r < all.size(); ++r) {
      ranks << (r ? ", " : "") << "rank " << r << ": " << std::hex << all[r] << std::dec;
    }
    fail<value_error>("data parallelism: the ranks' weights differ after step ", step,
                      " (they must stay identical; fingerprints ", ranks.str(), ")");
  }
}

}  // namespace est

#pragma once
// Device tags. A device is an empty type; backends are overloads chosen by the tag, so an op
// asked of a device without a backend fails to compile instead of failing at run time.

#include <concepts>

namespace est {

/// Host CPU; ops lowered to Eigen (GEMMs) and OpenMP loops.
struct cpu {
  static constexpr const char* name = "cpu";
};

/// One CUDA GPU; its backend is opt-in (the est::cuda target).
struct cuda {
  static constexpr const char* name = "cuda";
};

/// A type est knows as a device tag.
template <class D>
concept device = std::same_as<D, cpu> || std::same_as<D, cuda>;

namespace detail {
template <class...>
inline constexpr bool dependent_false = false;
}  // namespace detail

}  // namespace est

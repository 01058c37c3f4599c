#pragma once
// Device tags. A device is an empty type; backends are overloads chosen by the tag, so an op
// asked of a device without a backend fails to compile instead of failing at run time.

#include <concepts>
#include <type_traits>

namespace est {

/// Host CPU; ops lowered to Eigen (GEMMs) and OpenMP loops.
struct cpu {
  /// "cpu": the device's name (every device tag has one).
  static constexpr const char* name = "cpu";
};

/// One CUDA GPU; its backend is opt-in (the est::cuda target).
struct cuda {
  /// "cuda": the device's name (every device tag has one).
  static constexpr const char* name = "cuda";
};

/// A device tag: an empty type with a static `name`. est ships cpu and cuda; a backend for
/// another device adds its tag, its Context specialisation, its Tensor and its ops, and the
/// models, optimizer and trainer take it unchanged.
template <class D>
concept device = std::is_empty_v<D> && requires {
  { D::name } -> std::convertible_to<const char*>;
};

namespace detail {
template <class...>
inline constexpr bool dependent_false = false;
}  // namespace detail

}  // namespace est

#pragma once
// Helpers shared by est's tests: random tensors from a generator independent of est's own RNG,
// error metrics, and central finite differences.

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <limits>
#include <random>
#include <span>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include <est/core/error.hpp>
#include <est/core/tensor.hpp>

namespace est::testing {

/// A tensor of normal(0, scale) values from std::mt19937_64 (not est's Philox, which is tested
/// separately and must not be an oracle for itself).
template <class T>
Tensor<T> random_tensor(Shape shape, std::uint64_t seed, double scale = 1.0) {
  Tensor<T> t(shape);
  std::mt19937_64 gen(seed);
  std::normal_distribution<double> normal(0.0, scale);
  for (Index i = 0; i < t.numel(); ++i) t[i] = static_cast<T>(normal(gen));
  return t;
}

/// Token ids uniform in [0, vocab).
inline Tensor<std::int32_t> random_tokens(Shape shape, int vocab, std::uint64_t seed) {
  Tensor<std::int32_t> t(shape);
  std::mt19937_64 gen(seed);
  std::uniform_int_distribution<int> pick(0, vocab - 1);
  for (Index i = 0; i < t.numel(); ++i) t[i] = pick(gen);
  return t;
}

template <class T>
Tensor<T> copy_of(const Tensor<T>& t) {
  return t;
}

/// Number of elements of a tensor, view or standard container.
template <class X>
Index count(const X& x) {
  if constexpr (requires { x.numel(); }) {
    return x.numel();
  } else {
    return static_cast<Index>(x.size());
  }
}

/// max_i |a_i - b_i| / max(max_i |b_i|, floor): the error relative to the reference's scale.
/// Infinite when any element of either side is NaN or infinite, so that a NaN never passes.
template <class A, class B>
double relative_error(const A& a, const B& b, double floor = 1e-30) {
  REQUIRE(count(a) == count(b));
  double num = 0, den = floor;
  for (Index i = 0; i < count(b); ++i) {
    const double x = double(a[i]), y = double(b[i]);
    if (!std::isfinite(x) || !std::isfinite(y)) return INFINITY;
    num = std::max(num, std::abs(x - y));
    den = std::max(den, std::abs(y));
  }
  return num / den;
}

/// A tensor filled with NaN: an op that must write every element of its output (not accumulate
/// into it) is checked by handing it one of these.
template <class T>
Tensor<T> nan_tensor(Shape shape) {
  Tensor<T> t(shape);
  for (Index i = 0; i < t.numel(); ++i) t[i] = std::numeric_limits<T>::quiet_NaN();
  return t;
}

/// Central finite difference of `loss()` with respect to every element of `x`, in double.
/// Fourth-order stencil: error O(h^4), so h = 1e-3 leaves truncation far below 1e-9.
inline std::vector<double> numerical_gradient(double* x, Index n,
                                              const std::function<double()>& loss,
                                              double h = 1e-3) {
  std::vector<double> g(static_cast<std::size_t>(n));
  for (Index i = 0; i < n; ++i) {
    const double saved = x[i];
    auto at = [&](double delta) {
      x[i] = saved + delta;
      return loss();
    };
    g[i] = (-at(2 * h) + 8 * at(h) - 8 * at(-h) + at(-2 * h)) / (12 * h);
    x[i] = saved;
  }
  return g;
}

/// Weighted sum Σ w_i y_i: a scalar loss whose gradient with respect to y is w.
template <class T>
double dot(const Tensor<T>& y, const Tensor<T>& w) {
  double s = 0;
  for (Index i = 0; i < y.numel(); ++i) s += double(y[i]) * double(w[i]);
  return s;
}

/// Tolerance for comparing an optimized op with its reference in precision T.
template <class T>
constexpr double tolerance() {
  return std::is_same_v<T, double> ? 1e-12 : 2e-5;
}

/// A copy of an index set, for comparing with ==.
inline std::vector<int> to_vector(std::span<const int> s) { return {s.begin(), s.end()}; }

/// The message of the value_error that `f` throws; fails the test when it throws nothing.
template <class F>
std::string value_error_message(F&& f) {
  try {
    f();
  } catch (const est::value_error& e) {
    return e.what();
  }
  FAIL("expected an est::value_error");
  return {};
}

/// Replaces every parameter of `model` with normal(0, 0.3) (norm weights around 1), so that
/// every nonlinearity is exercised away from the near-linear regime of the GPT-2 initialisation.
template <class Model>
void randomise(Model& model, std::uint64_t seed) {
  std::mt19937_64 gen(seed);
  std::normal_distribution<double> normal(0.0, 0.3);
  auto arena = model.parameter_arena();
  for (const auto& spec : model.parameter_specs()) {
    // GPT-2's LayerNorm weights (ln_1, ln_2, ln_f) and Llama's RMSNorm weights (*norm.weight).
    const bool ln_weight = (spec.name.find("ln_") != std::string::npos ||
                            spec.name.ends_with("norm.weight")) &&
                           spec.name.ends_with(".weight");
    for (Index i = 0; i < spec.shape.numel(); ++i) {
      arena[spec.offset + i] = static_cast<typename Model::scalar_type>(
          (ln_weight ? 1.0 : 0.0) + normal(gen));
    }
  }
}

using Bytes = std::vector<unsigned char>;

/// The whole contents of a file (empty when it cannot be read).
inline Bytes read_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

/// Replaces a file's contents with `bytes`.
inline void write_bytes(const std::filesystem::path& path, const Bytes& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
}

/// A fresh directory under the system's temporary directory, removed with everything in it.
class TempDir {
 public:
  explicit TempDir(const std::string& tag = "test") {
    static std::atomic<int> counter{0};
    path_ = std::filesystem::temp_directory_path() /
            ("est_" + tag + "." + std::to_string(::getpid()) + "." + std::to_string(counter++));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::permissions(path_, std::filesystem::perms::owner_all,
                                 std::filesystem::perm_options::add, ec);
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  [[nodiscard]] std::filesystem::path operator/(const std::string& name) const {
    return path_ / name;
  }
  [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }

  /// Names of the entries in the directory.
  [[nodiscard]] std::vector<std::string> entries() const {
    std::vector<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(path_)) {
      names.push_back(e.path().filename().string());
    }
    return names;
  }

 private:
  std::filesystem::path path_;
};

}  // namespace est::testing

/// Checks that `expr` throws `type` and that its message contains `text`.
#define EST_CHECK_THROWS(expr, type, text) \
  do {                                     \
    CHECK_THROWS_AS(expr, type);           \
    CHECK_THROWS_WITH(expr, Catch::Matchers::Contains(text)); \
  } while (false)

#pragma once
// est::error and its typed children: every check in est throws one of these with a message
// that names the function, the argument and what was expected versus what was found.

#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace est {

/// Base of every exception est throws.
class error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A tensor or argument has the wrong shape or size.
class shape_error : public error {
 public:
  using error::error;
};

/// An argument has a value outside its domain (an out-of-range token id, a non-finite number,
/// a negative learning rate, ...).
class value_error : public error {
 public:
  using error::error;
};

/// Reading or writing a file failed, or a file is malformed.
class io_error : public error {
 public:
  using error::error;
};

namespace detail {
template <class... Parts>
std::string concat(const Parts&... parts) {
  std::ostringstream out;
  (out << ... << parts);
  return out.str();
}
}  // namespace detail

/// Throws `Error` with the message made of `parts` streamed one after another.
template <class Error = error, class... Parts>
[[noreturn]] void fail(const Parts&... parts) {
  throw Error(detail::concat(parts...));
}

/// Throws `Error` when `condition` is false. The message is only assembled on failure, so a
/// check on a hot path costs one branch.
template <class Error = error, class... Parts>
void require(bool condition, const Parts&... parts) {
  if (!condition) [[unlikely]] {
    fail<Error>(parts...);
  }
}

}  // namespace est

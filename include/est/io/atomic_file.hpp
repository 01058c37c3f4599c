#pragma once
// Whole-file I/O shared by est's file formats (POSIX):
//
// - `write_file_atomically` replaces a file so that a reader, or a machine that loses power
//   mid-write, sees either the complete old contents or the complete new ones, never a mix: the
//   bytes go to a temporary file in the same directory, which is flushed, fsync'ed and renamed
//   over the target (rename is atomic within a file system), then the directory is fsync'ed so
//   that the rename itself is durable.
// - `MappedFile` maps a whole file read-only, so that parsers validate and read it in place.
//
// A process killed between creating the temporary and renaming it leaves a stray
// "<name>.tmp.<pid>.<n>" file beside the target. Readers open the target by its name and never
// look at such files; they hold nothing the target needs and may be deleted at any time. Failures
// that est sees (an error from the system or an exception from the caller's writer) remove the
// temporary before the exception leaves.

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "est/core/error.hpp"

namespace est {

namespace testing_hooks {
/// Test-only fault injection for `write_file_atomically`; empty (and never set) outside tests.
/// When set, it is called with the name of each stage just completed: "written" (every byte is
/// in the temporary file), "synced" (the temporary is fsync'ed and closed) and "renamed" (the
/// temporary has replaced the target; the directory is not yet fsync'ed). A hook that throws
/// simulates a crash at that point: the exception propagates after the temporary is removed,
/// which lets a test check that the target still holds a complete file. Not thread-safe: set it
/// only while no other thread writes files.
inline std::function<void(std::string_view stage)> atomic_write_fault;
}  // namespace testing_hooks

namespace detail {

/// The system's description of `err` (thread-safe, unlike strerror).
inline std::string errno_text(int err) { return std::system_category().message(err); }

/// A process-wide counter that makes temporary names unique among the threads of one process.
inline std::uint64_t next_temporary_id() noexcept {
  static std::atomic<std::uint64_t> counter{0};
  return counter.fetch_add(1, std::memory_order_relaxed);
}

inline void call_fault_hook(std::string_view stage) {
  if (testing_hooks::atomic_write_fault) testing_hooks::atomic_write_fault(stage);
}

/// fsync of the directory that holds a renamed file, so that the rename survives a power loss.
/// File systems that cannot sync a directory (EINVAL) are accepted.
inline void sync_directory(const std::filesystem::path& dir, const std::filesystem::path& target) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    fail<io_error>("write_file_atomically: \"", target.string(),
                   "\" was written, but its directory \"", dir.string(),
                   "\" could not be opened to sync it: ", errno_text(err));
  }
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  require<io_error>(rc == 0 || err == EINVAL, "write_file_atomically: \"", target.string(),
                    "\" was written, but syncing its directory \"", dir.string(),
                    "\" failed: ", errno_text(err));
}

}  // namespace detail

/// The byte sink a writer callback of `write_file_atomically` receives. Buffers small writes;
/// throws io_error naming the target file when the system refuses bytes (disk full, ...).
class FileSink {
 public:
  /// A sink that writes to the open descriptor `fd` (which it neither owns nor closes);
  /// `target` names the file in errors and must outlive the sink. Small writes are buffered
  /// (64 KiB) until flush() or until the buffer would overflow: the destructor does not flush.
  FileSink(int fd, const std::filesystem::path& target) : fd_(fd), target_(&target) {
    buffer_.reserve(buffer_bytes);
  }
  FileSink(const FileSink&) = delete;
  FileSink& operator=(const FileSink&) = delete;

  /// Appends `bytes` to the file.
  void write(std::span<const std::byte> bytes) {
    if (buffer_.size() + bytes.size() > buffer_bytes) flush();
    if (bytes.size() >= buffer_bytes) {
      write_through(bytes);
    } else {
      buffer_.insert(buffer_.end(), bytes.begin(), bytes.end());
    }
    written_ += bytes.size();
  }
  /// Appends the `size` bytes at `data` to the file.
  void write(const void* data, std::size_t size) {
    write(std::span<const std::byte>(static_cast<const std::byte*>(data), size));
  }

  /// Bytes appended so far.
  [[nodiscard]] std::uint64_t bytes_written() const noexcept { return written_; }

  /// Hands the buffered bytes to the system (write_file_atomically calls it before fsync).
  void flush() {
    write_through(buffer_);
    buffer_.clear();
  }

 private:
  static constexpr std::size_t buffer_bytes = 1 << 16;

  void write_through(std::span<const std::byte> bytes) {
    while (!bytes.empty()) {
      const ::ssize_t n = ::write(fd_, bytes.data(), bytes.size());
      if (n < 0) {
        const int err = errno;
        if (err == EINTR) continue;
        fail<io_error>("write_file_atomically: writing \"", target_->string(),
                       "\" failed after ", written_, " bytes: ", detail::errno_text(err));
      }
      bytes = bytes.subspan(static_cast<std::size_t>(n));
    }
  }

  int fd_;
  const std::filesystem::path* target_;
  std::vector<std::byte> buffer_;
  std::uint64_t written_ = 0;
};

/// Replaces (or creates) `path` with the bytes that `write(sink)` appends to a `FileSink`, so
/// that `path` never holds a partial file (see the top of this header). On failure throws
/// io_error naming `path` and the system's reason, or lets the writer's own exception through,
/// after removing the temporary file; `path` then still holds its previous contents. The new file
/// gets the default permissions (0666 less the umask), not those of the file it replaces.
template <class Writer>
  requires std::invocable<Writer&, FileSink&>
void write_file_atomically(const std::filesystem::path& path, Writer&& write) {
  namespace fs = std::filesystem;
  require<io_error>(path.has_filename(), "write_file_atomically: \"", path.string(),
                    "\" does not name a file");
  const fs::path dir = path.has_parent_path() ? path.parent_path() : fs::path(".");

  // A unique temporary in the target's directory (rename does not cross file systems). O_EXCL
  // guards against a stray file of an earlier process that had the same pid.
  fs::path temp;
  int fd = -1;
  for (int attempt = 0; fd < 0; ++attempt) {
    temp = path;
    temp += ".tmp." + std::to_string(::getpid()) + "." +
            std::to_string(detail::next_temporary_id());
    fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0) {
      const int err = errno;
      if ((err == EEXIST || err == EINTR) && attempt < 100) continue;
      fail<io_error>("write_file_atomically: cannot write \"", path.string(),
                     "\": creating a temporary file in directory \"", dir.string(),
                     "\" failed: ", detail::errno_text(err));
    }
  }

  bool renamed = false;
  try {
    {
      FileSink sink(fd, path);
      std::invoke(write, sink);
      sink.flush();
    }
    detail::call_fault_hook("written");
    if (::fsync(fd) != 0) {
      const int err = errno;
      fail<io_error>("write_file_atomically: syncing \"", path.string(), "\" (temporary \"",
                     temp.string(), "\") failed: ", detail::errno_text(err));
    }
    const int closed = ::close(fd);
    fd = -1;
    if (closed != 0) {
      const int err = errno;
      fail<io_error>("write_file_atomically: closing \"", path.string(), "\" (temporary \"",
                     temp.string(), "\") failed: ", detail::errno_text(err));
    }
    detail::call_fault_hook("synced");
    if (::rename(temp.c_str(), path.c_str()) != 0) {
      const int err = errno;
      fail<io_error>("write_file_atomically: cannot replace \"", path.string(),
                     "\" with the temporary \"", temp.string(), "\": ", detail::errno_text(err));
    }
    renamed = true;
    detail::call_fault_hook("renamed");
    detail::sync_directory(dir, path);
  } catch (...) {
    if (fd >= 0) ::close(fd);
    if (!renamed) ::unlink(temp.c_str());
    throw;
  }
}

/// Replaces (or creates) `path` with `bytes`; see the overload taking a writer.
inline void write_file_atomically(const std::filesystem::path& path,
                                  std::span<const std::byte> bytes) {
  write_file_atomically(path, [bytes](FileSink& sink) { sink.write(bytes); });
}

/// A read-only memory map of a whole regular file (RAII, move-only). The bytes stay valid while
/// the object lives. An empty file maps to an empty span without calling mmap. Another process
/// truncating the file while it is mapped makes reads past the new end fault (SIGBUS): est's
/// writers never do that, since they replace files by rename.
class MappedFile {
 public:
  MappedFile() = default;

  /// Maps `path`; throws io_error naming it when it cannot be opened, is not a regular file or
  /// cannot be mapped. The file is opened without blocking, so a FIFO (which would wait for a
  /// writer forever) is refused as not a regular file instead of hanging.
  explicit MappedFile(const std::filesystem::path& path) : path_(path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
      const int err = errno;
      fail<io_error>("MappedFile: cannot open \"", path.string(), "\": ", detail::errno_text(err));
    }
    struct ::stat st {};
    if (::fstat(fd, &st) != 0) {
      const int err = errno;
      ::close(fd);
      fail<io_error>("MappedFile: cannot stat \"", path.string(), "\": ", detail::errno_text(err));
    }
    if (!S_ISREG(st.st_mode)) {
      ::close(fd);
      fail<io_error>("MappedFile: \"", path.string(), "\" is not a regular file");
    }
    size_ = static_cast<std::size_t>(st.st_size);
    if (size_ > 0) {
      void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
      if (p == MAP_FAILED) {
        const int err = errno;
        ::close(fd);
        fail<io_error>("MappedFile: cannot map \"", path.string(), "\" (", size_,
                       " bytes): ", detail::errno_text(err));
      }
      data_ = static_cast<const std::byte*>(p);
    }
    ::close(fd);  // the mapping keeps the file alive
  }

  /// Unmaps the file.
  ~MappedFile() { release(); }

  /// Takes over `other`'s mapping and path; `other` is left with no bytes.
  MappedFile(MappedFile&& other) noexcept
      : path_(std::move(other.path_)),
        data_(std::exchange(other.data_, nullptr)),
        size_(std::exchange(other.size_, 0)) {}
  /// Unmaps this object's file, then takes over `other`'s mapping and path; `other` is left
  /// with no bytes. Self-assignment does nothing.
  MappedFile& operator=(MappedFile&& other) noexcept {
    if (this != &other) {
      release();
      path_ = std::move(other.path_);
      data_ = std::exchange(other.data_, nullptr);
      size_ = std::exchange(other.size_, 0);
    }
    return *this;
  }
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  /// The path the file was mapped from (empty for a default-constructed object).
  [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }
  /// Size of the file in bytes when it was mapped.
  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  /// Whether there are no bytes: an empty file, or no file mapped.
  [[nodiscard]] bool empty() const noexcept { return size_ == 0; }
  /// The file's bytes; no alignment beyond 1 may be assumed of a subspan.
  [[nodiscard]] std::span<const std::byte> bytes() const noexcept { return {data_, size_}; }

 private:
  void release() noexcept {
    if (data_ != nullptr) ::munmap(const_cast<std::byte*>(data_), size_);
    data_ = nullptr;
    size_ = 0;
  }

  std::filesystem::path path_;
  const std::byte* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace est

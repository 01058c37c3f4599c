#pragma once
// The processes of a data-parallel run, as the trainer sees them: a rank in a world of N, and
// the few collectives data parallelism needs (a sum over every rank, a gather of one number).
//
//   Communicator            the interface; it counts the bytes it all-reduces
//   SingleProcess           a world of one (every collective is the identity)
//   MpiCommunicator         MPI's world (dist/mpi.hpp; only with MPI in the build)
//
// Every rank calls the collectives in the same order with the same sizes; a sum gives every
// rank the same bits (the backends reduce in an order that does not depend on the rank).

#include <cstdint>
#include <cstdlib>
#include <span>
#include <string>
#include <vector>

namespace est {

/// The processes of a data-parallel run: this process's rank in [0, size()) and the
/// collectives the trainer calls. The collectives block until every rank has called them.
/// A backend implements the protected `do_` functions; the public ones count the traffic.
class Communicator {
 public:
  virtual ~Communicator() = default;

  /// This process's rank, in [0, size()).
  [[nodiscard]] virtual int rank() const noexcept = 0;
  /// How many processes the run has, >= 1.
  [[nodiscard]] virtual int size() const noexcept = 0;
  /// How many of them share this process's host, and so its cores (1 unless a backend knows).
  [[nodiscard]] virtual int local_size() const noexcept { return 1; }

  /// data (n) = the element-wise sum of every rank's `data`, on every rank.
  void all_reduce_sum(std::span<float> data) {
    reduced_bytes_ += data.size_bytes();
    do_all_reduce_sum(data);
  }
  /// data (n) = the element-wise sum of every rank's `data`, on every rank.
  void all_reduce_sum(std::span<double> data) {
    reduced_bytes_ += data.size_bytes();
    do_all_reduce_sum(data);
  }
  /// Every rank's `value`, in rank order (size() values), on every rank.
  [[nodiscard]] std::vector<std::uint64_t> all_gather(std::uint64_t value) {
    return do_all_gather(value);
  }

  /// Returns once every rank has called it.
  void barrier() { (void)do_all_gather(0); }

  /// Bytes of payload this process has passed to all_reduce_sum() so far (what a step's
  /// reductions cost is the difference across it).
  [[nodiscard]] std::uint64_t reduced_bytes() const noexcept { return reduced_bytes_; }

 protected:
  Communicator() = default;
  Communicator(const Communicator&) = default;
  Communicator& operator=(const Communicator&) = default;

  /// The sum of all_reduce_sum(), in place.
  virtual void do_all_reduce_sum(std::span<float> data) = 0;
  /// The sum of all_reduce_sum(), in place.
  virtual void do_all_reduce_sum(std::span<double> data) = 0;
  /// The gather of all_gather().
  virtual std::vector<std::uint64_t> do_all_gather(std::uint64_t value) = 0;

 private:
  std::uint64_t reduced_bytes_ = 0;
};

/// A world of one process: rank 0 of 1, every collective leaves its data as it is.
class SingleProcess final : public Communicator {
 public:
  /// Always 0.
  [[nodiscard]] int rank() const noexcept override { return 0; }
  /// Always 1.
  [[nodiscard]] int size() const noexcept override { return 1; }

 protected:
  /// The sum over one rank: `data` as it is.
  void do_all_reduce_sum(std::span<float>) override {}
  /// The sum over one rank: `data` as it is.
  void do_all_reduce_sum(std::span<double>) override {}
  /// One rank's value.
  std::vector<std::uint64_t> do_all_gather(std::uint64_t value) override { return {value}; }
};

/// Whether an MPI launcher (mpirun, mpiexec, srun) started this process as one of several:
/// Open MPI's OMPI_COMM_WORLD_SIZE or PMI's PMI_SIZE says more than one. A program built
/// without MPI refuses to run then, rather than train the same run N times side by side.
[[nodiscard]] inline bool launched_as_one_of_several() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE"}) {
    const char* value = std::getenv(name);
    if (value != nullptr && std::string(value) != "1" && std::string(value) != "") return true;
  }
  return false;
}

}  // namespace est

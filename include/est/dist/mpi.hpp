#pragma once
// MPI's world as an est::Communicator (dist/communicator.hpp). Include it only in programs that
// link est::mpi (CMake's MPI::MPI_C: Debian's libopenmpi-dev); est's other headers never do.
//
//   auto world = est::MpiCommunicator::from_launcher(argc, argv);  // null: no launcher
//   if (world) trainer.set_communicator(*world);
//
// MPI errors come back as est::error (MPI_ERRORS_RETURN), so a failing rank can report what
// failed before it stops the others with abort().

#include <mpi.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "est/core/error.hpp"
#include "est/dist/communicator.hpp"

namespace est {

/// MPI_COMM_WORLD as a Communicator. The object initialises MPI when constructed and finalises
/// it when destroyed; there is at most one.
class MpiCommunicator final : public Communicator {
 public:
  /// Initialises MPI (MPI_Init_thread, funneled: only the thread that constructs the object
  /// calls MPI). Throws error when MPI is already initialised or fails to start.
  MpiCommunicator(int& argc, char**& argv) {
    int initialised = 0;
    MPI_Initialized(&initialised);
    require<error>(!initialised, "MpiCommunicator: MPI is already initialised");
    int provided = 0;
    check(MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    check(MPI_Comm_rank(MPI_COMM_WORLD, &rank_), "MPI_Comm_rank");
    check(MPI_Comm_size(MPI_COMM_WORLD, &size_), "MPI_Comm_size");
    MPI_Comm node = MPI_COMM_NULL;
    check(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &node),
          "MPI_Comm_split_type");
    check(MPI_Comm_size(node, &local_size_), "MPI_Comm_size");
    MPI_Comm_free(&node);
  }
  MpiCommunicator(const MpiCommunicator&) = delete;
  MpiCommunicator& operator=(const MpiCommunicator&) = delete;
  /// Finalises MPI.
  ~MpiCommunicator() override { MPI_Finalize(); }

  /// Whether this process was started by an MPI launcher (mpirun, mpiexec, srun): the
  /// environment variables of Open MPI, PMIx or PMI are set.
  [[nodiscard]] static bool launched() noexcept {
    for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE", "PMI_RANK"}) {
      if (std::getenv(name) != nullptr) return true;
    }
    return false;
  }

  /// The world when launched() (MPI initialised), null otherwise: a program started without a
  /// launcher runs as one process and never touches MPI.
  [[nodiscard]] static std::unique_ptr<MpiCommunicator> from_launcher(int& argc, char**& argv) {
    if (!launched()) return nullptr;
    return std::make_unique<MpiCommunicator>(argc, argv);
  }

  /// This process's rank in MPI_COMM_WORLD.
  [[nodiscard]] int rank() const noexcept override { return rank_; }
  /// The size of MPI_COMM_WORLD.
  [[nodiscard]] int size() const noexcept override { return size_; }
  /// How many ranks share this rank's host (they share its cores).
  [[nodiscard]] int local_size() const noexcept override { return local_size_; }

  /// Stops every rank of the run (MPI_Abort) with exit status `code`.
  [[noreturn]] void abort(int code) noexcept {
    MPI_Abort(MPI_COMM_WORLD, code);
    std::abort();  // MPI_Abort does not return; the compiler does not know that
  }

 protected:
  /// MPI_Allreduce in place, MPI_SUM over floats (in chunks below 2^31 elements).
  void do_all_reduce_sum(std::span<float> data) override { sum(data.data(), data.size(), MPI_FLOAT); }
  /// MPI_Allreduce in place, MPI_SUM over doubles.
  void do_all_reduce_sum(std::span<double> data) override {
    sum(data.data(), data.size(), MPI_DOUBLE);
  }
  /// MPI_Allgather of one 64-bit value per rank.
  std::vector<std::uint64_t> do_all_gather(std::uint64_t value) override {
    std::vector<std::uint64_t> all(static_cast<std::size_t>(size_));
    check(MPI_Allgather(&value, 1, MPI_UINT64_T, all.data(), 1, MPI_UINT64_T, MPI_COMM_WORLD),
          "MPI_Allgather");
    return all;
  }

 private:
  template <class T>
  void sum(T* data, std::size_t n, MPI_Datatype type) {
    constexpr std::size_t chunk = std::size_t(1) << 30;  // MPI counts are ints
    for (std::size_t i = 0; i < n; i += chunk) {
      check(MPI_Allreduce(MPI_IN_PLACE, data + i, int(std::min(chunk, n - i)), type, MPI_SUM,
                          MPI_COMM_WORLD),
            "MPI_Allreduce");
    }
  }

  void check(int code, const char* call) const {
    if (code == MPI_SUCCESS) return;
    char text[MPI_MAX_ERROR_STRING];
    int length = 0;
    MPI_Error_string(code, text, &length);
    fail<error>(call, " failed on rank ", rank_, ": ", std::string(text, std::size_t(length)));
  }

  int rank_ = 0, size_ = 1, local_size_ = 1;
};

}  // namespace est

#pragma once
// A world of N ranks inside one test process, one std::thread per rank: an est::Communicator
// whose sums add the ranks' buffers in rank order (so every rank gets the same bits), for the
// data-parallel tests that must run without MPI. The MPI backend has its own test under
// mpirun (tests/dist/).

#include <barrier>
#include <cstdint>
#include <exception>
#include <functional>
#include <span>
#include <thread>
#include <vector>

#include <est/dist/communicator.hpp>

namespace est::testing {

/// What the ranks of one ThreadCommunicator world share.
class ThreadWorld {
 public:
  explicit ThreadWorld(int size)
      : size_(size), sync_(size), slots_(std::size_t(size)), values_(std::size_t(size)) {}

  /// Runs `body(rank)` on `size` threads at once and rethrows the first exception (a rank that
  /// throws must not leave the others waiting in a collective: the test's bodies throw at the
  /// same collective on every rank, or not at all).
  void run(const std::function<void(int)>& body) {
    std::vector<std::exception_ptr> errors(static_cast<std::size_t>(size_));
    std::vector<std::thread> threads;
    for (int r = 0; r < size_; ++r) {
      threads.emplace_back([&, r] {
        try {
          body(r);
        } catch (...) {
          errors[std::size_t(r)] = std::current_exception();
        }
      });
    }
    for (auto& t : threads) t.join();
    for (auto& e : errors) {
      if (e) std::rethrow_exception(e);
    }
  }

 private:
  friend class ThreadCommunicator;
  int size_;
  std::barrier<> sync_;
  std::vector<void*> slots_;
  std::vector<std::uint64_t> values_;
};

/// Rank `rank` of a ThreadWorld.
class ThreadCommunicator final : public est::Communicator {
 public:
  ThreadCommunicator(ThreadWorld& world, int rank) : world_(&world), rank_(rank) {}
  [[nodiscard]] int rank() const noexcept override { return rank_; }
  [[nodiscard]] int size() const noexcept override { return world_->size_; }
  [[nodiscard]] int local_size() const noexcept override { return world_->size_; }

 protected:
  void do_all_reduce_sum(std::span<float> data) override { sum(data); }
  void do_all_reduce_sum(std::span<double> data) override { sum(data); }
  std::vector<std::uint64_t> do_all_gather(std::uint64_t value) override {
    world_->values_[std::size_t(rank_)] = value;
    world_->sync_.arrive_and_wait();
    std::vector<std::uint64_t> all = world_->values_;
    world_->sync_.arrive_and_wait();  // nobody overwrites a value before everyone has read
    return all;
  }

 private:
  template <class T>
  void sum(std::span<T> data) {
    world_->slots_[std::size_t(rank_)] = data.data();
    world_->sync_.arrive_and_wait();
    std::vector<T> total(data.size(), T(0));
    for (void* slot : world_->slots_) {  // rank order: the same sum on every rank
      const T* other = static_cast<const T*>(slot);
      for (std::size_t i = 0; i < data.size(); ++i) total[i] += other[i];
    }
    world_->sync_.arrive_and_wait();  // every rank has read every buffer
    std::copy(total.begin(), total.end(), data.begin());
  }

  ThreadWorld* world_;
  int rank_;
};

}  // namespace est::testing

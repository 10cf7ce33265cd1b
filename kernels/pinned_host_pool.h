// Page-locked host blocks for the GPU forward's captures (kernels/doge_forward_cuda.cpp), reused across runs.
// Plain C++ (no CUDA headers).
#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <vector>

namespace dmascope::cuda {

// The q/k/v captures are megabytes per layer: copying them into pageable, freshly allocated memory costs page faults
// plus a staged copy (~60 ms for 128 MB on an H100, most of the app's 100 ms recompute budget at 32K); into pinned
// memory the copy runs at PCIe speed. A block goes back to the pool when the last Tensor borrowing it is destroyed
// (the app's previous result, on the UI thread: hence the mutex), so the app keeps about two sets alive (the shown
// result and the one being computed). Free blocks beyond kMaxFreeBytes are released at once.
class PinnedHostPool : public std::enable_shared_from_this<PinnedHostPool> {
 public:
  ~PinnedHostPool();

  // A block of at least `bytes`: the smallest free one that fits, else a new cudaMallocHost block. The pool must be
  // owned by a shared_ptr (the block's deleter keeps it alive).
  std::shared_ptr<std::byte> take(std::size_t bytes);

 private:
  static constexpr std::size_t kMaxFreeBytes = std::size_t{4} << 30;
  struct Block {
    void* pointer;
    std::size_t bytes;
  };

  void give_back(void* pointer, std::size_t bytes);

  std::mutex mutex_;
  std::vector<Block> free_;
  std::size_t free_bytes_ = 0;
};

}  // namespace dmascope::cuda

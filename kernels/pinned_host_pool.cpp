// The pinned block pool of the GPU forward's captures (kernels/pinned_host_pool.h).
#include "kernels/pinned_host_pool.h"

#include <cuda_runtime.h>

#include "kernels/cuda_check.h"

namespace dmascope::cuda {

PinnedHostPool::~PinnedHostPool() {
  for (const Block& block : free_) cudaFreeHost(block.pointer);
}

std::shared_ptr<std::byte> PinnedHostPool::take(std::size_t bytes) {
  void* pointer = nullptr;
  std::size_t size = 0;
  {
    const std::lock_guard lock(mutex_);
    auto best = free_.end();
    for (auto it = free_.begin(); it != free_.end(); ++it)
      if (it->bytes >= bytes && (best == free_.end() || it->bytes < best->bytes)) best = it;
    if (best != free_.end()) {
      pointer = best->pointer;
      size = best->bytes;
      free_bytes_ -= size;
      free_.erase(best);
    }
  }
  if (!pointer) {
    DMASCOPE_CUDA_CHECK(cudaMallocHost(&pointer, bytes));
    size = bytes;
  }
  return {static_cast<std::byte*>(pointer),
          [pool = shared_from_this(), size](std::byte* block) { pool->give_back(block, size); }};
}

void PinnedHostPool::give_back(void* pointer, std::size_t bytes) {
  const std::lock_guard lock(mutex_);
  if (free_bytes_ + bytes > kMaxFreeBytes) {
    cudaFreeHost(pointer);
    return;
  }
  free_.push_back({pointer, bytes});
  free_bytes_ += bytes;
}

}  // namespace dmascope::cuda

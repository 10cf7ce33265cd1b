#include "core/base/parallel.h"

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

#include "core/base/error.h"

namespace dmascope {

namespace {

std::atomic<int> configured_workers{0};

// Joins every started thread when it goes out of scope, also while an exception unwinds: a joinable std::thread
// destroyed by the unwinding would call std::terminate.
struct JoinAll {
  std::vector<std::thread>& threads;
  ~JoinAll() {
    for (auto& thread : threads)
      if (thread.joinable()) thread.join();
  }
};

}  // namespace

int worker_count() {
  if (int configured = configured_workers.load(); configured > 0) return configured;
  return std::max(1u, std::thread::hardware_concurrency());
}

void set_worker_count(std::int64_t threads) {
  if (threads < 0 || threads > kMaxWorkerCount)
    fail("thread count {} is not in 0..{} (0 = one per core)", threads, kMaxWorkerCount);
  configured_workers.store(static_cast<int>(threads));
}

void parallel_for(std::int64_t count, std::int64_t grain, const std::function<void(std::int64_t, std::int64_t)>& body) {
  if (count <= 0) return;
  grain = std::max<std::int64_t>(grain, 1);
  const std::int64_t chunks = (count + grain - 1) / grain;
  const int threads = static_cast<int>(std::min<std::int64_t>(worker_count(), chunks));
  if (threads <= 1) {
    body(0, count);
    return;
  }
  std::atomic<std::int64_t> next_chunk{0};
  std::exception_ptr first_error;
  std::mutex error_mutex;
  auto worker = [&] {
    for (;;) {
      const std::int64_t chunk = next_chunk.fetch_add(1);
      if (chunk >= chunks) return;
      try {
        body(chunk * grain, std::min(count, (chunk + 1) * grain));
      } catch (...) {
        std::lock_guard lock(error_mutex);
        if (!first_error) first_error = std::current_exception();
        next_chunk.store(chunks);  // stop handing out work
      }
    }
  };
  std::vector<std::thread> pool;
  {
    const JoinAll join_all{pool};
    pool.reserve(static_cast<std::size_t>(threads - 1));
    for (int t = 1; t < threads; ++t) {
      try {
        pool.emplace_back(worker);
      } catch (const std::system_error&) {
        break;  // the system refused a thread (EAGAIN): the threads that started, and this one, share the work
      }
    }
    worker();
  }
  if (first_error) std::rethrow_exception(first_error);
}

}  // namespace dmascope

// Work splitting over the machine's cores with plain std::thread (no OpenMP, so that sanitizers and the fuzz build
// need no extra runtime). Chunks are handed out dynamically, so uneven work (causal rows) still balances.
#pragma once

#include <cstdint>
#include <functional>

namespace dmascope {

// More threads than this only cost memory (a stack each) and scheduling: no machine dmascope runs on has more cores.
inline constexpr std::int64_t kMaxWorkerCount = 1024;

// Threads used by parallel_for: the count set_worker_count gave (the CLI's --threads), else
// std::thread::hardware_concurrency(). A value, not an environment variable, so that core reads no process state.
int worker_count();
// 0 = back to the default; anything outside 0..kMaxWorkerCount is an Error that names the value.
void set_worker_count(std::int64_t threads);

// Calls body(begin, end) on disjoint chunks of [0, count) of at most `grain` items, on up to worker_count() threads.
// The first exception thrown by a body is rethrown here after all threads have stopped. When the system refuses a
// thread (limits on processes or address space), the work runs on the threads that did start.
void parallel_for(std::int64_t count, std::int64_t grain, const std::function<void(std::int64_t, std::int64_t)>& body);

}  // namespace dmascope

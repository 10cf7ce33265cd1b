// Work splitting over the machine's cores with plain std::thread (no OpenMP, so that sanitizers and the fuzz build
// need no extra runtime). Chunks are handed out dynamically, so uneven work (causal rows) still balances.
#pragma once

#include <cstdint>
#include <functional>

namespace dmascope {

// Threads used by parallel_for: the count set_worker_count gave (the CLI's --threads), else
// std::thread::hardware_concurrency(). A value, not an environment variable, so that core reads no process state.
int worker_count();
void set_worker_count(int threads);  // 0 = back to the default

// Calls body(begin, end) on disjoint chunks of [0, count) of at most `grain` items, on up to worker_count() threads.
// The first exception thrown by a body is rethrown here after all threads have stopped.
void parallel_for(std::int64_t count, std::int64_t grain, const std::function<void(std::int64_t, std::int64_t)>& body);

}  // namespace dmascope

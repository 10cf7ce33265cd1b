#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>

#include "core/base/error.h"
#include "core/base/parallel.h"

namespace dmascope {
namespace {

using ::testing::HasSubstr;

// Restores the default worker count however a test ends.
struct DefaultWorkersAfterwards {
  ~DefaultWorkersAfterwards() { set_worker_count(0); }
};

std::string error_of(std::int64_t threads) {
  try {
    set_worker_count(threads);
  } catch (const Error& error) {
    return error.what();
  }
  return "(no error)";
}

TEST(ParallelFor, EveryItemIsVisitedOnceOnManyThreads) {
  const DefaultWorkersAfterwards restore;
  set_worker_count(8);
  std::atomic<std::int64_t> visited{0};
  parallel_for(1000, 3, [&](std::int64_t begin, std::int64_t end) { visited += end - begin; });
  EXPECT_EQ(visited.load(), 1000);
}

TEST(ParallelFor, ABodyThatThrowsIsRethrownAfterAllThreadsStopped) {
  const DefaultWorkersAfterwards restore;
  set_worker_count(4);
  EXPECT_THROW(parallel_for(100, 1,
                            [](std::int64_t begin, std::int64_t) {
                              if (begin == 37) throw std::runtime_error("item 37");
                            }),
               std::runtime_error);
}

TEST(ParallelFor, WorkerCountOutsideItsRangeIsAnErrorNamingTheValue) {
  const DefaultWorkersAfterwards restore;
  EXPECT_THAT(error_of(5000), HasSubstr("5000"));
  EXPECT_THAT(error_of(-1), HasSubstr("-1"));
  EXPECT_THAT(error_of(std::int64_t{1} << 32), HasSubstr("4294967296"));  // no int wrap to 0 = "default"
  EXPECT_NO_THROW(set_worker_count(kMaxWorkerCount));
  EXPECT_EQ(worker_count(), kMaxWorkerCount);
}

// A process whose address space cannot hold another thread stack: std::thread's constructor throws. The pool must
// not be destroyed with joinable threads (std::terminate); the work runs on the threads that did start.
// Runs in the death test's child: squeezes the address space so that std::thread's constructor throws, then runs
// the pool. Exit code 0: the work was done on the threads that started.
[[noreturn]] void run_pool_without_room_for_thread_stacks() {
  set_worker_count(64);
  long pages = 0;
  if (FILE* statm = std::fopen("/proc/self/statm", "r")) {
    if (std::fscanf(statm, "%ld", &pages) != 1) pages = 0;
    std::fclose(statm);
  }
  if (pages == 0) std::_Exit(2);
  // Room for the heap to grow a little, not for 63 stacks of 8 MiB.
  const rlim_t limit = static_cast<rlim_t>(pages) * static_cast<rlim_t>(sysconf(_SC_PAGESIZE)) + (24 << 20);
  rlimit address_space;
  address_space.rlim_cur = address_space.rlim_max = limit;
  if (setrlimit(RLIMIT_AS, &address_space) != 0) std::_Exit(3);
  std::atomic<std::int64_t> visited{0};
  parallel_for(640, 1, [&](std::int64_t begin, std::int64_t end) { visited += end - begin; });
  std::_Exit(visited.load() == 640 ? 0 : 1);
}

// A pool destroyed with joinable threads calls std::terminate; refused threads must not get there.
TEST(ParallelForDeathTest, ThreadsTheSystemRefusesDoNotTerminateTheProcess) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(run_pool_without_room_for_thread_stacks(), ::testing::ExitedWithCode(0), "");
}

}  // namespace
}  // namespace dmascope

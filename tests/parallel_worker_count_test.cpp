#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <thread>

#include "core/base/parallel.h"

namespace dmascope {
namespace {

TEST(WorkerCount, IsTheSetValueElseTheHardwareAndNeverTheEnvironment) {
  const int hardware = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  set_worker_count(3);
  EXPECT_EQ(worker_count(), 3);
  // core reads no environment: the variable that once overrode the count is ignored.
  setenv("DMASCOPE_THREADS", hardware == 1 ? "2" : "1", 1);
  set_worker_count(0);
  EXPECT_EQ(worker_count(), hardware);
  unsetenv("DMASCOPE_THREADS");
}

}  // namespace
}  // namespace dmascope

// A host vector copied into a new device buffer (at least one byte, so that an empty vector still gives a valid
// pointer): the kernel checks' way of handing host inputs to a launch.
#pragma once

#include <algorithm>
#include <vector>

#include "kernels/dma_cuda.h"

namespace dmascope::cuda::kernel_check {

template <class T>
DeviceBuffer to_device(const std::vector<T>& host) {
  DeviceBuffer buffer(std::max<std::size_t>(host.size() * sizeof(T), 1));
  if (!host.empty()) buffer.upload(host.data(), host.size() * sizeof(T));
  return buffer;
}

}  // namespace dmascope::cuda::kernel_check

// Device masks back on the host (tests/support/device_mask_download.h).
#include "tests/support/device_mask_download.h"

#include <cuda_runtime.h>

#include "core/base/error.h"
#include "kernels/cuda_check.h"

namespace dmascope::cuda::test_support {

std::vector<std::int32_t> download_device_mask(const CudaCaptures& masks, std::int64_t layer, std::int64_t bias_head) {
  if (bias_head < 0 || bias_head >= masks.bias_heads())
    fail("device masks: bias head {} is out of range [0, {})", bias_head, masks.bias_heads());
  std::vector<std::int32_t> death(static_cast<std::size_t>(masks.length()));
  // A plain synchronous copy: the forward that filled the masks synchronized its stream before returning.
  DMASCOPE_CUDA_CHECK(cudaMemcpy(death.data(), masks.death_data(layer) + bias_head * masks.length(),
                                 death.size() * sizeof(std::int32_t), cudaMemcpyDeviceToHost));
  return death;
}

}  // namespace dmascope::cuda::test_support

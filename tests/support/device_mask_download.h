// One (layer, bias head) death array of CudaCaptures (kernels/cuda_captures.h) back on the host, for the tests that
// check the device copy of the masks against the forward's captures. Test-only: the product reads the device masks
// only through CudaCaptures::reduce.
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/cuda_captures.h"

namespace dmascope::cuda::test_support {

// death [L] of the given layer and bias head; throws naming the head when it is out of range (death_data checks the
// layer).
std::vector<std::int32_t> download_device_mask(const CudaCaptures& masks, std::int64_t layer, std::int64_t bias_head);

}  // namespace dmascope::cuda::test_support

// One (layer, bias head) death array of DeviceMasks (kernels/view_reduce_cuda.h) back on the host, for the tests that
// check the device copy of the masks against the forward's captures. Test-only: the product reads the device masks
// only through DeviceMasks::reduce.
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/view_reduce_cuda.h"

namespace dmascope::cuda::test_support {

// death [L] of the given layer and bias head; throws naming the head when it is out of range (layer_data checks the
// layer).
std::vector<std::int32_t> download_device_mask(const DeviceMasks& masks, std::int64_t layer, std::int64_t bias_head);

}  // namespace dmascope::cuda::test_support

// The masks of one forward pass as a safetensors file, for analysis outside the app (numpy, torch): per layer the
// compact mask and the β it was built from, the token ids, and the settings as metadata. The compact mask is the
// whole mask: keep(i, j) ⇔ j ≤ i < death[j] (core/mask/dma_mask.h), so no L×L tensor is ever written.
//
//   layers.{i}.death     [Hb, L] I32
//   layers.{i}.dyn_bias  [Hb, L] F32   β
//   token_ids            [L]     I32
//   __metadata__: format = "dmascope-masks", format_version, keep_rule, layers, bias_heads, length, plus the caller's
//                 settings (window, mask_variant, model, ...)
#pragma once

#include <filesystem>
#include <map>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "core/model/doge_forward.h"

namespace dmascope {

inline constexpr const char* kMaskExportFormat = "dmascope-masks";
inline constexpr int kMaskExportFormatVersion = 1;

// The tensors in file order (layer by layer, then the ids); views of the forward's captures, no copies. Throws Error
// naming the layer when a capture is missing or has the wrong shape or dtype.
std::vector<std::pair<std::string, Tensor>> mask_export_tensors(const ForwardResult& forward,
                                                                std::span<const std::int32_t> ids);

// Writes atomically (core/formats/atomic_write.h through write_safetensors). `settings` go into the metadata as given; the
// keys listed above are added (and win over the caller's).
void write_mask_export(const std::filesystem::path& path, const ForwardResult& forward,
                       std::span<const std::int32_t> ids, const std::map<std::string, std::string>& settings);

}  // namespace dmascope

#include "core/formats/mask_export.h"

#include "core/base/error.h"
#include "core/formats/safetensors.h"

namespace dmascope {

namespace {

Tensor bias_head_rows(const Tensor& capture, DType dtype, std::int64_t layer, const char* name, std::int64_t length) {
  if (!capture.defined() || capture.rank() != 3 || capture.dim(0) != 1 || capture.dim(2) != length)
    fail("mask export: layer {} has no {} capture of shape [1, Hb, {}] (got {})", layer, name, length,
         capture.defined() ? shape_str(capture.shape()) : std::string("none"));
  if (capture.dtype() != dtype)
    fail("mask export: layer {} {} is {}, expected {}", layer, name, dtype_name(capture.dtype()), dtype_name(dtype));
  return capture.reshape({capture.dim(1), length});
}

}  // namespace

std::vector<std::pair<std::string, Tensor>> mask_export_tensors(const ForwardResult& forward,
                                                                std::span<const std::int32_t> ids) {
  const auto L = static_cast<std::int64_t>(ids.size());
  if (forward.layers.empty()) fail("mask export: the forward result has no layers (it was run without captures)");
  std::vector<std::pair<std::string, Tensor>> tensors;
  for (std::size_t layer = 0; layer < forward.layers.size(); ++layer) {
    const LayerCapture& capture = forward.layers[layer];
    const auto n = static_cast<std::int64_t>(layer);
    tensors.emplace_back(fmt::format("layers.{}.death", layer), bias_head_rows(capture.death, DType::I32, n, "death", L));
    tensors.emplace_back(fmt::format("layers.{}.dyn_bias", layer),
                         bias_head_rows(capture.dyn_bias, DType::F32, n, "dyn_bias", L));
  }
  tensors.emplace_back("token_ids", Tensor::from_vector(std::vector<std::int32_t>(ids.begin(), ids.end()), {L}));
  return tensors;
}

void write_mask_export(const std::filesystem::path& path, const ForwardResult& forward,
                       std::span<const std::int32_t> ids, const std::map<std::string, std::string>& settings) {
  const auto tensors = mask_export_tensors(forward, ids);
  std::map<std::string, std::string> metadata = settings;
  metadata["format"] = kMaskExportFormat;
  metadata["format_version"] = std::to_string(kMaskExportFormatVersion);
  metadata["keep_rule"] = "keep(i, j) = j <= i < death[j]";
  metadata["layers"] = std::to_string(forward.layers.size());
  metadata["bias_heads"] = std::to_string(tensors.front().second.dim(0));
  metadata["length"] = std::to_string(ids.size());
  write_safetensors(path, tensors, metadata);
}

}  // namespace dmascope

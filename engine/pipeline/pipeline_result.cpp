#include "engine/pipeline/pipeline_result.h"

#include <fmt/format.h>

#include "core/base/error.h"

namespace dmascope::engine {

namespace {

void check_index(std::int64_t value, std::int64_t count, const char* what) {
  if (value < 0 || value >= count) fail("{} {} is out of range [0, {})", what, value, count);
}

}  // namespace

std::span<const std::int32_t> PipelineResult::death(std::int64_t layer, std::int64_t bias_head) const {
  check_index(layer, layers(), "layer");
  check_index(bias_head, bias_heads(), "bias head");
  const Tensor& death = forward.layers[layer].death;
  return {death.data<std::int32_t>() + bias_head * length(), static_cast<std::size_t>(length())};
}

std::span<const float> PipelineResult::beta(std::int64_t layer, std::int64_t bias_head) const {
  check_index(layer, layers(), "layer");
  check_index(bias_head, bias_heads(), "bias head");
  const Tensor& beta = forward.layers[layer].dyn_bias;
  return {beta.data<float>() + bias_head * length(), static_cast<std::size_t>(length())};
}

const TileMap& PipelineResult::tile_map(std::int64_t layer, std::int64_t bias_head) const {
  check_index(layer, layers(), "layer");
  check_index(bias_head, bias_heads(), "bias head");
  return forward.layers[layer].tile_maps[bias_head];
}

const std::vector<float>& PipelineResult::thumbnail(std::int64_t layer, std::int64_t bias_head) const {
  check_index(layer, layers(), "layer");
  check_index(bias_head, bias_heads(), "bias head");
  return thumbnails[layer * bias_heads() + bias_head];
}

const CutTies& PipelineResult::ties_at_cut(std::int64_t layer, std::int64_t bias_head) const {
  check_index(layer, layers(), "layer");
  check_index(bias_head, bias_heads(), "bias head");
  return cut_ties[layer * bias_heads() + bias_head];
}

std::string PipelineResult::token_label(std::int64_t position) const {
  check_index(position, length(), "position");
  const std::int32_t id = ids[position];
  if (model->tokenizer) {
    try {
      return model->tokenizer->token_display(id);
    } catch (const Error&) {  // an id the tokenizer does not know (toy ids beyond its vocabulary)
    }
  }
  return fmt::format("#{}", id);
}

}  // namespace dmascope::engine

// What one pipeline run produced, with the settings it came from. Immutable once published: views hold a
// shared_ptr<const PipelineResult> and read it on the UI thread while the worker builds the next one.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "engine/pipeline/pipeline_settings.h"
#include "engine/timing/timing_results.h"  // LayerTiming, what the pipeline times for a result
#include "core/compute/compute_backend.h"  // DeviceCaptures
#include "core/mask/cut_ties.h"
#include "core/model/doge_forward.h"
#include "core/tokenizer/tokenizer.h"

namespace dmascope::engine {

struct ToyAnswers;  // engine/pipeline/toy_answers.h

struct LoadedModel {
  std::filesystem::path dir;
  DogeModel model;
  std::optional<Tokenizer> tokenizer;
  std::string name() const { return dir.filename().string(); }
};

// Overview thumbnails: each (layer, bias head) mask reduced to kThumbnailPixels² (kept fraction per pixel).
inline constexpr std::int64_t kThumbnailPixels = 64;

struct PipelineResult {
  PipelineSettings settings;   // what this was computed from
  std::uint64_t generation = 0;  // increases with every published result
  std::shared_ptr<const LoadedModel> model;
  std::vector<std::int32_t> ids;
  ForwardResult forward;
  // Where the masks, β, tile maps and q/k/v came from: "CPU forward, fp32" or "GPU forward on <device>, bf16" (the
  // CUDA backend: then q/k/v stay on the device, and the logits and probabilities views are computed there).
  std::string mask_device = "CPU forward, fp32";
  double gpu_forward_ms = 0.0;  // device time of the GPU forward (CUDA events); 0 when the CPU computed the mask
  double compute_ms = 0.0;     // wall time of the whole run: load, forward, summaries
  std::vector<std::vector<float>> thumbnails;  // [layer · Hb + bias head]
  // Per (layer, bias head), the rows whose w-th and (w+1)-th key tie on β: there the kept set is the tie rule's
  // choice (core/mask/cut_ties.h). [layer · Hb + bias head]
  std::vector<CutTies> cut_ties;
  // A sequence in a trained task's format (toy-vocabulary models): the answers scored and which heads kept their keys.
  std::shared_ptr<const ToyAnswers> answers;
  // The CUDA backend's captures left on the GPU (death indices, β, q/k/v): the heatmap computes its views there
  // (mask_grid.h, logit_view.h). Null on the CPU backend, whose captures are all in `forward`.
  std::shared_ptr<const DeviceCaptures> device_captures;

  std::int64_t length() const { return static_cast<std::int64_t>(ids.size()); }
  std::int64_t layers() const { return static_cast<std::int64_t>(forward.layers.size()); }
  std::int64_t q_heads() const { return model->model.config.num_attention_heads; }
  std::int64_t bias_heads() const { return model->model.weights.bias_heads; }
  std::int64_t bias_head_of(std::int64_t q_head) const {
    return bias_heads() == q_heads() ? q_head : q_head / (q_heads() / bias_heads());
  }
  std::span<const std::int32_t> death(std::int64_t layer, std::int64_t bias_head) const;
  std::span<const float> beta(std::int64_t layer, std::int64_t bias_head) const;
  const TileMap& tile_map(std::int64_t layer, std::int64_t bias_head) const;
  const std::vector<float>& thumbnail(std::int64_t layer, std::int64_t bias_head) const;
  const CutTies& ties_at_cut(std::int64_t layer, std::int64_t bias_head) const;
  std::string token_label(std::int64_t position) const;  // the token's display string, or its id without a tokenizer
};


}  // namespace dmascope::engine

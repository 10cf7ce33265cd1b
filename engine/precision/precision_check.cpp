#include "engine/precision/precision_check.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "core/base/error.h"
#include "core/mask/cut_ties.h"

namespace dmascope::engine {

namespace {

// What the check reads of the run, checked before two CPU forwards are spent on it.
void require_checkable(const DogeModel& model, std::int64_t tokens, const ForwardResult& run) {
  const std::int64_t layers = model.config.num_hidden_layers, heads = model.weights.bias_heads;
  if (run.logits.numel() != tokens * model.config.vocab_size)
    fail("precision check: the run kept {} logits, not all {} rows of {} (ask for every row's logits)",
         run.logits.numel(), tokens, model.config.vocab_size);
  if (static_cast<std::int64_t>(run.layers.size()) != layers)
    fail("precision check: the run kept {} layers of {}", run.layers.size(), layers);
  for (std::int64_t layer = 0; layer < layers; ++layer) {
    const LayerCapture& capture = run.layers[static_cast<std::size_t>(layer)];
    if (capture.death.numel() != heads * tokens || capture.dyn_bias.numel() != heads * tokens ||
        capture.death.dtype() != DType::I32 || capture.dyn_bias.dtype() != DType::F32)
      fail("precision check: layer {} of the run kept {} death indices and {} β values, expected {} of each (int32, "
           "fp32)", layer,
           capture.death.numel(), capture.dyn_bias.numel(), heads * tokens);
  }
}

// max_j |β_j − β_ref,j| over max_j |β_ref,j|: how far β moved against the head's own scale (a key of tiny β may move by
// many times itself without reordering anything).
double largest_beta_change(std::span<const float> test, std::span<const float> reference) {
  double largest = 0.0, scale = 0.0;
  for (std::size_t j = 0; j < reference.size(); ++j) {
    largest = std::max(largest, std::abs(static_cast<double>(test[j]) - reference[j]));
    scale = std::max(scale, std::abs(static_cast<double>(reference[j])));
  }
  return scale > 0.0 ? largest / scale : largest;
}

}  // namespace

PrecisionCheck check_against_cpu_reference(const DogeModel& model, std::span<const std::int32_t> ids,
                                           const ForwardOptions& options, const ForwardResult& run,
                                           const std::function<void(std::int64_t, std::int64_t)>& on_progress) {
  const auto L = static_cast<std::int64_t>(ids.size());
  require_checkable(model, L, run);
  const std::int64_t layers = model.config.num_hidden_layers;
  const auto progress = [&](std::int64_t offset) {
    return [&on_progress, offset, layers](std::int64_t done, std::int64_t) {
      if (on_progress) on_progress(offset + done, 2 * layers);
    };
  };

  ForwardOptions reference_options = options;
  reference_options.window = run.window;
  reference_options.capture = true;  // its death indices and β
  reference_options.capture_probs = false;
  reference_options.kept_sets = nullptr;
  reference_options.bias_override = nullptr;
  reference_options.on_progress = progress(0);
  ForwardResult reference = doge_forward(model, ids, reference_options);

  ForwardOptions same_masks = reference_options;
  same_masks.capture = false;
  same_masks.on_progress = progress(layers);
  same_masks.kept_sets = [&](std::int64_t layer, const AttentionProblem& problem) {
    const Tensor& death = run.layers[static_cast<std::size_t>(layer)].death;
    return kept_sets_of_layer_death({death.data<std::int32_t>(), static_cast<std::size_t>(death.numel())}, problem);
  };
  same_masks.bias_override = [&](std::int64_t layer, std::span<float> beta) {
    const Tensor& own = run.layers[static_cast<std::size_t>(layer)].dyn_bias;
    std::copy_n(own.data<float>(), beta.size(), beta.begin());
  };
  const ForwardResult on_run_masks = doge_forward(model, ids, same_masks);

  PrecisionCheck check;
  check.tokens = L;
  check.window = run.window;
  check.rows = row_relative_errors(run.logits, reference.logits);
  check.relative_error = check.rows.whole;
  check.top_one = top_one_agreement(run.logits, reference.logits);
  check.same_masks_rows = row_relative_errors(run.logits, on_run_masks.logits);
  check.same_masks_relative_error = check.same_masks_rows.whole;
  check.same_masks_top_one = top_one_agreement(run.logits, on_run_masks.logits);
  const std::int64_t heads = model.weights.bias_heads;
  for (std::int64_t layer = 0; layer < layers; ++layer) {
    const LayerCapture& a = run.layers[static_cast<std::size_t>(layer)];
    const LayerCapture& b = reference.layers[static_cast<std::size_t>(layer)];
    const auto span_of = [&](const Tensor& t, std::int64_t head) {
      return std::span(t.data<std::int32_t>() + head * L, static_cast<std::size_t>(L));
    };
    const auto beta_of = [&](const Tensor& t, std::int64_t head) {
      return std::span(t.data<float>() + head * L, static_cast<std::size_t>(L));
    };
    LayerMaskCheck layer_check;
    for (std::int64_t head = 0; head < heads; ++head) {
      const CutTies test_ties = dma_cut_ties(beta_of(a.dyn_bias, head), run.window, options.mask_variant);
      const CutTies reference_ties = dma_cut_ties(beta_of(b.dyn_bias, head), run.window, options.mask_variant);
      layer_check.heads.push_back(
          mask_agreement(span_of(a.death, head), span_of(b.death, head), test_ties, reference_ties));
      layer_check.largest_beta_change.push_back(
          largest_beta_change(beta_of(a.dyn_bias, head), beta_of(b.dyn_bias, head)));
    }
    check.layers.push_back(std::move(layer_check));
  }
  return check;
}

}  // namespace dmascope::engine

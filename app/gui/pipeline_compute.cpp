#include "app/gui/pipeline_compute.h"

#include <chrono>

#include "core/error.h"
#include "core/view_reduce.h"

namespace dmascope::gui {

std::string_view compute_phase_label(ComputePhase phase) {
  switch (phase) {
    case ComputePhase::Idle: return "idle";
    case ComputePhase::LoadingModel: return "loading model";
    case ComputePhase::Tokenizing: return "preparing tokens";
    case ComputePhase::Forward: return "forward pass";
    case ComputePhase::Summaries: return "thumbnails";
    case ComputePhase::Timing: return "timing";
  }
  return "?";
}

bool should_capture_probs(const DogeModel& model, std::int64_t length) {
  const std::int64_t per_layer = model.config.num_attention_heads * length * length * 4;
  return length <= kProbsMaxLength && per_layer * model.config.num_hidden_layers <= kProbsMaxBytes;
}

std::shared_ptr<const LoadedModel> ModelCache::get(const std::filesystem::path& dir) {
  if (model_ && model_->dir == dir) return model_;
  model_.reset();  // free the old weights before loading the new ones
  auto loaded = std::make_shared<LoadedModel>();
  loaded->dir = dir;
  loaded->model = DogeModel::load(dir);
  if (loaded->model.has_tokenizer) loaded->tokenizer = Tokenizer::load(dir / "tokenizer.json");
  model_ = std::move(loaded);
  return model_;
}

std::vector<std::int32_t> resolve_ids(const PipelineSettings& settings, const LoadedModel& model) {
  const std::int64_t vocab = model.model.config.vocab_size;
  std::vector<std::int32_t> ids;
  switch (settings.source) {
    case SourceKind::Toy:
      ids = make_toy_sequence(settings.toy, settings.length, vocab, settings.seed).ids;
      break;
    case SourceKind::Text:
      if (!model.tokenizer) fail("{} has no tokenizer.json: use a toy sequence or ids", model.dir.string());
      if (settings.text.empty()) fail("the text is empty: type something in the Source panel");
      ids = model.tokenizer->encode(settings.text, true);
      break;
    case SourceKind::Ids:
      ids = settings.ids;
      if (ids.empty()) fail("no token ids given");
      break;
  }
  for (std::size_t p = 0; p < ids.size(); ++p)
    if (ids[p] < 0 || ids[p] >= vocab)
      fail("token id {} at position {} is outside the vocabulary of {} ([0, {}))", ids[p], p, model.dir.string(), vocab);
  return ids;
}

std::shared_ptr<PipelineResult> compute_pipeline_result(const PipelineSettings& settings, ModelCache& models,
                                                        ComputeProgress& progress, const std::atomic<bool>& cancel) {
  const auto start = std::chrono::steady_clock::now();
  if (settings.model_dir.empty()) fail("no model folder given: pick one in the Source panel");
  if (settings.tile_size < 1) fail("tile size must be positive, got {}", settings.tile_size);
  if (settings.window < 0) fail("window must be ≥ 0 (0 = the model's), got {}", settings.window);

  progress.phase = ComputePhase::LoadingModel;
  auto result = std::make_shared<PipelineResult>();
  result->settings = settings;
  result->model = models.get(settings.model_dir);
  const DogeModel& model = result->model->model;

  progress.phase = ComputePhase::Tokenizing;
  result->ids = resolve_ids(settings, *result->model);
  const std::int64_t L = result->length();

  progress.phase = ComputePhase::Forward;
  progress.steps_done = 0;
  progress.steps_total = model.config.num_hidden_layers;
  ForwardOptions options;
  options.window = settings.window;
  options.mask_variant = settings.mask_variant;
  options.tiles = {settings.tile_size, settings.tile_size};
  options.capture = true;
  options.capture_probs = should_capture_probs(model, L);
  options.cancel = &cancel;
  options.on_progress = [&](std::int64_t done, std::int64_t total) {
    progress.steps_done = done;
    progress.steps_total = total;
  };
  result->forward = doge_forward(model, result->ids, options);
  result->has_probs = options.capture_probs;

  progress.phase = ComputePhase::Summaries;
  const MatrixWindow whole = visible_window(whole_matrix(L), L);
  const std::int64_t thumb = std::min<std::int64_t>(kThumbnailPixels, L);
  for (std::int64_t layer = 0; layer < result->layers(); ++layer) {
    if (cancel.load()) throw ForwardCancelled{};
    for (std::int64_t head = 0; head < result->bias_heads(); ++head)
      result->thumbnails.push_back(reduce_mask_to_grid(result->death(layer, head), whole, thumb, thumb,
                                                       ReduceMode::Mean));
  }
  result->compute_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  progress.phase = ComputePhase::Idle;
  return result;
}

}  // namespace dmascope::gui

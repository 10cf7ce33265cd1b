#include "engine/pipeline/pipeline_compute.h"

#include <algorithm>
#include <chrono>

#include <fmt/format.h>

#include "engine/backend/backend_factory.h"
#include "engine/pipeline/toy_answers.h"
#include "core/base/error.h"
#include "core/view/view_reduce.h"

namespace dmascope::engine {

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

std::shared_ptr<const LoadedModel> ModelCache::get(const std::filesystem::path& dir) {
  if (model_ && model_->dir == dir) return model_;
  gpu_forward.reset();  // the old model's device weights go with it
  model_.reset();       // free the old weights before loading the new ones
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
    case SourceKind::Task: {
      if (!uses_toy_vocabulary(model))
        fail("the trained tasks are sequences of the bundled toy models' vocabulary ({} ids); {} has another: use a "
             "toy sequence or a text", toy_vocab::kSize, model.dir.string());
      if (settings.length < kMinTaskLength)
        fail("a trained task needs at least {} tokens, got {}", kMinTaskLength, settings.length);
      // The training distribution, with the largest counts trimmed to what fits a short sequence (from 194 tokens on
      // nothing is trimmed).
      ToyTaskSettings task_settings;
      task_settings.length = settings.length;
      task_settings.mqar_pairs_max = std::min(task_settings.mqar_pairs_max, (settings.length - 2) / 4);
      task_settings.copy_length_max = std::min(task_settings.copy_length_max, (settings.length - 4) / 2);
      ids = make_toy_example(settings.task, task_settings, settings.seed, 0).ids;
      break;
    }
  }
  for (std::size_t p = 0; p < ids.size(); ++p)
    if (ids[p] < 0 || ids[p] >= vocab)
      fail("token id {} at position {} is outside the vocabulary of {} ([0, {}))", ids[p], p, model.dir.string(), vocab);
  return ids;
}

namespace {

// The CUDA backend's forward (weights cached in `models`): masks, β and tile maps downloaded, q/k/v left on the GPU with
// a copy of the masks and β (the views are computed there: nothing of size L×d per layer crosses to the host), and
// only the last position's logits (all of them are L·V floats) unless `all_logits` (answers to score).
// Returns false, leaving `result` to the CPU forward, when this build or machine has no usable GPU or the model is not
// supported; a failing GPU run also falls back, and the status bar says why.
bool run_forward_on_gpu(PipelineResult& result, ModelCache& models, const ForwardOptions& options, bool all_logits) {
  const ComputeBackend& cuda = compute_backend(Backend::Cuda);
  if (const std::string why_not = cuda.unsupported_reason(); !why_not.empty()) {
    result.mask_device = fmt::format("CPU forward, fp32 (CUDA: {})", why_not);
    return false;
  }
  const DogeModel& model = result.model->model;
  if (const std::string why_not = cuda.forward_unsupported_reason(model); !why_not.empty()) {
    result.mask_device = fmt::format("CPU forward, fp32 ({})", why_not);
    return false;
  }
  try {
    if (!models.gpu_forward) models.gpu_forward = cuda.load_forward(model);
    ForwardRequest request;
    request.attention_inputs = false;
    request.logits = all_logits ? LogitRows::All : LogitRows::Last;
    request.keep_on_device = true;
    request.keep_inputs_on_device = true;
    request.precision = result.settings.model_precision;
    BackendForward run = models.gpu_forward->run(result.ids, options, request);
    result.forward = std::move(run.forward);
    result.gpu_forward_ms = run.device_ms;
    result.device_captures = std::move(run.captures);
    result.mask_device =
        fmt::format("GPU forward on {}, {}", cuda.status().name, precision_name(result.settings.model_precision));
  } catch (const ForwardCancelled&) {
    throw;
  } catch (const std::exception& error) {
    models.gpu_forward.reset();  // a device in a bad state gets a fresh upload next time
    result.mask_device = fmt::format("CPU forward, fp32 (the GPU forward failed: {})", error.what());
    return false;
  }
  return true;
}

}  // namespace

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
  options.capture = true;  // probabilities are not materialized: the view computes those it shows (logit_view.h)
  options.cancel = &cancel;
  options.on_progress = [&](std::int64_t done, std::int64_t total) {
    progress.steps_done = done;
    progress.steps_total = total;
  };
  // A task-format sequence gets its answers scored, which needs the logits of every row (L·V floats: the toy
  // vocabulary has 329 ids, so 128K tokens are 172 MB).
  std::optional<ToyExample> example = toy_example_of(*result->model, result->ids);
  const bool all_logits = example && L * model.config.vocab_size <= kAnswerLogitsMaxFloats;
  if (!(settings.backend == Backend::Cuda && run_forward_on_gpu(*result, models, options, all_logits)))
    result->forward = doge_forward(model, result->ids, options);

  progress.phase = ComputePhase::Summaries;
  if (example) result->answers = std::make_shared<const ToyAnswers>(score_answers(*result, std::move(*example)));
  const MatrixWindow whole = visible_window(whole_matrix(L), L);
  const std::int64_t thumb = std::min<std::int64_t>(kThumbnailPixels, L);
  for (std::int64_t layer = 0; layer < result->layers(); ++layer) {
    if (cancel.load()) throw ForwardCancelled{};
    for (std::int64_t head = 0; head < result->bias_heads(); ++head) {
      result->thumbnails.push_back(reduce_mask_to_grid(result->death(layer, head), whole, thumb, thumb,
                                                       ReduceMode::Mean));
      result->cut_ties.push_back(dma_cut_ties(result->beta(layer, head), result->forward.window, options.mask_variant));
    }
  }
  result->compute_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  progress.phase = ComputePhase::Idle;
  return result;
}

}  // namespace dmascope::engine
